import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../graphql/builder.ts';
import { workspaceIdOf } from '../graphql/context.ts';
import { liveSnapshots } from './live.ts';
import { type WorkspaceStats, workspaceStats } from './service.ts';

const WorkspaceStatsRef = builder.objectRef<WorkspaceStats>('WorkspaceStats').implement({
  fields: (t) => ({
    workspaceId: t.id({ resolve: (stats) => encodeGlobalID('Workspace', stats.workspaceId) }),
    activeApiKeys: t.exposeInt('activeApiKeys'),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.subscriptionFields((t) => ({
  workspaceStats: t.field({
    type: WorkspaceStatsRef,
    description: 'The current figures first, then again whenever they change (at most 10 per second).',
    subscribe: (_root, _args, context) => {
      const workspaceId = workspaceIdOf(context);
      const changes = context.herald.events.subscribe('workspace:changed', workspaceId);
      return liveSnapshots(changes, () => workspaceStats(context.herald, workspaceId));
    },
    resolve: (stats) => stats,
  }),
}));
