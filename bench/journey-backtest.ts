/**
 * The journey backtest (issue 20): 30 days of 1,000,000 events from 100,000 contacts through a
 * 5-step journey (send email or push → wait for a cart event → branch on a tag or engagement with
 * the email → push), through the API (`simulateJourney`). Target: < 30 s.
 * Seeded in SQL (generate_series): contacts (75% with a subscribed email, 30% with a browser, 10%
 * tagged vip), 20,000 earlier emails (30% opened) for the engagement estimate, and events spread
 * over the 30 days: signup 10%, added_to_cart 20%, purchase 5%, page_view 65% (the journey reads
 * none of those).
 * Baseline, same run and database: reading the journey's events in the order the backtest needs
 * them (one plain query, rows discarded), the floor any replay pays.
 *   npx tsx bench/journey-backtest.ts [contacts] [events]
 */
import os from 'node:os';
import pg from 'pg';
import { benchHerald } from './kit.ts';

const contacts = Number(process.argv[2] ?? 100_000);
const events = Number(process.argv[3] ?? 1_000_000);
const DAY_MS = 86_400_000;
const to = new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS);
const from = new Date(to.getTime() - 30 * DAY_MS);
const load = () => os.loadavg().map((value) => value.toFixed(2)).join(' ');
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

const journey = {
  name: 'Backtest bench',
  entry: { event: { name: 'signup', where: [{ path: 'plan', op: 'EQ', value: 'free' }] } },
  steps: [
    { key: 'welcome', send: { channel: 'EMAIL', fallback: ['WEB_PUSH'], email: { subject: 'Welcome', html: '<p>Hi</p>' }, content: { title: 'Welcome', url: 'https://shop.example/' }, next: 'cart' } },
    { key: 'cart', waitForEvent: { name: 'added_to_cart', withinSeconds: 3 * 86_400, onEvent: 'opened', onTimeout: 'vip' } },
    { key: 'vip', branch: { rule: { tag: { has: 'vip' } }, yes: 'nudge' } },
    { key: 'opened', engagement: { step: 'welcome', did: 'OPENED', withinSeconds: 2 * 86_400, no: 'nudge' } },
    { key: 'nudge', send: { channel: 'WEB_PUSH', content: { title: 'Still thinking?', url: 'https://shop.example/cart' } } },
  ],
  exitEvents: ['purchase'],
  goal: { event: 'purchase', withinSeconds: 7 * 86_400 },
};

const bench = await benchHerald();
const db = new pg.Client({ connectionString: bench.databaseUrl });
try {
  await db.connect();
  console.log(`load average at start: ${load()} (${os.cpus().length} cores)`);
  let started = performance.now();
  const ws = bench.workspaceId;
  await db.query(`SET synchronous_commit = off`);
  await db.query(
    `INSERT INTO "Contact" (id, "workspaceId", "externalId", email, "emailStatus", identified, tags)
     SELECT gen_random_uuid(), $1, 'c' || i, CASE WHEN i % 4 <> 0 THEN 'c' || i || '@example.com' END,
       (CASE WHEN i % 4 <> 0 THEN 'SUBSCRIBED' ELSE 'NONE' END)::"ChannelStatus", true, CASE WHEN i % 10 = 0 THEN ARRAY['vip'] ELSE ARRAY[]::text[] END
     FROM generate_series(1, $2::int) i`,
    [ws, contacts],
  );
  await db.query(
    `INSERT INTO "PushSubscription" (id, "workspaceId", "contactId", endpoint, p256dh, auth)
     SELECT gen_random_uuid(), $1, id, 'https://push.example.test/' || id, 'p256dh', 'auth'
     FROM "Contact" WHERE "workspaceId" = $1 AND hashtext(id::text) % 10 IN (0, 1, 2)`,
    [ws],
  );
  const contactsMs = performance.now() - started;
  started = performance.now();
  // Each event draws its contact, name and plan at random, so every contact gets a mix.
  await db.query(
    `WITH ids AS (SELECT array_agg(id ORDER BY id) AS a FROM "Contact" WHERE "workspaceId" = $1)
     INSERT INTO "Event" (id, "workspaceId", "contactId", name, properties, "occurredAt")
     SELECT gen_random_uuid(), $1, ids.a[1 + floor(random() * $4)::int], e.name,
       CASE WHEN e.name = 'signup' THEN jsonb_build_object('plan', CASE WHEN random() < 0.3 THEN 'pro' ELSE 'free' END) ELSE '{}' END,
       $3::timestamptz + (random() * interval '30 days')
     FROM ids, generate_series(1, $2::int) i
     CROSS JOIN LATERAL (SELECT random() + i * 0 AS r) draw
     CROSS JOIN LATERAL (SELECT CASE WHEN draw.r < 0.10 THEN 'signup' WHEN draw.r < 0.30 THEN 'added_to_cart' WHEN draw.r < 0.35 THEN 'purchase' ELSE 'page_view' END AS name) e`,
    [ws, events, from, contacts],
  );
  const eventsMs = performance.now() - started;
  started = performance.now();
  const { rows: [campaign] } = await db.query<{ id: string }>(
    `INSERT INTO "Campaign" (id, "workspaceId", name, kind, status, channel, content) VALUES (gen_random_uuid(), $1, 'Earlier', 'BROADCAST', 'SENT', 'EMAIL', '{}') RETURNING id`,
    [ws],
  );
  await db.query(
    `INSERT INTO "Message" (id, "workspaceId", "campaignId", "contactId", occurrence, channel, status, reason, "scheduledFor", "dueAt", "sentAt", "openedAt")
     SELECT gen_random_uuid(), $1, $2, id, 'broadcast', 'EMAIL', 'SENT', 'ACCEPTED', $3, $3, $3, CASE WHEN hashtext(id::text) % 10 IN (0, 1, 2) THEN $3::timestamptz + interval '3 hours' END
     FROM "Contact" WHERE "workspaceId" = $1 AND email IS NOT NULL LIMIT 20000`,
    [ws, campaign!.id, new Date(from.getTime() - 10 * DAY_MS)],
  );
  await db.query('VACUUM ANALYZE "Contact", "Event", "PushSubscription", "Message"');
  const restMs = performance.now() - started;
  console.log(`seed: ${contacts.toLocaleString()} contacts in ${seconds(contactsMs)}, ${events.toLocaleString()} events in ${seconds(eventsMs)}, history + vacuum ${seconds(restMs)}`);

  // Baseline: the journey's events of the period in the backtest's order, read and thrown away.
  started = performance.now();
  const { rowCount } = await db.query(
    `SELECT e."contactId", e.id, e.name, e."occurredAt" FROM "Event" e
     WHERE e."workspaceId" = $1 AND e.name = ANY($2::text[]) AND e."occurredAt" BETWEEN $3 AND $4 ORDER BY e."contactId", e."occurredAt", e.id`,
    [ws, ['signup', 'added_to_cart', 'purchase'], from, to],
  );
  const baselineMs = performance.now() - started;
  console.log(`baseline: read the ${rowCount!.toLocaleString()} events the journey uses, in order: ${seconds(baselineMs)}`);

  const query = `query($journey: JourneyInput, $from: DateTime!, $to: DateTime!) { simulateJourney(journey: $journey, from: $from, to: $to) {
    entered active completed exited converted steps { key entered passed waiting sent suppressed capped }
    channels { channel sent suppressed capped } sendsByDay { date channel count } engagementEstimates { channel did rate messages } } }`;
  for (const run of ['first', 'second']) {
    const loadBefore = load();
    started = performance.now();
    const { simulateJourney: result } = await bench.secret(query, { journey, from: from.toISOString(), to: to.toISOString() });
    const ms = performance.now() - started;
    console.log(
      `\nsimulateJourney (${run} run): ${seconds(ms)} — ${Math.round(events / (ms / 1000)).toLocaleString()} stored events/s, ${(ms / baselineMs).toFixed(1)}× the baseline; ` +
        `target < 30 s: ${ms < 30_000 ? 'PASS' : 'FAIL'}; load average before ${loadBefore}, after ${load()}`,
    );
    if (run === 'first') {
      console.log(`  entered ${result.entered.toLocaleString()}, active ${result.active}, completed ${result.completed}, exited ${result.exited}, converted ${result.converted}`);
      for (const step of result.steps) console.log(`  ${step.key.padEnd(8)} ${JSON.stringify(step)}`);
      console.log(`  channels ${JSON.stringify(result.channels)}`);
      console.log(`  estimates ${JSON.stringify(result.engagementEstimates)}`);
      console.log(`  sendsByDay: ${result.sendsByDay.length} rows, first ${JSON.stringify(result.sendsByDay[0])}`);
    }
  }
  console.log(`\npeak RSS of this process (Herald in-process + the bench): ${Math.round(process.resourceUsage().maxRSS / 1024)} MB; load average at the end: ${load()}`);
} finally {
  await db.end();
  await bench.stop();
}
