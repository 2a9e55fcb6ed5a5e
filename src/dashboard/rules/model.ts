import type { SegmentRuleInput } from '../generated/graphql.ts';

/**
 * The rule builder's model: groups (all / any, possibly negated) of conditions of every kind the
 * API's SegmentRuleInput has, turned into that input and read back from a saved segment's rule.
 */
export const OPS = ['EQ', 'NEQ', 'GT', 'GTE', 'LT', 'LTE', 'IN', 'NOT_IN', 'CONTAINS', 'STARTS_WITH', 'EXISTS', 'NOT_EXISTS'] as const;
export type Op = (typeof OPS)[number];
export const AGGREGATES = ['SUM', 'AVG', 'MIN', 'MAX', 'COUNT'] as const;

export interface Comparison {
  path: string;
  op: Op;
  /** As typed: numbers, true/false and comma lists (IN) are read from it. */
  value: string;
}

export type Condition =
  | { kind: 'attribute'; comparison: Comparison }
  | { kind: 'tag'; has: string }
  | { kind: 'event'; name: string; where: Comparison[]; countOp: Op; count: string; withinDays: string }
  | { kind: 'aggregate'; event: string; property: string; fn: (typeof AGGREGATES)[number]; op: Op; value: string; withinDays: string }
  | { kind: 'lastSeen'; mode: 'olderThanDays' | 'withinDays'; days: string }
  | { kind: 'pushSubscribed'; value: boolean }
  | { kind: 'identified'; value: boolean };

export interface Group {
  kind: 'group';
  match: 'and' | 'or';
  negate: boolean;
  children: Node[];
}
export type Node = Group | ({ negate: boolean } & Condition);

export const KINDS: Record<Condition['kind'], string> = {
  attribute: 'Contact field or attribute',
  tag: 'Tag',
  event: 'Did an event',
  aggregate: 'Event total',
  lastSeen: 'Last seen',
  pushSubscribed: 'Push subscribed',
  identified: 'Identified',
};

export function newCondition(kind: Condition['kind']): Node {
  const base = { negate: false };
  switch (kind) {
    case 'attribute':
      return { ...base, kind, comparison: { path: '', op: 'EQ', value: '' } };
    case 'tag':
      return { ...base, kind, has: '' };
    case 'event':
      return { ...base, kind, name: '', where: [], countOp: 'GTE', count: '1', withinDays: '' };
    case 'aggregate':
      return { ...base, kind, event: '', property: '', fn: 'SUM', op: 'GTE', value: '', withinDays: '' };
    case 'lastSeen':
      return { ...base, kind, mode: 'olderThanDays', days: '30' };
    case 'pushSubscribed':
    case 'identified':
      return { ...base, kind, value: true };
  }
}

export const emptyGroup = (): Group => ({ kind: 'group', match: 'and', negate: false, children: [] });

/** A typed value: a number, true/false, a comma list for IN/NOT_IN, none for EXISTS, else text. */
export function parseValue(op: Op, text: string): unknown {
  if (op === 'EXISTS' || op === 'NOT_EXISTS') return undefined;
  if (op === 'IN' || op === 'NOT_IN') return text.split(',').map((part) => scalar(part.trim()));
  return scalar(text);
}

function scalar(text: string): unknown {
  if (text === 'true' || text === 'false') return text === 'true';
  if (text.trim() !== '' && !Number.isNaN(Number(text))) return Number(text);
  return text;
}

function formatValue(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) return value.map(String).join(', ');
  return String(value);
}

const int = (text: string) => (text.trim() === '' ? undefined : Number(text));
const comparisonInput = ({ path, op, value }: Comparison) => ({ path, op, value: parseValue(op, value) });

/** The SegmentRuleInput for a node (Herald validates it; its errors name paths in it); an empty group matches everyone. */
export function toRule(node: Node): SegmentRuleInput {
  const rule = node.kind === 'group' ? groupRule(node) : conditionRule(node);
  return (node.negate ? { not: rule } : rule) as SegmentRuleInput;
}

/** Everyone: the API wants at least one condition, and every contact is identified or not. */
export const EVERYONE: SegmentRuleInput = { or: [{ identified: true }, { identified: false }] };

function groupRule(group: Group): Record<string, unknown> {
  if (!group.children.length) return EVERYONE;
  if (group.children.length === 1) return toRule(group.children[0]!);
  return { [group.match]: group.children.map(toRule) };
}

function conditionRule(condition: Condition): Record<string, unknown> {
  switch (condition.kind) {
    case 'attribute':
      return { attribute: comparisonInput(condition.comparison) };
    case 'tag':
      return { tag: { has: condition.has } };
    case 'event':
      return {
        event: {
          name: condition.name,
          where: condition.where.length ? condition.where.map(comparisonInput) : undefined,
          count: { op: condition.countOp, value: int(condition.count) ?? 1 },
          withinDays: int(condition.withinDays),
        },
      };
    case 'aggregate':
      return {
        aggregate: {
          event: condition.event,
          property: condition.property,
          fn: condition.fn,
          op: condition.op,
          value: Number(condition.value),
          withinDays: int(condition.withinDays),
        },
      };
    case 'lastSeen':
      return { lastSeen: { [condition.mode]: int(condition.days) } };
    case 'pushSubscribed':
      return { pushSubscribed: condition.value };
    case 'identified':
      return { identified: condition.value };
  }
}

type Json = Record<string, any>;
const comparisonOf = (input: Json): Comparison => ({ path: String(input.path ?? ''), op: input.op ?? 'EQ', value: formatValue(input.value) });
const text = (value: unknown) => (value === undefined || value === null ? '' : String(value));

/** Reads a stored rule (the SegmentRuleInput it was saved as) back into the builder's model. */
export function fromRule(rule: Json, negate = false): Node {
  if (rule.not) return fromRule(rule.not, !negate);
  if (rule.and || rule.or) {
    const match = rule.and ? 'and' : 'or';
    return { kind: 'group', match, negate, children: (rule[match] as Json[]).map((child) => fromRule(child)) };
  }
  const base = { negate };
  if (rule.attribute) return { ...base, kind: 'attribute', comparison: comparisonOf(rule.attribute) };
  if (rule.tag) return { ...base, kind: 'tag', has: text(rule.tag.has) };
  if (rule.event) {
    const { name, where, count, withinDays } = rule.event;
    return { ...base, kind: 'event', name: text(name), where: (where ?? []).map(comparisonOf), countOp: count?.op ?? 'GTE', count: text(count?.value ?? 1), withinDays: text(withinDays) };
  }
  if (rule.aggregate) {
    const { event, property, fn, op, value, withinDays } = rule.aggregate;
    return { ...base, kind: 'aggregate', event: text(event), property: text(property), fn, op, value: text(value), withinDays: text(withinDays) };
  }
  if (rule.lastSeen) {
    const mode = rule.lastSeen.withinDays !== undefined && rule.lastSeen.withinDays !== null ? 'withinDays' : 'olderThanDays';
    return { ...base, kind: 'lastSeen', mode, days: text(rule.lastSeen[mode]) };
  }
  if ('pushSubscribed' in rule) return { ...base, kind: 'pushSubscribed', value: Boolean(rule.pushSubscribed) };
  return { ...base, kind: 'identified', value: Boolean(rule.identified) };
}

/** The model as a root group, so the builder always edits a group. */
export function rootOf(rule: Json | null | undefined): Group {
  if (!rule) return emptyGroup();
  const node = fromRule(rule);
  return node.kind === 'group' && !node.negate ? node : { kind: 'group', match: 'and', negate: false, children: [node] };
}
