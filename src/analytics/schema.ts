import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../graphql/builder.ts';
import { workspaceIdOf } from '../graphql/context.ts';
import { inQuery } from '../graphql/errors.ts';
import { liveSnapshots } from '../graphql/live.ts';
import { type AnalyticsBucket, Intervals, type WorkspaceAnalytics, workspaceAnalytics, type WorkspaceStats, workspaceStats } from './service.ts';

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

const WorkspaceStatsRef = builder.objectRef<WorkspaceStats>('WorkspaceStats').implement({
  fields: (t) => ({
    workspaceId: t.id({ resolve: (stats) => encodeGlobalID('Workspace', stats.workspaceId) }),
    activeApiKeys: t.exposeInt('activeApiKeys'),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.subscriptionField('workspaceStats', (t) =>
  t.field({
    type: WorkspaceStatsRef,
    description: 'The current figures first, then again whenever they change (at most 10 per second).',
    subscribe: (_root, _args, context) => {
      const workspaceId = workspaceIdOf(context);
      const changes = context.herald.events.subscribe('workspace:changed', workspaceId);
      return liveSnapshots(changes, () => workspaceStats(context.herald, workspaceId));
    },
    resolve: (stats) => stats,
  }),
);
