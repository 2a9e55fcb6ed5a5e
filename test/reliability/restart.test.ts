/**
 * A restart right after SIGKILL (issue #17): Herald on its embedded PostgreSQL, as a new user runs
 * it, leads its own process group like a service under a supervisor. Mid-send, the whole group is
 * killed (Herald and the postmaster it started; PostgreSQL's backends detach into sessions of
 * their own and die when they see the postmaster gone) and Herald is started again after 0, 100
 * and 500 ms. Every start must come up, however much of the killed cluster is still around, and
 * every browser gets its push: claims the kill cut are sent again after the lease (push timeout +
 * 5 s), so a browser may get two at the push service (the service worker shows one) but none, never.
 * CI runs RESTART_TRIALS=3 (9 restarts); `npm run test:chaos` runs the ten.
 */
import { execFileSync } from 'node:child_process';
import { chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaign, seedBrowsers, SendNow, waitForStatus } from '../kit/campaigns.ts';
import { httpClient } from '../kit/client.ts';
import { usePushService } from '../kit/fixture.ts';
import { createWorkspace } from '../kit/flow.ts';
import { type HeraldProcess, runHeraldExpectingFailure, spawnHerald } from '../kit/process.ts';
import { SENT_AGAIN } from '../kit/ledger.ts';
import { tally } from '../kit/tally.ts';

const TRIALS = Number(process.env.RESTART_TRIALS ?? 3);
const DELAYS_MS = [0, 100, 500];
const RECIPIENTS = 1_000; // per trial; at 50 ms a push and 16 at a time, a send lasts about 3 s

const h = usePushService();
let dataDir: string;
let herald: HeraldProcess | undefined;

beforeAll(async () => {
  // Under /tmp: embedded PostgreSQL runs as user `postgres`, which must be able to read the folder.
  dataDir = await mkdtemp(path.join(tmpdir(), 'herald-restart-'));
});
afterAll(async () => {
  if (herald) await stopGroup(herald, 'SIGTERM'); // a clean stop also stops its PostgreSQL
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** Herald on the embedded PostgreSQL in `dataDir`: no DATABASE_URL (spawnHerald drops it). */
const start = () =>
  spawnHerald(
    {
      HERALD_DATA_DIR: dataDir,
      HERALD_PUSH_CA: h.push.caFile,
      HERALD_PUSH_CONCURRENCY: '16',
      HERALD_PUSH_TIMEOUT_MS: '1000', // the lease after which a dead sender's claims are sent again: this plus 5 s
      LOG_LEVEL: 'warn',
    },
    { processGroup: true },
  );

async function stopGroup(running: HeraldProcess, signal: NodeJS.Signals): Promise<void> {
  if (running.child.exitCode !== null || running.child.signalCode !== null) return;
  const exited = new Promise((resolve) => running.child.once('exit', resolve));
  process.kill(-running.child.pid!, signal);
  await exited;
}

/** The embedded cluster's address, from what it left in the data folder (its port changes every start). */
async function embeddedDatabaseUrl(): Promise<string> {
  const password = (await readFile(path.join(dataDir, 'postgres-password'), 'utf8')).trim();
  const port = (await readFile(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[3]!.trim();
  return `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/herald`;
}

describe(`Herald on embedded PostgreSQL, its process group killed mid-send`, () => {
  it(`comes back at once, every time (${TRIALS} trials × restarts after ${DELAYS_MS.join(', ')} ms), and everyone gets the push`, async () => {
    herald = await start();
    h.push.behave({ status: 201, delayMs: 50 });

    const trials: { id: string; secretKey: string; browsers: { id: string }[] }[] = [];
    const restarts: { delay: number; ms: number; waited: number; resumedMs?: number }[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      // A workspace per trial: its broadcast reaches this trial's browsers only.
      const shop = await createWorkspace(herald, `Restarts ${trial + 1}`);
      const browsers = await seedBrowsers(await embeddedDatabaseUrl(), shop.workspace.id, h.push, RECIPIENTS);
      const arrived = () => browsers.reduce((sum, browser) => sum + Math.min(1, h.push.received(browser.id).length), 0);
      const secret = httpClient(herald.graphqlUrl, shop.secretKey);
      const id = await createCampaign(secret, { name: `Restart ${trial + 1}`, kind: 'BROADCAST', content: { title: 'Back', url: 'https://shop.example/' } });
      await secret(SendNow, { id });
      trials.push({ id, secretKey: shop.secretKey, browsers });
      // Each kill lands mid-send: this trial's pushes are arriving (again), some are left.
      for (const delay of DELAYS_MS) {
        const before = arrived();
        const resuming = Date.now();
        await h.push.waitFor(() => arrived() > before, 60_000);
        if (restarts.length) restarts.at(-1)!.resumedMs = Date.now() - resuming;
        await sleep(100 + Math.random() * 200);
        expect(arrived()).toBeLessThan(RECIPIENTS); // still sending
        process.kill(-herald.child.pid!, 'SIGKILL');
        await sleep(delay);
        const began = Date.now();
        herald = await start(); // fails the test with Herald's output if it exits instead
        const waited = herald.output().split('\n').filter((line) => line.includes('embedded PostgreSQL cannot start yet')).length;
        restarts.push({ delay, ms: Date.now() - began, waited });
      }
    }

    for (const { id, secretKey } of trials) await waitForStatus(httpClient(herald.graphqlUrl, secretKey), id, 'SENT', 90_000);
    const db = new pg.Client({ connectionString: await embeddedDatabaseUrl() });
    await db.connect();
    const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "Message" m WHERE ${SENT_AGAIN}`);
    await db.end();
    const resent = rows[0]!.n;
    const counts = trials.flatMap(({ browsers }) => browsers.map((browser) => h.push.received(browser.id).length));
    const losses = counts.filter((count) => count === 0).length;
    expect(losses).toBe(0); // everyone at least once
    const twice = counts.filter((count) => count > 1).length;
    expect(twice).toBeLessThanOrEqual(resent); // a second push is only ever a resend the ledger recorded
    expect(restarts).toHaveLength(TRIALS * DELAYS_MS.length);
    tally({ check: 'SIGKILL of the process group on embedded PostgreSQL, restart at once', trials: TRIALS, faults: restarts.length, inputs: counts.length, losses });

    const byDelay = DELAYS_MS.map((delay) => {
      const times = restarts.filter((restart) => restart.delay === delay).map((restart) => restart.ms).sort((a, b) => a - b);
      return `${delay} ms: ${times.join(', ')} ms`;
    });
    const waited = restarts.filter((restart) => restart.waited > 0);
    const resumed = Math.max(...restarts.map((restart) => restart.resumedMs ?? 0));
    console.log(
      `restart after SIGKILL: ${restarts.length} of ${restarts.length} came up (start to banner, by delay after the kill: ${byDelay.join('; ')}); ` +
        `${waited.length} waited for the killed cluster (${waited.map((restart) => restart.waited).join(', ') || 'no'} retries); sending resumed within ${resumed} ms of a banner; ` +
        `${counts.length} recipients, 0 missed, ${twice} got a second push (${resent} claims resent after a kill)`,
    );
  }, 600_000);
});

describe('a start that cannot succeed', () => {
  it('exits at once and says why, with PostgreSQL’s own words', async () => {
    // A data folder from another PostgreSQL major version: no waiting helps, the cause must be shown.
    const folder = await mkdtemp(path.join(tmpdir(), 'herald-old-cluster-'));
    try {
      const databaseDir = path.join(folder, 'postgres');
      await mkdir(databaseDir, { mode: 0o700 });
      await writeFile(path.join(databaseDir, 'PG_VERSION'), '17\n');
      await writeFile(path.join(databaseDir, 'postgresql.conf'), '');
      if (process.getuid?.() === 0) {
        const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
        for (const file of [databaseDir, path.join(databaseDir, 'PG_VERSION'), path.join(databaseDir, 'postgresql.conf')]) await chown(file, uid, uid);
      }
      const began = Date.now();
      const { code, output } = await runHeraldExpectingFailure({ HERALD_DATA_DIR: folder, LOG_LEVEL: 'info' });
      const elapsed = Date.now() - began;
      expect(code).toBe(1);
      const fatal = output.split('\n').find((line) => line.includes('Herald could not start'));
      expect(fatal).toBeDefined();
      const logged = JSON.parse(fatal!) as { msg: string; err: { message: string; postgresLog: string[] } };
      expect(logged.msg).toContain('FATAL: database files are incompatible with server');
      expect(logged.err.postgresLog.join('\n')).toMatch(/initialized by PostgreSQL version 17/);
      expect(output).not.toContain('cannot start yet'); // not a leftover worth waiting for
      console.log(`failed start: exit 1 after ${elapsed} ms, printed: ${logged.msg}`);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  }, 30_000);
});
