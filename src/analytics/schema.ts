import { GraphQLError } from 'graphql';
import { CampaignStatsRef } from '../campaigns/schema.ts';
import { sharedCampaignStats } from '../campaigns/stats.ts';
import { type DeliveryEvent, DeliveryEventTypes } from '../delivery/events.ts';
import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../graphql/builder.ts';
import { workspaceIdOf } from '../graphql/context.ts';
import { inQuery } from '../graphql/errors.ts';
import { localId } from '../graphql/ids.ts';
import { liveSnapshots } from '../stats/live.ts';
import { type AnalyticsBucket, Intervals, type WorkspaceAnalytics, workspaceAnalytics } from './service.ts';

const IntervalEnum = builder.enumType('Interval', { values: Intervals });

const BucketRef = builder.objectRef<AnalyticsBucket>('AnalyticsBucket').implement({
  fields: (t) => ({
    start: t.expose('start', { type: 'DateTime', description: 'Start of the hour, day (local midnight), week (Monday) or month, in the workspace time zone.' }),
    sent: t.exposeInt('sent'),
    displayed: t.exposeInt('displayed'),
    clicked: t.exposeInt('clicked'),
    conversions: t.exposeInt('conversions'),
  }),
});

const AnalyticsRef = builder.objectRef<WorkspaceAnalytics>('WorkspaceAnalytics').implement({
  fields: (t) => ({
    from: t.expose('from', { type: 'DateTime' }),
    to: t.expose('to', { type: 'DateTime' }),
    interval: t.expose('interval', { type: IntervalEnum }),
    timezone: t.expose('timezone', { type: 'TimeZone' }),
    buckets: t.field({ type: [BucketRef], resolve: (analytics) => analytics.buckets }),
    totals: t.field({
      type: BucketRef,
      description: 'The sums over all buckets (start is `from`).',
      resolve: ({ from, buckets }) => ({
        start: from,
        sent: buckets.reduce((sum, bucket) => sum + bucket.sent, 0),
        displayed: buckets.reduce((sum, bucket) => sum + bucket.displayed, 0),
        clicked: buckets.reduce((sum, bucket) => sum + bucket.clicked, 0),
        conversions: buckets.reduce((sum, bucket) => sum + bucket.conversions, 0),
      }),
    }),
  }),
});

builder.queryField('analytics', (t) =>
  t.field({
    type: AnalyticsRef,
    args: {
      from: t.arg({ type: 'DateTime', required: true }),
      to: t.arg({ type: 'DateTime', required: true }),
      interval: t.arg({ type: IntervalEnum, defaultValue: 'DAY' }),
    },
    resolve: (_root, { from, to, interval }, context) =>
      inQuery(() => workspaceAnalytics(context.herald, workspaceIdOf(context), from, to, interval ?? 'DAY')),
  }),
);

const DeliveryEventTypeEnum = builder.enumType('DeliveryEventType', { values: DeliveryEventTypes });

const DeliveryEventRef = builder.objectRef<DeliveryEvent>('DeliveryEvent').implement({
  fields: (t) => ({
    type: t.expose('type', { type: DeliveryEventTypeEnum }),
    messageId: t.id({ resolve: (event) => encodeGlobalID('Message', event.messageId) }),
    campaignId: t.id({ resolve: (event) => encodeGlobalID('Campaign', event.campaignId) }),
    contactId: t.id({ resolve: (event) => encodeGlobalID('Contact', event.contactId) }),
    reason: t.exposeString('reason', { nullable: true }),
    at: t.expose('at', { type: 'DateTime' }),
  }),
});

/** A campaign id of the caller's own workspace, or a NOT_FOUND error. */
async function ownCampaignId(context: Parameters<typeof workspaceIdOf>[0], globalId: string | number): Promise<string> {
  const id = localId(String(globalId), 'Campaign');
  const found = id && (await context.herald.prisma.campaign.findFirst({ where: { id, workspaceId: workspaceIdOf(context) }, select: { id: true } }));
  if (!found) throw new GraphQLError('No campaign with this id', { extensions: { code: 'NOT_FOUND' } });
  return found.id;
}

builder.subscriptionFields((t) => ({
  campaignStats: t.field({
    type: CampaignStatsRef,
    description: 'The current figures at once, then again whenever they change (at most 10 per second).',
    args: { campaignId: t.arg.id({ required: true }) },
    subscribe: async (_root, { campaignId }, context) => {
      const id = await ownCampaignId(context, campaignId);
      return liveSnapshots(context.herald.events.subscribe('campaign:changed', id), (changedAt) => sharedCampaignStats(context.herald, id, changedAt));
    },
    resolve: (stats) => stats,
  }),
  deliveryEvents: t.field({
    type: DeliveryEventRef,
    description: "Each message's steps as they happen: in one campaign, or the whole workspace.",
    args: { campaignId: t.arg.id() },
    subscribe: async function* (_root, { campaignId }, context) {
      const only = campaignId == null ? null : await ownCampaignId(context, campaignId);
      for await (const batch of context.herald.events.subscribe('delivery:events', workspaceIdOf(context))) {
        for (const event of batch) if (!only || event.campaignId === only) yield event;
      }
    },
    resolve: (event) => event,
  }),
}));
