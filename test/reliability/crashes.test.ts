/**
 * Repeated crashes (issue #9): a broadcast, and a triggered campaign fed by a stream of events,
 * whose Herald process is killed with SIGKILL at several random moments and started again each
 * time. Counted at the test push service: nobody is lost (everyone gets the push at least once),
 * and a browser that gets it twice is a claim a kill cut before the push service answered, sent
 * again after the lease and recorded RESENT_AFTER_CRASH (the service worker shows a repeated
 * message id once: test/browser). The campaign's counters equal its ledger.
 * CI scale by default; the full numbers: CHAOS_RECIPIENTS=20000 CHAOS_KILLS=5.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import { createCampaign, seedBrowsers, SendNow, waitForStatus } from '../kit/campaigns.ts';
import { countersAndLedger, killWhileArriving } from '../kit/chaos.ts';
import { dataOf, httpClient } from '../kit/client.ts';
import { createWorkspace } from '../kit/flow.ts';
import { useHeraldProcesses } from '../kit/fixture.ts';
import type { HeraldProcess } from '../kit/process.ts';
import { startPushService, type TestPushService } from '../kit/push-service.ts';
import { SENT_AGAIN } from '../kit/ledger.ts';
import { tally } from '../kit/tally.ts';

const RECIPIENTS = Number(process.env.CHAOS_RECIPIENTS ?? 4_000);
const KILLS = Number(process.env.CHAOS_KILLS ?? 3);
const CONCURRENCY = 16;
/** Events per trackEvents call in the triggered run; one in four is the trigger. */
const BATCH = 200;

const Activate = graphql(`
  mutation ChaosActivate($id: ID!) {
    activateCampaign(input: { id: $id }) { __typename ... on Error { code message } }
  }
`);
const TRACK = `mutation ChaosTrack($events: [EventInput!]!) {
  trackEvents(input: { events: $events }) { __typename ... on MutationTrackEventsSuccess { data { count duplicates } } ... on Error { message } }
}`;

let push: TestPushService;
let herald: HeraldProcess | undefined;

beforeAll(async () => {
  push = await startPushService();
});
afterAll(async () => {
  await push?.close();
});

// Every process it started is killed after the file's tests, before its database is dropped.
const heralds = useHeraldProcesses('chaos', () => ({
  HERALD_PUSH_CA: push.caFile,
  HERALD_PUSH_CONCURRENCY: String(CONCURRENCY),
  HERALD_PUSH_TIMEOUT_MS: '1000', // the lease after which a dead sender's claims are settled is this plus 5 s
  LOG_LEVEL: 'warn',
}));
const start = () => heralds.start();

/** A fresh workspace on a running Herald; the push service answers after 20 ms, so sends last a while. */
async function chaosShop(recipients: number) {
  herald ??= await start();
  const { secretKey, workspace } = await createWorkspace(herald, 'Chaos');
  const browsers = await seedBrowsers(heralds.databaseUrl, workspace.id, push, recipients);
  push.behave({ status: 201, delayMs: 20 });
  return { secretKey, browsers, secret: () => httpClient(herald!.graphqlUrl, secretKey) };
}

/** Kills Herald at `kills` random moments while the next `expected` pushes arrive (test/kit/chaos.ts). */
function killWhileSending(kills: number, expected: number): Promise<number[]> {
  return killWhileArriving({
    kills,
    expected,
    arrived: () => push.received().length,
    kill: async () => void (await herald!.stop('SIGKILL')),
    restart: async () => void (herald = await start()),
  });
}

async function ledgerRowsOf(browsers: { json: { endpoint: string } }[]) {
  const db = new pg.Client({ connectionString: heralds.databaseUrl });
  await db.connect();
  try {
    const { rows } = await db.query(
      `SELECT m.status, m.reason, m.attempts, m.error, m."claimedAt", m."sentAt" FROM "Message" m
       JOIN "PushSubscription" s ON s.id = m."subscriptionId" WHERE s.endpoint = ANY($1)`,
      [browsers.map((browser) => browser.json.endpoint)],
    );
    return rows;
  } finally {
    await db.end();
  }
}

/**
 * Counted at the push service: nobody was lost; a browser that got more than one is a resend of a
 * claim a kill cut before its answer was written, and got no more copies than its row counts
 * attempts. The campaign's counters equal its ledger.
 * Returns how many got the push twice at the push service (each shown once by the service worker).
 */
async function checkOnce(campaignGlobalId: string, browsers: { id: string; json: { endpoint: string } }[], kills: number): Promise<number> {
  const counts = browsers.map((browser) => push.received(browser.id).length);
  const missed = counts.filter((count) => count === 0).length;
  // Nobody lost; should one be, the failure shows what the ledger says of them.
  if (missed) expect(missed, `lost: ${JSON.stringify(await ledgerRowsOf(browsers.filter((_, index) => counts[index] === 0)))}`).toBe(0);
  const campaignId = Buffer.from(campaignGlobalId, 'base64').toString().split(':')[1]!;
  const db = new pg.Client({ connectionString: heralds.databaseUrl });
  await db.connect();
  try {
    const { rows: sends } = await db.query<{ endpoint: string; attempts: number; again: boolean }>(
      `SELECT s.endpoint, m.attempts, ${SENT_AGAIN} AS again FROM "Message" m JOIN "PushSubscription" s ON s.id = m."subscriptionId" WHERE m."campaignId" = $1`,
      [campaignId],
    );
    const resent = sends.filter((row) => row.again);
    // Each claim is an attempt: a message cut by two kills went out three times (each shown once), never more.
    const attempts = new Map(sends.map((row) => [row.endpoint, row.attempts]));
    expect(browsers.filter((browser, index) => counts[index]! > (attempts.get(browser.json.endpoint) ?? 0))).toEqual([]);
    const twice = browsers.filter((_, index) => counts[index]! > 1).map((browser) => browser.json.endpoint);
    // Every push-service duplicate is a resend the ledger recorded (SENT_AGAIN); none is unexplained.
    const unexplained = twice.filter((endpoint) => !resent.some((row) => row.endpoint === endpoint));
    expect(unexplained).toEqual([]);
    // Not only the requests in flight at a kill: claims the push service had answered but whose
    // answers were not yet written (written every 100 ms) are resent too, and shown once.
    expect(twice.length).toBeLessThanOrEqual(resent.length);

    // Counters equal the ledger, status by status and reason by reason.
    const { counters, ledger } = await countersAndLedger(heralds.databaseUrl, campaignId);
    expect(counters).toEqual(ledger);
    // Shown twice: 0, as each duplicate is a recorded resend, which the service worker shows once.
    tally({ check: 'SIGKILL mid-send and restart', trials: 1, faults: kills, inputs: browsers.length, duplicates: unexplained.length, losses: missed });
    return twice.length;
  } finally {
    await db.end();
  }
}

describe(`a broadcast killed ${KILLS} times`, () => {
  it('reaches everyone once, and keeps counters equal to the ledger', async () => {
    const shop = await chaosShop(RECIPIENTS);
    const id = await createCampaign(shop.secret(), { name: 'Chaos', kind: 'BROADCAST', content: { title: 'Once', url: 'https://shop.example/' } });
    await shop.secret()(SendNow, { id });
    const kills = await killWhileSending(KILLS, RECIPIENTS);
    expect(kills.length).toBeGreaterThan(0);
    const campaign = await waitForStatus(shop.secret(), id, 'SENT', 120_000);

    const resent = await checkOnce(id, shop.browsers, kills.length);
    expect(campaign.stats).toMatchObject({ targeted: RECIPIENTS, sent: RECIPIENTS, failed: 0, queued: 0 });
    console.log(
      `chaos broadcast: ${kills.length} kills (after ${kills.join(', ')} received), all ${RECIPIENTS} received, ` +
        `${resent} twice at the push service (claims cut by a kill, resent and recorded; shown once), 0 lost, counters = ledger`,
    );
  }, 300_000);
});

describe(`a triggered campaign under event load killed ${KILLS} times`, () => {
  it('sends each trigger once, whatever the kills cut: events, claims or sends', async () => {
    const recipients = Math.ceil(RECIPIENTS / 2);
    const shop = await chaosShop(recipients);
    const id = await createCampaign(shop.secret(), {
      name: 'Chaos checkout',
      kind: 'TRIGGERED',
      content: { title: 'Thanks for {{ event.properties.item }}', url: 'https://shop.example/' },
      trigger: { event: 'checkout' },
    });
    expect((dataOf(await shop.secret()(Activate, { id })).activateCampaign as { __typename: string }).__typename).toBe('MutationActivateCampaignSuccess');

    // The event stream: page views with one checkout per contact among them, each event with its
    // own idempotency key. A batch that failed (Herald was killed) is sent again, as an SDK would.
    const triggers = shop.browsers.map((browser) => browser.anonymousId);
    let retried = 0;
    const events = (async () => {
      for (let next = 0; next < triggers.length; ) {
        const chunk = triggers.slice(next, next + BATCH / 4);
        const batch = chunk.flatMap((anonymousId) => [
          { anonymousId, name: 'checkout', properties: { item: 'boots' }, idempotencyKey: `checkout-${anonymousId}` },
          ...[1, 2, 3].map((n) => ({ anonymousId, name: 'page_view', properties: { n }, idempotencyKey: `view-${anonymousId}-${n}` })),
        ]);
        try {
          const response = await fetch(herald!.graphqlUrl, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${shop.secretKey}` },
            body: JSON.stringify({ query: TRACK, variables: { events: batch } }),
          });
          const result = ((await response.json()) as { data?: { trackEvents?: { __typename: string } } }).data?.trackEvents;
          if (result?.__typename !== 'MutationTrackEventsSuccess') throw new Error(`trackEvents: ${JSON.stringify(result)}`);
          next += chunk.length;
        } catch {
          retried++;
          await sleep(100); // killed mid-request, or restarting: the same batch again
        }
      }
    })();
    const kills = await killWhileSending(KILLS, recipients);
    expect(kills.length).toBeGreaterThan(0);
    await events;

    // Every trigger's message ends final: claims cut by a kill are settled after the lease.
    const db = new pg.Client({ connectionString: heralds.databaseUrl });
    await db.connect();
    const campaignId = Buffer.from(id, 'base64').toString().split(':')[1]!;
    const pending = async () =>
      (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "Message" WHERE "campaignId" = $1 AND status IN ('QUEUED', 'SENDING')`, [campaignId])).rows[0]!.n;
    const deadline = Date.now() + 120_000;
    let left = await pending();
    for (; left > 0 && Date.now() < deadline; left = await pending()) await sleep(250);
    const { rows } = await db.query<{ messages: number; events: number }>(
      `SELECT (SELECT count(*)::int FROM "Message" WHERE "campaignId" = $1) AS messages,
              (SELECT count(*)::int FROM "Event" WHERE "workspaceId" = (SELECT "workspaceId" FROM "Campaign" WHERE id = $1)) AS events`,
      [campaignId],
    );
    await db.end();
    expect(left).toBe(0);
    expect(rows[0]).toEqual({ messages: recipients, events: recipients * 4 }); // replayed batches stored nothing twice

    const resent = await checkOnce(id, shop.browsers, kills.length);
    console.log(
      `chaos triggered: ${kills.length} kills (after ${kills.join(', ')} received), ${recipients * 4} events (${retried} batches sent again), ` +
        `all ${recipients} triggers received, ${resent} twice at the push service (claims cut by a kill, resent and recorded; shown once), 0 lost, counters = ledger`,
    );
  }, 300_000);
});
