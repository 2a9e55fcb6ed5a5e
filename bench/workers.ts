/**
 * Several workers share one send (issue #17): the same broadcast as bench/send-campaign.ts (SQL-
 * seeded browsers, bench/push-sink.ts in its own process), sent by 1 and then 2 `worker` processes
 * beside one `api` process, on an embedded PostgreSQL this process owns, with Redis carrying the
 * `delivery:due` signal to every worker. Each run gets a database of its own and fresh processes.
 * Prints msg/s for each, the ratio 2 workers / 1 worker, each worker's share (its own
 * `herald_messages_sent_total` at /metrics) and CPU by process during the send.
 * Checked, not only timed: every ledger row SENT and the sink received exactly N; exit 1 otherwise.
 * On a 2-core machine the ratio is informational: the cores, not the workers, are the limit.
 *   npx tsx bench/workers.ts [subscriptions=50000]   (needs Redis: REDIS_URL, default 127.0.0.1:6379)
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { startEmbeddedPostgres } from '../src/db/embedded.ts';
import { createLogger } from '../src/logger.ts';
import { buildMain, type HeraldProcess, spawnHerald } from '../test/kit/process.ts';
import { REDIS_URL, redisAvailable } from '../test/kit/redis.ts';
import { perSecond, seedBrowsers } from './kit.ts';

const total = Number(process.argv[2] ?? 50_000);
const heapFlags = process.env.HERALD_NODE_OPTIONS ?? '--max-old-space-size=256 --max-semi-space-size=8';
const adminToken = 'bench-admin-token-0123456789';

if (!(await redisAvailable())) {
  console.error(`Redis does not answer at ${REDIS_URL}: workers learn of a due send from each other through it. Start one or set REDIS_URL.`);
  process.exit(1);
}
buildMain();

// The sink runs in its own process, as a push service would.
const sink = spawn(process.execPath, ['--import', 'tsx', 'bench/push-sink.ts'], { stdio: ['ignore', 'pipe', 'inherit'] });
const line = (await createInterface({ input: sink.stdout! })[Symbol.asyncIterator]().next()).value as string;
const { origin, caFile } = JSON.parse(line) as { origin: string; caFile: string };
/** Herald processes started and not yet stopped: ended with the bench, also when it fails half-way. */
const running = new Set<HeraldProcess>();
process.once('exit', () => {
  sink.kill('SIGTERM');
  for (const herald of running) herald.child.kill('SIGKILL');
});
const ca = readFileSync(caFile);
const sinkReceived = () =>
  new Promise<number>((resolve, reject) =>
    https
      .get(`${origin}/stats`, { ca, agent: false }, (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve((JSON.parse(text) as { received: number }).received));
      })
      .on('error', reject),
  );

const dataDir = await mkdtemp(path.join(tmpdir(), 'herald-bench-workers-'));
const database = await startEmbeddedPostgres(dataDir, createLogger('warn'));
console.log(`push sink at ${origin}; embedded PostgreSQL; Redis at ${REDIS_URL}; ${cpus().length} cores; Herald NODE_OPTIONS=${JSON.stringify(heapFlags)}`);

interface Run {
  workers: number;
  ms: number;
  shares: number[];
  cpu: string;
  exact: boolean;
}

const runs: Run[] = [];
for (const count of [1, 2]) runs.push(await sendWith(count));

const [one, two] = runs as [Run, Run];
console.log('');
for (const run of runs) {
  const shares = run.shares.map((share, index) => `worker ${index + 1} ${share.toLocaleString()} (${Math.round((share / total) * 100)}%)`).join(', ');
  console.log(`${run.workers} worker${run.workers > 1 ? 's' : ''}: ${total.toLocaleString()} messages in ${(run.ms / 1000).toFixed(1)} s = ${perSecond(total, run.ms).toLocaleString()} msg/s; ${shares}`);
  console.log(`  CPU during the send (100% = one core): ${run.cpu}`);
}
const ratio = perSecond(total, two.ms) / perSecond(total, one.ms);
console.log(`ratio 2 workers / 1 worker: ${ratio.toFixed(2)}× (informational on ${cpus().length} cores: the cores are the limit)`);
const exact = runs.every((run) => run.exact);
console.log(`delivered exactly once in every run (ledger all SENT, sink received exactly ${total.toLocaleString()} each): ${exact ? 'PASS' : 'FAIL'}`);

await database.stop();
await rm(dataDir, { recursive: true, force: true });
// The sink's pipe and keep-alive sockets would keep the process up.
process.exit(exact ? 0 : 1);

/** One broadcast of `total` sent by an api process and `count` workers, on a database of its own. */
async function sendWith(count: number): Promise<Run> {
  const databaseUrl = await createDatabase(`herald_workers_${count}`);
  const env = {
    DATABASE_URL: databaseUrl,
    REDIS_URL,
    HERALD_DATA_DIR: dataDir,
    HERALD_ADMIN_TOKEN: adminToken,
    HERALD_PUSH_CA: caFile,
    LOG_LEVEL: 'warn',
    ...(heapFlags ? { NODE_OPTIONS: heapFlags } : {}),
    ...(process.env.HERALD_PUSH_CONCURRENCY ? { HERALD_PUSH_CONCURRENCY: process.env.HERALD_PUSH_CONCURRENCY } : {}),
  };
  const api = await spawnHerald({ ...env, HERALD_ROLE: 'api' }); // migrates; the workers start on it after
  running.add(api);
  const workers: HeraldProcess[] = [];
  for (let index = 0; index < count; index++) workers.push(await spawnHerald({ ...env, HERALD_ROLE: 'worker' }));
  for (const worker of workers) running.add(worker);
  const request = async (key: string, query: string, variables?: unknown) => {
    const response = await fetch(api.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify({ query, variables }) });
    const body = (await response.json()) as { data?: any; errors?: unknown };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data;
  };
  const created = await request(adminToken, 'mutation { createWorkspace(input: { name: "Bench" }) { ... on MutationCreateWorkspaceSuccess { data { secretKey workspace { id } } } } }');
  const { secretKey, workspace } = created.createWorkspace.data;
  const secret = (query: string, variables?: unknown) => request(secretKey, query, variables);

  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  const seeded = performance.now();
  await seedBrowsers(db, Buffer.from(workspace.id, 'base64').toString().split(':')[1]!, total, origin);
  console.log(`\n${count} worker${count > 1 ? 's' : ''}: seeded ${total.toLocaleString()} browsers in ${((performance.now() - seeded) / 1000).toFixed(1)} s`);
  const content = { title: 'Hi {{ contact.firstName }}', body: 'Our spring sale starts now: 20% off everything until Sunday.', url: 'https://shop.example/sale', imageUrl: 'https://cdn.example/sale.png' };
  const campaign = await secret(
    'mutation($input: CampaignInput!) { createCampaign(input: $input) { ... on MutationCreateCampaignSuccess { data { id } } ... on Error { message } } }',
    { input: { name: `Bench ${count}`, kind: 'BROADCAST', content } },
  );
  const id = campaign.createCampaign.data.id as string;

  const before = await Promise.all(workers.map(sentBy));
  const sinkBefore = await sinkReceived();
  const cpu = cpuMeter({ api, ...Object.fromEntries(workers.map((worker, index) => [`worker ${index + 1}`, worker])) });
  const started = performance.now();
  await secret('mutation($id: ID!) { sendCampaignNow(input: { id: $id }) { __typename } }', { id });
  let lastPrint = 0;
  for (;;) {
    const { campaign: state } = await secret('query($id: ID!) { campaign(id: $id) { status stats { sent } } }', { id });
    const elapsed = performance.now() - started;
    if (state.status === 'SENT') break;
    if (elapsed - lastPrint >= 5000) {
      lastPrint = elapsed;
      console.log(`  ${(elapsed / 1000).toFixed(0).padStart(3)} s: sent ${state.stats.sent.toLocaleString()} / ${total.toLocaleString()} (${perSecond(state.stats.sent, elapsed).toLocaleString()} msg/s so far)`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const ms = performance.now() - started;
  const usage = cpu.report(ms / 1000);
  const shares = (await Promise.all(workers.map(sentBy))).map((sent, index) => sent - before[index]!);
  const received = (await sinkReceived()) - sinkBefore;
  const { rows } = await db.query<{ status: string; reason: string | null; error: string | null; n: number }>(
    `SELECT status::text, reason::text, min(error) AS error, count(*)::int AS n FROM "Message" GROUP BY 1, 2 ORDER BY 1, 2`,
  );
  await db.end();
  const sent = rows.filter((row) => row.status === 'SENT').reduce((sum, row) => sum + row.n, 0);
  const exact = sent === total && rows.every((row) => row.status === 'SENT') && received === total;
  const ledger = rows.map((row) => `${row.status}/${row.reason} ${row.n.toLocaleString()}${row.status === 'SENT' ? '' : ` (${row.error})`}`);
  console.log(`  ledger: ${ledger.join(', ')}; the sink received ${received.toLocaleString()}`);

  for (const herald of [...workers, api]) {
    await herald.stop();
    running.delete(herald);
  }
  return { workers: count, ms, shares, cpu: usage, exact };
}

async function createDatabase(name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: database.url });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(database.url);
  url.pathname = `/${name}`;
  return url.toString();
}

/** What a worker says it sent: the sum of its herald_messages_sent_total samples, from its own /metrics. */
async function sentBy(worker: HeraldProcess): Promise<number> {
  const text = await (await fetch(`${worker.url}/metrics`)).text();
  if (!/^# TYPE herald_messages_sent_total counter$/m.test(text)) throw new Error(`the worker at ${worker.url} serves no herald_messages_sent_total`);
  return [...text.matchAll(/^herald_messages_sent_total(?:\{[^}]*\})?\s+(\S+)$/gm)].reduce((sum, [, value]) => sum + Number(value), 0);
}

/** CPU time (utime + stime) of named Herald processes and of PostgreSQL, and the machine's, over a send. */
function cpuMeter(processes: Record<string, HeraldProcess>) {
  const machine = machineTicks();
  const postgres = postgresTicks();
  const herald = new Map(Object.entries(processes).map(([name, process]) => [name, ticksOf(process.child.pid!)]));
  return {
    report(seconds: number): string {
      const percent = (ticks: number) => `${Math.round((ticks / 100 / seconds) * 100)}%`;
      const used = Object.entries(processes).map(([name, process]) => `${name} ${percent(ticksOf(process.child.pid!) - herald.get(name)!)}`);
      return `${used.join(', ')}, PostgreSQL ${percent(postgresTicks() - postgres)}; machine busy ${percent(machineTicks() - machine)} of ${cpus().length * 100}%`;
    },
  };
}

/** utime + stime of one process and its threads, in clock ticks (100 a second). */
function ticksOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0; // it ended
  }
}

/** The embedded cluster's processes (postgres processes descended from this one): ticks now. */
function postgresTicks(): number {
  const table = new Map<number, { ppid: number; comm: string; ticks: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      table.set(Number(entry), { ppid: Number(fields[1]), comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // the process ended while we read
    }
  }
  let ticks = 0;
  for (const info of table.values()) {
    if (info.comm !== 'postgres') continue;
    for (let current = info.ppid; current > 1; current = table.get(current)?.ppid ?? 0) {
      if (current === process.pid) {
        ticks += info.ticks;
        break;
      }
    }
  }
  return ticks;
}

function machineTicks(): number {
  const [, ...values] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const [user, nice, system, , , irq, softirq, steal] = values.map(Number) as number[];
  return user! + nice! + system! + irq! + softirq! + steal!;
}
