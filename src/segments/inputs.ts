import { builder } from '../graphql/builder.ts';
import { AggregateFns, Audiences, Ops } from './rule.ts';

export const OpEnum = builder.enumType('Op', { values: Ops });
export const AudienceEnum = builder.enumType('Audience', { values: Audiences });
const AggregateFnEnum = builder.enumType('AggregateFn', { values: AggregateFns });

export const ConditionInput = builder.inputType('ConditionInput', {
  description: 'A comparison on a contact field ("email", "createdAt"…), an attribute ("address.country") or an event property.',
  fields: (t) => ({
    path: t.string({ required: true }),
    op: t.field({ type: OpEnum, required: true }),
    value: t.field({ type: 'JSON', description: 'Numbers compare as numbers, ISO dates as dates, strings case-sensitively; a list for IN and NOT_IN; none for EXISTS.' }),
  }),
});

const CountInput = builder.inputType('CountInput', {
  fields: (t) => ({ op: t.field({ type: OpEnum, required: true }), value: t.int({ required: true }) }),
});

const EventConditionInput = builder.inputType('EventConditionInput', {
  description: 'Did the contact do `name` (matching `where`) `count` times (default: at least once) in the last `withinDays`?',
  fields: (t) => ({
    name: t.string({ required: true }),
    where: t.field({ type: [ConditionInput] }),
    count: t.field({ type: CountInput }),
    withinDays: t.int(),
  }),
});

const AggregateConditionInput = builder.inputType('AggregateConditionInput', {
  description: 'E.g. the SUM of `value` over `purchase` events in the last 30 days is ≥ 100.',
  fields: (t) => ({
    event: t.string({ required: true }),
    property: t.string({ required: true }),
    fn: t.field({ type: AggregateFnEnum, required: true }),
    op: t.field({ type: OpEnum, required: true }),
    value: t.float({ required: true }),
    withinDays: t.int(),
  }),
});

export const SegmentRuleInput = builder.inputRef<Record<string, unknown>>('SegmentRuleInput').implement({
  isOneOf: true,
  description: 'Exactly one kind of condition per level; combine with and, or, not (at most 10 levels, 100 conditions).',
  fields: (t) => ({
    and: t.field({ type: [SegmentRuleInput] }),
    or: t.field({ type: [SegmentRuleInput] }),
    not: t.field({ type: SegmentRuleInput }),
    attribute: t.field({ type: ConditionInput }),
    tag: t.field({ type: builder.inputType('TagConditionInput', { fields: (t) => ({ has: t.string({ required: true }) }) }) }),
    event: t.field({ type: EventConditionInput }),
    aggregate: t.field({ type: AggregateConditionInput }),
    lastSeen: t.field({
      type: builder.inputType('LastSeenInput', {
        description: 'Inactivity: not seen for more than olderThanDays (never seen counts), or seen within withinDays.',
        fields: (t) => ({ olderThanDays: t.int(), withinDays: t.int() }),
      }),
    }),
    pushSubscribed: t.boolean({ description: 'Has an active push subscription.' }),
    identified: t.boolean(),
  }),
});
