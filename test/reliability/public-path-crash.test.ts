/**
 * Group commit and crashes (issue #24): concurrent clients send single `trackEvent` calls with a
 * publishable key, gathered into batches (a 20 ms window, so batches are in flight when the kill
 * lands); Herald is killed with SIGKILL at a random moment, several times, and started again.
 * Every event answered as stored must be in the database: an answer comes only after COMMIT.
 * CI scale by default; larger: PUBLIC_CRASH_CLIENTS=256 PUBLIC_CRASH_KILLS=5.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspace } from '../kit/flow.ts';
import { dropDatabase, freshDatabase } from '../kit/herald.ts';
import { type HeraldProcess, spawnHerald } from '../kit/process.ts';
import { tally } from '../kit/tally.ts';

const CLIENTS = Number(process.env.PUBLIC_CRASH_CLIENTS ?? 32);
const KILLS = Number(process.env.PUBLIC_CRASH_KILLS ?? 2);
const TRACK = 'mutation($input: EventInput!) { trackEvent(input: $input) { __typename ... on MutationTrackEventSuccess { data { id } } ... on Error { message } } }';

let databaseUrl: string;
let dataDir: string;
let herald: HeraldProcess | undefined;

beforeAll(async () => {
  databaseUrl = await freshDatabase();
  dataDir = await mkdtemp(path.join(tmpdir(), 'herald-public-crash-'));
});
afterAll(async () => {
  await herald?.stop('SIGKILL');
  if (databaseUrl) await dropDatabase(databaseUrl);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const start = () =>
  spawnHerald({ DATABASE_URL: databaseUrl, HERALD_DATA_DIR: dataDir, HERALD_PUBLIC_BATCH_MS: '20', HERALD_PUBLIC_RATE_LIMIT: '10000000', LOG_LEVEL: 'warn' });

describe('killing Herald under a load of single calls', () => {
  it('loses no event that was answered as stored', async () => {
    herald = await start();
    const { publishableKey } = await createWorkspace(herald, 'Crash shop');
    const answered = new Map<string, string>(); // event id -> idempotency key
    let failed = 0;
    let sent = 0;

    for (let kill = 0; kill < KILLS; kill++) {
      const target = herald;
      let running = true;
      const clients = Array.from({ length: CLIENTS }, async (_, client) => {
        while (running) {
          const key = `k-${kill}-${client}-${sent++}`;
          try {
            const response = await fetch(target.graphqlUrl, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: `Bearer ${publishableKey}` },
              body: JSON.stringify({ query: TRACK, variables: { input: { anonymousId: `visitor-${client % 8}`, name: 'viewed', idempotencyKey: key } } }),
            });
            const body = (await response.json()) as { data?: { trackEvent: { __typename: string; data?: { id: string } } } };
            const result = body.data?.trackEvent;
            if (result?.__typename !== 'MutationTrackEventSuccess') throw new Error(JSON.stringify(body));
            answered.set(Buffer.from(result.data!.id, 'base64').toString().split(':')[1]!, key);
          } catch {
            failed++; // cut by the kill: never answered, so nothing was promised
            if (running) await sleep(50);
          }
        }
      });
      // Kill while batches are being written: after some answers, at a random moment.
      const before = answered.size;
      for (let waited = 0; answered.size < before + 50 && waited < 60_000; waited += 20) await sleep(20);
      await sleep(100 + Math.random() * 700);
      await target.stop('SIGKILL');
      running = false;
      await Promise.all(clients);
      herald = await start();
    }

    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      const { rows } = await db.query<{ id: string; key: string }>(`SELECT id::text, "idempotencyKey" AS key FROM "Event" WHERE id = ANY($1::uuid[])`, [[...answered.keys()]]);
      const stored = new Map(rows.map((row) => [row.id, row.key]));
      const lost = [...answered].filter(([id, key]) => !stored.get(id)?.endsWith(`:${key}`));
      expect(answered.size).toBeGreaterThan(KILLS * 50);
      expect(failed).toBeGreaterThan(0); // the kills did cut calls in flight
      expect(lost).toEqual([]);
      // And nothing twice: one row per idempotency key (the unique index), however the batch ended.
      const { rows: twice } = await db.query(`SELECT "idempotencyKey" FROM "Event" GROUP BY "idempotencyKey" HAVING count(*) > 1`);
      expect(twice).toEqual([]);
    } finally {
      await db.end();
    }
    tally({ check: 'crash: single trackEvent calls gathered, Herald SIGKILLed', trials: KILLS, faults: KILLS, inputs: answered.size + failed, losses: 0, duplicates: 0 });
  }, 300_000);
});
