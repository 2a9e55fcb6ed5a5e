/**
 * Journeys (issue #20). Herald and the push sink run in processes of their own; N contacts with a
 * browser each enter a 4-step journey in one burst: send push -> wait -> engagement (DISPLAYED
 * within 1 s of the push, long over when the wait ends, so the step decides at once rather than
 * waiting for its deadline) -> send email (the contacts have no address: suppressed, NO_EMAIL,
 * still a step the engine runs and records).
 * (0) Baseline, same run: the same burst of events (another name) with no journey listening.
 * (1) Entry: `trackEvents` batches of 1,000 from 8 clients; entry rate = enrolments written / time
 *     from the first call to the last enrolment (target >= 5,000/s), and the first step (the push
 *     send, one ledger row each) as transitions/s, then the pushes' delivery to the sink.
 * (2) Waits due at once: the wait step is a day long, so however slow entry and the push are, every
 *     enrolment is still waiting when the pushes are all out; then every wait is moved to end
 *     `waveSeconds` later (an UPDATE of wakeAt, then a VACUUM of what it left: in production the
 *     wave's rows were written hours before; the engine's 5 s tick finds that wake and times it
 *     in memory, so nothing the bench does stands in for the engine noticing). Lateness is how
 *     long after that instant the engine had passed 50/99/100% of the waits (committed: each
 *     path entry's commit time, read afterwards with track_commit_timestamp; target p99 < 2 s),
 *     also when 50/99/100% had completed, and the three steps each then runs (waited, no,
 *     suppressed) as transitions/s (target >= 5,000/s).
 * Each phase prints Herald's and PostgreSQL's CPU time per item (from /proc): on a shared machine
 * that, not the rate, is the figure to compare runs by. Herald's peak RSS is sampled throughout
 * (target < 400 MB), with the production heap flags (docs/operations.md). The machine's load
 * average is printed.
 *   npx tsx bench/journeys.ts [contacts=100000] [waveSeconds=10]
 * Profile Herald with HERALD_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/j-prof".
 */
import os from 'node:os';
import pg from 'pg';
import { perSecond, seedBrowsers, spawnBenchHerald, startPushSink, topStatements } from './kit.ts';

const N = Number(process.argv[2] ?? 100_000);
/** Seconds from the moment the bench moves every wait (after the pushes are out) to their common end: > the engine's 5 s tick. */
const WAVE_SECONDS = Number(process.argv[3] ?? 10);
/** The wait step's seconds: a day, so no wait ends before the bench makes the wave, however slow the steps before it. */
const WAIT_SECONDS = 86_400;
const BATCH = 1_000;
const CLIENTS = 8;
const passFail = (pass: boolean) => (pass ? 'PASS' : 'FAIL');
/** Herald's and PostgreSQL's CPU time per item over a phase, in µs (as bench/public-path.ts). */
const cpuPer = (before: { herald: number; postgres: number }, after: { herald: number; postgres: number }, items: number) => ({
  herald: ((after.herald - before.herald) * 1000) / items,
  postgres: ((after.postgres - before.postgres) * 1000) / items,
});
const cpuText = (cpu: { herald: number; postgres: number }, item: string) =>
  `CPU per ${item} ${cpu.herald.toFixed(0)} µs Herald + ${cpu.postgres.toFixed(0)} µs PostgreSQL = ${(cpu.herald + cpu.postgres).toFixed(0)} µs`;
const load = () => os.loadavg().map((value) => value.toFixed(2)).join(' ');

const { sink, origin, caFile } = await startPushSink();

// Herald runs with the heap flags docs/operations.md recommends in production, as the other benches do.
// Commit times (pg_xact_commit_timestamp) give each wait's lateness after the fact, exactly.
process.env.HERALD_BENCH_POSTGRES_FLAGS = `${process.env.HERALD_BENCH_POSTGRES_FLAGS ?? ''} -c track_commit_timestamp=on`;
const bench = await spawnBenchHerald({ HERALD_PUSH_CA: caFile, NODE_OPTIONS: '--max-old-space-size=256 --max-semi-space-size=8' });
const db = new pg.Client({ connectionString: bench.databaseUrl });
await db.connect();
await seedBrowsers(db, bench.workspaceId, N, origin);
// The bench's polls run on this connection: its backend's CPU is left out of PostgreSQL's.
const pollBackend = Number((await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid);
const cpuNow = () => bench.cpuMs([pollBackend]);
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
await topStatements(db);
const baselineCpu = cpuNow();
const baselineStart = await burst('browsed');
const baselineRate = perSecond(N, Date.now() - baselineStart);
console.log(`(0) baseline: ${N.toLocaleString()} events stored, no journey: ${baselineRate.toLocaleString()} events/s, ${cpuText(cpuPer(baselineCpu, cpuNow(), N), 'event')} (load ${load()}); Herald peak RSS so far ${peakRss.toFixed(0)} MB`);

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

// (1) Entry and the first step. The engine runs first steps while the burst goes on, so the
// phases' CPU is cut at the moments the bench sees: calls answered (every enrolment is written in
// its event's transaction), first step passed by all, pushes all out.
const statements = async (phase: string) => {
  const top = await topStatements(db);
  if (top) console.log(`    PostgreSQL's top statements, ${phase}:\n${top}`);
};
await statements('baseline and journey setup');
const entryCpu = cpuNow();
const stepsAt = async () => count(`SELECT count(*) FROM "JourneyPathEntry" WHERE "journeyId" = '${journeyId}' AND step = 'welcome'`);
const entryStart = await burst('signed_up');
const called = Date.now();
const calledCpu = cpuNow();
await statements('entry burst');
const firstDuringEntry = await stepsAt();
const entered = await until(`SELECT count(*) FROM "JourneyEnrollment" WHERE "journeyId" = '${journeyId}'`, N);
const firstStep = await until(`SELECT count(*) FROM "JourneyPathEntry" WHERE "journeyId" = '${journeyId}' AND step = 'welcome'`, N);
const firstCpu = cpuNow();
await statements('after the burst, until the first step is passed by all');
const entryRate = perSecond(N, entered - entryStart);
const firstRate = perSecond(N, firstStep - entryStart);
console.log(`(1) entry: ${N.toLocaleString()} contacts in ${((entered - entryStart) / 1000).toFixed(1)} s (calls answered after ${((called - entryStart) / 1000).toFixed(1)} s): ${entryRate.toLocaleString()}/s, ${(entryRate / baselineRate).toFixed(2)}x the baseline's events/s [${passFail(entryRate >= 5_000)} >= 5,000/s]`);
console.log(`    until the calls answered: ${cpuText(cpuPer(entryCpu, calledCpu, N), 'contact')} (the engine had passed ${firstDuringEntry.toLocaleString()} first steps meanwhile)`);
console.log(`    first step (push send) passed by all ${((firstStep - entryStart) / 1000).toFixed(1)} s after the first call: ${firstRate.toLocaleString()} transitions/s (load ${load()})`);
console.log(`    entry + first step: ${cpuText(cpuPer(entryCpu, firstCpu, N), 'contact')}`);
const pushesOut = await until(
  `SELECT count(*) FROM "Message" m JOIN "Campaign" k ON k.id = m."campaignId" WHERE k."journeyId" = '${journeyId}' AND m.status NOT IN ('QUEUED', 'SENDING')`,
  N,
);
const pushCpu = cpuNow();
await statements('until the pushes are out');
console.log(`    pushes all out ${((pushesOut - entryStart) / 1000).toFixed(1)} s after the first call (${((pushesOut - firstStep) / 1000).toFixed(1)} s after the first step): ${cpuText(cpuPer(firstCpu, pushCpu, N), 'push')} after the first step`);
console.log(`    Herald peak RSS so far ${peakRss.toFixed(0)} MB`);

// (2) Every wait falls due at one instant, WAVE_SECONDS from now: the engine's 5 s tick drains,
// finds that earliest wake and times it in memory, so nothing the bench does stands in for the
// engine noticing. The wait is a day long: every enrolment is still waiting at it.
const dueAt = Date.now() + WAVE_SECONDS * 1000;
const { rowCount } = await db.query(`UPDATE "JourneyEnrollment" SET "wakeAt" = $1 WHERE "journeyId" = $2 AND status = 'ACTIVE' AND step = 'pause' AND ran`, [new Date(dueAt), journeyId]);
const wave = rowCount ?? 0;
if (wave !== N) throw new Error(`${wave} of ${N} enrolments were waiting at the wait step`);
// In production a 09:00 wave's rows were written when each contact reached the wait, hours before,
// and autovacuum has long cleaned up after them; this UPDATE rewrote all of them seconds before
// the wave, so its cleanup (autovacuum starts once a table has 20% dead rows) would otherwise run
// inside the measured window. Done here, before it, and timed.
const vacuumStart = Date.now();
await db.query(`VACUUM (ANALYZE) "JourneyEnrollment"`);
console.log(`    VACUUM (ANALYZE) after the bench's rewrite of wakeAt: ${((Date.now() - vacuumStart) / 1000).toFixed(1)} s`);
if (Date.now() > dueAt - 5_000) throw new Error('the wave is due too soon after the rewrite: raise waveSeconds');
console.log(`    ${wave.toLocaleString()} waits now end at once, in ${((dueAt - Date.now()) / 1000).toFixed(1)} s`);
while (Date.now() < dueAt) await new Promise((resolve) => setTimeout(resolve, 20));
await topStatements(db);
const waveCpu = cpuNow();
// Lateness is the wait's: how long after its end the engine had passed it (committed), and the
// completion the last step's: both read afterwards from each path entry's commit time
// (track_commit_timestamp), exact per enrolment. During the wave the bench only samples CPU and
// asks whether any enrolment is still ACTIVE (its first index entry answers), so its own queries
// do not compete with the engine (counting 100,000 enrolments every 100 ms took most of a core).
const samples: { at: number; cpu: { herald: number; postgres: number } }[] = [{ at: dueAt, cpu: waveCpu }];
for (let polls = 0; ; polls++) {
  await new Promise((resolve) => setTimeout(resolve, 100));
  samples.push({ at: Date.now(), cpu: cpuNow() });
  if (Date.now() - dueAt > 600_000) throw new Error('the journey did not complete within 10 minutes');
  if (polls % 5 === 4 && !(await db.query(`SELECT EXISTS (SELECT 1 FROM "JourneyEnrollment" WHERE "journeyId" = $1 AND status = 'ACTIVE') AS any`, [journeyId])).rows[0]!.any) break;
}
const doneCpu = cpuNow();
await statements('the wave');
const commits = async (step: string) => {
  const { rows } = await db.query<{ count: number; ms: number[] }>(
    `SELECT count(*)::int AS count, percentile_disc(ARRAY[0.5, 0.99, 1]) WITHIN GROUP (ORDER BY extract(epoch FROM pg_xact_commit_timestamp(xmin)) * 1000) AS ms
     FROM "JourneyPathEntry" WHERE "journeyId" = $1 AND step = $2`,
    [journeyId, step],
  );
  if (rows[0]!.count !== wave) throw new Error(`${rows[0]!.count} of ${wave} enrolments passed ${step}`);
  return rows[0]!.ms.map((ms) => Math.round(Number(ms) - dueAt)) as [number, number, number];
};
const [p50, p99, last] = await commits('pause');
const [c50, c99, all] = await commits('mail');
// The CPU until every wait had passed (the wait pass's own; the engine's steps after it start meanwhile): the first sample after it.
const passedCpu = (samples.find((sample) => sample.at >= dueAt + last) ?? samples.at(-1)!).cpu;
const transitions = perSecond(3 * wave, all);
console.log(`(2) ${wave.toLocaleString()} waits due at once: lateness (wait passed, committed) p50 ${p50} ms, p99 ${p99} ms, last ${last} ms [${passFail(p99 < 2_000)} p99 < 2 s]`);
console.log(`    until all had passed: ${cpuText(cpuPer(waveCpu, passedCpu, wave), 'wait')}`);
console.log(`    completed (all 3 steps after the wait's end) p50 ${c50} ms, p99 ${c99} ms, last ${all} ms`);
console.log(`    3 steps each (waited, no, suppressed): ${transitions.toLocaleString()} transitions/s [${passFail(transitions >= 5_000)} >= 5,000/s] (load ${load()})`);
console.log(`    ${cpuText(cpuPer(waveCpu, doneCpu, 3 * wave), 'transition')}`);

clearInterval(sampler);
const outcomes = (await db.query(`SELECT step, outcome, count(*)::int FROM "JourneyPathEntry" WHERE "journeyId" = $1 GROUP BY 1, 2 ORDER BY 1, 2`, [journeyId])).rows;
console.log('path outcomes:', outcomes.map((row) => `${row.step}:${row.outcome}=${row.count}`).join(' '));
console.log(`Herald peak RSS ${peakRss.toFixed(0)} MB [${passFail(peakRss < 400)} < 400 MB]; load average ${load()}`);
const warnings = bench.warnings();
if (warnings.length) console.log(`Herald warnings/errors (${warnings.length}):\n${warnings.slice(0, 10).join('\n')}`);
await db.end();
await bench.stop();
process.exit(0);
