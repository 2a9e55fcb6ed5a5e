import { builder } from '../graphql/builder.ts';
import { ConditionInput, SegmentRuleInput } from '../segments/inputs.ts';
import { ChannelEnum } from '../delivery/schema.ts';
import { CampaignAudienceInput, ContentInput, ConversionInput, EmailInput, WebhookInput, WindowInput } from '../campaigns/inputs.ts';
import { MobilePushInput } from '../campaigns/mobile-push-schema.ts';
import { SmsInput } from '../campaigns/sms-schema.ts';
import { InAppInput } from '../campaigns/in-app-schema.ts';
import { EngagementTypes, JourneyStatuses } from './definition.ts';

/**
 * JourneyInput and its parts, as ../shared/API.md ("Journeys") shapes them. GraphQL checks only
 * the types; parseJourney (definition.ts) checks the journey as a whole and answers a
 * ValidationError with every problem at its place. A send step's content takes the same inputs as
 * CampaignInput, because each send step is stored and checked as a journey-owned campaign.
 */

export const EngagementTypeEnum = builder.enumType('EngagementType', { values: EngagementTypes });
export const JourneyStatusEnum = builder.enumType('JourneyStatus', { values: JourneyStatuses });

const EventMatchInput = builder.inputType('JourneyEventInput', {
  description: 'An event by name, with conditions on its properties.',
  fields: (t) => ({
    name: t.string({ required: true }),
    where: t.field({ type: [ConditionInput] }),
  }),
});

const EntryInput = builder.inputType('JourneyEntryInput', {
  isOneOf: true,
  description: 'How contacts enter: exactly one of an event, entering a segment, or enterJourney from an integration.',
  fields: (t) => ({
    event: t.field({ type: EventMatchInput }),
    segment: t.field({
      type: builder.inputType('JourneySegmentEntryInput', {
        description: 'A saved segment, a rule, or both: a contact enters when they start matching.',
        fields: (t) => ({ segmentId: t.id(), rule: t.field({ type: SegmentRuleInput }) }),
      }),
    }),
    api: t.boolean({ description: 'Contacts enter through enterJourney only.' }),
  }),
});

const SendInput = builder.inputType('JourneySendInput', {
  description: "A message on `channel`, with that channel's content as in CampaignInput; `fallback` channels are tried in order when the contact is not reachable or not consented on it.",
  fields: (t) => ({
    channel: t.field({ type: ChannelEnum, required: true }),
    content: t.field({ type: ContentInput, description: 'The web push (WEB_PUSH).' }),
    email: t.field({ type: EmailInput, description: 'The email (EMAIL).' }),
    webhook: t.field({ type: WebhookInput, description: 'The webhook (WEBHOOK).' }),
    sms: t.field({ type: SmsInput, description: 'The SMS (SMS).' }),
    mobilePush: t.field({ type: MobilePushInput, description: 'The push to phone apps (MOBILE_PUSH).' }),
    inApp: t.field({ type: InAppInput, description: 'The on-site message (IN_APP).' }),
    fallback: t.field({ type: [ChannelEnum], description: 'At most 3, each with its content here.' }),
    next: t.string(),
  }),
});

const WaitInput = builder.inputType('JourneyWaitInput', {
  description: "Exactly one of seconds and untilLocalTime (the next such time in the contact's zone).",
  fields: (t) => ({ seconds: t.int(), untilLocalTime: t.field({ type: 'LocalTime' }), next: t.string() }),
});

const WaitForEventInput = builder.inputType('JourneyWaitForEventInput', {
  description: 'The first matching event within withinSeconds goes to onEvent; none goes to onTimeout.',
  fields: (t) => ({
    name: t.string({ required: true }),
    where: t.field({ type: [ConditionInput] }),
    withinSeconds: t.int({ required: true }),
    onEvent: t.string(),
    onTimeout: t.string(),
  }),
});

const BranchInput = builder.inputType('JourneyBranchInput', {
  description: 'The rule evaluated on the contact when they arrive.',
  fields: (t) => ({ rule: t.field({ type: SegmentRuleInput, required: true }), yes: t.string(), no: t.string() }),
});

const EngagementInput = builder.inputType('JourneyEngagementInput', {
  description: 'Did the contact engage with the message of the earlier send step `step` within withinSeconds of it?',
  fields: (t) => ({
    step: t.string({ required: true }),
    did: t.field({ type: EngagementTypeEnum, required: true }),
    withinSeconds: t.int({ required: true }),
    yes: t.string(),
    no: t.string(),
  }),
});

const SplitInput = builder.inputType('JourneySplitInput', {
  description: 'Percent paths (adding up to 100), deterministic per contact.',
  fields: (t) => ({
    paths: t.field({
      required: true,
      type: [
        builder.inputType('JourneySplitPathInput', {
          fields: (t) => ({ name: t.string({ required: true }), percent: t.int({ required: true }), next: t.string() }),
        }),
      ],
    }),
  }),
});

export const JourneyStepInput = builder.inputType('JourneyStepInput', {
  description: 'A key plus exactly one step kind. A missing next / yes / no / onEvent / onTimeout / path next completes the journey.',
  fields: (t) => ({
    key: t.string({ required: true, description: '1-64 letters, digits, _ or -; unique in the journey.' }),
    send: t.field({ type: SendInput }),
    wait: t.field({ type: WaitInput }),
    waitForEvent: t.field({ type: WaitForEventInput }),
    branch: t.field({ type: BranchInput }),
    engagement: t.field({ type: EngagementInput }),
    split: t.field({ type: SplitInput }),
  }),
});

type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;
const journeyFields = <Required extends boolean>(required: Required) => (t: PothosSchemaTypes.InputFieldBuilder<Types, 'InputObject'>) => ({
  name: t.string({ required }),
  entry: t.field({ type: EntryInput, required }),
  audience: t.field({ type: CampaignAudienceInput, description: 'Who may enter; checked at entry.' }),
  steps: t.field({ type: [JourneyStepInput], required, description: 'The first step is the start.' }),
  exitEvents: t.stringList({ description: 'Any of these leaves the journey at once.' }),
  reEntryAfterSeconds: t.int({ description: 'Absent: a contact enters once ever.' }),
  goal: t.field({ type: ConversionInput, description: 'The event that counts an enrolment as converted, within withinSeconds of entry.' }),
  deliveryWindow: t.field({ type: WindowInput }),
  frequencyCapped: required ? t.boolean({ defaultValue: true }) : t.boolean(),
});

export const JourneyInput = builder.inputType('JourneyInput', { fields: journeyFields(true) });
export const UpdateJourneyInput = builder.inputType('UpdateJourneyInput', {
  description: "Edits the draft; fields left out keep their values. A published journey's changes take effect when it is published again.",
  fields: (t) => ({ id: t.id({ required: true }), ...journeyFields(false)(t) }),
});
