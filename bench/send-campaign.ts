/**
 * A broadcast end to end: `sendCampaignNow` until the last ledger row is SENT, for 100,000
 * subscribed browsers (seeded in SQL, real P-256 keys) against bench/push-sink.ts in a separate
 * process, Herald itself in a process of its own (its memory read from /proc). Baseline, same run, same sink: the naive loop, `await webpush.sendNotification(…)` per
 * subscription with web-push's defaults, on a sample. Targets on a 2-core machine: ≥ 2,500
 * messages/s, ≥ 3× the baseline, Herald's resident memory < 300 MB whatever the audience size.
 *   npx tsx bench/send-campaign.ts [subscriptions=100000] [baselineSample=5000]
 */
import { spawn } from 'node:child_process';
import { createECDH, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { createInterface } from 'node:readline';
import pg from 'pg';
import webpush from 'web-push';
import { perSecond, spawnBenchHerald } from './kit.ts';

const total = Number(process.argv[2] ?? 100_000);
const sample = Math.min(total, Number(process.argv[3] ?? 5_000));
const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);

// The sink runs in its own process, as a push service would.
const sink = spawn(process.execPath, ['--import', 'tsx', 'bench/push-sink.ts'], { stdio: ['ignore', 'pipe', 'inherit'] });
const [line] = await createInterface({ input: sink.stdout! })[Symbol.asyncIterator]().next().then((next) => [next.value as string]);
const { origin, caFile } = JSON.parse(line!) as { origin: string; caFile: string };
const sinkStats = async () => {
  const body = await new Promise<string>((resolve, reject) =>
    https.get(`${origin}/stats`, { ca: readFileSync(caFile) }, (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve(text));
    }).on('error', reject),
  );
  return JSON.parse(body) as { received: number; bytes: number };
};

console.log(`push sink at ${origin}`);
const bench = await spawnBenchHerald({ HERALD_PUSH_CA: caFile, ...(process.env.HERALD_NODE_OPTIONS ? { NODE_OPTIONS: process.env.HERALD_NODE_OPTIONS } : {}), ...(process.env.HERALD_PUSH_CONCURRENCY ? { HERALD_PUSH_CONCURRENCY: process.env.HERALD_PUSH_CONCURRENCY } : {}) });
const db = new pg.Client({ connectionString: bench.databaseUrl });
await db.connect();

// Sixty-four real key pairs, reused round-robin: the sender's key is new for every message anyway.
const keys = Array.from({ length: 64 }, () => {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') };
});
const seeded = performance.now();
await db.query(
  `WITH k AS (SELECT ordinality - 1 AS n, value->>'p256dh' AS p256dh, value->>'auth' AS auth FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY),
   c AS (INSERT INTO "Contact" (id, "workspaceId", "anonymousId", "firstName", "updatedAt")
         SELECT gen_random_uuid(), $1::uuid, 'visitor-' || i, 'Ada', now() FROM generate_series(1, $2::int) i RETURNING id, "anonymousId")
   INSERT INTO "PushSubscription" (id, "workspaceId", "contactId", endpoint, p256dh, auth, "updatedAt")
   SELECT gen_random_uuid(), $1::uuid, c.id, $4 || '/push/' || c."anonymousId", k.p256dh, k.auth, now()
   FROM c JOIN k ON k.n = (substring(c."anonymousId" from 9)::int % 64)`,
  [bench.workspaceId, total, JSON.stringify(keys), origin],
);
console.log(`seeded ${total.toLocaleString()} contacts with a browser each in ${((performance.now() - seeded) / 1000).toFixed(1)} s`);

const content = { title: 'Hi {{ contact.firstName }}', body: 'Our spring sale starts now: 20% off everything until Sunday.', url: 'https://shop.example/sale', imageUrl: 'https://cdn.example/sale.png' };
const created = await bench.secret(
  'mutation($input: CampaignInput!) { createCampaign(input: $input) { ... on MutationCreateCampaignSuccess { data { id } } ... on Error { message } } }',
  { input: { name: 'Bench', kind: 'BROADCAST', content } },
);
const campaignId = created.createCampaign.data.id as string;

const rssBefore = bench.rssMb();
let peakRss = rssBefore;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, bench.rssMb())), 100);
const started = performance.now();
await bench.secret('mutation($id: ID!) { sendCampaignNow(input: { id: $id }) { __typename } }', { id: campaignId });
let lastPrint = 0;
for (;;) {
  const { campaign } = await bench.secret('query($id: ID!) { campaign(id: $id) { status stats { sent failed queued } } }', { id: campaignId });
  const elapsed = performance.now() - started;
  if (campaign.status === 'SENT') break;
  if (elapsed - lastPrint >= 2000) {
    lastPrint = elapsed;
    console.log(`  sent ${campaign.stats.sent.toLocaleString()} / ${total.toLocaleString()} (${perSecond(campaign.stats.sent, elapsed).toLocaleString()} msg/s, Herald RSS ${Math.round(bench.rssMb())} MB)`);
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
}
const heraldMs = performance.now() - started;
clearInterval(sampler);
const { campaign } = await bench.secret('query($id: ID!) { campaign(id: $id) { stats { sent failed } } }', { id: campaignId });
const atSink = await sinkStats();
await db.end();
await bench.stop();

// The naive loop on the same sink and the same kind of payload.
const vapid = webpush.generateVAPIDKeys();
const payload = JSON.stringify({ ...content, title: 'Hi Ada', token: 'x'.repeat(45), trackUrl: 'http://127.0.0.1:4000/track', tag: 'x'.repeat(36), actions: [], requireInteraction: false });
const agent = new https.Agent({ ca: readFileSync(caFile) });
const baselineStarted = performance.now();
for (let index = 0; index < sample; index++) {
  const key = keys[index % keys.length]!;
  await webpush.sendNotification({ endpoint: `${origin}/push/baseline-${index}`, keys: key }, payload, {
    vapidDetails: { subject: 'mailto:bench@example.com', publicKey: vapid.publicKey, privateKey: vapid.privateKey },
    TTL: 3600,
    agent,
  });
}
const baselineMs = performance.now() - baselineStarted;
sink.kill('SIGTERM');

const herald = perSecond(total, heraldMs);
const baseline = perSecond(sample, baselineMs);
console.log(`Herald: ${total.toLocaleString()} messages in ${(heraldMs / 1000).toFixed(1)} s = ${herald.toLocaleString()} msg/s (target ≥ 2,500); ledger sent ${campaign.stats.sent.toLocaleString()}, failed ${campaign.stats.failed}; the sink received ${atSink.received.toLocaleString()}`);
console.log(`baseline (await webpush.sendNotification in a loop, web-push defaults, ${sample.toLocaleString()} messages): ${baseline.toLocaleString()} msg/s`);
console.log(`ratio: ${(herald / baseline).toFixed(1)}× (target ≥ 3×)`);
console.log(`Herald's peak RSS during the send: ${Math.round(peakRss)} MB (before: ${Math.round(rssBefore)} MB; target < 300 MB)`);
process.exit(0); // the sink's pipe and keep-alive sockets would keep the process up
