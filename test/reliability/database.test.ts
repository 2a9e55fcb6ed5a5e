/**
 * PostgreSQL restarts in the middle of a send (issues #9, #17): the test runs an embedded PostgreSQL
 * of its own, stops it (fast shutdown: every connection is cut) and starts it again on the same port
 * a few seconds later. Herald must not crash, `/readyz` says 503 meanwhile, and once the database
 * answers the send resumes within seconds (Herald probes it after losing a connection and wakes the
 * sends, rather than waiting for the minute's sweep): everyone gets the push, and a second push is
 * only ever a claim the outage cut, recorded RESENT_AFTER_CRASH (the service worker shows it once).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaign, seedBrowsers, SendNow, waitForStatus } from '../kit/campaigns.ts';
import { createWorkspace } from '../kit/flow.ts';
import { type EmbeddedDatabase, freePort, startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { createLogger } from '../../src/logger.ts';
import { type HeraldProcess, spawnHerald } from '../kit/process.ts';
import { startPushService, type TestPushService } from '../kit/push-service.ts';
import { tally } from '../kit/tally.ts';

const RECIPIENTS = 1_500;
/** How soon after PostgreSQL is back the send must be going again (the sweep would take up to a minute). */
const RESUME_WITHIN_MS = 5_000;

let push: TestPushService;
let herald: HeraldProcess;
let postgres: EmbeddedDatabase | undefined;
let postgresPort: number;
let databaseUrl: string;
let dataDir: string;

const startPostgres = () => startEmbeddedPostgres(dataDir, createLogger('warn'), { port: postgresPort });

// Herald runs as its own process, as in production: an error it does not handle would end it.
beforeAll(async () => {
  push = await startPushService();
  dataDir = await mkdtemp(path.join(tmpdir(), 'herald-outage-'));
  postgresPort = await freePort();
  postgres = await startPostgres();
  databaseUrl = postgres.url;
  herald = await spawnHerald({
    DATABASE_URL: databaseUrl,
    HERALD_DATA_DIR: dataDir,
    HERALD_PUSH_CA: push.caFile,
    HERALD_PUSH_CONCURRENCY: '16',
    HERALD_PUSH_TIMEOUT_MS: '1000',
    HERALD_PUSH_RETRY_BASE_MS: '50',
    LOG_LEVEL: 'warn',
  });
});
afterAll(async () => {
  await herald?.stop();
  await push?.close();
  await postgres?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('a PostgreSQL restart in the middle of a send', () => {
  it('is survived: 503 on /readyz meanwhile, then the send resumes within seconds and reaches everyone', async () => {
    const shop = await createWorkspace(herald, 'Outage');
    const { workspace } = shop;
    const browsers = await seedBrowsers(databaseUrl, workspace.id, push, RECIPIENTS);
    push.behave({ status: 201, delayMs: 20 }); // keeps the send going for a few seconds
    const id = await createCampaign(shop.secret, { name: 'Outage', kind: 'BROADCAST', content: { title: 'Once', url: 'https://shop.example/' } });
    await shop.secret(SendNow, { id });
    await push.waitFor(() => push.received().length > 200, 30_000);

    await postgres!.stop();
    postgres = undefined;
    const ready: number[] = [];
    for (let i = 0; i < 15; i++) {
      ready.push((await fetch(`${herald.url}/readyz`)).status);
      await sleep(200);
    }
    expect((await fetch(`${herald.url}/healthz`)).status).toBe(200); // alive, only not ready
    const receivedDuringOutage = push.received().length;
    postgres = await startPostgres();
    const back = Date.now();
    expect(ready).toContain(503);

    // The send resumes within seconds of the database answering, not at the next minute's sweep.
    await push.waitFor(() => push.received().length > receivedDuringOutage, 60_000);
    const resumedMs = Date.now() - back;
    expect(resumedMs).toBeLessThan(RESUME_WITHIN_MS);
    await eventuallyReady();
    const done = await waitForStatus(shop.secret, id, 'SENT', 150_000);
    const counts = browsers.map((browser) => push.received(browser.id).length);
    const missing = counts.filter((count) => count === 0).length;
    const twice = counts.filter((count) => count > 1).length;
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM "Message" WHERE "campaignId" = $1 AND reason = 'RESENT_AFTER_CRASH'`, [
      Buffer.from(id, 'base64').toString().split(':')[1],
    ]);
    await db.end();
    const resent = rows[0].n as number;
    expect(missing).toBe(0); // everyone at least once
    expect(twice).toBeLessThanOrEqual(resent); // a second push is only ever a recorded resend of a cut claim
    expect(done.stats).toMatchObject({ targeted: RECIPIENTS, sent: RECIPIENTS, failed: 0 });
    expect(herald.child.exitCode).toBeNull(); // still running
    tally({ check: 'PostgreSQL restarted mid-send', trials: 1, faults: 1, inputs: RECIPIENTS, losses: missing });
    console.log(
      `restart: ${receivedDuringOutage} received before it and while PostgreSQL was down; sending resumed ${resumedMs} ms after PostgreSQL was back; ` +
        `${RECIPIENTS - missing} of ${RECIPIENTS} received, ${twice} got a second push (${resent} claims resent after the outage)`,
    );
  }, 200_000);
});

async function eventuallyReady(): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((await fetch(`${herald.url}/readyz`)).status === 200) return;
    await sleep(100);
  }
  throw new Error('/readyz did not come back within 10 s of the database');
}
