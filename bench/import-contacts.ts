/**
 * Imports 100,000 contacts through `importContacts` (10,000 per call) on embedded PostgreSQL.
 * Baseline, same run and database: the same rows written by one plain INSERT … SELECT, the floor
 * for any import. Target: ≥ 10,000 contacts/s.
 *   npx tsx bench/import-contacts.ts [total]
 */
import pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { benchHerald, perSecond } from './kit.ts';

const total = Number(process.argv[2] ?? 100_000);
const batch = 10_000;
const bench = await benchHerald();

const contact = (index: number) => ({
  externalId: `user-${index}`,
  email: `user-${index}@example.com`,
  firstName: 'Ada',
  locale: 'pl-PL',
  timezone: 'Europe/Warsaw',
  attributes: { city: ['Warsaw', 'Kraków', 'Gdańsk'][index % 3], age: 18 + (index % 60), interests: ['shoes', 'bags'] },
  tags: index % 2 ? ['newsletter'] : [],
});

const started = performance.now();
for (let offset = 0; offset < total; offset += batch) {
  const contacts = Array.from({ length: Math.min(batch, total - offset) }, (_, i) => contact(offset + i));
  const { importContacts } = await bench.secret(
    'mutation($contacts: [ContactInput!]!) { importContacts(input: { contacts: $contacts }) { ... on MutationImportContactsSuccess { data { created updated failed { index } } } } }',
    { contacts },
  );
  if (importContacts.data.failed.length) throw new Error('rows failed');
  const done = offset + contacts.length;
  console.log(`  imported ${done.toLocaleString()} / ${total.toLocaleString()} (${perSecond(done, performance.now() - started).toLocaleString()} contacts/s)`);
}
const heraldMs = performance.now() - started;

const client = new pg.Client({ connectionString: bench.databaseUrl });
await client.connect();
const rows = JSON.stringify(Array.from({ length: total }, (_, i) => ({ id: uuidv7(), ...contact(total + i) })));
const baselineStarted = performance.now();
await client.query(
  `INSERT INTO "Contact" (id, "workspaceId", "externalId", email, "firstName", locale, timezone, attributes, tags, identified)
   SELECT r.id, $1::uuid, r."externalId", r.email, r."firstName", r.locale, r.timezone, r.attributes,
          ARRAY(SELECT jsonb_array_elements_text(r.tags)), true
   FROM jsonb_to_recordset($2::jsonb) AS r(id uuid, "externalId" text, email text, "firstName" text, locale text, timezone text, attributes jsonb, tags jsonb)`,
  [bench.workspaceId, rows],
);
const baselineMs = performance.now() - baselineStarted;
await client.end();
await bench.stop();

const herald = perSecond(total, heraldMs);
const baseline = perSecond(total, baselineMs);
console.log(`importContacts: ${total.toLocaleString()} contacts in ${(heraldMs / 1000).toFixed(1)} s = ${herald.toLocaleString()} contacts/s (target ≥ 10,000)`);
console.log(`baseline (one INSERT … SELECT of the same rows): ${baseline.toLocaleString()} contacts/s; Herald reaches ${((herald / baseline) * 100).toFixed(0)}% of it`);
