/**
 * A MOBILE_PUSH broadcast end to end (issue #25): `sendCampaignNow` until every ledger row is SENT,
 * for 20,000 devices, half iPhones (APNs) and half Android phones (FCM), seeded in SQL, against the
 * kit's APNs and FCM in a process of their own (test/kit/mobile-push-process.ts: real HTTP/2 over
 * TLS, provider and access tokens verified). Herald runs in this process on an embedded PostgreSQL.
 * Checked, not only timed: every row SENT after one attempt, the kits accepted exactly N pushes,
 * and each provider saw one HTTP/2 connection.
 * Baseline, same run, same kits: the naive loop, one `await`ed push after another with Herald's own
 * APNs and FCM clients (cached tokens, the same connection: only the waiting differs), on a sample.
 * Targets: ≥ 3,000 messages/s and ≥ 5× the naive loop. The load average is printed beside the figures.
 *   npx tsx bench/send-mobile.ts [devices=20000] [baselineSample=2000]
 */
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { MobilePushClients } from '../src/delivery/mobile-push/clients.ts';
import { benchHerald, perSecond } from './kit.ts';

const total = Number(process.argv[2] ?? 20_000);
const sample = Math.min(total, Number(process.argv[3] ?? 2_000));
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
const counts = async () =>
  (await (await fetch(`http://127.0.0.1:${controlPort}/counts`)).json()) as { apns: number; fcm: number; apnsConnections: number; fcmConnections: number; refused: number };

const env = { HERALD_PUSH_CA: caFile, HERALD_MOBILE_PUSH_ALLOWED_HOSTS: '127.0.0.1' };
const bench = await benchHerald(env);
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

const started = performance.now();
await bench.secret('mutation($id: ID!) { sendCampaignNow(input: { id: $id }) { __typename } }', { id: campaignId });
for (;;) {
  const { rows } = await db.query(`SELECT status FROM "Campaign" WHERE id = $1`, [campaignUuid]);
  if (rows[0]?.status === 'SENT') break;
  await new Promise((resolve) => setTimeout(resolve, 50));
}
const sendMs = performance.now() - started;
const sendLoad = load();
const { rows: ledger } = await db.query(
  `SELECT count(*) FILTER (WHERE status = 'SENT' AND reason = 'ACCEPTED' AND attempts = 1)::int AS sent, count(*)::int AS rows FROM "Message" WHERE "campaignId" = $1`,
  [campaignUuid],
);
const after = await counts();
const herald = perSecond(total, sendMs);
console.log(`Herald: ${total.toLocaleString()} mobile pushes in ${(sendMs / 1000).toFixed(2)} s = ${herald.toLocaleString()} messages/s (load average ${sendLoad})`);
console.log(`  ledger: ${ledger[0].sent}/${ledger[0].rows} SENT after one attempt; kits accepted APNs ${after.apns} + FCM ${after.fcm}, refused ${after.refused}; HTTP/2 connections APNs ${after.apnsConnections}, FCM ${after.fcmConnections}`);
await db.end();
await bench.stop();

// The naive loop: Herald's own clients, one awaited push after another.
const clients = new MobilePushClients({ HERALD_PUSH_CA: caFile, HERALD_PUSH_TIMEOUT_MS: 10_000, HERALD_MOBILE_PUSH_ALLOWED_HOSTS: '127.0.0.1' });
const serviceAccount = JSON.parse(fcm.serviceAccount) as { project_id: string; client_email: string; private_key: string; token_uri: string };
const fcmCredentials = { projectId: serviceAccount.project_id, clientEmail: serviceAccount.client_email, tokenUri: serviceAccount.token_uri, baseUrl: fcm.baseUrl, privateKey: serviceAccount.private_key };
await clients.apns.ready(apns);
await clients.fcm.ready(fcmCredentials);
const body = JSON.stringify({ aps: { alert: { title: 'Hi Ada', body: mobilePush.body }, badge: 1, sound: 'default' }, screen: 'sale' });
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
clients.close();
const naive = perSecond(sample, naiveMs);
console.log(`naive awaited loop: ${sample.toLocaleString()} pushes (${naiveSent} accepted) in ${(naiveMs / 1000).toFixed(2)} s = ${naive.toLocaleString()} messages/s (load average ${load()})`);

const ratio = herald / naive;
const checked = ledger[0].sent === total && ledger[0].rows === total && after.apns + after.fcm === total && after.apnsConnections === 1 && after.fcmConnections === 1;
console.log(`throughput ≥ 3,000 messages/s: ${passFail(herald >= 3000)} (${herald.toLocaleString()})`);
console.log(`≥ 5× the naive loop: ${passFail(ratio >= 5)} (${ratio.toFixed(1)}×)`);
console.log(`every device got exactly one push over one connection per provider: ${passFail(checked)}`);
kits.kill('SIGTERM');
process.exit(checked ? 0 : 1);
