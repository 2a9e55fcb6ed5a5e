/**
 * A broadcast end to end (issue #5): `sendCampaignNow` until the last ledger row is SENT, for
 * 100,000 subscribed browsers (seeded in SQL, real P-256 keys) against bench/push-sink.ts in a
 * separate process. Herald runs in a process of its own (`node dist/main.mjs`, as `npm start` runs it, with the
 * heap flags we recommend in production, NODE_OPTIONS="--max-old-space-size=256
 * --max-semi-space-size=8"; set HERALD_NODE_OPTIONS to run it with others, '' for none) so its
 * resident memory is read from /proc apart from this driver: sampled every 100 ms during the send
 * (peak) and before it (flat means the peak does not grow with the audience).
 * Checked, not only timed: the ledger has exactly N rows SENT/ACCEPTED after one attempt each, and
 * the sink received exactly N requests (no duplicates, none missing); exit code 1 otherwise.
 * Baseline, same run, same sink, after Herald has stopped: the naive loop, `await
 * webpush.sendNotification(…)` per subscription with web-push's defaults (no agent: Node 20's
 * global agent, which keeps connections alive; the sink's CA added to it as NODE_EXTRA_CA_CERTS
 * would), on a sample; also shown, not compared: the same loop with a fresh-connection agent.
 * Also printed: CPU used during the send by Herald, PostgreSQL, the sink, this driver and the rest
 * of the machine, to show which one is the bottleneck.
 * Targets on a 2-core machine: ≥ 2,500 messages/s, ≥ 3× the baseline, Herald's RSS < 300 MB.
 *   npx tsx bench/send-campaign.ts [subscriptions=100000] [baselineSample=5000]
 *   (HERALD_PUSH_CONCURRENCY=… and HERALD_NODE_OPTIONS=… are passed to Herald when set)
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import https from 'node:https';
import { cpus } from 'node:os';
import { createInterface } from 'node:readline';
import pg from 'pg';
import webpush from 'web-push';
import { perSecond, seedBrowsers, spawnBenchHerald } from './kit.ts';

const total = Number(process.argv[2] ?? 100_000);
const sample = Math.min(total, Number(process.argv[3] ?? 5_000));
const heapFlags = process.env.HERALD_NODE_OPTIONS ?? '--max-old-space-size=256 --max-semi-space-size=8';
const passFail = (pass: boolean) => (pass ? 'PASS' : 'FAIL');

// The sink runs in its own process, as a push service would.
const sink = spawn(process.execPath, ['--import', 'tsx', 'bench/push-sink.ts'], { stdio: ['ignore', 'pipe', 'inherit'] });
const line = (await createInterface({ input: sink.stdout! })[Symbol.asyncIterator]().next()).value as string;
const { origin, caFile } = JSON.parse(line) as { origin: string; caFile: string };
process.once('exit', () => sink.kill('SIGTERM')); // also when the bench fails half-way
const ca = readFileSync(caFile);
const sinkStats = async () => {
  const body = await new Promise<string>((resolve, reject) =>
    https
      .get(`${origin}/stats`, { ca, agent: false }, (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve(text));
      })
      .on('error', reject),
  );
  return JSON.parse(body) as { received: number; bytes: number };
};

console.log(`push sink at ${origin} (pid ${sink.pid}); Herald NODE_OPTIONS=${JSON.stringify(heapFlags)}`);
const bench = await spawnBenchHerald({
  HERALD_PUSH_CA: caFile,
  ...(heapFlags ? { NODE_OPTIONS: heapFlags } : {}),
  ...(process.env.HERALD_PUSH_CONCURRENCY ? { HERALD_PUSH_CONCURRENCY: process.env.HERALD_PUSH_CONCURRENCY } : {}),
});
const db = new pg.Client({ connectionString: bench.databaseUrl });
await db.connect();

const seeded = performance.now();
const keys = await seedBrowsers(db, bench.workspaceId, total, origin);
console.log(`seeded ${total.toLocaleString()} contacts with a browser each in ${((performance.now() - seeded) / 1000).toFixed(1)} s`);

const content = { title: 'Hi {{ contact.firstName }}', body: 'Our spring sale starts now: 20% off everything until Sunday.', url: 'https://shop.example/sale', imageUrl: 'https://cdn.example/sale.png' };
const created = await bench.secret(
  'mutation($input: CampaignInput!) { createCampaign(input: $input) { ... on MutationCreateCampaignSuccess { data { id } } ... on Error { message } } }',
  { input: { name: 'Bench', kind: 'BROADCAST', content } },
);
const campaignId = created.createCampaign.data.id as string;
const campaignUuid = Buffer.from(campaignId, 'base64').toString().split(':')[1]!;

// CPU time (utime + stime, in clock ticks) of this process and its descendants, by role.
type Role = 'Herald' | 'PostgreSQL' | 'sink' | 'driver' | 'other';
const roles: Role[] = ['Herald', 'PostgreSQL', 'sink', 'driver', 'other'];
const TICKS_PER_SECOND = 100;
const processTable = () => {
  const table = new Map<number, { ppid: number; comm: string; ticks: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' '); // fields[0] is field 3 (state)
      table.set(Number(entry), { ppid: Number(fields[1]), comm: stat.slice(stat.indexOf('(') + 1, close), ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // the process ended while we read
    }
  }
  return table;
};
const roleOf = (pid: number, table: ReturnType<typeof processTable>): Role | undefined => {
  for (let current = pid; current > 1; current = table.get(current)?.ppid ?? 0) {
    if (current === process.pid) {
      if (pid === process.pid) return 'driver';
      if (pid === sink.pid) return 'sink';
      if (table.get(pid)!.comm === 'postgres') return 'PostgreSQL';
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('dist/main.mjs')) return 'Herald';
      return 'other';
    }
  }
  return undefined;
};
const machineTicks = () => {
  const [, ...values] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = values.map(Number) as number[];
  return { busy: user! + nice! + system! + irq! + softirq! + steal!, idle: idle! + iowait! };
};
class CpuMeter {
  private readonly first = new Map<number, number>();
  private readonly last = new Map<number, { role: Role; ticks: number }>();
  private readonly machineStart = machineTicks();
  private machineEnd = this.machineStart;
  constructor() {
    for (const [pid, info] of processTable()) this.first.set(pid, info.ticks);
  }
  sample() {
    const table = processTable();
    for (const [pid, info] of table) {
      const role = this.last.get(pid)?.role ?? (() => { try { return roleOf(pid, table); } catch { return undefined; } })();
      if (role) this.last.set(pid, { role, ticks: info.ticks });
    }
    this.machineEnd = machineTicks();
  }
  /** Percent of one core, by role, over `seconds`; "rest of the machine" is whatever else ran. */
  report(seconds: number) {
    const byRole = new Map<Role, number>(roles.map((role) => [role, 0]));
    for (const [pid, { role, ticks }] of this.last) byRole.set(role, byRole.get(role)! + ticks - (this.first.get(pid) ?? 0));
    const ours = [...byRole.values()].reduce((sum, ticks) => sum + ticks, 0);
    const busy = this.machineEnd.busy - this.machineStart.busy;
    const percent = (ticks: number) => `${Math.round((ticks / TICKS_PER_SECOND / seconds) * 100)}%`;
    return (
      roles.filter((role) => role !== 'other' || percent(byRole.get(role)!) !== '0%').map((role) => `${role} ${percent(byRole.get(role)!)}`).join(', ') +
      `, rest of the machine ${percent(Math.max(0, busy - ours))}; machine busy ${percent(busy)} of ${cpus().length * 100}%`
    );
  }
}

const rssBefore = bench.rssMb();
let peakRss = rssBefore;
const rssSampler = setInterval(() => (peakRss = Math.max(peakRss, bench.rssMb())), 100);
const cpu = new CpuMeter();
const cpuSampler = setInterval(() => cpu.sample(), 1000);
console.log(`sendCampaignNow to ${total.toLocaleString()} browsers (Herald RSS before: ${Math.round(rssBefore)} MB)`);
const started = performance.now();
await bench.secret('mutation($id: ID!) { sendCampaignNow(input: { id: $id }) { __typename } }', { id: campaignId });
let lastPrint = 0;
for (;;) {
  const { campaign } = await bench.secret('query($id: ID!) { campaign(id: $id) { status stats { targeted sent failed queued } } }', { id: campaignId });
  const elapsed = performance.now() - started;
  if (campaign.status === 'SENT') break;
  if (elapsed - lastPrint >= 2000) {
    lastPrint = elapsed;
    const { targeted, sent, failed } = campaign.stats;
    console.log(
      `  ${(elapsed / 1000).toFixed(0).padStart(3)} s: sent ${sent.toLocaleString()} / ${total.toLocaleString()} (${perSecond(sent, elapsed).toLocaleString()} msg/s so far), ` +
        `ledger rows ${targeted.toLocaleString()}, failed ${failed}, Herald RSS ${Math.round(bench.rssMb())} MB`,
    );
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
}
const heraldMs = performance.now() - started;
clearInterval(rssSampler);
clearInterval(cpuSampler);
cpu.sample();
const cpuDuringSend = cpu.report(heraldMs / 1000);
const { campaign } = await bench.secret('query($id: ID!) { campaign(id: $id) { stats { targeted sent failed } } }', { id: campaignId });
const { rows: ledger } = await db.query<{ status: string; reason: string | null; rows: string; attempts: string }>(
  `SELECT status, reason, count(*) AS rows, sum(attempts) AS attempts FROM "Message" WHERE "campaignId" = $1::uuid GROUP BY 1, 2 ORDER BY 1, 2`,
  [campaignUuid],
);
const atSink = await sinkStats();
await db.end();
const warnings = bench.warnings();
await bench.stop();

// The naive loop on the same sink and the same kind of payload, now that Herald has stopped.
const vapid = webpush.generateVAPIDKeys();
const payload = JSON.stringify({ ...content, title: 'Hi Ada', token: 'x'.repeat(45), trackUrl: 'http://127.0.0.1:4000/track', tag: 'x'.repeat(36), actions: [], requireInteraction: false });
const naiveLoop = async (label: string, agent?: https.Agent) => {
  const loopStarted = performance.now();
  for (let index = 0; index < sample; index++) {
    const key = keys[index % keys.length]!;
    await webpush.sendNotification({ endpoint: `${origin}/push/${label}-${index}`, keys: key }, payload, {
      vapidDetails: { subject: 'mailto:bench@example.com', publicKey: vapid.publicKey, privateKey: vapid.privateKey },
      TTL: 3600,
      ...(agent ? { agent } : {}),
    });
  }
  return perSecond(sample, performance.now() - loopStarted);
};
// web-push without an `agent` uses https.globalAgent (keep-alive on Node ≥ 19); trust the sink there.
https.globalAgent.options.ca = ca;
const baseline = await naiveLoop('baseline');
const freshConnections = await naiveLoop('fresh', new https.Agent({ ca }));
const baselineAtSink = (await sinkStats()).received - atSink.received;

const herald = perSecond(total, heraldMs);
const ratio = herald / baseline;
const sentOnce = ledger.length === 1 && ledger[0]!.status === 'SENT' && ledger[0]!.reason === 'ACCEPTED' && Number(ledger[0]!.rows) === total && Number(ledger[0]!.attempts) === total;
const exact = sentOnce && campaign.stats.sent === total && campaign.stats.failed === 0 && atSink.received === total && baselineAtSink === 2 * sample;
console.log(`\nledger: ${ledger.map((row) => `${row.status}/${row.reason} ${Number(row.rows).toLocaleString()} rows, ${Number(row.attempts).toLocaleString()} attempts`).join('; ')}`);
console.log(
  `delivered exactly once: ${passFail(exact)} (stats: targeted ${campaign.stats.targeted.toLocaleString()}, sent ${campaign.stats.sent.toLocaleString()}, failed ${campaign.stats.failed}; ` +
    `the sink received ${atSink.received.toLocaleString()} from Herald, ${atSink.bytes.toLocaleString()} bytes)`,
);
console.log(`CPU during the send (100% = one core): ${cpuDuringSend}`);
console.log(`Herald: ${total.toLocaleString()} messages in ${(heraldMs / 1000).toFixed(1)} s = ${herald.toLocaleString()} msg/s (target ≥ 2,500): ${passFail(herald >= 2500)}`);
console.log(`baseline (await webpush.sendNotification in a loop, web-push defaults: Node's global agent, keep-alive; sample ${sample.toLocaleString()}): ${baseline.toLocaleString()} msg/s`);
console.log(`  (not compared: the same loop with a new TLS connection per message, new https.Agent({ ca }): ${freshConnections.toLocaleString()} msg/s)`);
console.log(`ratio: ${ratio.toFixed(1)}× (target ≥ 3×): ${passFail(ratio >= 3)}`);
console.log(`Herald's peak RSS during the send: ${Math.round(peakRss)} MB (before: ${Math.round(rssBefore)} MB; target < 300 MB): ${passFail(peakRss < 300)}`);
// The sink's pipe and keep-alive sockets would keep the process up.
process.exit(exact ? 0 : 1);
if (warnings.length) console.log(`Herald logged ${warnings.length} warnings or errors; the first:\n${warnings.slice(0, 5).map((line) => line.slice(0, 600)).join('\n')}`);
