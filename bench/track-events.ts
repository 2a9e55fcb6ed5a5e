/**
 * Ingests 500,000 events through `trackEvents` (10,000 per call, for 10,000 known contacts) on
 * embedded PostgreSQL. Baseline, same run and database: the same rows written by plain
 * INSERT … SELECT statements of 10,000, without contact lookup or idempotency. Target: ≥ 5,000 events/s.
 *   npx tsx bench/track-events.ts [total]
 */
import pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { benchHerald, perSecond } from './kit.ts';

const total = Number(process.argv[2] ?? 500_000);
const batch = 10_000;
const people = 10_000;
const bench = await benchHerald();

for (let offset = 0; offset < people; offset += batch) {
  const contacts = Array.from({ length: batch }, (_, i) => ({ externalId: `user-${offset + i}` }));
  await bench.secret('mutation($c: [ContactInput!]!) { importContacts(input: { contacts: $c }) { __typename } }', { c: contacts });
}

const names = ['page_view', 'product_viewed', 'added_to_cart', 'purchase'];
const event = (index: number) => ({
  externalId: `user-${index % people}`,
  name: names[index % names.length]!,
  properties: { sku: `SKU-${index % 500}`, value: (index % 300) + 0.99, url: `https://shop.example/p/${index % 500}` },
  occurredAt: new Date(Date.now() - (index % 86_400) * 1000).toISOString(),
  idempotencyKey: `evt-${index}`,
});

const started = performance.now();
for (let offset = 0; offset < total; offset += batch) {
  const events = Array.from({ length: Math.min(batch, total - offset) }, (_, i) => event(offset + i));
  const { trackEvents } = await bench.secret(
    'mutation($events: [EventInput!]!) { trackEvents(input: { events: $events }) { ... on MutationTrackEventsSuccess { data { count duplicates } } ... on ValidationError { message } } }',
    { events },
  );
  if (trackEvents.data?.count !== events.length) throw new Error(JSON.stringify(trackEvents));
  const done = offset + events.length;
  if (done % 50_000 === 0 || done === total) {
    console.log(`  tracked ${done.toLocaleString()} / ${total.toLocaleString()} (${perSecond(done, performance.now() - started).toLocaleString()} events/s)`);
  }
}
const heraldMs = performance.now() - started;

const client = new pg.Client({ connectionString: bench.databaseUrl });
await client.connect();
const { rows: contacts } = await client.query<{ id: string }>('SELECT id FROM "Contact" ORDER BY id LIMIT $1', [people]);
const baselineStarted = performance.now();
for (let offset = 0; offset < total; offset += batch) {
  const rows = Array.from({ length: Math.min(batch, total - offset) }, (_, i) => {
    const { name, properties, occurredAt } = event(offset + i);
    return { id: uuidv7(), contactId: contacts[(offset + i) % people]!.id, name, properties, occurredAt };
  });
  await client.query(
    `INSERT INTO "Event" (id, "workspaceId", "contactId", name, properties, "occurredAt")
     SELECT r.id, $1::uuid, r."contactId", r.name, r.properties, r."occurredAt"
     FROM jsonb_to_recordset($2::jsonb) AS r(id uuid, "contactId" uuid, name text, properties jsonb, "occurredAt" timestamptz)`,
    [bench.workspaceId, JSON.stringify(rows)],
  );
}
const baselineMs = performance.now() - baselineStarted;
await client.end();
await bench.stop();

const herald = perSecond(total, heraldMs);
const baseline = perSecond(total, baselineMs);
console.log(`trackEvents: ${total.toLocaleString()} events in ${(heraldMs / 1000).toFixed(1)} s = ${herald.toLocaleString()} events/s (target ≥ 5,000)`);
console.log(`baseline (plain INSERT … SELECT of the same rows): ${baseline.toLocaleString()} events/s; Herald reaches ${((herald / baseline) * 100).toFixed(0)}% of it`);
