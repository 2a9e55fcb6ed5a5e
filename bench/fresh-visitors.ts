/**
 * New visitors on a fresh workspace, and the floor of a page's GraphQL call. Herald (embedded
 * PostgreSQL, its own process) with no campaign; 64 clients with a publishable key send, twice:
 *  - `{ __typename }`: what any GraphQL call costs Herald before its resolvers (HTTP, parse and
 *    validation caches, the key's checks, execution, the answer);
 *  - single `trackEvent` calls from visitors Herald has not seen (each visitor 4 events), while the
 *    Contact table grows from empty: the case where a plan made on a nearly empty table and kept
 *    on a connection shows (PostgreSQL's CPU per event jumps; reverted in 925538d).
 * Prints calls/s and Herald's and PostgreSQL's CPU per call (from /proc).
 *   npx tsx bench/fresh-visitors.ts [calls=20000]
 * BENCH_PG_STATEMENTS=1 also prints PostgreSQL's top statements at the end.
 */
import pg from 'pg';
import { createPoster } from './http-client.ts';
import { spawnBenchHerald, topStatements } from './kit.ts';

const total = Number(process.argv[2] ?? 20_000);
const CLIENTS = 64;
const bench = await spawnBenchHerald({ HERALD_PUBLIC_RATE_LIMIT: '100000000', NODE_OPTIONS: '--max-old-space-size=256 --max-semi-space-size=8' });
const db = new pg.Client({ connectionString: bench.databaseUrl });
await db.connect();
await topStatements(db); // with BENCH_PG_STATEMENTS: counts from here
const created = await bench.secret('mutation { createApiKey(input: { kind: PUBLISHABLE }) { ... on MutationCreateApiKeySuccess { data { key } } } }');
const headers = { 'content-type': 'application/json', authorization: `Bearer ${created.createApiKey.data.key as string}` };
const poster = createPoster(bench.url);

async function phase(label: string, body: (index: number) => string): Promise<void> {
  let next = 0;
  let failed = 0;
  const before = bench.cpuMs();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < total) {
        const answer = await poster.post('/graphql', headers, body(next++));
        if (answer.status !== 200 || answer.body.includes('"errors"') || answer.body.includes('"message"')) failed++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const after = bench.cpuMs();
  const perCall = (ms: number) => Math.round((ms * 1000) / total);
  console.log(
    `${label}: ${Math.round(total / seconds).toLocaleString()} calls/s; CPU per call ${perCall(after.herald - before.herald)} µs Herald + ${perCall(after.postgres - before.postgres)} µs PostgreSQL; ${failed} failed`,
  );
}

const TYPENAME = JSON.stringify({ query: '{ __typename }' });
const TRACK = 'mutation($input: EventInput!) { trackEvent(input: $input) { __typename ... on Error { message } } }';
for (const round of [1, 2]) {
  await phase(`round ${round}, { __typename }`, () => TYPENAME);
  await phase(`round ${round}, trackEvent from new visitors`, (index) =>
    JSON.stringify({ query: TRACK, variables: { input: { anonymousId: `visitor-${round}-${index % (total / 4)}`, name: 'page_view', properties: { path: '/' }, idempotencyKey: `${round}-${index}` } } }),
  );
}
const top = await topStatements(db, 8);
if (top) console.log(`PostgreSQL's statements (BENCH_PG_STATEMENTS):\n${top}`);
await db.end();
await bench.stop();
process.exit(0);
