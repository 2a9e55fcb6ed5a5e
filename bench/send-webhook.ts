/**
 * A webhook broadcast end to end (issue 19): `sendCampaignNow` until the campaign is SENT, for
 * 20,000 contacts (seeded in SQL) and a personalised JSON body, to the kit's HTTPS receiver in a
 * process of its own (test/kit/webhook-receiver-process.ts: it verifies every Standard Webhooks
 * signature and counts webhook-ids). Herald runs as `npm start` runs it (dist/main.mjs).
 * Checked, not only timed: the ledger is N rows SENT, and the receiver accepted exactly N requests
 * with N distinct webhook-ids, none unverified; exit code 1 otherwise.
 * Baseline, same run, same receiver, after Herald has stopped: the naive loop — per contact render
 * the body with liquidjs, sign it with standardwebhooks and `await` one https request (Node's
 * global keep-alive agent), on a sample.
 * The receiver answers each request `latencyMs` late (default 20: a customer's endpoint is across
 * the internet, not on loopback), Herald and the loop alike, as the SMS and mobile push benches do;
 * `0` measures the loopback case (there the loop's only wait is the receiver's CPU: 2.2× on
 * 2026-12-02).
 * Targets (issue 19): ≥ 2,000 webhooks/s and ≥ 5× the naive loop.
 *   npx tsx bench/send-webhook.ts [recipients=20000] [baselineSample=500] [latencyMs=20]
 *   (BENCH_PG_STATEMENTS=1 prints PostgreSQL's top statements of the send)
 */
import https from 'node:https';
import { loadavg } from 'node:os';
import { readFileSync } from 'node:fs';
import { Liquid } from 'liquidjs';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { spawnWebhookReceiver } from '../test/kit/webhook-receiver.ts';
import { perSecond, spawnBenchHerald, topStatements } from './kit.ts';

const total = Number(process.argv[2] ?? 20_000);
const sample = Math.min(total, Number(process.argv[3] ?? 500));
const latencyMs = Number(process.argv[4] ?? 20);
const load = () => loadavg().map((value) => value.toFixed(2)).join(' ');
const BODY = '{"event": "newsletter", "contact": {"id": "{{ contact.externalId }}", "name": "{{ contact.firstName }}", "plan": "{{ contact.plan }}"}, "points": {{ contact.points | json }}}';

const receiver = await spawnWebhookReceiver();
process.once('exit', () => receiver.child.kill('SIGTERM')); // also when the bench fails half-way
await receiver.delay(latencyMs);
console.log(`receiver at ${receiver.origin} (pid ${receiver.child.pid}), answering ${latencyMs} ms late; load average ${load()}`);
const bench = await spawnBenchHerald({ HERALD_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', HERALD_WEBHOOK_CA: receiver.caFile });
const { viewer } = await bench.secret('{ viewer { webhookSigningSecret } }');
const signingSecret = viewer.webhookSigningSecret as string;
await receiver.trust(signingSecret);

const db = new pg.Client({ connectionString: bench.databaseUrl });
await db.connect();
await db.query(
  `INSERT INTO "Contact" (id, "workspaceId", "externalId", "firstName", identified, attributes, "updatedAt")
   SELECT gen_random_uuid(), $1::uuid, 'reader-' || i, (ARRAY['Ada', 'Jonas', 'Maren', 'Lukas', 'Sofia', 'Emil', 'Lena', 'Felix'])[1 + i % 8], true,
     jsonb_build_object('plan', (ARRAY['gold', 'silver', 'basic'])[1 + i % 3], 'points', (i * 37) % 1000), now()
   FROM generate_series(1, $2::int) i`,
  [bench.workspaceId, total],
);
await db.query('ANALYZE "Contact"');
console.log(`seeded ${total.toLocaleString()} contacts`);

const created = await bench.secret(
  `mutation($input: CampaignInput!) { createCampaign(input: $input) { __typename ... on MutationCreateCampaignSuccess { data { id } } ... on Error { message } } }`,
  { input: { name: 'Bench hooks', kind: 'BROADCAST', channel: 'WEBHOOK', webhook: { url: `${receiver.origin}/bench`, body: BODY } } },
);
if (created.createCampaign.__typename !== 'MutationCreateCampaignSuccess') throw new Error(JSON.stringify(created.createCampaign));
const campaignId = created.createCampaign.data.id as string;

await topStatements(db); // with BENCH_PG_STATEMENTS=1: counts from here
const loadBefore = load();
const started = performance.now();
await bench.secret('mutation($id: ID!) { sendCampaignNow(input: { id: $id }) { __typename } }', { id: campaignId });
for (;;) {
  const { campaign } = await bench.secret('query($id: ID!) { campaign(id: $id) { status } }', { id: campaignId });
  if (campaign.status === 'SENT') break;
  await new Promise((resolve) => setTimeout(resolve, 50));
}
const heraldMs = performance.now() - started;
const loadAfter = load();
const counts = await receiver.counts();
const statements = await topStatements(db, 6);
const { rows } = await db.query<{ status: string; count: number }>(`SELECT status, count(*)::int AS count FROM "Message" GROUP BY status`);
await db.end();
if (statements) console.log(`PostgreSQL's statements during the send:\n${statements}`);
const sent = rows.find((row) => row.status === 'SENT')?.count ?? 0;
const warnings = bench.warnings();
await bench.stop();

// The naive loop, same receiver: render, sign, await each request.
await receiver.clear();
const liquid = new Liquid();
const template = liquid.parse(BODY);
const signer = new Webhook(signingSecret);
const agent = new https.Agent({ keepAlive: true, ca: readFileSync(receiver.caFile, 'utf8') });
const naiveStarted = performance.now();
for (let i = 1; i <= sample; i++) {
  const body = liquid.renderSync(template, { contact: { externalId: `reader-${i}`, firstName: 'Ada', plan: 'gold', points: (i * 37) % 1000 } }) as string;
  const id = `naive-${i}`;
  const headers = { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'webhook-signature': signer.sign(id, new Date(), body) };
  await new Promise<void>((resolve, reject) => {
    const req = https.request(`${receiver.origin}/naive`, { method: 'POST', agent, headers }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`naive loop: receiver answered ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}
const naiveMs = performance.now() - naiveStarted;
agent.destroy();
const naiveCounts = await receiver.counts();
await receiver.stop();

const heraldRate = perSecond(total, heraldMs);
const naiveRate = perSecond(sample, naiveMs);
const correct = sent === total && counts.accepted === total && counts.unique === total && counts.unverified === 0 && naiveCounts.accepted === sample;
console.log(`Herald:     ${total.toLocaleString()} webhooks in ${(heraldMs / 1000).toFixed(1)} s = ${heraldRate.toLocaleString()} webhooks/s (load average before ${loadBefore}, after ${loadAfter})`);
console.log(`            ledger SENT ${sent}; receiver accepted ${counts.accepted}, distinct webhook-ids ${counts.unique}, unverified ${counts.unverified}, requests ${counts.requests}`);
console.log(`naive loop: ${sample.toLocaleString()} webhooks in ${(naiveMs / 1000).toFixed(1)} s = ${naiveRate.toLocaleString()} webhooks/s (load average ${load()})`);
console.log(`ratio: ${(heraldRate / naiveRate).toFixed(1)}x  | targets: ≥ 2,000/s ${heraldRate >= 2000 ? 'PASS' : 'FAIL'}, ≥ 5x ${heraldRate >= 5 * naiveRate ? 'PASS' : 'FAIL'}, correct ${correct ? 'PASS' : 'FAIL'}`);
if (warnings.length) console.log(`Herald's warnings and errors:\n${warnings.slice(0, 20).join('\n')}`);
process.exit(correct ? 0 : 1);
