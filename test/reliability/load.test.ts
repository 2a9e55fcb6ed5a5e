/**
 * Mixed load on one instance (issue #9): events in batches, queries, mutations and live
 * subscriptions at once, for LOAD_SECONDS (10 in CI; the run: LOAD_SECONDS=60). Herald runs
 * as its own process, as in production, so the clients do not share its thread. No request may
 * fail; latencies (p50/p99 per kind) and the event rate are printed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaign } from '../kit/campaigns.ts';
import { wsClient } from '../kit/client.ts';
import { createWorkspace } from '../kit/flow.ts';
import { dropDatabase, freshDatabase } from '../kit/herald.ts';
import { type HeraldProcess, spawnHerald } from '../kit/process.ts';
import { tally } from '../kit/tally.ts';

const SECONDS = Number(process.env.LOAD_SECONDS ?? 10);
/** Events per trackEvents call, as an integration or a server-side SDK batches them. */
const BATCH = Number(process.env.LOAD_BATCH ?? 100);
/** Events offered per second (the figure); the clients send faster only to catch up. */
const RATE = Number(process.env.LOAD_EVENTS_PER_S ?? 5_000);

let herald: HeraldProcess;
let databaseUrl: string;
let dataDir: string;
let kit: { graphqlUrl: string; wsUrl: string; adminToken: string };
let shop: Awaited<ReturnType<typeof createWorkspace>>;

beforeAll(async () => {
  databaseUrl = await freshDatabase();
  dataDir = await mkdtemp(path.join(tmpdir(), 'herald-load-'));
  herald = await spawnHerald({ DATABASE_URL: databaseUrl, HERALD_DATA_DIR: dataDir, LOG_LEVEL: 'warn' });
  kit = { graphqlUrl: herald.graphqlUrl, wsUrl: `${herald.url.replace(/^http/, 'ws')}/graphql`, adminToken: herald.adminToken };
  shop = await createWorkspace(kit);
});
afterAll(async () => {
  await herald?.stop();
  if (databaseUrl) await dropDatabase(databaseUrl);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** What dashboards watch: the campaign's live figures and the workspace's. */
const LIVE = ['subscription($id: ID!) { campaignStats(campaignId: $id) { sent } }', 'subscription { workspaceStats { updatedAt } }'];

const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((values.length * p) / 100))] ?? 0;

describe(`${SECONDS} s of mixed traffic`, () => {
  it('serves every request and every subscriber', async () => {
    const campaignId = await createCampaign(shop.secret, { name: 'Load', kind: 'BROADCAST', content: { title: 'Hi', url: 'https://shop.example/' } });
    const latencies: Record<string, number[]> = { events: [], queries: [], mutations: [] };
    const failures: string[] = [];
    let events = 0;
    const deadline = Date.now() + SECONDS * 1000;
    const call = async (kind: string, query: string, variables: unknown) => {
      const at = performance.now();
      const response = await fetch(kit.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${shop.secretKey}` },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await response.json()) as { data?: Record<string, { __typename?: string } | null>; errors?: unknown[] };
      latencies[kind]!.push(performance.now() - at);
      const result = body.data && Object.values(body.data)[0];
      if (response.status !== 200 || body.errors || (result?.__typename && !result.__typename.endsWith('Success') && !result.__typename.startsWith('Campaign'))) {
        failures.push(`${kind}: ${response.status} ${JSON.stringify(body).slice(0, 200)}`);
      }
    };
    const loop = (work: () => Promise<void>) => (async () => {
      while (Date.now() < deadline) await work();
    })();

    // Dashboards: 20 live subscribers for the whole run.
    const dashboards = Array.from({ length: 20 }, () => wsClient(kit.wsUrl, shop.secretKey));
    const updates = new Array<number>(dashboards.length).fill(0);
    const stops = dashboards.map((client, index) =>
      client.subscribe({ query: LIVE[index % 2]!, variables: { id: campaignId } }, {
        next: () => void updates[index]!++,
        error: (error) => failures.push(`subscription: ${JSON.stringify(error).slice(0, 200)}`),
        complete: () => {},
      }),
    );

    let n = 0;
    let slot = performance.now(); // when the next batch is due, shared by the event clients
    await Promise.all([
      ...Array.from({ length: 4 }, () =>
        loop(async () => {
          const wait = slot - performance.now();
          slot += (BATCH * 1000) / RATE;
          if (wait > 0) await sleep(wait);
          if (Date.now() >= deadline) return;
          const batch = Array.from({ length: BATCH }, () => ({ anonymousId: `visitor-${n++ % 5_000}`, name: 'page_viewed', properties: { path: '/home' } }));
          await call('events', 'mutation($events: [EventInput!]!) { trackEvents(input: { events: $events }) { __typename } }', { events: batch });
          events += batch.length;
        }),
      ),
      ...Array.from({ length: 3 }, () =>
        loop(() => call('queries', 'query($id: ID!) { campaign(id: $id) { __typename stats { sent } } contacts(first: 20) { totalCount edges { node { id } } } }', { id: campaignId })),
      ),
      ...Array.from({ length: 2 }, (_, worker) =>
        loop(() => call('mutations', 'mutation($input: ContactInput!) { upsertContact(input: $input) { __typename } }', { input: { externalId: `customer-${worker}-${n++ % 500}`, attributes: { plan: 'gold' } } })),
      ),
    ]);
    for (const stop of stops) stop();
    await Promise.all(dashboards.map((client) => client.dispose()));

    const report = Object.entries(latencies)
      .map(([kind, values]) => `${kind} ${values.length} calls p50 ${percentile(values, 50).toFixed(0)} ms p99 ${percentile(values, 99).toFixed(0)} ms`)
      .join('; ');
    console.log(`load ${SECONDS} s: ${RATE} events/s offered in batches of ${BATCH}, ${Math.round(events / SECONDS)} events/s stored; ${report}; ${updates.filter((count) => count > 0).length}/20 dashboards updated`);
    expect(failures).toEqual([]);
    expect(updates.every((count) => count > 0)).toBe(true);
    expect(Object.values(latencies).every((values) => values.length > 0)).toBe(true);
    tally({ check: `mixed load, ${SECONDS} s`, trials: 1, inputs: Object.values(latencies).reduce((sum, values) => sum + values.length, 0) });
  }, SECONDS * 1000 + 60_000);
});
