/**
 * Journeys (issue #20). Herald and the push sink run in processes of their own; N contacts with a
 * browser each enter a 4-step journey in one burst: send push -> wait 60 s -> engagement
 * (DISPLAYED within 1 s of the push, long over when the wait ends, so the step decides at once
 * rather than waiting for its deadline) -> send email (the contacts have no address: suppressed,
 * NO_EMAIL, still a step the engine runs and records).
 * (0) Baseline, same run: the same burst of events (another name) with no journey listening.
 * (1) Entry: `trackEvents` batches of 1,000 from 8 clients; entry rate = enrolments written / time
 *     from the first call to the last enrolment (target >= 5,000/s), and the first step (the push
 *     send, one ledger row each) as transitions/s.
 * (2) Waits due at once: every enrolment's 60-second wait is moved to end when the first one
 *     ends (an UPDATE of wakeAt, so they fall due together rather than over the burst's spread;
 *     the engine's own wake-up for that first wait notices them), then lateness is how
 *     long after that instant the engine had passed 50/99/100% of the waits (target p99 < 2 s),
 *     also when 50/99/100% had completed, and the three steps each then runs (waited, no,
 *     suppressed) as transitions/s (target >= 5,000/s).
 * Herald's peak RSS is sampled throughout (target < 400 MB), with the production heap flags
 * (docs/operations.md). The machine's load average is printed.
 *   npx tsx bench/journeys.ts [contacts=100000] [waitSeconds=60]
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { perSecond, seedBrowsers, spawnBenchHerald } from './kit.ts';

const N = Number(process.argv[2] ?? 100_000);
/** The wait step's seconds: longer on a loaded machine, so the whole burst is waiting when the wave is made. */
const WAIT_SECONDS = Number(process.argv[3] ?? 60);
const BATCH = 1_000;
const CLIENTS = 8;
const passFail = (pass: boolean) => (pass ? 'PASS' : 'FAIL');
const load = () => os.loadavg().map((value) => value.toFixed(2)).join(' ');

const sink = spawn(process.execPath, ['--import', 'tsx', 'bench/push-sink.ts'], { stdio: ['ignore', 'pipe', 'inherit'] });
const line = (await createInterface({ input: sink.stdout! })[Symbol.asyncIterator]().next()).value as string;
const { origin, caFile } = JSON.parse(line) as { origin: string; caFile: string };
process.once('exit', () => sink.kill('SIGTERM'));

// Herald runs with the heap flags docs/operations.md recommends in production, as the other benches do.
const bench = await spawnBenchHerald({ HERALD_PUSH_CA: caFile, NODE_OPTIONS: '--max-old-space-size=256 --max-semi-space-size=8' });
const db = new pg.Client({ connectionString: bench.databaseUrl });
await db.connect();
await seedBrowsers(db, bench.workspaceId, N, origin);
console.log(`seeded ${N.toLocaleString()} contacts with a browser each; load average ${load()}`);

let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, bench.rssMb())), 250);
const count = async (sql: string) => Number((await db.query<{ count: string }>(sql)).rows[0]!.count);
const until = async (sql: string, target: number, timeoutMs = 600_000) => {
  const start = Date.now();
  for (;;) {
    const value = await count(sql);
    if (value >= target) return Date.now();
    if (Date.now() - start > timeoutMs) throw new Error(`${sql}: ${value} of ${target} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};

const TRACK_MANY = 'mutation($events: [EventInput!]!) { trackEvents(input: { events: $events }) { __typename ... on MutationTrackEventsSuccess { data { count } } ... on Error { message } } }';
async function burst(name: string): Promise<number> {
  const batches = Array.from({ length: Math.ceil(N / BATCH) }, (_, b) =>
    Array.from({ length: Math.min(BATCH, N - b * BATCH) }, (_, i) => ({ anonymousId: `visitor-${b * BATCH + i + 1}`, name })),
  );
  const started = Date.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      for (let events = batches.shift(); events; events = batches.shift()) {
        const result = await bench.secret(TRACK_MANY, { events });
        if (result.trackEvents.__typename !== 'MutationTrackEventsSuccess') throw new Error(JSON.stringify(result));
      }
    }),
  );
  return started;
}

// (0) Baseline: the burst stored with no journey listening.
const baselineStart = await burst('browsed');
const baselineRate = perSecond(N, Date.now() - baselineStart);
console.log(`(0) baseline: ${N.toLocaleString()} events stored, no journey: ${baselineRate.toLocaleString()} events/s (load ${load()}); Herald peak RSS so far ${peakRss.toFixed(0)} MB`);

const created = await bench.secret('mutation($input: JourneyInput!) { createJourney(input: $input) { __typename ... on MutationCreateJourneySuccess { data { id } } ... on Error { message } } }', {
  input: {
    name: 'Reactivation',
    entry: { event: { name: 'signed_up' } },
    steps: [
      { key: 'welcome', send: { channel: 'WEB_PUSH', content: { title: 'Welcome {{ contact.firstName }}', url: 'https://shop.example/' }, next: 'pause' } },
      { key: 'pause', wait: { seconds: WAIT_SECONDS, next: 'seen' } },
      { key: 'seen', engagement: { step: 'welcome', did: 'DISPLAYED', withinSeconds: 1, no: 'mail' } },
      { key: 'mail', send: { channel: 'EMAIL', email: { subject: 'We miss you', html: '<p>Come back</p>' } } },
    ],
  },
});
const journeyId = Buffer.from(created.createJourney.data.id, 'base64').toString().split(':')[1]!;
await bench.secret('mutation($id: ID!) { publishJourney(input: { id: $id }) { __typename } }', { id: created.createJourney.data.id });

// (1) Entry and the first step.
const entryStart = await burst('signed_up');
const called = Date.now();
const entered = await until(`SELECT count(*) FROM "JourneyEnrollment" WHERE "journeyId" = '${journeyId}'`, N);
const firstStep = await until(`SELECT count(*) FROM "JourneyPathEntry" WHERE "journeyId" = '${journeyId}' AND step = 'welcome'`, N);
const entryRate = perSecond(N, entered - entryStart);
const firstRate = perSecond(N, firstStep - entryStart);
console.log(`(1) entry: ${N.toLocaleString()} contacts in ${((entered - entryStart) / 1000).toFixed(1)} s (calls answered after ${((called - entryStart) / 1000).toFixed(1)} s): ${entryRate.toLocaleString()}/s, ${(entryRate / baselineRate).toFixed(2)}x the baseline's events/s [${passFail(entryRate >= 5_000)} >= 5,000/s]`);
console.log(`    first step (push send) passed by all ${((firstStep - entryStart) / 1000).toFixed(1)} s after the first call: ${firstRate.toLocaleString()} transitions/s (load ${load()})`);
console.log(`    Herald peak RSS so far ${peakRss.toFixed(0)} MB`);

// (2) Every wait falls due at one instant: the first one's end (entry + WAIT_SECONDS), at which the engine
// has its own in-memory wake-up (each batch times its earliest wait), so nothing the bench does
// stands in for the engine noticing. Should the burst outlast that, 10 s from now: the 5 s Agenda
// tick's drain finds that earliest wake and times it in memory.
const [{ first }] = (await db.query<{ first: Date }>(`SELECT min("wakeAt") AS first FROM "JourneyEnrollment" WHERE "journeyId" = $1 AND status = 'ACTIVE' AND step = 'pause'`, [journeyId])).rows as [{ first: Date }];
const dueAt = first.getTime() > Date.now() + 1_000 ? first.getTime() : Date.now() + 10_000;
const { rowCount } = await db.query(`UPDATE "JourneyEnrollment" SET "wakeAt" = $1 WHERE "journeyId" = $2 AND status = 'ACTIVE' AND step = 'pause'`, [new Date(dueAt), journeyId]);
const wave = rowCount ?? 0;
console.log(`    ${wave.toLocaleString()} waits (all not passed yet) now end at ${dueAt === first.getTime() ? 'the first one’s end' : '10 s from now (the burst outlasted the first wait)'}, in ${((dueAt - Date.now()) / 1000).toFixed(1)} s`);
while (Date.now() < dueAt) await new Promise((resolve) => setTimeout(resolve, 20));
// Lateness is the wait's: how long after its end the engine had passed it (its path entry
// committed, passed at dueAt: this wave's, not a wait that ended before the bench moved them).
// The steps after it are the transition rate's, and when the last of the wave completed.
const FRACTIONS = [0.5, 0.99, 1];
const passed = new Map<number, number>();
const completed = new Map<number, number>();
for (const start = Date.now(); completed.size < FRACTIONS.length; await new Promise((resolve) => setTimeout(resolve, 100))) {
  if (Date.now() - start > 600_000) throw new Error('the journey did not complete within 10 minutes');
  const { rows } = await db.query<{ waited: string; done: string }>(
    `SELECT count(*) AS waited, count(*) FILTER (WHERE en.status = 'COMPLETED') AS done
     FROM "JourneyPathEntry" p JOIN "JourneyEnrollment" en ON en.id = p."enrollmentId"
     WHERE p."journeyId" = $1 AND p.step = 'pause' AND p."passedAt" = $2`,
    [journeyId, new Date(dueAt)],
  );
  const now = Date.now();
  for (const fraction of FRACTIONS) {
    if (!passed.has(fraction) && Number(rows[0]!.waited) >= Math.ceil(wave * fraction)) passed.set(fraction, now - dueAt);
    if (!completed.has(fraction) && Number(rows[0]!.done) >= Math.ceil(wave * fraction)) completed.set(fraction, now - dueAt);
  }
}
const [p50, p99, last] = FRACTIONS.map((fraction) => passed.get(fraction)!) as [number, number, number];
const [c50, c99, all] = FRACTIONS.map((fraction) => completed.get(fraction)!) as [number, number, number];
const transitions = perSecond(3 * wave, all);
console.log(`(2) ${wave.toLocaleString()} waits due at once: lateness (wait passed) p50 ${p50} ms, p99 ${p99} ms, last ${last} ms [${passFail(p99 < 2_000)} p99 < 2 s]`);
console.log(`    completed (all 3 steps after the wait's end) p50 ${c50} ms, p99 ${c99} ms, last ${all} ms`);
console.log(`    3 steps each (waited, no, suppressed): ${transitions.toLocaleString()} transitions/s [${passFail(transitions >= 5_000)} >= 5,000/s] (load ${load()})`);

clearInterval(sampler);
const outcomes = (await db.query(`SELECT step, outcome, count(*)::int FROM "JourneyPathEntry" WHERE "journeyId" = $1 GROUP BY 1, 2 ORDER BY 1, 2`, [journeyId])).rows;
console.log('path outcomes:', outcomes.map((row) => `${row.step}:${row.outcome}=${row.count}`).join(' '));
console.log(`Herald peak RSS ${peakRss.toFixed(0)} MB [${passFail(peakRss < 400)} < 400 MB]; load average ${load()}`);
const warnings = bench.warnings();
if (warnings.length) console.log(`Herald warnings/errors (${warnings.length}):\n${warnings.slice(0, 10).join('\n')}`);
await db.end();
await bench.stop();
process.exit(0);
