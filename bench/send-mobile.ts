/**
 * A MOBILE_PUSH broadcast end to end (issue #25): `sendCampaignNow` until every ledger row is SENT,
 * for 20,000 devices, half iPhones (APNs) and half Android phones (FCM), seeded in SQL, against the
 * kit's APNs and FCM in a process of their own (test/kit/mobile-push-process.ts: real HTTP/2 over
 * TLS, provider and access tokens verified). Herald runs as `npm start` runs it (dist/main.mjs) on
 * an embedded PostgreSQL this process owns.
 * Checked, not only timed: every row SENT after one attempt, the kits accepted exactly N pushes,
 * and each provider saw one HTTP/2 connection.
 * Baseline, same run, same kits: the naive loop, one `await`ed push after another with Herald's own
 * APNs and FCM clients (cached tokens, the same connection: only the waiting differs), on a sample.
 * The kits answer each push `latencyMs` late (default 20: APNs and FCM are across the internet, a
 * round trip of 20–100 ms from most servers, not loopback's 0.1 ms), Herald and the loop alike; `0`
 * measures the loopback case, where the loop's only wait is the kits' CPU.
 * Targets: ≥ 3,000 messages/s and ≥ 5× the naive loop. On a shared machine the rate follows others'
 * load, so each role's CPU time per message is printed too (Herald, PostgreSQL, the kits, this
 * driver; from /proc), with the load average and the rate Herald's CPU per message allows.
 *   npx tsx bench/send-mobile.ts [devices=20000] [baselineSample=500] [latencyMs=20]
 *   (BENCH_PG_STATEMENTS=1 prints PostgreSQL's top statements of the send; HERALD_PUSH_CONCURRENCY=… is passed to Herald; to profile it,
 *   HERALD_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/mobile-prof" writes a .cpuprofile when it stops)
 */
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { MobilePushClients } from '../src/delivery/mobile-push/clients.ts';
import { type BenchProcess, cpuByRole, perSecond, spawnBenchHerald, topStatements } from './kit.ts';

const total = Number(process.argv[2] ?? 20_000);
const sample = Math.min(total, Number(process.argv[3] ?? 500));
const latencyMs = Number(process.argv[4] ?? 20);
const load = () => loadavg().map((value) => value.toFixed(2)).join(' ');
const passFail = (pass: boolean) => (pass ? 'PASS' : 'FAIL');

const kits = spawn(process.execPath, ['--import', 'tsx', 'test/kit/mobile-push-process.ts'], { stdio: ['pipe', 'pipe', 'inherit'] });
process.once('exit', () => kits.kill('SIGTERM'));
const line = (await createInterface({ input: kits.stdout! })[Symbol.asyncIterator]().next()).value as string;
const { caFile, apns, fcm, controlPort } = JSON.parse(line) as {
  caFile: string;
  apns: { teamId: string; keyId: string; privateKey: string; bundleId: string; production: boolean; baseUrl: string };
  fcm: { serviceAccount: string; baseUrl: string };
  controlPort: number;
};

/** Whose CPU a process's time is: Herald, its PostgreSQL, the kits' APNs and FCM, or this driver (the naive loop's client). */
const roleOf = ({ pid, comm, cmdline }: BenchProcess) =>
  pid === process.pid ? 'driver' : pid === kits.pid ? 'kits (APNs + FCM)' : comm === 'postgres' ? 'PostgreSQL' : cmdline.includes('dist/main.mjs') ? 'Herald' : undefined;
/** Each role's CPU between two readings, as ms per message and share of one core. */
function cpuReport(before: Map<string, number>, after: Map<string, number>, messages: number, ms: number) {
  const perMessage = new Map([...after].map(([role, used]) => [role, (used - (before.get(role) ?? 0)) / messages]));
  const text = [...perMessage]
    .filter(([, used]) => used > 0)
    .map(([role, used]) => `${role} ${used.toFixed(3)} ms/message (${Math.round(((used * messages) / ms) * 100)}% of a core)`)
    .join(', ');
  return { perMessage, text };
}

const delayed = await fetch(`http://127.0.0.1:${controlPort}/delay?ms=${latencyMs}`, { method: 'POST' });
if (delayed.status !== 204) throw new Error(`the kits refused the delay: ${delayed.status}`);
console.log(`APNs and FCM kits (pid ${kits.pid}) answer each push ${latencyMs} ms late`);

const counts = async () =>
  (await (await fetch(`http://127.0.0.1:${controlPort}/counts`)).json()) as { apns: number; fcm: number; apnsConnections: number; fcmConnections: number; refused: number };

const bench = await spawnBenchHerald({
  HERALD_PUSH_CA: caFile,
  HERALD_MOBILE_PUSH_ALLOWED_HOSTS: '127.0.0.1',
  ...(process.env.HERALD_PUSH_CONCURRENCY ? { HERALD_PUSH_CONCURRENCY: process.env.HERALD_PUSH_CONCURRENCY } : {}),
});
const settings = await bench.secret(
  'mutation($input: MutationUpdateWorkspaceSettingsInput!) { updateWorkspaceSettings(input: $input) { __typename ... on ValidationError { fieldErrors { path message } } } }',
  { input: { apns, fcm } },
);
if (settings.updateWorkspaceSettings.__typename !== 'MutationUpdateWorkspaceSettingsSuccess') throw new Error(JSON.stringify(settings));

const db = new pg.Client({ connectionString: bench.databaseUrl });
await db.connect();
const seeded = performance.now();
await db.query(
  `WITH n AS (SELECT i, gen_random_uuid() AS contact FROM generate_series(1, $2::int) AS i),
   contacts AS (INSERT INTO "Contact" (id, "workspaceId", "anonymousId", "firstName", "updatedAt") SELECT contact, $1::uuid, 'phone-' || i, 'Ada', now() FROM n)
   INSERT INTO "Device" (id, "workspaceId", "contactId", platform, token, "appId", "updatedAt")
   SELECT gen_random_uuid(), $1::uuid, contact, CASE WHEN i % 2 = 0 THEN 'IOS' ELSE 'ANDROID' END::"DevicePlatform",
     CASE WHEN i % 2 = 0 THEN md5(i::text) || md5('ios' || i) ELSE 'fcm:' || md5(i::text) || md5('android' || i) END, 'com.shop.app', now()
   FROM n`,
  [bench.workspaceId, total],
);
console.log(`seeded ${total.toLocaleString()} contacts with a phone each (half iOS, half Android) in ${((performance.now() - seeded) / 1000).toFixed(1)} s; load average ${load()}`);

const mobilePush = { title: 'Hi {{ contact.firstName }}', body: 'Our spring sale starts now: 20% off everything until Sunday.', url: 'myshop://sale', data: { screen: 'sale' }, badge: 1, sound: 'default' };
const created = await bench.secret(
  'mutation($input: CampaignInput!) { createCampaign(input: $input) { ... on MutationCreateCampaignSuccess { data { id } } ... on Error { message } } }',
  { input: { name: 'Bench', kind: 'BROADCAST', channel: 'MOBILE_PUSH', mobilePush } },
);
const campaignId = created.createCampaign.data.id as string;
const campaignUuid = Buffer.from(campaignId, 'base64').toString().split(':')[1]!;

await topStatements(db); // with BENCH_PG_STATEMENTS: counts from here
const cpuBefore = cpuByRole(roleOf);
const started = performance.now();
await bench.secret('mutation($id: ID!) { sendCampaignNow(input: { id: $id }) { __typename } }', { id: campaignId });
for (;;) {
  const { rows } = await db.query(`SELECT status FROM "Campaign" WHERE id = $1`, [campaignUuid]);
  if (rows[0]?.status === 'SENT') break;
  await new Promise((resolve) => setTimeout(resolve, 50));
}
const sendMs = performance.now() - started;
const sendCpu = cpuReport(cpuBefore, cpuByRole(roleOf), total, sendMs);
const sendLoad = load();
const { rows: ledger } = await db.query(
  `SELECT count(*) FILTER (WHERE status = 'SENT' AND reason = 'ACCEPTED' AND attempts = 1)::int AS sent, count(*)::int AS rows FROM "Message" WHERE "campaignId" = $1`,
  [campaignUuid],
);
const { rows: others } = await db.query(
  `SELECT status, reason, attempts, left(error, 120) AS error, count(*)::int AS rows FROM "Message" WHERE "campaignId" = $1 AND NOT (status = 'SENT' AND reason = 'ACCEPTED' AND attempts = 1) GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC LIMIT 5`,
  [campaignUuid],
);
const after = await counts();
const herald = perSecond(total, sendMs);
console.log(`Herald: ${total.toLocaleString()} mobile pushes in ${(sendMs / 1000).toFixed(2)} s = ${herald.toLocaleString()} messages/s (load average ${sendLoad})`);
console.log(`  ledger: ${ledger[0].sent}/${ledger[0].rows} SENT after one attempt; kits accepted APNs ${after.apns} + FCM ${after.fcm}, refused ${after.refused}; HTTP/2 connections APNs ${after.apnsConnections}, FCM ${after.fcmConnections}`);
for (const row of others) console.log(`  not sent at the first attempt: ${row.rows} rows ${row.status}/${row.reason} after ${row.attempts} attempts (${row.error})`);
console.log(`  CPU during the send: ${sendCpu.text}`);
const statements = await topStatements(db, 10);
if (statements) console.log(`  PostgreSQL's statements during the send:\n${statements}`);
const warnings = bench.warnings();
if (warnings.length) console.log(`  Herald warned ${warnings.length} times; the first ones:\n    ${warnings.slice(0, 5).join('\n    ')}`);
await db.end();
await bench.stop();

// The naive loop: Herald's own clients, one awaited push after another.
const clients = new MobilePushClients({ HERALD_PUSH_CA: caFile, HERALD_PUSH_TIMEOUT_MS: 10_000, HERALD_MOBILE_PUSH_ALLOWED_HOSTS: '127.0.0.1' });
const serviceAccount = JSON.parse(fcm.serviceAccount) as { project_id: string; client_email: string; private_key: string; token_uri: string };
const fcmCredentials = { projectId: serviceAccount.project_id, clientEmail: serviceAccount.client_email, tokenUri: serviceAccount.token_uri, baseUrl: fcm.baseUrl, privateKey: serviceAccount.private_key };
await clients.apns.ready(apns);
await clients.fcm.ready(fcmCredentials);
const body = JSON.stringify({ aps: { alert: { title: 'Hi Ada', body: mobilePush.body }, badge: 1, sound: 'default' }, screen: 'sale' });
const naiveCpuBefore = cpuByRole(roleOf);
const naiveStarted = performance.now();
let naiveSent = 0;
for (let index = 0; index < sample; index++) {
  const token = Buffer.from(String(index).padStart(32, '0')).toString('hex').slice(0, 64);
  const outcome =
    index % 2 === 0
      ? await clients.apns.send(apns, { deviceToken: token, body, id: crypto.randomUUID(), expiration: 0, collapseId: 'bench' })
      : await clients.fcm.send(fcmCredentials, JSON.stringify({ message: { token: `fcm:${token}`, notification: { title: 'Hi Ada', body: mobilePush.body }, data: { screen: 'sale' } } }));
  if (outcome.kind === 'sent') naiveSent++;
}
const naiveMs = performance.now() - naiveStarted;
const naiveCpu = cpuReport(naiveCpuBefore, cpuByRole(roleOf), sample, naiveMs);
clients.close();
const naive = perSecond(sample, naiveMs);
console.log(`naive awaited loop: ${sample.toLocaleString()} pushes (${naiveSent} accepted) in ${(naiveMs / 1000).toFixed(2)} s = ${naive.toLocaleString()} messages/s (load average ${load()})`);
console.log(`  CPU during the naive loop (its client is the driver): ${naiveCpu.text}`);
// What CPU alone allows: Herald is one Node process (one core at most); the quiet 2-core target
// also shares the machine with PostgreSQL (and, in this bench, the kits).
const heraldMs = sendCpu.perMessage.get('Herald') ?? 0;
const serverMs = heraldMs + (sendCpu.perMessage.get('PostgreSQL') ?? 0);
console.log(
  `Herald CPU per message ${heraldMs.toFixed(3)} ms (naive loop's client ${(naiveCpu.perMessage.get('driver') ?? 0).toFixed(3)} ms): ` +
    `its CPU allows ${Math.round(1000 / heraldMs).toLocaleString()} messages/s on one core; Herald + PostgreSQL ${serverMs.toFixed(3)} ms → ${Math.round(2000 / serverMs).toLocaleString()}/s on two quiet cores`,
);

const ratio = herald / naive;
const checked = ledger[0].sent === total && ledger[0].rows === total && after.apns + after.fcm === total && after.apnsConnections === 1 && after.fcmConnections === 1;
console.log(`throughput ≥ 3,000 messages/s: ${passFail(herald >= 3000)} (${herald.toLocaleString()})`);
console.log(`≥ 5× the naive loop: ${passFail(ratio >= 5)} (${ratio.toFixed(1)}×, both measured in this run)`);
console.log(`every device got exactly one push over one connection per provider: ${passFail(checked)}`);
kits.kill('SIGTERM');
process.exit(checked ? 0 : 1);
