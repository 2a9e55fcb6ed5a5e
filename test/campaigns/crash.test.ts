import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaign, seedBrowsers, SendNow, waitForStatus } from '../kit/campaigns.ts';
import { httpClient } from '../kit/client.ts';
import { usePushService } from '../kit/fixture.ts';
import { createWorkspace } from '../kit/flow.ts';
import { dropDatabase, freshDatabase } from '../kit/herald.ts';
import { type HeraldProcess, spawnHerald } from '../kit/process.ts';

const RECIPIENTS = 3_000;

const h = usePushService();
let databaseUrl: string;
let dataDir: string;
const processes: HeraldProcess[] = [];

beforeAll(async () => {
  databaseUrl = await freshDatabase();
  dataDir = await mkdtemp(path.join(tmpdir(), 'herald-crash-'));
});
// Runs before the push service closes (vitest runs a scope's afterAll hooks last-registered first).
afterAll(async () => {
  for (const process of processes) await process.stop('SIGKILL');
  if (databaseUrl) await dropDatabase(databaseUrl);
  await rm(dataDir, { recursive: true, force: true });
});

function start() {
  return spawnHerald({
    DATABASE_URL: databaseUrl,
    HERALD_DATA_DIR: dataDir,
    HERALD_PUSH_CA: h.push.caFile,
    HERALD_PUSH_CONCURRENCY: '16',
    // The lease after which a dead sender's claims are settled is this plus 5 s.
    HERALD_PUSH_TIMEOUT_MS: '1000',
    LOG_LEVEL: 'warn',
  }).then((started) => (processes.push(started), started));
}

describe('a send killed with SIGKILL', () => {
  it('resumes after a restart: everyone gets the push, and only a claim the kill cut is sent again (the service worker shows it once)', async () => {
    let herald = await start();
    const { secretKey, workspace } = await createWorkspace(herald, 'Crash');
    const browsers = await seedBrowsers(databaseUrl, workspace.id, h.push, RECIPIENTS);
    // A push service that answers in 20 ms keeps the send going for a few seconds.
    h.push.behave({ status: 201, delayMs: 20 });

    let secret = httpClient(herald.graphqlUrl, secretKey);
    const id = await createCampaign(secret, { name: 'Crash', kind: 'BROADCAST', content: { title: 'Once', url: 'https://shop.example/' } });
    await secret(SendNow, { id });
    // Killed at a random moment of the send, not in step with anything the push service sees.
    await h.push.waitFor(() => h.push.received().length > 0, 30_000);
    await new Promise((resolve) => setTimeout(resolve, 300 + Math.random() * 1500));
    await herald.stop('SIGKILL');
    expect(h.push.received().length).toBeLessThan(RECIPIENTS);

    herald = await start();
    secret = httpClient(herald.graphqlUrl, secretKey);
    const campaign = await waitForStatus(secret, id, 'SENT', 60_000);

    // Nobody is lost: every browser got the push at least once.
    const counts = browsers.map((browser) => h.push.received(browser.id).length);
    expect(counts.filter((count) => count === 0)).toEqual([]);
    // A browser that got two is a claim the kill cut before the push service answered, sent again
    // after the lease and recorded so; the service worker shows a repeated message id once.
    const twice = browsers.filter((_, index) => counts[index]! > 1).map((browser) => browser.json.endpoint);
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    const { rows: sends } = await client.query<{ endpoint: string; reason: string; attempts: number }>(
      `SELECT s.endpoint, m.reason::text, m.attempts FROM "Message" m JOIN "PushSubscription" s ON s.id = m."subscriptionId"
       WHERE m."campaignId" = (SELECT id FROM "Campaign" LIMIT 1)`,
    );
    await client.end();
    const resent = sends.filter((row) => row.reason === 'RESENT_AFTER_CRASH');
    // Each claim is an attempt: never more copies than the row counts.
    const attempts = new Map(sends.map((row) => [row.endpoint, row.attempts]));
    expect(browsers.filter((browser, index) => counts[index]! > (attempts.get(browser.json.endpoint) ?? 0))).toEqual([]);
    expect(twice.every((endpoint) => resent.some((row) => row.endpoint === endpoint))).toBe(true);
    for (const row of resent) expect(row.attempts).toBeGreaterThanOrEqual(2);
    expect(campaign.stats).toMatchObject({ targeted: RECIPIENTS, sent: RECIPIENTS, failed: 0, queued: 0 });
    console.log(`crash test: all ${RECIPIENTS} received, ${resent.length} claims cut by the kill sent again, ${twice.length} of those had reached the push service before (shown once by the service worker)`);
  }, 120_000);
});
