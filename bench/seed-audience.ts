/**
 * Seeds a realistic audience straight in SQL (generate_series), for benchmarks: contacts with
 * demographics, tags and push subscriptions, and a heavy-tailed stream of events over the last 90
 * days, written in time order as they would arrive. Not through the API: this is the fixture.
 *
 * Bulk loading tricks, all confined to the seeding sessions or undone before returning:
 * - the secondary indexes of "Contact" and "Event" are dropped and then recreated from the exact
 *   definitions read from pg_indexes (checked equal afterwards); primary keys stay;
 * - `session_replication_role = replica` skips the per-row foreign-key triggers (every contactId
 *   is taken from "Contact" itself);
 * - events are written by two sessions at once (the machine has 2 cores).
 * Afterwards VACUUM (ANALYZE) and a CHECKPOINT, so timed queries neither meet a pending
 * autovacuum nor set hint bits on first read.
 */
import pg from 'pg';

export interface SeedOptions {
  contacts: number;
  events: number;
  log?: (line: string) => void;
}

export interface SeedResult {
  contactsMs: number;
  eventsMs: number;
  indexesMs: number;
  vacuumMs: number;
  totalMs: number;
}

const CITIES: Array<[city: string, country: string, locale: string, timezone: string]> = [
  ['Berlin', 'DE', 'de-DE', 'Europe/Berlin'],
  ['Warsaw', 'PL', 'pl-PL', 'Europe/Warsaw'],
  ['Paris', 'FR', 'fr-FR', 'Europe/Paris'],
  ['London', 'GB', 'en-GB', 'Europe/London'],
  ['Madrid', 'ES', 'es-ES', 'Europe/Madrid'],
  ['Munich', 'DE', 'de-DE', 'Europe/Berlin'],
  ['Rome', 'IT', 'it-IT', 'Europe/Rome'],
  ['Hamburg', 'DE', 'de-DE', 'Europe/Berlin'],
  ['Kraków', 'PL', 'pl-PL', 'Europe/Warsaw'],
  ['Vienna', 'AT', 'de-AT', 'Europe/Vienna'],
  ['Amsterdam', 'NL', 'nl-NL', 'Europe/Amsterdam'],
  ['Barcelona', 'ES', 'es-ES', 'Europe/Madrid'],
  ['Milan', 'IT', 'it-IT', 'Europe/Rome'],
  ['Prague', 'CZ', 'cs-CZ', 'Europe/Prague'],
  ['Lyon', 'FR', 'fr-FR', 'Europe/Paris'],
  ['Manchester', 'GB', 'en-GB', 'Europe/London'],
  ['Stockholm', 'SE', 'sv-SE', 'Europe/Stockholm'],
  ['Lisbon', 'PT', 'pt-PT', 'Europe/Lisbon'],
  ['Dublin', 'IE', 'en-IE', 'Europe/Dublin'],
  ['Gdańsk', 'PL', 'pl-PL', 'Europe/Warsaw'],
];
const INTERESTS = ['shoes', 'bags', 'tech', 'sports', 'books', 'travel', 'beauty', 'home'];
const FIRST_NAMES = ['Anna', 'Jan', 'Maria', 'Lukas', 'Sofia', 'Marco', 'Emma', 'Noah', 'Julia', 'Leon', 'Chloé', 'Pablo'];
const LAST_NAMES = ['Nowak', 'Müller', 'Rossi', 'García', 'Martin', 'Smith', 'Kowalski', 'Schmidt', 'Dubois', 'Silva'];
const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
  'Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36',
];
const DAY_MS = 86_400_000;
/** A prime above any contact count: k ↦ k·P mod N permutes contacts, so heavy users are spread over ids. */
const SPREAD = 2_147_483_647;

const literal = (value: string) => `'${value.replaceAll("'", "''")}'`;
const textArray = (values: string[]) => `ARRAY[${values.map(literal).join(', ')}]::text[]`;
const pick = (values: string[], index: string) => `(${textArray(values)})[${index}]`;

async function session(databaseUrl: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query(`SET session_replication_role = replica; SET synchronous_commit = off; SET statement_timeout = 0;
                      SET work_mem = '256MB'; SET maintenance_work_mem = '1GB'`);
  return client;
}

export async function seedAudience(databaseUrl: string, workspaceId: string, { contacts, events, log = console.log }: SeedOptions): Promise<SeedResult> {
  const [a, b] = [await session(databaseUrl), await session(databaseUrl)];
  const now = Date.now();
  const started = performance.now();
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  try {
    // Secondary indexes, exactly as the migrations made them; the primary keys stay.
    const { rows: indexes } = await a.query<{ indexname: string; indexdef: string }>(
      `SELECT indexname, indexdef FROM pg_indexes
       WHERE schemaname = current_schema() AND tablename IN ('Contact', 'Event')
         AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u', 'x'))
       ORDER BY indexname`,
    );
    for (const { indexname } of indexes) await a.query(`DROP INDEX "${indexname}"`);
    log(`  dropped ${indexes.length} secondary indexes for the load: ${indexes.map((index) => index.indexname).join(', ')}`);

    // Contacts: 70% identified (externalId + email), 20 cities (skewed towards the first), age 16-80.
    const city = `1 + floor(${CITIES.length} * power(random(), 1.7))::int`;
    const interests = `to_jsonb(array_remove(ARRAY[${INTERESTS.map((interest, i) => `CASE WHEN r.interests & ${1 << i} <> 0 THEN ${literal(interest)} END`).join(', ')}], NULL))`;
    // Each session writes half of the contacts and, in the same statement, their push subscriptions
    // (~40% ACTIVE, a few EXPIRED or REVOKED).
    const insertContacts = (client: pg.Client, first: number, last: number) =>
      client.query(
        `WITH inserted AS (
           INSERT INTO "Contact" (id, "workspaceId", "externalId", "anonymousId", email, "firstName", "lastName", locale, timezone,
                                  attributes, tags, identified, "consentedAt", "lastSeenAt", "createdAt", "updatedAt")
           SELECT uuidv7(), $1::uuid,
                  CASE WHEN r.identified THEN 'user-' || r.n END,
                  CASE WHEN NOT r.identified OR r.merged THEN 'anon-' || md5(r.n::text) END,
                  CASE WHEN r.identified THEN 'user' || r.n || '@example.com' END,
                  CASE WHEN r.identified THEN ${pick(FIRST_NAMES, `1 + (r.n % ${FIRST_NAMES.length})`)} END,
                  CASE WHEN r.identified THEN ${pick(LAST_NAMES, `1 + (r.n / 7 % ${LAST_NAMES.length})`)} END,
                  ${pick(CITIES.map((c) => c[2]), 'r.city')}, ${pick(CITIES.map((c) => c[3]), 'r.city')},
                  jsonb_strip_nulls(jsonb_build_object(
                    'gender', CASE WHEN r.g < 0.46 THEN 'female' WHEN r.g < 0.92 THEN 'male' WHEN r.g < 0.95 THEN 'other' END,
                    'city', ${pick(CITIES.map((c) => c[0]), 'r.city')},
                    'age', CASE WHEN r.age < 81 THEN r.age END,
                    'address', jsonb_build_object('country', ${pick(CITIES.map((c) => c[1]), 'r.city')}, 'city', ${pick(CITIES.map((c) => c[0]), 'r.city')}),
                    'interests', ${interests},
                    'signupSource', ${pick(['organic', 'ads', 'referral', 'social'], '1 + (r.n % 4)')})),
                  array_remove(ARRAY[CASE WHEN r.newsletter THEN 'newsletter' END, CASE WHEN r.vip THEN 'vip' END,
                                     CASE WHEN r.consented THEN 'consented' END], NULL),
                  r.identified,
                  CASE WHEN r.consented THEN r.created + interval '1 hour' END,
                  CASE WHEN r.seen < 0.95 THEN $4::timestamptz - r.seen / 0.95 * interval '90 days' END,
                  r.created, r.created
           FROM (SELECT n, random() < 0.7 AS identified, random() < 0.5 AS merged, ${city} AS city, random() AS g,
                        16 + floor(random() * 68)::int AS age,  -- 16-80, and 3/68 without an age
                        (floor(random() * 256)::int & floor(random() * 256)::int) AS interests,
                        random() < 0.3 AS newsletter, random() < 0.02 AS vip, random() < 0.6 AS consented, random() AS seen,
                        $4::timestamptz - interval '90 days' - random() * interval '640 days' AS created
                 FROM generate_series($2::int, $3::int) n) r
           RETURNING id, "createdAt")
         INSERT INTO "PushSubscription" (id, "workspaceId", "contactId", endpoint, p256dh, auth, status, "userAgent", "createdAt", "updatedAt", "revokedAt")
         SELECT uuidv7(), $1::uuid, c.id,
                'https://fcm.googleapis.com/fcm/send/' || replace(c.id::text, '-', ''),
                rtrim(translate(encode('\\x04'::bytea || sha256(c.id::text::bytea) || sha256(c.id::text::bytea || 'k'::bytea), 'base64'), '+/', '-_'), '='),
                rtrim(translate(encode(decode(md5(c.id::text), 'hex'), 'base64'), '+/', '-_'), '='),
                (CASE WHEN c.r < 0.40 THEN 'ACTIVE' WHEN c.r < 0.44 THEN 'EXPIRED' ELSE 'REVOKED' END)::"PushSubscriptionStatus",
                ${pick(USER_AGENTS, `1 + floor(c.r * 1000)::int % ${USER_AGENTS.length}`)},
                c."createdAt", c."createdAt", CASE WHEN c.r >= 0.44 THEN c."createdAt" + interval '30 days' END
         FROM (SELECT id, "createdAt", random() AS r FROM inserted) c
         WHERE c.r < 0.47`,
        [workspaceId, first, last, new Date(now).toISOString()],
      );
    let t = performance.now();
    const half = Math.floor(contacts / 2);
    await Promise.all([insertContacts(a, 1, half), insertContacts(b, half + 1, contacts)]);
    const contactsMs = performance.now() - t;
    log(`  contacts ${contacts.toLocaleString()} (+ push subscriptions) in ${seconds(contactsMs)}`);

    // Events over the last 90 days in time order, heavy-tailed per contact (the busiest ≈100× the
    // median), spread over contact ids. 70% page_view, 20% product_viewed, 7% added_to_cart, 3% purchase.
    const from = now - 90 * DAY_MS;
    const stepSeconds = (90 * DAY_MS) / 1000 / events;
    const insertEvents = (client: pg.Client, first: number, last: number) =>
      client.query(
        `INSERT INTO "Event" (id, "workspaceId", "contactId", name, properties, "occurredAt", "receivedAt")
         SELECT uuidv7(), $1::uuid,
                (SELECT array_agg(id ORDER BY id) FROM "Contact" WHERE "workspaceId" = $1::uuid)[r.k],
                r.name,
                CASE r.name
                  WHEN 'page_view' THEN jsonb_build_object('url', 'https://shop.example/p/' || r.sku, 'referrer', ${pick(['google', 'direct', 'newsletter', 'push'], '1 + r.sku % 4')})
                  WHEN 'purchase' THEN jsonb_build_object('value', round((10 + power(r.v, 2) * 390)::numeric, 2), 'currency', 'EUR',
                                                          'sku', 'SKU-' || r.sku, 'items', 1 + r.sku % 3, 'orderId', 'o-' || r.g)
                  ELSE jsonb_build_object('sku', 'SKU-' || r.sku, 'value', round((5 + power(r.v, 2) * 295)::numeric, 2))
                END,
                r.at, r.at + floor(random() * 3000) * interval '1 millisecond'
         FROM (SELECT g, 1 + (floor($5::int * power(random(), 1.6))::bigint * ${SPREAD} % $5::int) AS k,
                      CASE WHEN kind < 0.70 THEN 'page_view' WHEN kind < 0.90 THEN 'product_viewed'
                           WHEN kind < 0.97 THEN 'added_to_cart' ELSE 'purchase' END AS name,
                      floor(power(random(), 2) * 5000)::int AS sku, random() AS v,
                      $4::timestamptz + (g - 1 + random()) * $6::float8 * interval '1 second' AS at
               FROM (SELECT g, random() AS kind FROM generate_series($2::bigint, $3::bigint) g) s) r`,
        [workspaceId, first, last, new Date(from).toISOString(), contacts, stepSeconds],
      );
    t = performance.now();
    const chunk = 1_000_000;
    for (let first = 1; first <= events; first += chunk) {
      const last = Math.min(events, first + chunk - 1);
      const middle = first + Math.floor((last - first + 1) / 2);
      // Two sessions, one half of this stretch of time each.
      await Promise.all([insertEvents(a, first, middle - 1), insertEvents(b, middle, last)]);
      const elapsed = performance.now() - t;
      log(`  events ${last.toLocaleString()} / ${events.toLocaleString()} (${Math.round(last / (elapsed / 1000)).toLocaleString()} events/s)`);
    }
    const eventsMs = performance.now() - t;

    // Recreate the indexes, two at a time, from their recorded definitions.
    t = performance.now();
    const queue = [...indexes].sort((x, y) => Number(y.indexdef.includes('"Event"')) - Number(x.indexdef.includes('"Event"')));
    await Promise.all(
      [a, b].map(async (client) => {
        for (let next = queue.shift(); next; next = queue.shift()) await client.query(next.indexdef);
      }),
    );
    const { rows: after } = await a.query<{ indexname: string; indexdef: string }>(
      `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename IN ('Contact', 'Event') AND indexname = ANY($1) ORDER BY indexname`,
      [indexes.map((index) => index.indexname)],
    );
    if (JSON.stringify(after) !== JSON.stringify(indexes)) throw new Error(`recreated indexes differ:\n${JSON.stringify({ indexes, after }, null, 2)}`);
    const indexesMs = performance.now() - t;
    log(`  recreated ${indexes.length} indexes (identical definitions) in ${seconds(indexesMs)}`);

    t = performance.now();
    await Promise.all([a.query('VACUUM (ANALYZE) "Event"'), b.query('VACUUM (ANALYZE) "Contact"').then(() => b.query('VACUUM (ANALYZE) "PushSubscription"'))]);
    await a.query('CHECKPOINT');
    const vacuumMs = performance.now() - t;
    log(`  VACUUM (ANALYZE) + CHECKPOINT in ${seconds(vacuumMs)}`);
    return { contactsMs, eventsMs, indexesMs, vacuumMs, totalMs: performance.now() - started };
  } finally {
    await Promise.all([a.end(), b.end()]);
  }
}
