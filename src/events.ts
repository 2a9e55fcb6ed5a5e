import { createPubSub } from '@graphql-yoga/subscription';
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { Redis } from 'ioredis';
import type { Logger } from './logger.ts';

/**
 * In-process events that live dashboards listen to. With REDIS_URL they travel through Redis, so
 * a change made on one Herald instance reaches subscribers connected to another.
 */
export type EventMap = {
  /** Something counted by `workspaceStats` changed in this workspace. */
  'workspace:changed': [workspaceId: string, change: { reason: string }];
  /** A campaign's status or counters changed. */
  'campaign:changed': [campaignId: string, change: { reason: string }];
  /**
   * A campaign has messages due now: a process running jobs starts a delivery pass at once.
   * `lanes`, when the sender knows them, is the bit mask of the sending lanes the rows fall in
   * (delivery/deliver.ts `lanesOf`): a running pass wakes only those. Absent: every lane looks.
   */
  'delivery:due': [due: { campaignId: string; lanes?: number }];
  /** Ledger rows of a workspace moved (see delivery/events.ts). */
  'delivery:events': [workspaceId: string, events: import('./delivery/events.ts').DeliveryEvent[]];
  /** A journey's enrolments or status changed (journeyStats). */
  'journey:changed': [journeyId: string, change: { reason: string }];
  /** Journey enrolments are due now: a process running jobs advances them at once. */
  'journeys:due': [];
  /** An API key was revoked: every process ends the live streams (sockets, SSE) opened with it. */
  'apiKey:revoked': [apiKeyId: string];
  /** A workspace's identity settings changed: every process forgets what it cached (workspaces/cache.ts). */
  'workspace:settings': [workspaceId: string];
};

export type Events = ReturnType<typeof createPubSub<EventMap>> & { close(): Promise<void> };

export function createEvents(redisUrl?: string, log?: Logger): Events {
  if (!redisUrl) return Object.assign(createPubSub<EventMap>(), { close: async () => {} });
  const publishClient = new Redis(redisUrl);
  const subscribeClient = new Redis(redisUrl);
  // The event target fires these without awaiting them: a failure (Redis away long enough for
  // ioredis to give up, or a late call at shutdown) would be an unhandled rejection, which ends
  // the process. A lost live event is logged instead.
  const warn = (error: unknown) => log?.warn({ err: error }, 'redis pub/sub call failed; a live event may be lost');
  for (const [client, method] of [
    [publishClient, 'publish'],
    [subscribeClient, 'subscribe'],
    [subscribeClient, 'unsubscribe'],
  ] as const) {
    const call = client[method].bind(client) as (...args: unknown[]) => Promise<unknown>;
    Object.assign(client, { [method]: (...args: unknown[]) => call(...args).catch(warn) });
  }
  const eventTarget = createRedisEventTarget<any>({ publishClient, subscribeClient });
  return Object.assign(createPubSub<EventMap>({ eventTarget }), {
    async close() {
      publishClient.disconnect();
      subscribeClient.disconnect();
    },
  });
}
