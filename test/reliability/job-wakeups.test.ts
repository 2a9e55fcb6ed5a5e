/**
 * Agenda's LISTEN/NOTIFY wake-ups across a PostgreSQL restart. A job saved while the LISTEN
 * connection is down wakes nobody and waits for the next poll (every 5 s in Herald), so the channel
 * must be listening again as soon as the database is: Agenda's stock channel waited out a back-off
 * doubling to 30 s (and gave up after 10 attempts), which made a send resumed after a few seconds'
 * outage wait up to a poll (CI: 5,078 ms in test/reliability/database.test.ts). Here the poll is an
 * hour, so a job runs in time only if its wake-up arrives.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedDatabase, freePort, startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { createAgenda, type JobStore } from '../../src/jobs/agenda.ts';
import { createLogger } from '../../src/logger.ts';
import { tally } from '../kit/tally.ts';

/** Long enough that the stock channel's next attempt (12.7 s after the loss) is seconds after PostgreSQL is back. */
const OUTAGE_MS = 8_000;
const log = createLogger('silent');

let postgres: EmbeddedDatabase | undefined;
let postgresPort: number;
let dataDir: string;
let jobs: JobStore;
const ran: number[] = [];

const startPostgres = () => startEmbeddedPostgres(dataDir, log, { port: postgresPort });

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'herald-wakeups-'));
  postgresPort = await freePort();
  postgres = await startPostgres();
  jobs = await createAgenda({
    databaseUrl: postgres.url,
    log,
    define: (agenda) => agenda.define('ping', async () => void ran.push(Date.now())),
  });
  jobs.agenda.processEvery('1 hour'); // only a wake-up runs a job within the test
  await jobs.start();
}, 60_000);
afterAll(async () => {
  await jobs?.close();
  await postgres?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** Saves a job to run now and answers how long until it ran, or fails after `withinMs`. */
async function pingMs(withinMs = 3_000): Promise<number> {
  const before = ran.length;
  const saved = Date.now();
  await jobs.agenda.now('ping');
  while (ran.length === before) {
    if (Date.now() - saved > withinMs) throw new Error(`the job saved ${withinMs} ms ago has not run: no wake-up reached the worker`);
    await sleep(20);
  }
  return ran[before]! - saved;
}

/** Stops PostgreSQL (every connection cut), waits out the outage, starts it again: answers when it was back. */
async function restartPostgres(): Promise<number> {
  await postgres!.stop();
  postgres = undefined;
  await sleep(OUTAGE_MS);
  postgres = await startPostgres();
  return Date.now();
}

describe('Agenda wake-ups across a PostgreSQL restart', () => {
  it('reach the worker again within about a second of the database, by themselves and at once when asked', async () => {
    expect(await pingMs()).toBeLessThan(2_000); // listening before the outage

    // By itself: a job saved 2 s after PostgreSQL is back wakes the worker.
    const back = await restartPostgres();
    await sleep(Math.max(0, back + 2_000 - Date.now()));
    const byItself = await pingMs();
    expect(byItself).toBeLessThan(2_000);

    // Asked (what Herald does before resuming sends): listening at once, the next job wakes the worker.
    const backAgain = await restartPostgres();
    await jobs.listening();
    const listeningMs = Date.now() - backAgain;
    const asked = await pingMs();
    expect(listeningMs).toBeLessThan(1_500);
    expect(asked).toBeLessThan(2_000);

    tally({ check: 'Agenda wake-ups across PostgreSQL restarts', trials: 1, faults: 2, inputs: 3, losses: 0 });
    console.log(`wake-ups: a job 2 s after the restart ran in ${byItself} ms; asked, listening ${listeningMs} ms after the restart, the next job ran in ${asked} ms`);
  }, 90_000);
});
