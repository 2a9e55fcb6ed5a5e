/**
 * Live analytics. (1) Beacon → dashboard latency: one graphql-ws `campaignStats` subscriber while
 * beacons (`POST /track`, CLICKED) arrive one at a time, 150 ms apart; time from each beacon to the
 * first snapshot that counts it; p50 and p99 (target p50 < 50 ms; updates are coalesced to one per
 * 100 ms by design). (2) 1,000 graphql-ws subscribers on one Herald during a send: all must see
 * the final count; Herald's peak RSS. Herald runs in its own process; the push sink in another.
 *   npx tsx bench/live-stats.ts [messages=100000] [subscribers=1000] [beacons=200]
 */
import { randomBytes } from 'node:crypto';
import { createClient } from 'graphql-ws';
import pg from 'pg';
import WebSocket from 'ws';
import { createSecrets } from '../src/secrets.ts';
import { signToken } from '../src/delivery/tokens.ts';
import { seedBrowsers, spawnBenchHerald, startPushSink } from './kit.ts';

const messages = Number(process.argv[2] ?? 100_000);
const subscribers = Number(process.argv[3] ?? 1_000);
const beacons = Number(process.argv[4] ?? 200);
const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((values.length * p) / 100))]!;

const { sink, origin, caFile } = await startPushSink();
// Our own key, so beacons can be signed with the workspace's (sealed) tracking secret read from the database.
const secretKey = randomBytes(32);
const bench = await spawnBenchHerald({
  HERALD_SECRET_KEY: secretKey.toString('base64'),
  HERALD_PUSH_CA: caFile,
  HERALD_PUBLIC_RATE_LIMIT: '1000000',
  // The dashboards all come from this machine with one key: lift the per-address and per-key caps.
  HERALD_MAX_SOCKETS_PER_ADDRESS: '100000',
  HERALD_MAX_SOCKETS_PER_KEY: '100000',
  HERALD_MAX_SUBSCRIPTIONS_PER_ADDRESS: '100000',
  HERALD_MAX_SUBSCRIPTIONS_PER_KEY: '100000',
  NODE_OPTIONS: '--max-old-space-size=256 --max-semi-space-size=8',
});
const db = new pg.Client({ connectionString: bench.databaseUrl });
await db.connect();

await seedBrowsers(db, bench.workspaceId, messages, origin);
console.log(`seeded ${messages.toLocaleString()} contacts with a browser each`);

const createCampaign = async (name: string) =>
  (
    await bench.secret('mutation($input: CampaignInput!) { createCampaign(input: $input) { ... on MutationCreateCampaignSuccess { data { id } } } }', {
      input: { name, kind: 'BROADCAST', content: { title: 'Hi', url: 'https://shop.example/' } },
    })
  ).createCampaign.data.id as string;
const sendAndWait = async (id: string) => {
  await bench.secret('mutation($id: ID!) { sendCampaignNow(input: { id: $id }) { __typename } }', { id });
  for (;;) {
    const { campaign } = await bench.secret('query($id: ID!) { campaign(id: $id) { status } }', { id });
    if (campaign.status === 'SENT') return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
};
const client = () => createClient({ url: `${bench.url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${bench.secretKey}` }, retryAttempts: 0 });
const STATS = 'subscription($id: ID!) { campaignStats(campaignId: $id) { sent clicked } }';

// (2) Many dashboards during a send.
const many = await createCampaign('Many dashboards');
const clients = Array.from({ length: subscribers }, client);
const finals = new Array<number>(subscribers).fill(0);
let firstSeen = 0;
let lastUpdateAt = 0;
const ready = new Promise<void>((resolve) => {
  clients.forEach((each, index) => {
    let seen = false;
    each.subscribe<{ campaignStats: { sent: number } }>({ query: STATS, variables: { id: many } }, {
      next: ({ data }) => {
        finals[index] = data!.campaignStats.sent;
        lastUpdateAt = performance.now();
        if (!seen && (seen = true) && ++firstSeen === subscribers) resolve();
      },
      error: (error) => console.error('subscriber error', error),
      complete: () => {},
    });
  });
});
await ready;
console.log(`${subscribers.toLocaleString()} subscribers have their first snapshot; sending ${messages.toLocaleString()} messages`);
let peakRss = bench.rssMb();
const sampler = setInterval(() => (peakRss = Math.max(peakRss, bench.rssMb())), 100);
const sendStarted = performance.now();
await sendAndWait(many);
const sentAt = performance.now();
const deadline = sentAt + 10_000;
while (finals.some((sent) => sent !== messages) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
clearInterval(sampler);
const complete = finals.filter((sent) => sent === messages).length;
console.log(`send took ${((sentAt - sendStarted) / 1000).toFixed(1)} s; ${complete.toLocaleString()} / ${subscribers.toLocaleString()} subscribers saw sent = ${messages.toLocaleString()}, the last update ${Math.max(0, Math.round(lastUpdateAt - sentAt))} ms after the campaign was SENT`);
await Promise.all(clients.map((each) => each.dispose()));

// (1) Beacon → subscriber latency on that campaign's messages.
const { rows: workspace } = await db.query<{ trackingSecret: string }>('SELECT "trackingSecret" FROM "Workspace" WHERE id = $1', [bench.workspaceId]);
const trackingSecret = createSecrets(secretKey).open(workspace[0]!.trackingSecret);
const campaignId = Buffer.from(many, 'base64').toString().split(':')[1]!;
const { rows: sentRows } = await db.query<{ id: string }>(`SELECT id::text FROM "Message" WHERE "campaignId" = $1 AND status = 'SENT' LIMIT $2`, [campaignId, beacons]);
const tokens = sentRows.map((row) => signToken(row.id, trackingSecret));
const dashboard = client();
let clicked = 0;
let waiting: { target: number; resolve: () => void } | undefined;
const subscribed = new Promise<void>((resolve) =>
  dashboard.subscribe<{ campaignStats: { clicked: number } }>({ query: STATS, variables: { id: many } }, {
    next: ({ data }) => {
      clicked = data!.campaignStats.clicked;
      resolve();
      if (waiting && clicked >= waiting.target) waiting.resolve();
    },
    error: (error) => console.error(error),
    complete: () => {},
  }),
);
await subscribed;
const latencies: number[] = [];
for (const token of tokens) {
  const target = clicked + 1;
  const started = performance.now();
  const seen = new Promise<void>((resolve) => (waiting = { target, resolve }));
  const response = await fetch(`${bench.url}/track`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ token, type: 'CLICKED' }) });
  if (response.status !== 204) throw new Error(`beacon answered ${response.status}`);
  await seen;
  latencies.push(performance.now() - started);
  await new Promise((resolve) => setTimeout(resolve, 150));
}
await dashboard.dispose();
console.log(`beacon → subscriber, ${latencies.length} beacons: p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms (target p50 < 50 ms)`);
console.log(`Herald's peak RSS during the send with ${subscribers.toLocaleString()} subscribers: ${Math.round(peakRss)} MB`);

await db.end();
await bench.stop();
sink.kill('SIGTERM');
process.exit(0);
