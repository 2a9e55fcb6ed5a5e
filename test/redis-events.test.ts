import { type DocumentNode, print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './generated/index.ts';
import { dataOf, take, wsClient } from './kit/client.ts';
import { createWorkspace } from './kit/flow.ts';
import { startTestHerald, type TestHerald } from './kit/herald.ts';
import { createCampaign, seedBrowsers, SendNow, waitForStatus } from './kit/campaigns.ts';
import { type HeraldProcess, spawnHerald } from './kit/process.ts';
import { startPushService, type TestPushService } from './kit/push-service.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createEvents } from '../src/events.ts';
import type { Logger } from '../src/logger.ts';
import { REDIS_URL, redisAvailable } from './kit/redis.ts';



const available = await redisAvailable();

const WorkspaceStats = graphql(`subscription RedisWorkspaceStats { workspaceStats { activeApiKeys } }`);
const CreateApiKey = graphql(`mutation RedisCreateApiKey { createApiKey(input: { kind: SECRET }) { __typename } }`);

describe.runIf(available)('live events through Redis (REDIS_URL)', () => {
  let first: TestHerald;
  let second: TestHerald;
  beforeAll(async () => {
    first = await startTestHerald({ REDIS_URL });
    second = await startTestHerald({ REDIS_URL, DATABASE_URL: first.databaseUrl, HERALD_ROLE: 'api' });
  });
  afterAll(async () => {
    await second?.stop();
    await first?.stop();
  });

  it('delivers a change made on one instance to a subscriber on another', async () => {
    const shop = await createWorkspace(first);
    const client = wsClient(second.wsUrl, shop.secretKey);
    try {
      const results = await take(client, WorkspaceStats, {}, 2, () => void shop.secret(CreateApiKey));
      expect(results.map((result) => dataOf(result).workspaceStats.activeApiKeys)).toEqual([2, 3]);
    } finally {
      await client.dispose();
    }
  });
});

const LiveStats = graphql(`subscription RedisCampaignStats($id: ID!) { campaignStats(campaignId: $id) { sent targeted } }`);

describe.runIf(available)('campaign stats across processes through Redis', () => {
  let api: TestHerald;
  let worker: HeraldProcess;
  let push: TestPushService;
  let dataDir: string;
  beforeAll(async () => {
    push = await startPushService();
    api = await startTestHerald({ REDIS_URL, HERALD_ROLE: 'api' });
    dataDir = await mkdtemp(path.join(tmpdir(), 'herald-worker-'));
    worker = await spawnHerald({
      REDIS_URL,
      HERALD_ROLE: 'worker',
      DATABASE_URL: api.databaseUrl,
      HERALD_DATA_DIR: dataDir,
      HERALD_ADMIN_TOKEN: api.adminToken,
      HERALD_PUSH_CA: push.caFile,
      LOG_LEVEL: 'warn',
    });
  });
  afterAll(async () => {
    await worker?.stop();
    await api?.stop();
    await push?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('shows a dashboard on the api process the sends that a separate worker process performs', async () => {
    const shop = await createWorkspace(api);
    const browsers = await seedBrowsers(api.databaseUrl, shop.workspace.id, push, 200);
    const id = await createCampaign(shop.secret, { name: 'Across', kind: 'BROADCAST', content: { title: 'Hi', url: 'https://shop.example/' } });
    const client = wsClient(api.wsUrl, shop.secretKey);
    try {
      const seen: { sent: number; targeted: number }[] = [];
      for await (const result of client.iterate({ query: print(LiveStats as DocumentNode), variables: { id } })) {
        const stats = (result.data as { campaignStats: { sent: number; targeted: number } }).campaignStats;
        seen.push(stats);
        if (seen.length === 1) await shop.secret(SendNow, { id });
        if (stats.sent === 200) break;
      }
      expect(seen[0]).toEqual({ sent: 0, targeted: 0 });
      expect(seen.at(-1)).toEqual({ sent: 200, targeted: 200 });
      await waitForStatus(shop.secret, id);
      for (const browser of browsers) expect(push.received(browser.id)).toHaveLength(1);
    } finally {
      await client.dispose();
    }
  }, 60_000);
});

describe.runIf(available)('Redis calls that fail', () => {
  it('are logged, not left as unhandled rejections that would end the process', async () => {
    const warnings: unknown[] = [];
    const log = { warn: (...args: unknown[]) => warnings.push(args) } as unknown as Logger;
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    try {
      const events = createEvents(REDIS_URL, log);
      const subscription = events.subscribe('workspace:changed', 'w1')[Symbol.asyncIterator]();
      const next = subscription.next(); // subscribes on Redis
      await new Promise((resolve) => setTimeout(resolve, 200));
      await events.close();
      // After close, as at shutdown: a late publish, and a subscriber leaving (unsubscribe).
      events.publish('workspace:changed', 'w1', { reason: 'late' });
      await subscription.return?.();
      await Promise.race([next, new Promise((resolve) => setTimeout(resolve, 500))]);
      for (let waited = 0; warnings.length < 2 && waited < 5_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(warnings).toHaveLength(2); // the publish and the unsubscribe, each failed and logged
      expect(rejections).toEqual([]);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });
});
