import type { CampaignEditQuery, Channel } from '../generated/graphql.ts';
import { type Comparison, parseValue } from '../rules/model.ts';
import { fromLocalInput, toLocalInput } from '../ui/format.ts';
import { parsedObject } from './liquid-sample.ts';
import type { PushContent } from './push-size.ts';
import { blankQuestion, questionFrom, questionInput, type QuestionForm } from './question.ts';

/** The campaign editor's fields as typed, turned into a CampaignInput and read back from a campaign. */
export interface CampaignForm {
  name: string;
  kind: 'BROADCAST' | 'TRIGGERED';
  channel: Channel;
  push: PushContent & { urgency: string; ttlHours: string; topic: string };
  email: { subject: string; preheader: string; format: 'html' | 'mjml'; body: string; text: string; fromName: string; replyTo: string };
  sms: { body: string };
  webhook: WebhookForm;
  mobilePush: MobilePushForm;
  inApp: InAppForm;
  /** The feedback question of a web push, an email or an on-site message. */
  question: QuestionForm;
  segmentId: string;
  audienceType: 'ALL' | 'IDENTIFIED' | 'ANONYMOUS';
  trigger: { event: string; where: Comparison[]; delayMinutes: string; exceptionEvents: string; reEligibleAfterHours: string };
  windowStart: string;
  windowEnd: string;
  activeUntil: string;
  frequencyCapped: boolean;
  conversionEvent: string;
  conversionHours: string;
  /** Variants after the first (the message itself); none: no A/B test. */
  variants: VariantForm[];
  firstVariantName: string;
  firstVariantWeight: string;
  holdoutPercent: string;
}

/** A webhook as typed: each header's value is write-only once saved (`stored`: left empty, Herald keeps it). */
export interface WebhookForm {
  url: string;
  method: 'POST' | 'PUT' | 'PATCH';
  headers: { name: string; value: string; stored: boolean }[];
  body: string;
}

/** A push to phone apps as typed: `data` is JSON text, numbers as typed. */
export interface MobilePushForm {
  title: string;
  body: string;
  imageUrl: string;
  url: string;
  data: string;
  badge: string;
  sound: string;
  category: string;
  topic: string;
  ttlHours: string;
}

/** An on-site message as typed (docs/in-app.md): texts are Liquid; ttlDays empty is Herald's 30 days. */
export interface InAppForm {
  layout: 'BANNER' | 'MODAL' | 'SLIDE_IN';
  title: string;
  body: string;
  imageUrl: string;
  buttons: { label: string; url: string }[];
  ttlDays: string;
}

/** What a variant changes, per channel (the rest of its content is the message's); a push to phones has no variants. */
export const VARIANT_TEXT: Partial<Record<CampaignForm['channel'], string>> = { WEB_PUSH: 'Title', EMAIL: 'Subject', SMS: 'Message', WEBHOOK: 'Body', IN_APP: 'Title' };

/** A variant: its title (push, on-site), subject (email) or text (SMS), and for push and on-site its body; the rest is the message's. */
export interface VariantForm {
  name: string;
  weight: string;
  text: string;
  body: string;
}

export const blankForm = (): CampaignForm => ({
  name: '',
  kind: 'BROADCAST',
  channel: 'WEB_PUSH',
  push: { title: '', body: '', url: '', iconUrl: '', imageUrl: '', badgeUrl: '', requireInteraction: false, actions: [], urgency: '', ttlHours: '', topic: '' },
  email: { subject: '', preheader: '', format: 'html', body: '', text: '', fromName: '', replyTo: '' },
  sms: { body: '' },
  webhook: { url: '', method: 'POST', headers: [], body: '' },
  mobilePush: { title: '', body: '', imageUrl: '', url: '', data: '', badge: '', sound: '', category: '', topic: '', ttlHours: '' },
  inApp: { layout: 'MODAL', title: '', body: '', imageUrl: '', buttons: [], ttlDays: '' },
  question: blankQuestion(),
  segmentId: '',
  audienceType: 'ALL',
  trigger: { event: '', where: [], delayMinutes: '0', exceptionEvents: '', reEligibleAfterHours: '' },
  windowStart: '',
  windowEnd: '',
  activeUntil: '',
  frequencyCapped: true,
  conversionEvent: '',
  conversionHours: '24',
  variants: [],
  firstVariantName: 'A',
  firstVariantWeight: '1',
  holdoutPercent: '0',
});

const orNull = (value: string) => (value.trim() === '' ? null : value.trim());
const number = (value: string, scale = 1) => (value.trim() === '' ? null : Math.round(Number(value) * scale));

/** The message in its channel's field (content, email or sms), the others null. */
function messageOf(form: CampaignForm) {
  const { push, email } = form;
  const question = questionInput(form.question, form.channel === 'IN_APP');
  return {
    content:
      form.channel === 'WEB_PUSH'
        ? {
            title: push.title,
            body: orNull(push.body),
            url: push.url,
            iconUrl: orNull(push.iconUrl),
            imageUrl: orNull(push.imageUrl),
            badgeUrl: orNull(push.badgeUrl),
            requireInteraction: push.requireInteraction,
            // A question's answers take the buttons (or its answer page): a push with one has no actions of its own.
            actions: question ? [] : push.actions.map((action) => ({ action: action.action, title: action.title, url: orNull(action.url) })),
            question,
            urgency: (orNull(push.urgency) as never) ?? null,
            ttlSeconds: number(push.ttlHours, 3600),
            topic: orNull(push.topic),
          }
        : null,
    email:
      form.channel === 'EMAIL'
        ? {
            subject: email.subject,
            preheader: orNull(email.preheader),
            html: email.format === 'html' ? email.body : null,
            mjml: email.format === 'mjml' ? email.body : null,
            text: orNull(email.text),
            fromName: orNull(email.fromName),
            replyTo: orNull(email.replyTo),
            question,
          }
        : null,
    sms: form.channel === 'SMS' ? { body: form.sms.body } : null,
    webhook: form.channel === 'WEBHOOK' ? webhookOf(form.webhook) : null,
    mobilePush: form.channel === 'MOBILE_PUSH' ? mobilePushOf(form.mobilePush) : null,
    inApp: form.channel === 'IN_APP' ? inAppOf(form.inApp, question) : null,
  };
}

function inAppOf(inApp: InAppForm, question: ReturnType<typeof questionInput>) {
  return {
    layout: inApp.layout,
    title: orNull(inApp.title),
    body: orNull(inApp.body),
    imageUrl: orNull(inApp.imageUrl),
    buttons: inApp.buttons.map((button) => ({ label: button.label, url: button.url.trim() })),
    question,
    ttlSeconds: number(inApp.ttlDays, 86_400),
  };
}

/** Headers as the API takes them: a stored header left empty is null, which keeps its value. */
function webhookOf(webhook: WebhookForm) {
  const headers = webhook.headers.filter((header) => header.name.trim() !== '');
  return {
    url: webhook.url,
    method: webhook.method,
    headers: headers.length ? Object.fromEntries(headers.map((header) => [header.name.trim(), header.stored && header.value === '' ? null : header.value])) : null,
    body: orNull(webhook.body),
  };
}

/** `data` that is not a JSON object goes as typed, so Herald names the problem at mobilePush.data. */
function mobilePushOf(push: MobilePushForm) {
  const data = parsedObject(push.data);
  return {
    title: push.title,
    body: orNull(push.body),
    imageUrl: orNull(push.imageUrl),
    url: orNull(push.url),
    data: data.problem ? push.data : data.value,
    badge: number(push.badge),
    sound: orNull(push.sound),
    category: orNull(push.category),
    topic: orNull(push.topic),
    ttlSeconds: number(push.ttlHours, 3600),
  };
}

/** The message as the first variant, then each other variant: the message with its own text. */
function variantsOf(form: CampaignForm, message: ReturnType<typeof messageOf>) {
  const { mobilePush: _none, ...content } = message; // a push to phones has no variants
  const first = { name: form.firstVariantName, weight: number(form.firstVariantWeight) ?? 1, ...content };
  return [
    first,
    ...form.variants.map((variant) => ({
      name: variant.name,
      weight: number(variant.weight) ?? 1,
      content: message.content && { ...message.content, title: variant.text, body: orNull(variant.body) ?? message.content.body },
      email: message.email && { ...message.email, subject: variant.text },
      sms: message.sms && { body: variant.text },
      webhook: message.webhook && { ...message.webhook, body: variant.text },
      inApp: message.inApp && { ...message.inApp, title: orNull(variant.text), body: orNull(variant.body) ?? message.inApp.body },
    })),
  ];
}

export function toInput(form: CampaignForm) {
  const { trigger } = form;
  const message = messageOf(form);
  return {
    name: form.name,
    kind: form.kind,
    channel: form.channel,
    ...message,
    variants: form.variants.length && VARIANT_TEXT[form.channel] ? variantsOf(form, message) : null,
    holdoutPercent: number(form.holdoutPercent) ?? 0,
    audience: { segmentId: orNull(form.segmentId), type: form.audienceType },
    trigger:
      form.kind === 'TRIGGERED'
        ? {
            event: trigger.event,
            where: trigger.where.length ? trigger.where.map(({ path, op, value }) => ({ path, op, value: parseValue(op, value) })) : null,
            delaySeconds: number(trigger.delayMinutes, 60) ?? 0,
            exceptionEvents: trigger.exceptionEvents
              .split(',')
              .map((name) => name.trim())
              .filter(Boolean),
            reEligibleAfterSeconds: number(trigger.reEligibleAfterHours, 3600),
          }
        : null,
    deliveryWindow: form.windowStart && form.windowEnd ? { start: form.windowStart, end: form.windowEnd } : null,
    activeUntil: fromLocalInput(form.activeUntil),
    frequencyCapped: form.frequencyCapped,
    conversion: form.conversionEvent.trim() ? { event: form.conversionEvent.trim(), withinSeconds: number(form.conversionHours, 3600) ?? 86400 } : null,
  };
}

type Saved = NonNullable<CampaignEditQuery['campaign']>;
const text = (value: unknown) => (value === null || value === undefined ? '' : String(value));

export function fromCampaign(campaign: Saved): CampaignForm {
  const blank = blankForm();
  const content = campaign.content;
  const email = campaign.email;
  const trigger = campaign.trigger;
  return {
    ...blank,
    name: campaign.name,
    kind: campaign.kind === 'TRIGGERED' ? 'TRIGGERED' : 'BROADCAST', // journey sends are edited in their journey
    channel: campaign.channel,
    push: content
      ? {
          title: content.title,
          body: text(content.body),
          url: content.url,
          iconUrl: text(content.iconUrl),
          imageUrl: text(content.imageUrl),
          badgeUrl: text(content.badgeUrl),
          requireInteraction: content.requireInteraction,
          actions: content.actions.map((action) => ({ action: action.action, title: action.title, url: text(action.url) })),
          urgency: text(content.urgency),
          ttlHours: content.ttlSeconds === null || content.ttlSeconds === undefined ? '' : String(content.ttlSeconds / 3600),
          topic: text(content.topic),
        }
      : blank.push,
    email: email
      ? {
          subject: email.subject,
          preheader: text(email.preheader),
          format: email.mjml ? 'mjml' : 'html',
          body: text(email.mjml ?? email.html),
          text: text(email.text),
          fromName: text(email.fromName),
          replyTo: text(email.replyTo),
        }
      : blank.email,
    sms: campaign.sms ? { body: campaign.sms.body } : blank.sms,
    webhook: campaign.webhook ? webhookFrom(campaign.webhook) : blank.webhook,
    mobilePush: campaign.mobilePush ? mobilePushFrom(campaign.mobilePush) : blank.mobilePush,
    inApp: campaign.inApp ? inAppFrom(campaign.inApp) : blank.inApp,
    question: questionFrom(campaign.content?.question ?? campaign.email?.question ?? campaign.inApp?.question),
    segmentId: campaign.audience.segment?.id ?? '',
    audienceType: campaign.audience.type,
    trigger: trigger
      ? {
          event: trigger.event,
          where: Array.isArray(trigger.where)
            ? (trigger.where as { path: string; op: Comparison['op']; value: unknown }[]).map((one) => ({ path: one.path, op: one.op, value: Array.isArray(one.value) ? one.value.join(', ') : text(one.value) }))
            : [],
          delayMinutes: String(trigger.delaySeconds / 60),
          exceptionEvents: trigger.exceptionEvents.join(', '),
          reEligibleAfterHours: trigger.reEligibleAfterSeconds ? String(trigger.reEligibleAfterSeconds / 3600) : '',
        }
      : blank.trigger,
    windowStart: campaign.deliveryWindow?.start ?? '',
    windowEnd: campaign.deliveryWindow?.end ?? '',
    activeUntil: toLocalInput(campaign.activeUntil),
    frequencyCapped: campaign.frequencyCapped,
    conversionEvent: campaign.conversion?.event ?? '',
    conversionHours: campaign.conversion ? String(campaign.conversion.withinSeconds / 3600) : '24',
    ...variantsFrom(campaign),
  };
}

/** Header values come back null once stored (write-only): such a header shows empty and keeps its value. */
function webhookFrom(webhook: NonNullable<Saved['webhook']>): WebhookForm {
  const headers = (webhook.headers ?? {}) as Record<string, string | null>;
  return {
    url: webhook.url,
    method: webhook.method === 'PUT' || webhook.method === 'PATCH' ? webhook.method : 'POST',
    headers: Object.entries(headers).map(([name, value]) => ({ name, value: value ?? '', stored: value === null })),
    body: text(webhook.body),
  };
}

function mobilePushFrom(push: NonNullable<Saved['mobilePush']>): MobilePushForm {
  return {
    title: push.title,
    body: text(push.body),
    imageUrl: text(push.imageUrl),
    url: text(push.url),
    data: push.data ? JSON.stringify(push.data, null, 2) : '',
    badge: text(push.badge),
    sound: text(push.sound),
    category: text(push.category),
    topic: text(push.topic),
    ttlHours: push.ttlSeconds === null || push.ttlSeconds === undefined ? '' : String(push.ttlSeconds / 3600),
  };
}

function inAppFrom(inApp: NonNullable<Saved['inApp']>): InAppForm {
  return {
    layout: inApp.layout,
    title: text(inApp.title),
    body: text(inApp.body),
    imageUrl: text(inApp.imageUrl),
    buttons: inApp.buttons.map((button) => ({ label: button.label, url: button.url })),
    ttlDays: String(inApp.ttlSeconds / 86_400),
  };
}

/** The saved variants read back: the first is the message itself (as this editor saves it). */
function variantsFrom(campaign: Saved): Pick<CampaignForm, 'variants' | 'firstVariantName' | 'firstVariantWeight' | 'holdoutPercent'> {
  const [first, ...others] = campaign.variants;
  const textOf = (content: Record<string, unknown>) =>
    text(campaign.channel === 'EMAIL' ? content.subject : campaign.channel === 'SMS' || campaign.channel === 'WEBHOOK' ? content.body : content.title);
  return {
    firstVariantName: first?.name ?? 'A',
    firstVariantWeight: String(first?.weight ?? 1),
    variants: others.map((variant) => {
      const content = (variant.content ?? {}) as Record<string, unknown>;
      const withBody = campaign.channel === 'WEB_PUSH' || campaign.channel === 'IN_APP';
      return { name: variant.name, weight: String(variant.weight), text: textOf(content), body: withBody ? text(content.body) : '' };
    }),
    holdoutPercent: String(campaign.holdoutPercent),
  };
}
