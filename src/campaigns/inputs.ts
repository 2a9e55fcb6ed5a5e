import { builder } from '../graphql/builder.ts';
import { QuestionInput } from '../feedback/question.ts';
import { AudienceEnum, ConditionInput, SegmentRuleInput } from '../segments/inputs.ts';
import { ChannelEnum } from '../delivery/schema.ts';
import { Urgencies } from '../delivery/web-push/content.ts';
import { MobilePushInput } from './mobile-push-schema.ts';
import { SmsInput } from './sms-schema.ts';
import { InAppInput } from './in-app-schema.ts';
import { CampaignKinds, CampaignStatuses } from './validation.ts';

// JOURNEY: a journey's send step (src/journeys), met through its messages; never created here.
export const CampaignKindEnum = builder.enumType('CampaignKind', { values: [...CampaignKinds, 'JOURNEY'] as const });
export const CampaignStatusEnum = builder.enumType('CampaignStatus', { values: CampaignStatuses });
export const UrgencyEnum = builder.enumType('Urgency', { values: Urgencies });

const ActionInput = builder.inputType('CampaignActionInput', {
  description: 'A button on the notification; without url it opens the campaign url.',
  fields: (t) => ({
    action: t.string({ required: true, description: 'An id for the button: letters, digits, _ or - (at most 64).' }),
    title: t.string({ required: true }),
    url: t.string(),
  }),
});

export const ContentInput = builder.inputType('CampaignContentInput', {
  description: 'Title, body and URLs are Liquid templates over `contact` (fields and attributes), e.g. "Hi {{ contact.firstName | default: \'there\' }}".',
  fields: (t) => ({
    title: t.string({ required: true }),
    body: t.string(),
    iconUrl: t.string(),
    imageUrl: t.string({ description: 'A large image: set it for a rich push.' }),
    badgeUrl: t.string(),
    url: t.string({ required: true, description: 'Opened when the notification is clicked.' }),
    actions: t.field({ type: [ActionInput], description: 'At most 2.' }),
    ttlSeconds: t.int({ description: 'How long a push service keeps the message for an offline browser (default and at most 28 days).' }),
    urgency: t.field({ type: UrgencyEnum }),
    topic: t.string({ description: 'A newer push with the same topic replaces one not yet delivered.' }),
    requireInteraction: t.boolean(),
    question: t.field({
      type: QuestionInput,
      description: 'A question the push asks (instead of actions): THUMBS or a CHOICE of 2 are answered with its buttons, NPS, STARS and larger choices on the answer page it opens. The body defaults to its text.',
    }),
  }),
});

export const EmailInput = builder.inputType('CampaignEmailInput', {
  description:
    'An email: exactly one of mjml or html. Subject, preheader, body and text are Liquid templates over `contact` and `event`, with `{{ unsubscribe_url }}`; links are tracked.',
  fields: (t) => ({
    subject: t.string({ required: true }),
    preheader: t.string({ description: 'The preview line mail apps show after the subject.' }),
    mjml: t.string({ description: 'MJML, compiled to HTML once when the campaign is saved.' }),
    html: t.string(),
    text: t.string({ description: 'The plain-text part; derived from the HTML when absent.' }),
    fromName: t.string({ description: "Overrides the workspace's from name." }),
    replyTo: t.string({ description: "Overrides the workspace's reply-to address." }),
    question: t.field({
      type: QuestionInput,
      description: 'A question answered with one-tap buttons, placed where the body writes `{{ question_buttons }}`, else at its end.',
    }),
  }),
});

export const WebhookInput = builder.inputType('CampaignWebhookInput', {
  description:
    'A signed HTTPS request per contact (Standard Webhooks). url and body are Liquid over `contact` and `event`: in the body each value is JSON-escaped for use inside a string ("{{ contact.firstName }}"), `| json` writes a whole JSON value; in the url each value is percent-encoded.',
  fields: (t) => ({
    url: t.string({ required: true, description: 'https; loopback, private and IP-address hosts only where HERALD_WEBHOOK_ALLOWED_HOSTS names them.' }),
    method: t.string({ defaultValue: 'POST', description: 'POST, PUT or PATCH.' }),
    headers: t.field({ type: 'JSON', description: 'An object of header names to string values; not Host, Content-Length, hop-by-hop or webhook-* headers.' }),
    body: t.string({ description: 'A JSON template; absent: Herald’s own payload { type, timestamp, data: { messageId, campaignId, contact, event } }.' }),
  }),
});

const VariantInput = builder.inputType('CampaignVariantInput', {
  description: "An experiment variant: its share of the audience and its own content in the campaign channel's field.",
  fields: (t) => ({
    name: t.string({ required: true }),
    weight: t.int({ required: true, description: 'Relative share: weights 1, 1, 2 send to 25%, 25% and 50%.' }),
    content: t.field({ type: ContentInput }),
    email: t.field({ type: EmailInput }),
    webhook: t.field({ type: WebhookInput }),
    sms: t.field({ type: SmsInput }),
    inApp: t.field({ type: InAppInput }),
  }),
});

export const CampaignAudienceInput = builder.inputType('CampaignAudienceInput', {
  description: "A saved segment, a rule of the campaign's own, or both (contacts must match both); none means everyone of `type`.",
  fields: (t) => ({
    segmentId: t.id(),
    rule: t.field({ type: SegmentRuleInput }),
    type: t.field({ type: AudienceEnum, description: "Defaults to the segment's audience, else ALL." }),
  }),
});

const TriggerInput = builder.inputType('CampaignTriggerInput', {
  fields: (t) => ({
    event: t.string({ required: true }),
    where: t.field({ type: [ConditionInput], description: 'Filters on the event properties, e.g. cart_value GT 100.' }),
    delaySeconds: t.int(),
    exceptionEvents: t.stringList({ description: 'Any of these between the trigger and the send cancels the message.' }),
    reEligibleAfterSeconds: t.int({ description: 'How soon the same contact may get this campaign again; absent: once ever.' }),
  }),
});

export const WindowInput = builder.inputType('DeliveryWindowInput', {
  description: "Hours in the recipient's time zone when messages may go out; may wrap midnight (22:00-07:00).",
  fields: (t) => ({ start: t.field({ type: 'LocalTime', required: true }), end: t.field({ type: 'LocalTime', required: true }) }),
});

export const ConversionInput = builder.inputType('ConversionInput', {
  fields: (t) => ({ event: t.string({ required: true }), withinSeconds: t.int({ required: true }) }),
});

/**
 * The fields of a campaign; createCampaign requires name and kind (and its channel's content: `content`
 * for WEB_PUSH, `email` for EMAIL), updateCampaign none.
 */
type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;
const campaignFields = <Required extends boolean>(required: Required) => (t: PothosSchemaTypes.InputFieldBuilder<Types, 'InputObject'>) => ({
  name: t.string({ required }),
  kind: t.field({ type: CampaignKindEnum, required }),
  // A default only where the campaign is created: an update without a channel keeps its own.
  channel: required
    ? t.field({ type: ChannelEnum, defaultValue: 'WEB_PUSH', description: 'Where its messages go.' })
    : t.field({ type: ChannelEnum, description: 'Another channel replaces the old channel’s content: give the new one’s.' }),
  content: t.field({ type: ContentInput, description: 'The web push (channel WEB_PUSH).' }),
  email: t.field({ type: EmailInput, description: 'The email (channel EMAIL).' }),
  webhook: t.field({ type: WebhookInput, description: 'The webhook (channel WEBHOOK).' }),
  mobilePush: t.field({ type: MobilePushInput, description: 'The push to phone apps (channel MOBILE_PUSH).' }),
  sms: t.field({ type: SmsInput, description: 'The SMS (channel SMS).' }),
  inApp: t.field({ type: InAppInput, description: 'The on-site message (channel IN_APP).' }),
  audience: t.field({ type: CampaignAudienceInput }),
  activeUntil: t.field({ type: 'DateTime', description: 'Not shown after this; also shortens the push TTL.' }),
  startAt: t.field({ type: 'DateTime', description: 'TRIGGERED: triggers before this are ignored.' }),
  endAt: t.field({ type: 'DateTime', description: 'TRIGGERED: triggers after this are ignored.' }),
  trigger: t.field({ type: TriggerInput, description: 'TRIGGERED only.' }),
  deliveryWindow: t.field({ type: WindowInput }),
  frequencyCapped: t.boolean({ description: "Counts against the workspace's frequency caps (default true); false for transactional pushes." }),
  conversion: t.field({ type: ConversionInput }),
  variants: t.field({ type: [VariantInput], description: 'An A/B(/n) test: 2 to 8 variants, each contact gets one, always the same.' }),
  holdoutPercent: t.int({ description: 'The share (0-50) of the audience held out: no message, to measure what the campaign changes.' }),
});

export const CampaignInput = builder.inputType('CampaignInput', { fields: campaignFields(true) });
export const UpdateCampaignInput = builder.inputType('UpdateCampaignInput', {
  description: 'Fields left out keep their values.',
  fields: (t) => ({ id: t.id({ required: true }), ...campaignFields(false)(t) }),
});
