import { decodeGlobalID } from '@pothos/plugin-relay';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import { createCampaign } from '../kit/campaigns.ts';
import { take, wsClient } from '../kit/client.ts';
import { createWorkspace } from '../kit/flow.ts';
import { startTestHerald, type TestHerald } from '../kit/herald.ts';
import { REDIS_URL, redisAvailable } from '../kit/redis.ts';

const Stats = graphql(`subscription EndedCampaignStats($id: ID!) { campaignStats(campaignId: $id) { sent } }`);

// Through Redis each topic a process listens to is a channel it subscribes to: a stream ended by
// its client must let go of its topic, else every ended stream on a quiet topic is kept for good.
describe.runIf(await redisAvailable())('an ended live stream', () => {
  let kit: TestHerald;
  let redis: Redis;
  beforeAll(async () => {
    kit = await startTestHerald({ REDIS_URL });
    redis = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    redis?.disconnect();
    await kit?.stop();
  });

  const listeners = async (channel: string) => Number(((await redis.pubsub('NUMSUB', channel)) as [string, number])[1]);

  it('stops listening to its topic once its client ends it, while nothing happens there', async () => {
    const shop = await createWorkspace(kit);
    const campaign = await createCampaign(shop.secret, { name: 'Quiet', kind: 'BROADCAST', content: { title: 'Hi', url: 'https://shop.example/' } });
    const campaignTopic = `campaign:changed:${decodeGlobalID(campaign).id}`;
    const deliveryTopic = `delivery:events:${decodeGlobalID(shop.workspace.id).id}`;
    const client = wsClient(kit.wsUrl, shop.secretKey);
    try {
      expect(await take(client, Stats, { id: campaign }, 1)).toHaveLength(1);
      expect(await listeners(campaignTopic)).toBe(1);
      const delivery = new Promise<void>((resolve) => {
        const query = `subscription { deliveryEvents(campaignId: "${campaign}") { type } }`;
        const stop = client.subscribe({ query }, { next: () => {}, error: () => {}, complete: () => {} });
        setTimeout(() => (stop(), resolve()), 300);
      });
      await delivery;
      await expect.poll(() => listeners(campaignTopic), { timeout: 2000 }).toBe(0);
      await expect.poll(() => listeners(deliveryTopic), { timeout: 2000 }).toBe(0);
    } finally {
      await client.dispose();
    }
  });
});
