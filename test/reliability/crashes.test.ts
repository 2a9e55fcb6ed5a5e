/**
 * Repeated crashes (issue #9): a broadcast whose Herald process is killed with SIGKILL at several
 * random moments and started again each time. Counted at the test push service: nobody gets two,
 * and the campaign's counters equal its ledger. A claim's COMMIT and its bodies are written in the
 * same tick, so everyone gets one unless a kill lands in the microseconds between those writes: such
 * a miss must be a claim settled SENT/UNCONFIRMED, and the test prints how many there were.
 * CI scale by default; the full numbers: CHAOS_RECIPIENTS=20000 CHAOS_KILLS=5.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import { createCampaign, seedBrowsers, SendNow, waitForStatus } from '../kit/campaigns.ts';
import { dataOf, httpClient } from '../kit/client.ts';
import { dropDatabase, freshDatabase } from '../kit/herald.ts';
import { type HeraldProcess, spawnHerald } from '../kit/process.ts';
import { startPushService, type TestPushService } from '../kit/push-service.ts';

const RECIPIENTS = Number(process.env.CHAOS_RECIPIENTS ?? 4_000);
const KILLS = Number(process.env.CHAOS_KILLS ?? 3);
const CONCURRENCY = 16;

const CreateWorkspace = graphql(`
  mutation ChaosWorkspace {
    createWorkspace(input: { name: "Chaos" }) { ... on MutationCreateWorkspaceSuccess { data { secretKey workspace { id } } } }
  }
`);

let push: TestPushService;
let databaseUrl: string;
let dataDir: string;
let herald: HeraldProcess | undefined;

beforeAll(async () => {
  push = await startPushService();
  databaseUrl = await freshDatabase();
  dataDir = await mkdtemp(path.join(tmpdir(), 'herald-chaos-'));
});
afterAll(async () => {
  await herald?.stop('SIGKILL');
  await push?.close();
  if (databaseUrl) await dropDatabase(databaseUrl);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const start = () =>
  spawnHerald({
    DATABASE_URL: databaseUrl,
    HERALD_DATA_DIR: dataDir,
    HERALD_PUSH_CA: push.caFile,
    HERALD_PUSH_CONCURRENCY: String(CONCURRENCY),
    HERALD_PUSH_TIMEOUT_MS: '1000', // the lease after which a dead sender's claims are settled is this plus 5 s
    LOG_LEVEL: 'warn',
  });

describe(`a broadcast killed ${KILLS} times`, () => {
  it('reaches everyone at most once, misses only claims cut by a kill, and keeps counters equal to the ledger', async () => {
    herald = await start();
    const admin = httpClient(`${herald.url}/graphql`, herald.adminToken);
    const { secretKey, workspace } = (dataOf(await admin(CreateWorkspace)).createWorkspace as { data: { secretKey: string; workspace: { id: string } } }).data;
    const browsers = await seedBrowsers(databaseUrl, workspace.id, push, RECIPIENTS);
    push.behave({ status: 201, delayMs: 20 }); // a send of several seconds, with kills in the middle

    let secret = httpClient(`${herald.url}/graphql`, secretKey);
    const id = await createCampaign(secret, { name: 'Chaos', kind: 'BROADCAST', content: { title: 'Once', url: 'https://shop.example/' } });
    await secret(SendNow, { id });
    const kills: number[] = [];
    for (let kill = 0; kill < KILLS; kill++) {
      const before = push.received().length;
      await push.waitFor(() => push.received().length > before, 60_000); // sending again
      await new Promise((resolve) => setTimeout(resolve, 200 + Math.random() * 1000));
      if (push.received().length >= RECIPIENTS) break;
      await herald.stop('SIGKILL');
      kills.push(push.received().length);
      herald = await start();
      secret = httpClient(`${herald.url}/graphql`, secretKey);
    }
    const campaign = await waitForStatus(secret, id, 'SENT', 120_000);

    const counts = browsers.map((browser) => push.received(browser.id).length);
    expect(counts.filter((count) => count > 1)).toEqual([]); // nobody got two
    const campaignId = Buffer.from(id, 'base64').toString().split(':')[1]!;
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      const { rows: unconfirmed } = await db.query<{ endpoint: string }>(
        `SELECT s.endpoint FROM "Message" m JOIN "PushSubscription" s ON s.id = m."subscriptionId" WHERE m."campaignId" = $1 AND m.reason = 'UNCONFIRMED'`,
        [campaignId],
      );
      const missed = browsers.filter((_, index) => counts[index] === 0).map((browser) => browser.json.endpoint);
      expect(missed.every((endpoint) => unconfirmed.some((row) => row.endpoint === endpoint))).toBe(true);
      expect(missed.length).toBeLessThanOrEqual(CONCURRENCY * kills.length);

      // Counters equal the ledger, status by status and reason by reason.
      const { rows: ledger } = await db.query<{ metric: string; count: number }>(
        `SELECT 'status:' || status AS metric, count(*)::int AS count FROM "Message" WHERE "campaignId" = $1 GROUP BY status
         UNION ALL SELECT 'reason:' || reason, count(*)::int FROM "Message" WHERE "campaignId" = $1 AND reason IS NOT NULL GROUP BY reason
         UNION ALL SELECT 'targeted', count(*)::int FROM "Message" WHERE "campaignId" = $1`,
        [campaignId],
      );
      const { rows: counters } = await db.query<{ metric: string; count: number }>(
        `SELECT metric, count FROM "CampaignCount" WHERE "campaignId" = $1 AND (metric LIKE 'status:%' OR metric LIKE 'reason:%' OR metric = 'targeted') AND count <> 0`,
        [campaignId],
      );
      const byMetric = (rows: { metric: string; count: number }[]) => Object.fromEntries(rows.map((row) => [row.metric, row.count]));
      expect(byMetric(counters)).toEqual(byMetric(ledger));
      expect(campaign.stats).toMatchObject({ targeted: RECIPIENTS, sent: RECIPIENTS, failed: 0, queued: 0 });
      console.log(
        `chaos: ${kills.length} kills (after ${kills.join(', ')} received), ${RECIPIENTS - missed.length} of ${RECIPIENTS} received exactly once, ` +
          `${missed.length} missed (unconfirmed claims cut by a kill), 0 duplicates, counters = ledger`,
      );
    } finally {
      await db.end();
    }
  }, 300_000);
});
