import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../graphql/builder.ts';
import { pagedById } from '../graphql/connections.ts';
import { workspaceIdOf } from '../graphql/context.ts';
import { localId } from '../graphql/ids.ts';
import { AudienceEnum } from '../segments/inputs.ts';
import { contentOf, type Trigger, triggerOf } from '../delivery/campaign-fields.ts';
import type { Content } from '../delivery/web-push/content.ts';
import { compiledEmailOf, type EmailContent, EmailContentError } from '../delivery/email/content.ts';
import type { WebhookContent } from '../delivery/webhook/content.ts';
import { redactedHeaders } from '../delivery/webhook/headers.ts';
import { ChannelEnum } from '../delivery/schema.ts';
import { CampaignKindEnum, CampaignStatusEnum, UrgencyEnum } from './inputs.ts';
import { type Campaign, emailOf, webhookOf } from './service.ts';
import { mobilePushOf } from './mobile-push.ts';
import { MobilePushRef } from './mobile-push-schema.ts';
import { smsOf } from './sms.ts';
import { SmsRef } from './sms-schema.ts';
import { inAppOf } from './in-app.ts';
import { InAppRef } from './in-app-schema.ts';
import { type CampaignStats, campaignStatsMany, SuppressionReasons } from './stats.ts';
import { campaignExperiment, type Experiment, ExperimentMetrics, type VariantResult } from './experiment.ts';
import type { StoredVariant } from '../delivery/experiment.ts';
import { QuestionKindEnum, QuestionRef } from '../feedback/question.ts';
import type { AnswerCount } from '../feedback/stats.ts';

const ContentRef = builder.objectRef<Content>('CampaignContent').implement({
  fields: (t) => ({
    title: t.exposeString('title'),
    body: t.exposeString('body', { nullable: true }),
    iconUrl: t.exposeString('iconUrl', { nullable: true }),
    imageUrl: t.exposeString('imageUrl', { nullable: true }),
    badgeUrl: t.exposeString('badgeUrl', { nullable: true }),
    url: t.exposeString('url'),
    actions: t.field({
      type: [
        builder.objectRef<NonNullable<Content['actions']>[number]>('CampaignAction').implement({
          fields: (t) => ({ action: t.exposeString('action'), title: t.exposeString('title'), url: t.exposeString('url', { nullable: true }) }),
        }),
      ],
      resolve: (content) => content.actions ?? [],
    }),
    ttlSeconds: t.exposeInt('ttlSeconds', { nullable: true }),
    urgency: t.field({ type: UrgencyEnum, nullable: true, resolve: (content) => content.urgency ?? null }),
    topic: t.exposeString('topic', { nullable: true }),
    requireInteraction: t.boolean({ resolve: (content) => content.requireInteraction ?? false }),
    rich: t.boolean({ description: 'A rich push: it has a large image.', resolve: (content) => Boolean(content.imageUrl) }),
    question: t.field({ type: QuestionRef, nullable: true, resolve: (content) => content.question ?? null }),
  }),
});

const WebhookRef = builder.objectRef<WebhookContent>('CampaignWebhook').implement({
  description: 'The request a WEBHOOK campaign sends for each contact, as written (Liquid unrendered).',
  fields: (t) => ({
    url: t.exposeString('url'),
    method: t.string({ resolve: (webhook) => webhook.method ?? 'POST' }),
    headers: t.field({
      type: 'JSON',
      nullable: true,
      description: 'The header names, each with a null value: values are write-only (sealed at rest); give null back to keep one.',
      resolve: (webhook) => redactedHeaders(webhook.headers),
    }),
    body: t.exposeString('body', { nullable: true }),
  }),
});

const EmailRef = builder.objectRef<EmailContent>('CampaignEmail').implement({
  description: 'The email an EMAIL campaign sends, as written (Liquid and MJML uncompiled).',
  fields: (t) => ({
    subject: t.exposeString('subject'),
    preheader: t.exposeString('preheader', { nullable: true }),
    mjml: t.exposeString('mjml', { nullable: true }),
    html: t.exposeString('html', { nullable: true }),
    text: t.exposeString('text', { nullable: true }),
    fromName: t.exposeString('fromName', { nullable: true }),
    replyTo: t.exposeString('replyTo', { nullable: true }),
    question: t.field({ type: QuestionRef, nullable: true, resolve: (email) => email.question ?? null }),
  }),
});

/** An email campaign's warnings (e.g. Gmail will clip it), from its compiled email, kept per process. */
async function warningsOf(campaign: Campaign): Promise<string[]> {
  if (campaign.channel !== 'EMAIL') return [];
  try {
    return (await compiledEmailOf(campaign)).warnings;
  } catch (error) {
    // Saved when it compiled; a stricter Herald since may refuse it: say so rather than fail the query.
    if (error instanceof EmailContentError) return [`the email no longer compiles (${error.path.join('.')}): ${error.message}`];
    throw error;
  }
}

const AudienceRef = builder.objectRef<Campaign>('CampaignAudience').implement({
  fields: (t) => ({
    segment: t.prismaField({
      type: 'Segment',
      nullable: true,
      resolve: (query, campaign, _args, context) =>
        campaign.segmentId ? context.herald.prisma.segment.findUnique({ ...query, where: { id: campaign.segmentId } }) : null,
    }),
    rule: t.expose('audienceRule', { type: 'JSON', nullable: true }),
    type: t.expose('audienceType', { type: AudienceEnum }),
  }),
});

const ScheduleRef = builder.objectRef<Campaign>('CampaignSchedule').implement({
  fields: (t) => ({
    sendAt: t.expose('sendAt', { type: 'DateTime', nullable: true }),
    localTime: t.exposeBoolean('localTime', { description: "sendAt's wall-clock time in each recipient's time zone." }),
  }),
});

const TriggerRef = builder.objectRef<Trigger>('CampaignTrigger').implement({
  fields: (t) => ({
    event: t.exposeString('event'),
    where: t.field({ type: 'JSON', nullable: true, resolve: (trigger) => trigger.where ?? null }),
    delaySeconds: t.int({ resolve: (trigger) => trigger.delaySeconds ?? 0 }),
    exceptionEvents: t.stringList({ resolve: (trigger) => trigger.exceptionEvents ?? [] }),
    reEligibleAfterSeconds: t.exposeInt('reEligibleAfterSeconds', { nullable: true }),
  }),
});

const WindowRef = builder.objectRef<{ start: string; end: string }>('DeliveryWindow').implement({
  fields: (t) => ({ start: t.expose('start', { type: 'LocalTime' }), end: t.expose('end', { type: 'LocalTime' }) }),
});

const ConversionRef = builder.objectRef<{ event: string; withinSeconds: number }>('CampaignConversion').implement({
  fields: (t) => ({ event: t.exposeString('event'), withinSeconds: t.exposeInt('withinSeconds') }),
});

export const SuppressionReasonEnum = builder.enumType('SuppressionReason', { values: SuppressionReasons });

export const ExperimentMetricEnum = builder.enumType('ExperimentMetric', { values: ExperimentMetrics });

const VariantResultRef = builder.objectRef<VariantResult>('VariantResult').implement({
  description: 'One variant, counted per contact.',
  fields: (t) => ({
    name: t.exposeString('name'),
    sent: t.exposeInt('sent'),
    displayed: t.exposeInt('displayed'),
    opened: t.exposeInt('opened'),
    clicked: t.exposeInt('clicked'),
    conversions: t.exposeInt('conversions'),
    rate: t.exposeFloat('rate', { description: 'The metric per contact sent.' }),
    interval: t.exposeFloatList('interval', { description: 'An always-valid 95% interval for the rate: it may be read at any moment, as often as you like.' }),
  }),
});

export const ExperimentRef = builder.objectRef<Experiment>('Experiment').implement({
  description:
    'An A/B test and holdout, with always-valid statistics (a mixture sequential test): watching it live does not make a difference appear that is not there. See the README, "Reading an experiment".',
  fields: (t) => ({
    metric: t.expose('metric', { type: ExperimentMetricEnum, description: 'CONVERSIONS with a conversion goal, else CLICKS.' }),
    variants: t.field({ type: [VariantResultRef], resolve: (experiment) => experiment.variants }),
    holdout: t.field({
      type: builder.objectRef<NonNullable<Experiment['holdout']>>('HoldoutResult').implement({
        fields: (t) => ({ size: t.exposeInt('size'), conversions: t.exposeInt('conversions'), rate: t.exposeFloat('rate') }),
      }),
      nullable: true,
      resolve: (experiment) => experiment.holdout,
    }),
    lift: t.exposeFloat('lift', { nullable: true, description: 'Relative: 0.2 = 20% more. Everyone messaged against the holdout; without one, the best other variant against the first.' }),
    interval: t.exposeFloatList('interval', { nullable: true, description: 'An always-valid 95% interval for the lift; null until both sides have enough data.' }),
    probabilityToBeatControl: t.exposeFloat('probabilityToBeatControl', { nullable: true }),
    significant: t.exposeBoolean('significant', { description: 'The lift interval excludes 0.' }),
    winner: t.exposeString('winner', { nullable: true, description: 'The variant better than every other beyond chance (Bonferroni over all pairs); null until then.' }),
  }),
});

export const CampaignStatsRef = builder.objectRef<CampaignStats>('CampaignStats').implement({
  fields: (t) => ({
    campaignId: t.id({ resolve: (stats) => encodeGlobalID('Campaign', stats.campaignId) }),
    targeted: t.exposeInt('targeted', { description: 'Ledger rows written: one per browser, or per contact without one.' }),
    queued: t.exposeInt('queued', { description: 'Waiting or being sent now.' }),
    sent: t.exposeInt('sent'),
    failed: t.exposeInt('failed'),
    expired: t.exposeInt('expired', { description: 'Not sent because activeUntil had passed.' }),
    suppressed: t.exposeInt('suppressed'),
    suppressedBy: t.field({
      type: [
        builder.objectRef<{ reason: (typeof SuppressionReasons)[number]; count: number }>('SuppressionCount').implement({
          fields: (t) => ({ reason: t.expose('reason', { type: SuppressionReasonEnum }), count: t.exposeInt('count') }),
        }),
      ],
      resolve: (stats) => stats.suppressedBy,
    }),
    displayed: t.exposeInt('displayed'),
    clicked: t.exposeInt('clicked'),
    closed: t.exposeInt('closed'),
    delivered: t.exposeInt('delivered', { description: 'SMS: reported delivered by the provider. Web push and email: sent and not bounced since.' }),
    opened: t.exposeInt('opened', { description: 'Email: opened by a person (machine opens are not counted here).' }),
    machineOpened: t.exposeInt('machineOpened', { description: 'Email: images first loaded by a privacy proxy (Apple Mail) or a scanner, not a person.' }),
    bounced: t.exposeInt('bounced', { description: 'Email: bounced permanently.' }),
    complained: t.exposeInt('complained', { description: 'Email: reported as spam by the recipient.' }),
    undelivered: t.exposeInt('undelivered', { description: 'SMS: accepted by the provider, then reported undelivered or failed (FAILED/UNDELIVERED).' }),
    unsubscribed: t.exposeInt('unsubscribed', { description: 'Email: unsubscribed through the link or one-click. SMS: refused by the provider because the person texted STOP (error 21610).' }),
    conversions: t.exposeInt('conversions'),
    clickRate: t.exposeFloat('clickRate', { description: 'Web push: clicked / displayed. Email: clicked / delivered. 0 when the denominator is 0.' }),
    conversionRate: t.exposeFloat('conversionRate', { description: 'conversions / sent (0 when nothing was sent).' }),
    responses: t.exposeInt('responses', { description: 'Messages whose question was answered (each counts its first answer only).' }),
    nps: t.exposeFloat('nps', { nullable: true, description: 'Net Promoter Score of the NPS answers (% 9–10 minus % 0–6, one decimal); null without any.' }),
    answers: t.field({
      type: [
        builder.objectRef<AnswerCount>('AnswerCount').implement({
          fields: (t) => ({ kind: t.field({ type: QuestionKindEnum, resolve: (entry) => entry.kind }), answer: t.exposeString('answer'), count: t.exposeInt('count') }),
        }),
      ],
      description: 'How many gave each answer: by kind, scores in order, choices most given first.',
      resolve: (stats) => stats.answers,
    }),
    experiment: t.field({
      type: ExperimentRef,
      nullable: true,
      description: 'The experiment (variants, holdout), live with the rest; null without one.',
      resolve: async (stats, _args, context) => {
        const campaign = await context.herald.prisma.campaign.findUnique({ where: { id: stats.campaignId } });
        return campaign ? campaignExperiment(context.herald, campaign) : null;
      },
    }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

export const CampaignRef = builder.prismaNode('Campaign', {
  id: { field: 'id' },
  nullable: true,
  findUnique: (id, context) => ({ id, workspaceId: workspaceIdOf(context) }),
  fields: (t) => ({
    name: t.exposeString('name'),
    kind: t.expose('kind', { type: CampaignKindEnum }),
    status: t.expose('status', { type: CampaignStatusEnum }),
    channel: t.expose('channel', { type: ChannelEnum }),
    content: t.field({
      type: ContentRef,
      nullable: true,
      description: 'The web push (channel WEB_PUSH); null for other channels.',
      resolve: (campaign) => (campaign.channel === 'WEB_PUSH' ? contentOf(campaign) : null),
    }),
    email: t.field({ type: EmailRef, nullable: true, description: 'The email (channel EMAIL); null for other channels.', resolve: emailOf }),
    webhook: t.field({ type: WebhookRef, nullable: true, description: 'The webhook (channel WEBHOOK); null for other channels.', resolve: webhookOf }),
    mobilePush: t.field({ type: MobilePushRef, nullable: true, description: 'The push to phone apps (channel MOBILE_PUSH); null for other channels.', resolve: mobilePushOf }),
    sms: t.field({ type: SmsRef, nullable: true, description: 'The SMS (channel SMS); null for other channels.', resolve: smsOf }),
    inApp: t.field({ type: InAppRef, nullable: true, description: 'The on-site message (channel IN_APP); null for other channels.', resolve: inAppOf }),
    warnings: t.stringList({ description: 'What may keep the content from showing as meant, e.g. an email Gmail will clip; empty when nothing.', resolve: warningsOf }),
    audience: t.field({ type: AudienceRef, resolve: (campaign) => campaign }),
    schedule: t.field({ type: ScheduleRef, nullable: true, resolve: (campaign) => (campaign.sendAt ? campaign : null) }),
    trigger: t.field({ type: TriggerRef, nullable: true, resolve: (campaign) => triggerOf(campaign) }),
    deliveryWindow: t.field({
      type: WindowRef,
      nullable: true,
      resolve: ({ deliveryWindowStart: start, deliveryWindowEnd: end }) => (start && end ? { start, end } : null),
    }),
    frequencyCapped: t.exposeBoolean('frequencyCapped'),
    conversion: t.field({ type: ConversionRef, nullable: true, resolve: (campaign) => campaign.conversion as { event: string; withinSeconds: number } | null }),
    activeUntil: t.expose('activeUntil', { type: 'DateTime', nullable: true }),
    startAt: t.expose('startAt', { type: 'DateTime', nullable: true }),
    endAt: t.expose('endAt', { type: 'DateTime', nullable: true }),
    // Loaded together: a page of 100 campaigns reads its figures in one query, not 100.
    stats: t.loadable({
      type: CampaignStatsRef,
      load: (ids: string[], context) => campaignStatsMany(context.herald, ids),
      resolve: (campaign) => campaign.id,
    }),
    variants: t.field({
      type: [
        builder.objectRef<StoredVariant>('CampaignVariant').implement({
          fields: (t) => ({
            name: t.exposeString('name'),
            weight: t.exposeInt('weight'),
            content: t.field({
              type: 'JSON',
              description: "The variant's content in its channel's shape (as `content` or `email`); a webhook's header values hidden, as in `webhook`.",
              resolve: ({ content }) => ('headers' in content ? { ...content, headers: redactedHeaders(content.headers as WebhookContent['headers']) } : content),
            }),
          }),
        }),
      ],
      resolve: (campaign) => (campaign.variants as StoredVariant[] | null) ?? [],
    }),
    holdoutPercent: t.exposeInt('holdoutPercent'),
    experiment: t.field({ type: ExperimentRef, nullable: true, description: 'Null without variants or a holdout.', resolve: (campaign, _args, context) => campaignExperiment(context.herald, campaign) }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    completedAt: t.expose('completedAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.queryFields((t) => ({
  campaign: t.prismaField({
    type: 'Campaign',
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, { id }, context) => {
      const campaignId = localId(String(id), 'Campaign');
      return campaignId
        ? context.herald.prisma.campaign.findFirst({ ...query, where: { id: campaignId, workspaceId: workspaceIdOf(context), kind: { not: 'JOURNEY' } } })
        : null;
    },
  }),
  campaigns: t.prismaConnection(
    {
      type: 'Campaign',
      cursor: 'id',
      description: 'Newest first. Without `status`, ARCHIVED campaigns are left out.',
      args: { status: t.arg({ type: [CampaignStatusEnum] }), kind: t.arg({ type: CampaignKindEnum }) },
      totalCount: (_parent, args, context) => context.herald.prisma.campaign.count({ where: campaignFilter(workspaceIdOf(context), args) }),
      resolve: (query, _root, args, context) => {
        const { page, after } = pagedById(query, 'desc');
        return context.herald.prisma.campaign.findMany({ ...page, where: { ...campaignFilter(workspaceIdOf(context), args), ...after }, orderBy: { id: 'desc' } });
      },
    },
    { name: 'CampaignConnection' },
    { name: 'CampaignEdge' },
  ),
}));

function campaignFilter(workspaceId: string, args: { status?: readonly Campaign['status'][] | null; kind?: Campaign['kind'] | null }) {
  return {
    workspaceId,
    status: args.status?.length ? { in: [...args.status] } : { not: 'ARCHIVED' as const },
    // A journey's own campaigns are listed with the journey, not here.
    AND: [{ kind: { not: 'JOURNEY' as const } }, ...(args.kind ? [{ kind: args.kind }] : [])],
  };
}
