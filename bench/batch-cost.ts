/**
 * What one gathered batch of browser events costs, apart from the single calls that make it up
 * (issue #24): `trackEvents` batches of BENCH_BATCH (default 25, about what 64 browsers' calls
 * gather into) from 4 clients with a secret key, through the same storeEvents as gathered single
 * calls, with bench/public-path.ts's 20 triggered campaigns listening and its 20,000 visitors.
 * Each round prints events/s and Herald's and PostgreSQL's CPU per event (from /proc). Runs at two
 * batch sizes split a cost into its part per event and its part per batch (cost = e + b / size).
 *   npx tsx bench/batch-cost.ts [events per round=20000] [rounds=3]
 * BENCH_BATCH=n sets the batch size; BENCH_CAMPAIGNS=none creates no campaign, =unmatched 20 that
 * listen but whose filters no event passes (what listening costs without a message written);
 * BENCH_SQL runs a statement on the database before the rounds (an experiment, e.g. dropping an
 * index); BENCH_PG_STATEMENTS=1 prints each round's statements.
 */
import pg from 'pg';
import { listeningCampaigns, randomEvent, TRACK_MANY } from './browser-load.ts';
import { seedBrowsers, spawnBenchHerald, startPushSink, topStatements } from './kit.ts';

const perRound = Number(process.argv[2] ?? 20_000);
const rounds = Number(process.argv[3] ?? 3);
const BATCH = Number(process.env.BENCH_BATCH ?? 25);
const CAMPAIGNS = process.env.BENCH_CAMPAIGNS ?? 'matching';
const CLIENTS = 4;

const { sink, origin, caFile } = await startPushSink();

const bench = await spawnBenchHerald({
  HERALD_PUSH_CA: caFile,
  HERALD_PUBLIC_RATE_LIMIT: '100000000',
  NODE_OPTIONS: process.env.HERALD_NODE_OPTIONS ?? '--max-old-space-size=256 --max-semi-space-size=32',
});
const db = new pg.Client({ connectionString: bench.databaseUrl });
await db.connect();
await seedBrowsers(db, bench.workspaceId, 20_000, origin);

if (CAMPAIGNS !== 'none') await listeningCampaigns(bench.secret, { unmatched: CAMPAIGNS === 'unmatched' });
if (process.env.BENCH_SQL) await db.query(process.env.BENCH_SQL);

console.log(`batches of ${BATCH} from ${CLIENTS} clients, campaigns: ${CAMPAIGNS}`);
for (let round = 1; round <= rounds; round++) {
  await topStatements(db);
  const before = bench.cpuMs();
  const began = performance.now();
  let left = Math.ceil(perRound / BATCH);
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (left-- > 0) {
        const result = await bench.secret(TRACK_MANY, { events: Array.from({ length: BATCH }, randomEvent) });
        if (result.trackEvents.__typename !== 'MutationTrackEventsSuccess') throw new Error(JSON.stringify(result));
      }
    }),
  );
  const after = bench.cpuMs();
  const events = Math.ceil(perRound / BATCH) * BATCH;
  const per = (ms: number) => ((ms * 1000) / events).toFixed(0);
  console.log(
    `round ${round}: ${Math.round((events / (performance.now() - began)) * 1000).toLocaleString()} events/s; ` +
      `CPU per event ${per(after.herald - before.herald)} µs Herald + ${per(after.postgres - before.postgres)} µs PostgreSQL`,
  );
  const top = await topStatements(db, 6);
  if (top) console.log(top);
}
await db.end();
await bench.stop();
sink.kill('SIGTERM');
process.exit(0);
