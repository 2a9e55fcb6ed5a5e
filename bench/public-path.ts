/**
 * The browser's path at web scale (issue #24). Herald and the push sink (`--arrivals`) run in
 * processes of their own; 20 triggered campaigns listen (one-hour delay, each with its own filter)
 * plus one with no delay whose pushes time the triggers. For the default gathering window and then
 * for HERALD_PUBLIC_BATCH_MS=0 (a fresh Herald and database each, same run):
 *  (1) single `trackEvent` calls with a publishable key from 64 and 256 concurrent clients (each
 *      count after a warm-up of BENCH_WARMUP=10000 calls at that count and BENCH_WARMUP_PROBES=100
 *      signups beside them, unmeasured), while
 *      one more client sends `signup` events one after another and times each to its push at the
 *      sink: first back to back (each client's next call as soon as the last is answered: the
 *      most the machine takes, goal ≥ 3,000 events/s), then paced, as visitors' browsers send, at
 *      3,000 events/s offered (BENCH_PACED_RATE) over the same connections (goals p99 < 100 ms,
 *      trigger → push p50 < 50 ms). Back to back, a call's mean latency is clients / rate
 *      (Little's law: 256 clients at 4,000/s wait 64 ms on average however fast each call is
 *      served), so latency goals are read at the rate they are set for;
 *  (2) single `/track` beacons (the service worker's) from 64 and 256 clients (goal ≥ 5,000/s);
 *  (3) the batched path: `trackEvents` of 100 from 8 clients with a secret key.
 * Each phase prints Herald's and PostgreSQL's CPU time per item (from /proc), failed calls are counted.
 *   npx tsx bench/public-path.ts [events=20000] [beacons=20000]
 * BENCH_DEFAULT_ONLY=1 measures the default window alone; BENCH_SLICES=1 prints the CPU per call
 * every 3 s of a phase driven back to back; BENCH_TIMELINE=1 lists each phase's quarter-seconds
 * with a call over 100 ms. CPU per item also names the driver's own (its clients run on the same
 * machine and take from the same two cores).
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { availableParallelism, loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import pg from 'pg';
import { signToken } from '../src/delivery/tokens.ts';
import { createSecrets, parseSecretKey } from '../src/secrets.ts';
import { TEST_SECRET_KEY } from '../test/kit/secret-key.ts';
import { createPoster } from './http-client.ts';
import { content, listeningCampaigns, PROBE_FROM, randomEvent, TRACK_MANY } from './browser-load.ts';
import { perSecond, seedBrowsers, spawnBenchHerald, speedGauge, startPushSink, topStatements } from './kit.ts';

const totalEvents = Number(process.argv[2] ?? 20_000);
const totalBeacons = Number(process.argv[3] ?? 20_000);
const CONTACTS = 20_000;
const BEACON_MESSAGES = 5_000;
/** BENCH_CLIENTS=64 (say) measures one client count only. */
const CLIENTS = process.env.BENCH_CLIENTS ? process.env.BENCH_CLIENTS.split(',').map(Number) : [64, 256];
/** The offered rate of the paced phase, events/s: the throughput goal, at which the latency goals hold. */
const PACED_RATE = Number(process.env.BENCH_PACED_RATE ?? 3_000);
/** Calls driven, unmeasured, before each client count's phases (BENCH_WARMUP). */
const WARMUP_CALLS = Number(process.env.BENCH_WARMUP ?? 10_000);
/** Signups (each a triggered push) sent one after another during each warm-up, at most. */
const WARMUP_PROBES = Number(process.env.BENCH_WARMUP_PROBES ?? 100);
const now = () => performance.timeOrigin + performance.now();
const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((values.length * p) / 100))] ?? NaN;
const load = () => loadavg().map((value) => value.toFixed(1)).join(' ');
const passFail = (pass: boolean) => (pass ? 'PASS' : 'FAIL');

const { sink, origin, caFile } = await startPushSink({ arrivals: true });
const ca = readFileSync(caFile);
const arrivals = () =>
  new Promise<Record<string, number[]>>((resolve, reject) =>
    https
      .get(`${origin}/arrivals`, { ca, agent: false }, (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve(JSON.parse(text)));
      })
      .on('error', reject),
  );

/**
 * Each call its own POST on a keep-alive connection, through a lean client (bench/http-client.ts):
 * Node's http.Agent cost this driver ~150-190 µs of CPU per call on the two cores Herald and
 * PostgreSQL need. Herald's server closes a keep-alive connection idle for 5 s (Node's
 * keepAliveTimeout); a request that meets such a close on a reused connection is sent again once
 * on a new one, which is safe here: every event carries an idempotency key (a replay stores
 * nothing new) and a beacon counts once per message whatever repeats it.
 */
const posters = new Map<string, ReturnType<typeof createPoster>>();
let resentBefore = 0;
function post(url: string, headers: Record<string, string>, body: string): Promise<{ status: number; body: string }> {
  const { origin, pathname } = new URL(url);
  let poster = posters.get(origin);
  if (!poster) posters.set(origin, (poster = createPoster(origin)));
  return poster.post(pathname, headers, body);
}
const resentCount = () => resentBefore + [...posters.values()].reduce((sum, poster) => sum + poster.resent(), 0);
const closePosters = () => {
  for (const poster of posters.values()) {
    resentBefore += poster.resent();
    poster.close();
  }
  posters.clear();
};

/**
 * `clients` loops share `total` calls; each call's latency is kept. A call that fails (an error
 * answer, a 5xx when Herald is overloaded) is counted, not retried: the goals need none.
 */
async function drive(total: number, clients: number, call: (n: number) => Promise<void>) {
  let next = 0;
  const calls = outcomes(total);
  const slices = sliceReport?.(() => next);
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < total) {
        const n = next++;
        const at = performance.now();
        await call(n).then(() => calls.answered(at), calls.failed);
      }
    }),
  );
  slices?.stop();
  return calls.figures();
}

/** With BENCH_TIMELINE=1: Herald's and PostgreSQL's CPU time so far, ms. */
let cpuSample: (() => { herald: number; postgres: number }) | undefined;

/** With BENCH_SLICES=1: Herald's and PostgreSQL's CPU per call every 3 s of a phase driven back to back. */
let sliceReport: ((done: () => number) => { stop(): void }) | undefined;

/**
 * With BENCH_TIMELINE=1: the phase's quarter-seconds (by calls' arrival) in which some call took
 * over 100 ms, so a p99 made by one stall tells apart from one made by a queue that grows.
 */
function slowWindows(began: number, arrivals: number[], latencies: number[], cpu: { at: number; herald: number; postgres: number }[]) {
  const windows = new Map<number, number[]>();
  arrivals.forEach((at, index) => {
    const window = Math.floor((at - began) / 250);
    if (!windows.has(window)) windows.set(window, []);
    windows.get(window)!.push(latencies[index]!);
  });
  const slow = [...windows].filter(([, inside]) => Math.max(...inside) > 100).sort(([a], [b]) => a - b);
  const over = latencies.filter((latency) => latency > 100).length;
  console.log(`  ${over} of ${latencies.length} calls over 100 ms, in ${slow.length} of ${windows.size} quarter-seconds:`);
  for (const [window, inside] of slow) {
    const clock = new Date(performance.timeOrigin + began + window * 250).toISOString().slice(11, 23);
    // Herald's and PostgreSQL's CPU over that quarter-second (sampled every 250 ms), as cores busy.
    const from = cpu.findLast((sample) => sample.at <= began + window * 250);
    const to = cpu.find((sample) => sample.at >= began + (window + 1) * 250);
    const cores = (key: 'herald' | 'postgres') => (from && to ? ((to[key] - from[key]) / (to.at - from.at)).toFixed(2) : '?');
    console.log(
      `    at ${(window / 4).toFixed(2)} s (${clock}): ${inside.length} calls, ${inside.filter((latency) => latency > 100).length} over 100 ms, max ${Math.max(...inside).toFixed(0)} ms; ` +
        `cores busy: Herald ${cores('herald')}, PostgreSQL ${cores('postgres')}`,
    );
  }
}

/** The calls of one phase: each answered call's latency from `since`, failures counted (the first kept), and the phase's figures. */
function outcomes(total: number) {
  const began = performance.now();
  const latencies: number[] = [];
  const arrivals: number[] = [];
  const cpu: { at: number; herald: number; postgres: number }[] = [];
  const sample = process.env.BENCH_TIMELINE ? cpuSample : undefined;
  if (sample) cpu.push({ at: began, ...sample() });
  const sampler = sample ? setInterval(() => cpu.push({ at: performance.now(), ...sample() }), 250) : undefined;
  let failed = 0;
  let firstFailure = '';
  return {
    answered: (since: number) => {
      latencies.push(performance.now() - since);
      arrivals.push(since);
    },
    failed: (error: unknown) => {
      failed++;
      firstFailure ||= String(error instanceof Error ? error.message : error).slice(0, 300);
    },
    figures() {
      if (failed) console.log(`  ${failed} of ${total} calls failed; the first: ${firstFailure}`);
      clearInterval(sampler);
      if (process.env.BENCH_TIMELINE) slowWindows(began, arrivals, latencies, cpu);
      return { rate: perSecond(total - failed, performance.now() - began), p50: percentile(latencies, 50), p99: percentile(latencies, 99), failed };
    },
  };
}

/**
 * Open loop: `total` calls arrive at `rate` per second (Poisson arrivals, as independent visitors'
 * are) over at most `clients` connections; a call that arrives while all are busy waits for one.
 * Each latency is counted from the call's arrival, not from when a connection took it, so a slow
 * server cannot hide its backlog (no coordinated omission).
 */
async function pace(total: number, rate: number, clients: number, call: (n: number) => Promise<void>) {
  const calls = outcomes(total);
  const waiting: number[] = [];
  let inFlight = 0;
  let arrived = 0;
  let next = 0;
  let due = performance.now();
  await new Promise<void>((done) => {
    const start = (arrival: number) => {
      inFlight++;
      call(next++)
        .then(() => calls.answered(arrival), calls.failed)
        .finally(() => {
          inFlight--;
          if (waiting.length) start(waiting.shift()!);
          else if (arrived === total && inFlight === 0) done();
        });
    };
    const tick = () => {
      const at = performance.now();
      while (arrived < total && due <= at) {
        arrived++;
        if (inFlight < clients) start(due);
        else waiting.push(due);
        due += (-Math.log(1 - Math.random()) * 1000) / rate;
      }
      if (arrived < total) setTimeout(tick, Math.max(0, Math.min(5, due - at)));
    };
    tick();
  });
  return calls.figures();
}

const TRACK = 'mutation($input: EventInput!) { trackEvent(input: $input) { __typename ... on Error { message } } }';
/** CPU time so far in ms: Herald's and PostgreSQL's (from /proc), and this driver's own (the clients). */
const cpuNow = (bench: { cpuMs(): { herald: number; postgres: number } }) => {
  const { user, system } = process.cpuUsage();
  return { ...bench.cpuMs(), driver: (user + system) / 1000 };
};
/** Herald's, PostgreSQL's and the driver's CPU time per item over a phase, in µs. */
const cpuPer = (before: ReturnType<typeof cpuNow>, after: ReturnType<typeof cpuNow>, items: number) => ({
  herald: ((after.herald - before.herald) * 1000) / items,
  postgres: ((after.postgres - before.postgres) * 1000) / items,
  driver: ((after.driver - before.driver) * 1000) / items,
});
/**
 * With the rate, the cores those costs kept busy: near the machine's count, a phase is bound by the
 * CPU (only less CPU per item goes faster), well below it, by the calls' latency.
 */
const cpuText = (cpu: Cpu, itemsPerSecond: number) =>
  `CPU per item ${cpu.herald.toFixed(0)} µs Herald + ${cpu.postgres.toFixed(0)} µs PostgreSQL (+ ${cpu.driver.toFixed(0)} µs this driver's clients), ` +
  `${(((cpu.herald + cpu.postgres + cpu.driver) * itemsPerSecond) / 1e6).toFixed(2)} of ${availableParallelism()} cores busy`;

type Cpu = ReturnType<typeof cpuPer>;

/**
 * Herald's main thread over a phase, from its /metrics (prom-client, which resets its event-loop
 * histogram at each read): how late the loop ran its callbacks (p99 and max) and the time GC paused
 * it, so a phase's latency tail can be told apart from its queueing. Read once before a phase
 * (the reset) and once after.
 */
async function mainThread(baseUrl: string) {
  const text = await fetch(`${baseUrl}/metrics`).then((response) => response.text());
  const value = (pattern: RegExp) => [...text.matchAll(pattern)].reduce((sum, match) => sum + Number(match[1]), 0);
  return {
    lagP99: value(/^herald_nodejs_eventloop_lag_p99_seconds (\S+)$/gm) * 1000,
    lagMax: value(/^herald_nodejs_eventloop_lag_max_seconds (\S+)$/gm) * 1000,
    gcMs: value(/^herald_nodejs_gc_duration_seconds_sum\{[^}]*\} (\S+)$/gm) * 1000,
    majorGcMs: value(/^herald_nodejs_gc_duration_seconds_sum\{kind="major"\} (\S+)$/gm) * 1000,
  };
}
const mainThreadText = (before: Awaited<ReturnType<typeof mainThread>>, after: Awaited<ReturnType<typeof mainThread>>) =>
  `Herald's event loop late p99 ${after.lagP99.toFixed(0)} / max ${after.lagMax.toFixed(0)} ms, GC ${(after.gcMs - before.gcMs).toFixed(0)} ms (major ${(after.majorGcMs - before.majorGcMs).toFixed(0)})`;
interface Figures {
  singles: { clients: number; rate: number; p50: number; p99: number; failed: number; triggerP50: number; probes: number; cpu: Cpu; load: string }[];
  /** The same calls paced at PACED_RATE offered. */
  paced: { clients: number; rate: number; p50: number; p99: number; failed: number; triggerP50: number; probes: number; cpu: Cpu; load: string }[];
  beacons: { clients: number; rate: number; p50: number; p99: number; failed: number; cpu: Cpu; load: string }[];
  batched: { rate: number; failed: number; cpu: Cpu; load: string };
}

/**
 * The heap flags recommended for a process that serves browsers (docs/operations.md): a 32 MB
 * semi-space instead of the workers' 8 took ~12% off Herald's CPU per single call (fewer
 * scavenges of the calls waiting for their batch). HERALD_NODE_OPTIONS runs Herald with others, '' for none.
 */
const heapFlags = process.env.HERALD_NODE_OPTIONS ?? '--max-old-space-size=256 --max-semi-space-size=32';

async function measure(label: string, env: Record<string, string>): Promise<Figures> {
  const bench = await spawnBenchHerald({ HERALD_PUSH_CA: caFile, HERALD_PUBLIC_RATE_LIMIT: '100000000', NODE_OPTIONS: heapFlags, ...env });
  let peakRss = 0;
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, bench.rssMb())), 500);
  cpuSample = () => bench.cpuMs();
  if (process.env.BENCH_SLICES) {
    sliceReport = (done) => {
      let last = { ...bench.cpuMs(), calls: done(), at: performance.now() };
      const timer = setInterval(() => {
        const now = { ...bench.cpuMs(), calls: done(), at: performance.now() };
        const calls = now.calls - last.calls;
        const per = (ms: number) => ((ms * 1000) / calls).toFixed(0);
        console.log(`  3 s: ${perSecond(calls, now.at - last.at).toLocaleString()} calls/s, ${per(now.herald - last.herald)} µs Herald + ${per(now.postgres - last.postgres)} µs PostgreSQL per call`);
        last = now;
      }, 3_000);
      return { stop: () => clearInterval(timer) };
    };
  }
  const db = new pg.Client({ connectionString: bench.databaseUrl });
  await db.connect();
  await seedBrowsers(db, bench.workspaceId, CONTACTS, origin);
  const key = await bench.secret('mutation { createApiKey(input: { kind: PUBLISHABLE }) { ... on MutationCreateApiKeySuccess { data { key } } } }');
  const publishable = key.createApiKey.data.key as string;
  const graphql = `${bench.url}/graphql`;
  const asPage = (query: string, variables: unknown) =>
    post(graphql, { 'content-type': 'application/json', authorization: `Bearer ${publishable}`, origin: 'https://shop.example' }, JSON.stringify({ query, variables }));

  // The messages whose tokens the beacons carry: a broadcast's ledger as if it had been sent
  // (written here, so the run does not wait for 5,000 sends).
  const created = await bench.secret('mutation($input: CampaignInput!) { createCampaign(input: $input) { ... on MutationCreateCampaignSuccess { data { id } } } }', {
    input: { name: 'Sale', kind: 'BROADCAST', content },
  });
  const broadcast = Buffer.from(created.createCampaign.data.id, 'base64').toString().split(':')[1]!;
  await db.query(
    `INSERT INTO "Message" (id, "workspaceId", "campaignId", "contactId", "subscriptionId", occurrence, status, "scheduledFor", "dueAt", "sentAt")
     SELECT gen_random_uuid(), s."workspaceId", $2::uuid, s."contactId", s.id, 'broadcast', 'SENT', now(), now(), now()
     FROM "PushSubscription" s WHERE s."workspaceId" = $1::uuid LIMIT $3`,
    [bench.workspaceId, broadcast, BEACON_MESSAGES],
  );
  const sealed = (await db.query(`SELECT "trackingSecret" FROM "Workspace" WHERE id = $1`, [bench.workspaceId])).rows[0].trackingSecret as string;
  const trackingSecret = createSecrets(parseSecretKey(TEST_SECRET_KEY)!).open(sealed);
  const tokens = (await db.query(`SELECT id FROM "Message" WHERE "campaignId" = $1`, [broadcast])).rows.map((row: { id: string }) => signToken(row.id, trackingSecret));

  await listeningCampaigns(bench.secret);

  const track = async (input: unknown) => {
    const { status, body } = await asPage(TRACK, { input });
    if (status !== 200 || !body.includes('MutationTrackEventSuccess')) throw new Error(`${status} ${body}\n${bench.warnings().slice(-3).join('\n')}`);
  };

  const figures: Figures = { singles: [], paced: [], beacons: [], batched: { rate: 0, failed: 0, cpu: { herald: 0, postgres: 0, driver: 0 }, load: '' } };
  let probe = PROBE_FROM;
  /** One phase of single calls (driven back to back, or paced), with the trigger probe beside it. */
  const singles = async (clients: number, phase: string, run: () => Promise<Awaited<ReturnType<typeof drive>>>, events: number) => {
    // One more client: a new visitor signs up, one after another, each timed to its push.
    let running = true;
    const sentAt = new Map<string, number>();
    const prober = (async () => {
      while (running && probe < CONTACTS) {
        const visitor = `visitor-${++probe}`;
        sentAt.set(visitor, now());
        // A probe that fails is left out of the trigger latency (drive counts the load's failures).
        await track({ anonymousId: visitor, name: 'signup', idempotencyKey: 'signup' }).catch(() => sentAt.delete(visitor));
      }
    })();
    await topStatements(db); // with BENCH_PG_STATEMENTS: counts from here
    const threadBefore = await mainThread(bench.url);
    // This driver's own event loop: a late loop sends calls late and counts that as their latency.
    const driverLoop = monitorEventLoopDelay({ resolution: 10 });
    driverLoop.enable();
    const cpuBefore = cpuNow(bench);
    const began = new Date();
    const result = await run();
    const cpu = cpuPer(cpuBefore, cpuNow(bench), events);
    driverLoop.disable();
    const thread = `${mainThreadText(threadBefore, await mainThread(bench.url))}; this driver's loop late p99 ${(driverLoop.percentile(99) / 1e6).toFixed(0)} / max ${(driverLoop.max / 1e6).toFixed(0)} ms`;
    // Rows written by one transaction share their xmin: how many gathered batches wrote the phase.
    const batches = (await db.query(`SELECT count(DISTINCT xmin::text)::int AS n FROM "Event" WHERE "receivedAt" >= $1`, [began])).rows[0].n as number;
    running = false;
    await prober;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const arrived = await arrivals();
    const triggers = [...sentAt].flatMap(([visitor, at]) => {
      const first = arrived[visitor]?.find((time) => time >= at);
      return first === undefined ? [] : [first - at];
    });
    const top = await topStatements(db, 10);
    if (top) console.log(`  PostgreSQL's statements in that phase (BENCH_PG_STATEMENTS):\n${top}`);
    console.log(
      `${label}: single trackEvent, ${clients} clients, ${phase}: ${result.rate.toLocaleString()} events/s, p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms; ` +
        `trigger → push p50 ${percentile(triggers, 50).toFixed(1)} ms (${triggers.length} of ${sentAt.size}); ${batches} batches (${(events / batches).toFixed(1)} events each); ${cpuText(cpu, result.rate)}; ${thread}; load ${load()}`,
    );
    return { clients, ...result, triggerP50: percentile(triggers, 50), probes: triggers.length, cpu, load: load() };
  };
  for (const clients of CLIENTS) {
    // Warm-up at the phase's own concurrency: the first seconds after a start cost Herald about
    // 1.8× the CPU per call of what follows (V8 still compiling; BENCH_SLICES=1 shows it), which
    // a phase of a few seconds would otherwise average in. The probe's signups too (each a
    // triggered push), so that the delivery path is warm as well: the phase after such a warm-up
    // settled a slice sooner (2,579 / 2,548 against 2,342 / 2,106 events/s, alternated).
    let warming = true;
    const signups = (async () => {
      for (let n = 0; warming && n < WARMUP_PROBES && probe < CONTACTS; n++) await track({ anonymousId: `visitor-${++probe}`, name: 'signup', idempotencyKey: 'signup' });
    })();
    await drive(WARMUP_CALLS, clients, () => track(randomEvent()));
    warming = false;
    await signups;
    figures.singles.push(await singles(clients, 'back to back', () => drive(totalEvents, clients, () => track(randomEvent())), totalEvents));
    const paced = Math.min(totalEvents, PACED_RATE * 5);
    figures.paced.push(await singles(clients, `paced at ${PACED_RATE.toLocaleString()}/s offered`, () => pace(paced, PACED_RATE, clients, () => track(randomEvent())), paced));
  }

  const types = ['DISPLAYED', 'CLICKED', 'CLOSED'];
  for (const clients of CLIENTS) {
    const cpuBefore = cpuNow(bench);
    const result = await drive(totalBeacons, clients, async () => {
      const token = tokens[Math.floor(Math.random() * tokens.length)];
      const { status, body } = await post(`${bench.url}/track`, { 'content-type': 'text/plain;charset=UTF-8' }, JSON.stringify({ token, type: types[Math.floor(Math.random() * 3)] }));
      if (status !== 204) throw new Error(`${status} ${body}`);
    });
    const cpu = cpuPer(cpuBefore, cpuNow(bench), totalBeacons);
    figures.beacons.push({ clients, ...result, cpu, load: load() });
    console.log(`${label}: single /track beacons, ${clients} clients: ${result.rate.toLocaleString()} beacons/s, p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms; ${cpuText(cpu, result.rate)}; load ${load()}`);
  }

  const cpuBefore = cpuNow(bench);
  const batched = await drive(Math.ceil(totalEvents / 100), 8, async () => {
    const result = await bench.secret(TRACK_MANY, { events: Array.from({ length: 100 }, () => randomEvent(false)) });
    if (result.trackEvents.__typename !== 'MutationTrackEventsSuccess') throw new Error(JSON.stringify(result));
  });
  const cpu = cpuPer(cpuBefore, cpuNow(bench), Math.ceil(totalEvents / 100) * 100);
  figures.batched = { rate: batched.rate * 100, failed: batched.failed * 100, cpu, load: load() };
  console.log(`${label}: batched trackEvents of 100 from 8 clients: ${(batched.rate * 100).toLocaleString()} events/s; ${cpuText(cpu, batched.rate * 100)}; load ${load()}`);
  clearInterval(rssTimer);
  console.log(`${label}: Herald's peak RSS ${peakRss.toFixed(0)} MB (NODE_OPTIONS="${heapFlags}")`);
  const warnings = bench.warnings();
  if (warnings.length) console.log(`${label}: Herald's warnings and errors:\n${warnings.slice(0, 10).join('\n')}`);
  await db.end();
  closePosters();
  await bench.stop();
  return figures;
}

console.log(`load average at start: ${load()} (2 cores; the machine is shared, figures are distorted by the load); speed gauge ${speedGauge()} ms (bench/kit.ts)`);
const gathered = await measure('window default', {});
// BENCH_DEFAULT_ONLY=1: the default window's phases alone (quicker before/after comparisons).
if (process.env.BENCH_DEFAULT_ONLY) {
  console.log(`load average at the end: ${load()}; speed gauge ${speedGauge()} ms`);
  sink.kill('SIGTERM');
  process.exit(0);
}
const alone = await measure('window 0', { HERALD_PUBLIC_BATCH_MS: '0' });

const cpuCell = (cpu: Cpu) => `${cpu.herald.toFixed(0)} + ${cpu.postgres.toFixed(0)}`;
console.log('\n| path | clients | default window | HERALD_PUBLIC_BATCH_MS=0 | ratio | CPU µs/item, Herald + PostgreSQL (default / 0) |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
gathered.singles.forEach((row, index) => {
  const base = alone.singles[index]!;
  console.log(
    `| trackEvent, events/s (p50 / p99 ms) | ${row.clients} | ${row.rate.toLocaleString()} (${row.p50.toFixed(0)} / ${row.p99.toFixed(0)}) | ` +
      `${base.rate.toLocaleString()} (${base.p50.toFixed(0)} / ${base.p99.toFixed(0)}) | ${(row.rate / base.rate).toFixed(2)}× | ${cpuCell(row.cpu)} / ${cpuCell(base.cpu)} |`,
  );
  console.log(`| trigger → push p50, ms | ${row.clients} | ${row.triggerP50.toFixed(1)} | ${base.triggerP50.toFixed(1)} | | |`);
});
gathered.paced.forEach((row, index) => {
  const base = alone.paced[index]!;
  console.log(
    `| trackEvent paced at ${PACED_RATE.toLocaleString()}/s offered, events/s (p50 / p99 ms) | ${row.clients} | ${row.rate.toLocaleString()} (${row.p50.toFixed(0)} / ${row.p99.toFixed(0)}) | ` +
      `${base.rate.toLocaleString()} (${base.p50.toFixed(0)} / ${base.p99.toFixed(0)}) | | ${cpuCell(row.cpu)} / ${cpuCell(base.cpu)} |`,
  );
  console.log(`| trigger → push p50 when paced, ms | ${row.clients} | ${row.triggerP50.toFixed(1)} | ${base.triggerP50.toFixed(1)} | | |`);
});
gathered.beacons.forEach((row, index) => {
  const base = alone.beacons[index]!;
  console.log(
    `| /track beacons/s (p50 / p99 ms) | ${row.clients} | ${row.rate.toLocaleString()} (${row.p50.toFixed(0)} / ${row.p99.toFixed(0)}) | ` +
      `${base.rate.toLocaleString()} (${base.p50.toFixed(0)} / ${base.p99.toFixed(0)}) | ${(row.rate / base.rate).toFixed(2)}× | ${cpuCell(row.cpu)} / ${cpuCell(base.cpu)} |`,
  );
});
console.log(
  `| trackEvents of 100, events/s | 8 | ${gathered.batched.rate.toLocaleString()} | ${alone.batched.rate.toLocaleString()} | ${(gathered.batched.rate / alone.batched.rate).toFixed(2)}× | ` +
    `${cpuCell(gathered.batched.cpu)} / ${cpuCell(alone.batched.cpu)} |`,
);
const failures = (figures: Figures) => [...figures.singles, ...figures.paced, ...figures.beacons].reduce((sum, row) => sum + row.failed, 0) + figures.batched.failed;
console.log(`\nfailed calls: default window ${failures(gathered)}, HERALD_PUBLIC_BATCH_MS=0 ${failures(alone)}; requests resent after a close on a reused keep-alive connection: ${resentCount()}`);
const best = (rows: { rate: number }[]) => Math.max(...rows.map((row) => row.rate));
console.log(
  `goals (default window): ≥ 3,000 single events/s back to back: ${passFail(best(gathered.singles) >= 3_000)}; ≥ 5,000 beacons/s: ${passFail(best(gathered.beacons) >= 5_000)}; ` +
    `at ${PACED_RATE.toLocaleString()} events/s offered, p99 < 100 ms: ${passFail(gathered.paced.every((row) => row.p99 < 100) && gathered.beacons.every((row) => row.p99 < 100))} ` +
    `and trigger p50 < 50 ms: ${passFail(gathered.paced.every((row) => row.triggerP50 < 50))}; no failed call: ${passFail(failures(gathered) === 0)}`,
);
console.log(
  `  (back to back, where latency is clients / rate: p99 < 100 ms ${passFail(gathered.singles.every((row) => row.p99 < 100))}, ` +
    `trigger p50 < 50 ms ${passFail(gathered.singles.every((row) => row.triggerP50 < 50))})`,
);
console.log(`load average at the end: ${load()}; speed gauge ${speedGauge()} ms`);
sink.kill('SIGTERM');
