/**
 * Triggered campaigns (issue #6). Herald and the push sink (`--arrivals`: it notes when each push
 * arrives) run in processes of their own.
 * (1) Trigger latency: `trackEvent` calls, one after another, each for a new contact, matching one
 *     ACTIVE campaign with no delay; time from the call to the push arriving at the sink; p50 and
 *     p99 (targets p50 < 50 ms, p99 < 250 ms).
 * (2) Ingestion: `trackEvents` batches of 100 from 8 concurrent clients, first with no triggered
 *     campaign (the baseline, same run), then with 20 ACTIVE ones listening to the event (each
 *     with its own property filter; a one-hour delay, so what is measured is ingestion and
 *     entry, not sending). Target ≥ 3,000 events/s with the 20. Also single `trackEvent` calls
 *     from 16 concurrent clients with the 20 active.
 *   npx tsx bench/triggers.ts [latencyCalls=1000] [events=60000]
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import pg from 'pg';
import { perSecond, seedBrowsers, spawnBenchHerald, startPushSink } from './kit.ts';

const calls = Number(process.argv[2] ?? 1_000);
const totalEvents = Number(process.argv[3] ?? 60_000);
const CONTACTS = 20_000;
const now = () => performance.timeOrigin + performance.now();
const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((values.length * p) / 100))]!;
const passFail = (pass: boolean) => (pass ? 'PASS' : 'FAIL');

const { sink, origin, caFile } = await startPushSink({ arrivals: true });
const ca = readFileSync(caFile);
const sinkGet = (path: string) =>
  new Promise<unknown>((resolve, reject) =>
    https
      .get(`${origin}${path}`, { ca, agent: false }, (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve(JSON.parse(text)));
      })
      .on('error', reject),
  );

const bench = await spawnBenchHerald({ HERALD_PUSH_CA: caFile, NODE_OPTIONS: '--max-old-space-size=256 --max-semi-space-size=8' });
const db = new pg.Client({ connectionString: bench.databaseUrl });
await db.connect();
await seedBrowsers(db, bench.workspaceId, CONTACTS, origin);
console.log(`seeded ${CONTACTS.toLocaleString()} contacts with a browser each; Herald at ${bench.url}`);

const triggered = async (name: string, trigger: Record<string, unknown>) => {
  const created = await bench.secret('mutation($input: CampaignInput!) { createCampaign(input: $input) { ... on MutationCreateCampaignSuccess { data { id } } ... on Error { message } } }', {
    input: { name, kind: 'TRIGGERED', content: { title: 'Hi {{ contact.firstName }}', body: '{{ event.name }}', url: 'https://shop.example/' }, trigger },
  });
  const id = created.createCampaign.data.id as string;
  await bench.secret('mutation($id: ID!) { activateCampaign(input: { id: $id }) { __typename } }', { id });
  return id;
};
const TRACK = 'mutation($input: EventInput!) { trackEvent(input: $input) { __typename ... on Error { message } } }';
const TRACK_MANY = 'mutation($events: [EventInput!]!) { trackEvents(input: { events: $events }) { __typename ... on MutationTrackEventsSuccess { data { count } } ... on Error { message } } }';

// (1) Trigger latency.
await triggered('Welcome', { event: 'signup' });
const warmup = 20;
const started = new Map<string, number>();
const answered: number[] = [];
for (let n = 1; n <= calls + warmup; n++) {
  const visitor = `visitor-${n}`;
  const at = now();
  started.set(visitor, at);
  const result = await bench.secret(TRACK, { input: { anonymousId: visitor, name: 'signup' } });
  if (result.trackEvent.__typename !== 'MutationTrackEventSuccess') throw new Error(JSON.stringify(result));
  if (n > warmup) answered.push(now() - at);
}
let arrivals: Record<string, number[]> = {};
for (let waited = 0; Object.keys(arrivals).length < calls + warmup; waited += 200) {
  if (waited > 30_000) throw new Error(`only ${Object.keys(arrivals).length} of ${calls + warmup} pushes arrived`);
  await new Promise((resolve) => setTimeout(resolve, 200));
  arrivals = (await sinkGet('/arrivals')) as Record<string, number[]>;
}
const latencies = [...started].slice(warmup).map(([visitor, at]) => arrivals[visitor]![0]! - at);
const twice = Object.values(arrivals).filter((times) => times.length > 1).length;
const p50 = percentile(latencies, 50);
const p99 = percentile(latencies, 99);
console.log(`trigger latency, trackEvent → push at the sink, ${calls} calls: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms; received twice: ${twice}`);
console.log(`  p50 < 50 ms: ${passFail(p50 < 50)}; p99 < 250 ms: ${passFail(p99 < 250)} (the trackEvent call itself: p50 ${percentile(answered, 50).toFixed(1)} ms, p99 ${percentile(answered, 99).toFixed(1)} ms)`);

// (2) Ingestion.
const CATEGORIES = 40;
const randomEvent = () => {
  const visitor = `visitor-${1 + Math.floor(Math.random() * CONTACTS)}`;
  const viewed = Math.random() < 0.8;
  return viewed
    ? { anonymousId: visitor, name: 'product_viewed', properties: { category: `cat-${Math.floor(Math.random() * CATEGORIES)}`, price: Math.round(Math.random() * 200) } }
    : { anonymousId: visitor, name: 'page_viewed', properties: { path: '/home' } };
};
async function ingest(events: number, batch: number, clients: number): Promise<number> {
  let left = events;
  const began = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (left > 0) {
        const size = Math.min(batch, left);
        left -= size;
        const result =
          batch === 1
            ? await bench.secret(TRACK, { input: randomEvent() })
            : await bench.secret(TRACK_MANY, { events: Array.from({ length: size }, randomEvent) });
        const typename = batch === 1 ? result.trackEvent.__typename : result.trackEvents.__typename;
        if (!typename.endsWith('Success')) throw new Error(JSON.stringify(result));
      }
    }),
  );
  return perSecond(events, performance.now() - began);
}
const rows = async () => Number((await db.query(`SELECT count(*) FROM "Message" WHERE occurrence LIKE 'event:%'`)).rows[0].count);

await ingest(2_000, 100, 8); // warm-up
const baseline = await ingest(totalEvents, 100, 8);
console.log(`ingestion, batches of 100 from 8 clients, no triggered campaign listening: ${baseline.toLocaleString()} events/s`);
for (let i = 0; i < 20; i++) {
  await triggered(`Category ${i}`, { event: 'product_viewed', where: [{ path: 'category', op: 'EQ', value: `cat-${i}` }], delaySeconds: 3600, reEligibleAfterSeconds: 0 });
}
const before = await rows();
const withTriggers = await ingest(totalEvents, 100, 8);
const entered = (await rows()) - before;
console.log(`ingestion with 20 ACTIVE triggered campaigns: ${withTriggers.toLocaleString()} events/s (${(withTriggers / baseline).toFixed(2)}× the baseline), ${entered.toLocaleString()} messages queued`);
console.log(`  ≥ 3,000 events/s: ${passFail(withTriggers >= 3_000)}`);
const singles = await ingest(Math.min(totalEvents, 10_000), 1, 16);
console.log(`single trackEvent calls from 16 clients, 20 campaigns active: ${singles.toLocaleString()} events/s`);
console.log(`Herald RSS now: ${Math.round(bench.rssMb())} MB`);

await db.end();
await bench.stop();
sink.kill('SIGTERM');
