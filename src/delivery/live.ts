import { encodeGlobalID } from '@pothos/plugin-relay';
import { ErrorCode, NotFoundError } from '../errors.ts';
import { builder } from '../graphql/builder.ts';
import { type Context, workspaceIdOf } from '../graphql/context.ts';
import { inQuery } from '../graphql/errors.ts';
import { localId } from '../graphql/ids.ts';
import { newest } from '../graphql/live.ts';
import { type DeliveryEvent, DeliveryEventTypes } from './events.ts';

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

/**
 * A campaign id of the caller's own workspace; else NOT_FOUND, the answer campaignStats gives.
 * Read here, not through campaigns/getCampaign: delivery sits below campaigns and does not import it.
 */
function ownCampaignId(context: Context, globalId: string | number): Promise<string> {
  return inQuery(async () => {
    const id = localId(String(globalId), 'Campaign');
    const found = id && (await context.herald.prisma.campaign.findFirst({ where: { id, workspaceId: workspaceIdOf(context) }, select: { id: true } }));
    if (!found) throw new NotFoundError(ErrorCode.campaignNotFound, 'No campaign with this id');
    return found.id;
  });
}

/** The events kept for a reader that is behind (a socket nobody reads); it misses older ones. */
const EVENTS_BEHIND = 10_000;

builder.subscriptionField('deliveryEvents', (t) =>
  t.field({
    type: DeliveryEventRef,
    description: "Each message's steps as they happen: in one campaign, or the whole workspace.",
    args: { campaignId: t.arg.id() },
    subscribe: async (_root, { campaignId }, context) => {
      const only = campaignId == null ? null : await ownCampaignId(context, campaignId);
      const batches = context.herald.events.subscribe('delivery:events', workspaceIdOf(context));
      return newest(batches, EVENTS_BEHIND, (batch) => (only ? batch.filter((event) => event.campaignId === only) : batch));
    },
    resolve: (event) => event,
  }),
);
