import { ErrorCode, NotFoundError } from '../errors.ts';
import { builder } from '../graphql/builder.ts';
import { type Context, workspaceIdOf } from '../graphql/context.ts';
import { inQuery } from '../graphql/errors.ts';
import { localId } from '../graphql/ids.ts';
import { liveSnapshots } from '../graphql/live.ts';
import { CampaignStatsRef } from './schema.ts';
import { getCampaign } from './service.ts';
import { sharedCampaignStats } from './stats.ts';

/** The caller's own campaign id; a malformed id is as unknown as a missing or foreign one (NOT_FOUND). */
function ownCampaignId(context: Context, globalId: string | number): Promise<string> {
  return inQuery(async () => {
    const id = localId(String(globalId), 'Campaign');
    if (!id) throw new NotFoundError(ErrorCode.campaignNotFound, 'No campaign with this id');
    return (await getCampaign(context.herald, workspaceIdOf(context), id)).id;
  });
}

builder.subscriptionField('campaignStats', (t) =>
  t.field({
    type: CampaignStatsRef,
    description: 'The current figures at once, then again whenever they change (at most 10 per second).',
    args: { campaignId: t.arg.id({ required: true }) },
    subscribe: async (_root, { campaignId }, context) => {
      const id = await ownCampaignId(context, campaignId);
      return liveSnapshots(context.herald.events.subscribe('campaign:changed', id), (changedAt) => sharedCampaignStats(context.herald, id, changedAt));
    },
    resolve: (stats) => stats,
  }),
);
