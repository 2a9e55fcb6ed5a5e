/**
 * What a gathered batch's transaction costs Herald on the wire (issue #24): `sqlTransaction` on a
 * pipelining pool, shaped like a batch of browser events (BEGIN with a first statement, then two
 * statements and COMMIT sent together), from 8 concurrent writers. Rounds alternate the statements
 * of one tick leaving in one socket write (the default) with one write per statement (the
 * baseline, `coalesceWrites: false`), and print transactions/s, Herald's CPU per transaction
 * (this process's, system time apart: the kernel's loopback path runs in the writer's time) and
 * the ratio. On an embedded PostgreSQL of its own, or DATABASE_URL's.
 *   npx tsx bench/sql-transaction.ts [transactions per round=20000] [rounds=3]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres } from '../src/db/embedded.ts';
import { createPool, Prisma } from '../src/db/prisma.ts';
import { sqlTransaction } from '../src/db/sql-transaction.ts';
import { createLogger } from '../src/logger.ts';
import { perSecond, speedGauge } from './kit.ts';

const perRound = Number(process.argv[2] ?? 20_000);
const rounds = Number(process.argv[3] ?? 3);
const WRITERS = 8;

const dataDir = process.env.DATABASE_URL ? null : await mkdtemp(path.join(tmpdir(), 'herald-bench-'));
const database = dataDir ? await startEmbeddedPostgres(dataDir, createLogger('warn')) : null;
const pool = createPool(process.env.DATABASE_URL ?? database!.url, { max: WRITERS, pipeline: true });

/** One batch-shaped transaction: a first statement (BEGIN goes with it), then two sent together, COMMIT with the last. */
const transaction = (coalesceWrites: boolean) =>
  sqlTransaction(
    pool,
    async (tx) => {
      await tx.$queryRaw(Prisma.sql`SELECT ${1}::int AS contacts`);
      const insert = tx.$queryRaw(Prisma.sql`SELECT ${2}::int AS inserted`);
      const entry = tx.$queryRawThenCommit!(Prisma.sql`SELECT ${3}::int AS entered`);
      await Promise.all([insert, entry]);
    },
    { genericPlans: true, coalesceWrites },
  );

async function round(coalesceWrites: boolean) {
  let left = perRound;
  const cpu = process.cpuUsage();
  const began = performance.now();
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      while (left-- > 0) await transaction(coalesceWrites);
    }),
  );
  const ms = performance.now() - began;
  const used = process.cpuUsage(cpu);
  return { rate: perSecond(perRound, ms), cpu: (used.user + used.system) / perRound, system: used.system / perRound };
}

console.log(`sqlTransaction, ${WRITERS} writers, ${perRound.toLocaleString()} transactions a round; speed gauge ${speedGauge()} ms`);
for (let warm = 0; warm < 2_000; warm++) await transaction(warm % 2 === 0);
for (let index = 1; index <= rounds; index++) {
  const coalesced = await round(true);
  const baseline = await round(false);
  const describe = (figures: typeof coalesced) =>
    `${figures.rate.toLocaleString()} tx/s, ${figures.cpu.toFixed(1)} µs CPU per tx (system ${figures.system.toFixed(1)})`;
  console.log(
    `round ${index}: one write per tick ${describe(coalesced)}; one write per statement ${describe(baseline)}; ` +
      `ratio ${(coalesced.rate / baseline.rate).toFixed(2)}× tx/s, ${(coalesced.cpu / baseline.cpu).toFixed(2)}× CPU`,
  );
}
await pool.end();
await database?.stop();
if (dataDir) await rm(dataDir, { recursive: true, force: true });
