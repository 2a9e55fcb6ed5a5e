import { createPubSub } from '@graphql-yoga/subscription';
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { Redis } from 'ioredis';

/**
 * In-process events that live dashboards listen to. With REDIS_URL they travel through Redis, so
 * a change made on one Herald instance reaches subscribers connected to another.
 */
export type EventMap = {
  /** Something counted by `workspaceStats` changed in this workspace. */
  'workspace:changed': [workspaceId: string, change: { reason: string }];
  /** A campaign's status or counters changed. */
  'campaign:changed': [campaignId: string, change: { reason: string }];
  /** A campaign has messages due now: a process running jobs starts a delivery pass at once. */
  'delivery:due': [campaignId: string];
  /** Ledger rows of a workspace moved (see delivery/events.ts). */
  'delivery:events': [workspaceId: string, events: import('./delivery/events.ts').DeliveryEvent[]];
};

export type Events = ReturnType<typeof createPubSub<EventMap>> & { close(): Promise<void> };

export function createEvents(redisUrl?: string): Events {
  if (!redisUrl) return Object.assign(createPubSub<EventMap>(), { close: async () => {} });
  const publishClient = new Redis(redisUrl);
  const subscribeClient = new Redis(redisUrl);
  const eventTarget = createRedisEventTarget<any>({ publishClient, subscribeClient });
  return Object.assign(createPubSub<EventMap>({ eventTarget }), {
    async close() {
      publishClient.disconnect();
      subscribeClient.disconnect();
    },
  });
}
