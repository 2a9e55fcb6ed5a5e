/**
 * Segment counts on a large audience: 1,000,000 contacts and 10,000,000 events (seeded in SQL by
 * ./seed-audience.ts), counted through the API (`previewSegment { count }`, which runs
 * `countContacts`) for five rules. Targets on a 2-core machine: attribute and tag < 300 ms,
 * behaviour, purchase sum and the nested rule (it contains both) < 1.5 s; median of 5 warm runs.
 * Baseline, same run and database: the naive alternative on a 100,000-contact slice: load the
 * contacts (and, for behaviour rules, all their events) into Node and filter there with the tests'
 * reference evaluator, against the compiled SQL restricted to the same slice (counts must agree).
 * For a rule over its target, prints EXPLAIN (ANALYZE, BUFFERS) of the exact SQL.
 *   npx tsx bench/segments.ts [contacts] [events]
 */
import pg from 'pg';
import { Prisma } from '../src/db/prisma.ts';
import type { Rule } from '../src/segments/rule.ts';
import { selectionSql } from '../src/segments/service.ts';
import { matches, type RefContact, type RefEvent } from '../test/segments/reference.ts';
import { benchHerald } from './kit.ts';
import { seedAudience } from './seed-audience.ts';

const contactsTotal = Number(process.argv[2] ?? 1_000_000);
const eventsTotal = Number(process.argv[3] ?? 10_000_000);
const sliceSize = Math.min(100_000, contactsTotal);
const warmRuns = 5;

const purchasedAtLeast100 = { aggregate: { event: 'purchase', property: 'value', fn: 'SUM', op: 'GTE', value: 100, withinDays: 30 } } satisfies Rule;
const cartedTwice = { event: { name: 'added_to_cart', withinDays: 30, count: { op: 'GTE', value: 2 } } } satisfies Rule;
const cases: Array<{ name: string; about: string; rule: Rule; targetMs: number; usesEvents: boolean }> = [
  {
    name: 'attribute',
    about: 'city = Berlin AND 25 ≤ age ≤ 34',
    rule: { and: [{ attribute: { path: 'city', op: 'EQ', value: 'Berlin' } }, { attribute: { path: 'age', op: 'GTE', value: 25 } }, { attribute: { path: 'age', op: 'LTE', value: 34 } }] },
    targetMs: 300,
    usesEvents: false,
  },
  { name: 'tag', about: "has tag 'vip'", rule: { tag: { has: 'vip' } }, targetMs: 300, usesEvents: false },
  { name: 'behaviour', about: 'added_to_cart ≥ 2 times in 30 days', rule: cartedTwice, targetMs: 1500, usesEvents: true },
  { name: 'purchase', about: 'SUM(purchase.value) ≥ 100 in 30 days', rule: purchasedAtLeast100, targetMs: 1500, usesEvents: true },
  {
    name: 'nested',
    about: "consented AND (country IN [DE, AT] OR interests ∋ 'shoes') AND carted ≥ 2 in 30 d AND NOT spent ≥ 100 in 30 d",
    rule: {
      and: [
        { tag: { has: 'consented' } },
        { or: [{ attribute: { path: 'address.country', op: 'IN', value: ['DE', 'AT'] } }, { attribute: { path: 'interests', op: 'CONTAINS', value: 'shoes' } }] },
        cartedTwice,
        { not: purchasedAtLeast100 },
      ],
    },
    targetMs: 1500,
    usesEvents: true,
  },
];

const ms = (value: number) => `${value < 10 ? value.toFixed(1) : Math.round(value).toLocaleString()} ms`;
const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
const mb = (bytes: number | string) => `${Math.round(Number(bytes) / 1024 / 1024).toLocaleString()} MB`;
const countSql = (where: Prisma.Sql) => Prisma.sql`SELECT count(*) AS count FROM "Contact" c WHERE ${where}`;

const bench = await benchHerald();
const db = new pg.Client({ connectionString: bench.databaseUrl });
try {
  await db.connect();
  console.log(`seeding ${contactsTotal.toLocaleString()} contacts and ${eventsTotal.toLocaleString()} events in SQL`);
  const seed = await seedAudience(bench.databaseUrl, bench.workspaceId, { contacts: contactsTotal, events: eventsTotal });
  console.log(
    `seed: ${(seed.totalMs / 1000).toFixed(1)} s (contacts ${(seed.contactsMs / 1000).toFixed(1)} s, events ${(seed.eventsMs / 1000).toFixed(1)} s = ` +
      `${Math.round(eventsTotal / (seed.eventsMs / 1000)).toLocaleString()} events/s, indexes ${(seed.indexesMs / 1000).toFixed(1)} s, vacuum+analyze ${(seed.vacuumMs / 1000).toFixed(1)} s)`,
  );
  const { rows: sizes } = await db.query<{ name: string; rows: string; heap: string; indexes: string }>(
    `SELECT relname AS name, reltuples::bigint AS rows, pg_table_size(oid) AS heap, pg_indexes_size(oid) AS indexes
     FROM pg_class WHERE relname IN ('Contact', 'Event', 'PushSubscription') AND relkind = 'r' ORDER BY relname`,
  );
  const { rows: [database] } = await db.query<{ size: string }>('SELECT pg_database_size(current_database()) AS size');
  console.log(`disk: database ${mb(database!.size)}; ${sizes.map((s) => `${s.name} ${Number(s.rows).toLocaleString()} rows, ${mb(s.heap)} + ${mb(s.indexes)} indexes`).join('; ')}`);
  const { rows: settings } = await db.query<{ name: string; setting: string }>(
    `SELECT name, current_setting(name) AS setting FROM pg_settings
     WHERE name IN ('server_version', 'shared_buffers', 'work_mem', 'max_parallel_workers_per_gather', 'io_method', 'jit')
     UNION ALL SELECT 'jit available', pg_jit_available()::text ORDER BY name`,
  );
  console.log(`postgres (as Herald runs it embedded): ${settings.map((s) => `${s.name}=${s.setting}`).join(', ')}`);
  // A guard, not a tuning: a runaway plan ends in an error after 60 s instead of hanging the bench.
  await db.query(`ALTER SYSTEM SET statement_timeout = '60s'`);
  await db.query('SELECT pg_reload_conf()');

  // 1. Through the API, as users count.
  console.log(`\npreviewSegment(rule:) { count } on ${contactsTotal.toLocaleString()} contacts: first run, then the median of ${warmRuns} warm runs`);
  const preview = async (rule: Rule) => {
    const started = performance.now();
    const data = await bench.secret('query($rule: SegmentRuleInput!) { previewSegment(rule: $rule) { count } }', { rule });
    return { ms: performance.now() - started, count: data.previewSegment.count as number };
  };
  const results: Array<{ name: string; count: number; warm: number; pass: boolean }> = [];
  for (const { name, about, rule, targetMs } of cases) {
    try {
      const cold = await preview(rule);
      const warm: number[] = [];
      for (let i = 0; i < warmRuns; i++) warm.push((await preview(rule)).ms);
      const pass = median(warm) < targetMs;
      results.push({ name, count: cold.count, warm: median(warm), pass });
      console.log(
        `  ${name.padEnd(9)} ${cold.count.toLocaleString().padStart(9)} contacts  first ${ms(cold.ms).padStart(8)}  median ${ms(median(warm)).padStart(8)} ` +
          `(${warm.map((t) => Math.round(t)).join(', ')})  target < ${ms(targetMs)}: ${pass ? 'PASS' : 'FAIL'}   ${about}`,
      );
    } catch (error) {
      results.push({ name, count: -1, warm: Number.POSITIVE_INFINITY, pass: false });
      console.log(`  ${name.padEnd(9)} FAIL: ${String(error).slice(0, 300)}`);
    }
  }

  // 2. Naive alternative on a slice: the first 100,000 contacts by id (event-heavy contacts are spread over ids).
  const { rows: [bound] } = await db.query<{ id: string }>(
    'SELECT id FROM "Contact" WHERE "workspaceId" = $1 ORDER BY id OFFSET $2 LIMIT 1',
    [bench.workspaceId, sliceSize - 1],
  );
  const inSlice = Prisma.sql`c.id <= ${bound!.id}::uuid`;
  const now = new Date();
  console.log(`\nnaive alternative on a ${sliceSize.toLocaleString()}-contact slice (load into Node, filter there) vs the same SQL restricted to the slice`);
  let started = performance.now();
  const { rows: contactRows } = await db.query(`SELECT * FROM "Contact" c WHERE c."workspaceId" = $1 AND c.id <= $2::uuid`, [bench.workspaceId, bound!.id]);
  const loadContactsMs = performance.now() - started;
  started = performance.now();
  const { rows: eventRows } = await db.query<{ contactId: string; name: string; properties: Record<string, unknown>; occurredAt: Date }>(
    `SELECT "contactId", name, properties, "occurredAt" FROM "Event" WHERE "workspaceId" = $1 AND "contactId" <= $2::uuid`,
    [bench.workspaceId, bound!.id],
  );
  const loadEventsMs = performance.now() - started;
  console.log(
    `  load: ${contactRows.length.toLocaleString()} contacts in ${ms(loadContactsMs)}, their ${eventRows.length.toLocaleString()} events in ${ms(loadEventsMs)}`,
  );
  const toRef = (withEvents: boolean) => {
    const byId = new Map<string, RefContact>();
    for (const row of contactRows) {
      byId.set(row.id, {
        id: row.id,
        fields: { externalId: row.externalId, anonymousId: row.anonymousId, email: row.email, phone: row.phone, firstName: row.firstName, lastName: row.lastName, locale: row.locale, timezone: row.timezone },
        attributes: row.attributes,
        tags: row.tags ?? [],
        identified: row.identified,
        lastSeenAt: row.lastSeenAt,
        activeSubscription: false, // no rule here asks
        events: [],
      });
    }
    if (withEvents) {
      for (const row of eventRows) (byId.get(row.contactId)!.events as RefEvent[]).push({ name: row.name, properties: row.properties, occurredAt: row.occurredAt });
    }
    return [...byId.values()];
  };
  const ratios: string[] = [];
  for (const { name, rule, usesEvents } of cases) {
    started = performance.now();
    const naiveCount = toRef(usesEvents).filter((contact) => matches(rule, contact, now)).length;
    const naiveMs = performance.now() - started + loadContactsMs + (usesEvents ? loadEventsMs : 0);
    const query = countSql(Prisma.sql`${selectionSql(bench.workspaceId, { rule }, now)} AND ${inSlice}`);
    const sqlTimes: number[] = [];
    let sqlCount = 0;
    for (let i = 0; i <= warmRuns; i++) {
      started = performance.now();
      const { rows } = await db.query<{ count: string }>(query.text, query.values as unknown[]);
      if (i > 0) sqlTimes.push(performance.now() - started);
      sqlCount = Number(rows[0]!.count);
    }
    const ratio = naiveMs / median(sqlTimes);
    ratios.push(`${name} ${ratio.toFixed(0)}×`);
    console.log(
      `  ${name.padEnd(9)} naive ${ms(naiveMs).padStart(9)} (${naiveCount.toLocaleString()} contacts)   SQL on the slice ${ms(median(sqlTimes)).padStart(8)} ` +
        `(${sqlCount.toLocaleString()})   naive/SQL ${ratio.toFixed(0)}×${naiveCount === sqlCount ? '' : '   COUNTS DIFFER'}`,
    );
  }

  // 3. Why a rule misses its target: the plan of the exact SQL countContacts runs.
  for (const { name, rule } of cases.filter((c) => !results.find((r) => r.name === c.name)!.pass)) {
    const query = countSql(selectionSql(bench.workspaceId, { rule }));
    const { rows } = await db.query(`EXPLAIN (ANALYZE, BUFFERS) ${query.text}`, query.values as unknown[]).catch(async (error) => {
      console.log(`  EXPLAIN ANALYZE failed (${error}); plan only:`);
      return db.query(`EXPLAIN ${query.text}`, query.values as unknown[]);
    });
    console.log(`\nEXPLAIN (ANALYZE, BUFFERS) for ${name}:\n${query.text}\n${rows.map((row) => row['QUERY PLAN']).join('\n')}`);
  }

  console.log(`\nsummary (${contactsTotal.toLocaleString()} contacts, ${eventsTotal.toLocaleString()} events; seed ${(seed.totalMs / 1000).toFixed(0)} s, database ${mb(database!.size)}):`);
  for (const { name, count, warm, pass } of results) {
    const { targetMs } = cases.find((c) => c.name === name)!;
    console.log(`  ${name.padEnd(9)} ${count.toLocaleString().padStart(9)} contacts in ${ms(warm).padStart(8)}  (target < ${ms(targetMs)}) ${pass ? 'PASS' : 'FAIL'}`);
  }
  console.log(`  naive load-and-filter on ${sliceSize.toLocaleString()} contacts is slower than SQL on the same slice by: ${ratios.join(', ')}`);
} finally {
  await db.end().catch(() => {});
  await bench.stop();
}
