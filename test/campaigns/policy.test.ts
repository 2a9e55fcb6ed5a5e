import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import { deliveryPolicy } from '../../src/delivery/policy.ts';
import { ClaimTransaction } from '../../src/delivery/claim-transaction.ts';
import { deliverCampaign } from '../../src/delivery/deliver.ts';
import { transition } from '../../src/delivery/ledger.ts';
import { localId } from '../../src/graphql/ids.ts';
import { Prisma } from '../../src/db/prisma.ts';
import { campaignState, createCampaign, seedBrowsers, SendNow, subscribeBrowser, waitForStatus } from '../kit/campaigns.ts';
import { dataOf } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';

const Upsert = graphql(`
  mutation PolicyUpsert($input: ContactInput!) {
    upsertContact(input: $input) { __typename ... on MutationUpsertContactSuccess { data { id } } ... on Error { message } }
  }
`);
const Settings = graphql(`
  mutation PolicySettings($input: MutationUpdateWorkspaceSettingsInput!) {
    updateWorkspaceSettings(input: $input) { __typename ... on Error { message } }
  }
`);
const Activate = graphql(`
  mutation PolicyActivate($id: ID!) {
    activateCampaign(input: { id: $id }) { __typename ... on Error { code message } }
  }
`);
const Track = graphql(`
  mutation PolicyTrack($externalId: String!, $name: String!) {
    trackEvent(input: { externalId: $externalId, name: $name }) { __typename ... on Error { message } }
  }
`);
const Messages = graphql(`
  query PolicyMessages($id: ID!) {
    campaign(id: $id) { messages(first: 100) { edges { node { id status reason error dueAt nextAttemptAt contact { externalId } } } } }
  }
`);

// The push timeout stays the default (10 s): with 1 s, a push service slowed by a loaded CI machine
// timed out and sent claims back to QUEUED, which the caps test's exact counts do not expect (a
// retry is not judged against the cap again: see "count a message from its first claim").
const h = useHerald({ HERALD_PUSH_RETRY_BASE_MS: '50' });


const content = { title: 'News', body: 'Something new', url: 'https://shop.example/' };
const hhmm = (date: Date) => date.toISOString().slice(11, 16);
const MINUTE = 60_000;

/** One delivery pass of a campaign, here and now (a pass the scheduler runs at the moment is waited for). */
async function pass(campaignId: string) {
  for (let tries = 0; tries < 50; tries++) {
    if ((await deliverCampaign(h.kit.herald, campaignId)) !== 'stopped') return;
    await sleep(100);
  }
}


describe('delivery windows', () => {
  it('holds a broadcast outside its window until the window opens in each recipient’s zone', async () => {
    const { secret, publishable } = await h.workspace();
    // The window opens at the next whole minute (UTC) at least 5 s away and stays open two hours.
    const opening = new Date(Math.ceil((Date.now() + 5_000) / MINUTE) * MINUTE);
    const window = { start: hhmm(opening), end: hhmm(new Date(opening.getTime() + 120 * MINUTE)) };
    await secret(Upsert, { input: { externalId: 'london', timezone: 'UTC' } });
    await secret(Upsert, { input: { externalId: 'tokyo', timezone: 'Asia/Tokyo' } });
    const london = (await subscribeBrowser(publishable, h.push, { externalId: 'london' })).browser;
    const tokyo = (await subscribeBrowser(publishable, h.push, { externalId: 'tokyo' })).browser;

    const id = await createCampaign(secret, { name: 'Windowed', kind: 'BROADCAST', content, deliveryWindow: window });
    await secret(SendNow, { id });
    const rows = async () => dataOf(await secret(Messages, { id })).campaign!.messages.edges.map(({ node }) => node);
    // Held by the first pass (its error says why), read before the window opens.
    let waiting = await rows();
    while ((waiting.length < 2 || waiting.some((row) => row.error === null)) && Date.now() < opening.getTime() - 1_000) waiting = (await sleep(100), await rows());
    expect(waiting.map((row) => row.status)).toEqual(['QUEUED', 'QUEUED']);
    expect(waiting.find((row) => row.contact.externalId === 'london')!.error).toBe(`waits for the campaign’s delivery window (${window.start}-${window.end} UTC) to open`);
    // Tokyo (UTC+9 all year) reaches the same wall-clock time nine hours earlier in UTC: the next such moment.
    let tokyoOpening = opening.getTime() - 9 * 3600_000;
    if (tokyoOpening <= Date.now()) tokyoOpening += 24 * 3600_000;
    // Message.dueAt answers when each waiting message goes: at its window's opening in its zone.
    const tokyoRow = waiting.find((row) => row.contact.externalId === 'tokyo')!;
    expect(new Date(tokyoRow.dueAt as string).getTime()).toBe(tokyoOpening);
    expect(new Date(waiting.find((row) => row.contact.externalId === 'london')!.dueAt as string).getTime()).toBe(opening.getTime());
    expect(tokyoRow.nextAttemptAt).toBeNull(); // not a retry: never tried

    await h.push.waitFor(() => h.push.received(london.id).length === 1, opening.getTime() - Date.now() + 5_000);
    expect(h.push.received(london.id)[0]!.receivedAt).toBeGreaterThanOrEqual(opening.getTime());
    expect(h.push.received(tokyo.id)).toHaveLength(0);
    expect((await campaignState(secret, id)).status).toBe('SENDING'); // Tokyo's message still waits
    // Sent, London's row no longer says it waits.
    await expect.poll(async () => (await rows()).find((row) => row.contact.externalId === 'london')).toMatchObject({ status: 'SENT', reason: 'ACCEPTED', error: null });
  }, 90_000);

  it('keeps a resend’s reason while it waits for the window, and sends it as a resend', async () => {
    const { secret, publishable } = await h.workspace(); // UTC
    const { browser } = await subscribeBrowser(publishable, h.push, { anonymousId: 'night-owl' });
    // A window that opens in two hours.
    const now = Date.now();
    const id = await createCampaign(secret, { name: 'Windowed resend', kind: 'BROADCAST', content, deliveryWindow: { start: hhmm(new Date(now + 120 * MINUTE)), end: hhmm(new Date(now + 180 * MINUTE)) } });
    await secret(SendNow, { id });
    const campaignId = localId(id, 'Campaign')!;
    const db = h.kit.herald.prisma;
    const row = () => db.message.findFirstOrThrow({ where: { campaignId } });
    await expect.poll(async () => (await row()).error, { timeout: 10_000 }).toMatch(/^waits for/);
    // As if a sender had claimed it while the window was open, then died: the lease has long passed.
    await db.$executeRaw`UPDATE "Message" SET status = 'SENDING', attempts = 1, "claimedAt" = now() - interval '1 hour' WHERE "campaignId" = ${campaignId}::uuid`;
    await pass(campaignId); // the claim goes again: QUEUED, RESENT_AFTER_CRASH, due now
    expect(await row()).toMatchObject({ status: 'QUEUED', reason: 'RESENT_AFTER_CRASH' });
    await pass(campaignId); // due, but the window is closed: it waits
    expect(await row()).toMatchObject({ status: 'QUEUED', reason: 'RESENT_AFTER_CRASH', error: expect.stringMatching(/^waits for the campaign’s delivery window/) });
    // The window opens now; the resend goes.
    await db.$executeRaw`UPDATE "Campaign" SET "deliveryWindowStart" = ${hhmm(new Date(Date.now() - 60 * MINUTE))}, "deliveryWindowEnd" = ${hhmm(new Date(Date.now() + 60 * MINUTE))} WHERE id = ${campaignId}::uuid`;
    await db.$executeRaw`UPDATE "Message" SET "dueAt" = now() WHERE "campaignId" = ${campaignId}::uuid`;
    await pass(campaignId);
    expect(await row()).toMatchObject({ status: 'SENT', reason: 'RESENT_AFTER_CRASH', error: null });
    expect(h.push.received(browser.id)).toHaveLength(1);
    expect((await campaignState(secret, id)).stats).toMatchObject({ sent: 1, queued: 0 });
  }, 30_000);

  it('applies the workspace’s quiet hours to triggered messages, and suppresses what activeUntil would outlive', async () => {
    const { secret, publishable } = await h.workspace();
    // Quiet from an hour ago to an hour from now, in the workspace's zone (UTC), wrapping midnight if need be.
    const now = Date.now();
    const quietHours = { start: hhmm(new Date(now - 60 * MINUTE)), end: hhmm(new Date(now + 60 * MINUTE)) };
    await secret(Settings, { input: { quietHours } });
    await secret(Upsert, { input: { externalId: 'ada' } }); // no zone of her own: the workspace's
    const ada = (await subscribeBrowser(publishable, h.push, { externalId: 'ada' })).browser;

    const waits = await createCampaign(secret, { name: 'Welcome', kind: 'TRIGGERED', content, trigger: { event: 'signup' } });
    const brief = await createCampaign(secret, {
      name: 'Flash offer',
      kind: 'TRIGGERED',
      content,
      trigger: { event: 'signup' },
      activeUntil: new Date(now + 10 * MINUTE).toISOString(),
    });
    for (const id of [waits, brief]) await secret(Activate, { id });
    await secret(Track, { externalId: 'ada', name: 'signup' });
    await sleep(1_000);

    expect(h.push.received(ada.id)).toHaveLength(0);
    const [held] = dataOf(await secret(Messages, { id: waits })).campaign!.messages.edges.map(({ node }) => node);
    expect(held).toMatchObject({ status: 'QUEUED', reason: null, error: `waits for the workspace’s quiet hours (${quietHours.end}-${quietHours.start} UTC) to open` });
    const quietEnds = new Date(`${new Date(now + 60 * MINUTE).toISOString().slice(0, 16)}:00.000Z`);
    expect(new Date(held!.dueAt as string).getTime()).toBe(quietEnds.getTime());
    expect((await campaignState(secret, brief)).stats).toMatchObject({ suppressed: 1, suppressedBy: [{ reason: 'QUIET_HOURS', count: 1 }] });
  });
});

const TrackMany = graphql(`
  mutation PolicyTrackMany($events: [EventInput!]!) {
    trackEvents(input: { events: $events }) { __typename ... on Error { message } }
  }
`);

describe('frequency caps', () => {
  /** A workspace capped at one message a day, two broadcasts in it, and each one's delivery policy (local ids). */
  async function cappedBroadcasts(...names: [string, string]) {
    const { secret, workspace } = await h.workspace();
    await secret(Settings, { input: { frequencyCaps: [{ limit: 1, period: 'DAY' }] } });
    const ids: string[] = [];
    for (const name of names) ids.push(localId(await createCampaign(secret, { name, kind: 'BROADCAST', content }), 'Campaign')!);
    const db = h.kit.herald.prisma;
    const ws = await db.workspace.findUniqueOrThrow({ where: { id: localId(workspace.id, 'Workspace')! } });
    const policies = await Promise.all(ids.map(async (id) => deliveryPolicy(h.kit.herald, await db.campaign.findUniqueOrThrow({ where: { id } }), ws)));
    return { workspace, ws, ids, policies };
  }

  it('hold when campaigns race for the same people at the same moment; transactional pushes bypass them', async () => {
    const { secret, publishable } = await h.workspace();
    await secret(Settings, { input: { frequencyCaps: [{ limit: 2, period: 'DAY' }, { limit: 10, period: 'WEEK' }] } });
    const people = Array.from({ length: 30 }, (_, index) => `p${index}`);
    const browsers = new Map<string, string[]>();
    for (const externalId of people) {
      const count = externalId === 'p0' ? 2 : 1; // p0 has a laptop and a phone: one message reaches both
      for (let n = 0; n < count; n++) {
        const { browser } = await subscribeBrowser(publishable, h.push, { externalId });
        browsers.set(externalId, [...(browsers.get(externalId) ?? []), browser.id]);
      }
    }
    const received = (externalId: string) => browsers.get(externalId)!.map((id) => h.push.received(id).length);

    // Six campaigns on one event, no delay: one batch of events starts six sends at once.
    const campaigns: string[] = [];
    for (const name of ['Welcome', 'Tips', 'Coupon', 'Survey', 'Quiz', 'Badge']) {
      const id = await createCampaign(secret, { name, kind: 'TRIGGERED', content, trigger: { event: 'signup' } });
      await secret(Activate, { id });
      campaigns.push(id);
    }
    await secret(TrackMany, { events: people.map((externalId) => ({ externalId, name: 'signup' })) });
    const settled = async () => {
      const all = await Promise.all(campaigns.map((id) => campaignState(secret, id)));
      return all.every(({ stats }) => stats.sent + stats.suppressed === 31) ? all : null;
    };
    let states = await settled();
    for (let tries = 0; !states && tries < 100; tries++) states = (await sleep(100), await settled());
    expect(states).not.toBeNull();
    for (const externalId of people.slice(1)) expect(received(externalId)).toEqual([2]);
    expect(received('p0')).toEqual([2, 2]);
    const sent = states!.map(({ stats }) => stats.sent);
    expect(sent.reduce((sum, count) => sum + count, 0)).toBe(62);
    for (const { stats } of states!) {
      expect(stats.suppressedBy).toEqual(stats.suppressed ? [{ reason: 'FREQUENCY_CAP', count: stats.suppressed }] : []);
    }

    // A transactional push goes anyway (and counts: the next marketing push finds everyone capped).
    const receipt = await createCampaign(secret, { name: 'Order shipped', kind: 'BROADCAST', content, frequencyCapped: false });
    await secret(SendNow, { id: receipt });
    expect((await waitForStatus(secret, receipt)).stats).toMatchObject({ sent: 31, suppressed: 0 });
    for (const externalId of people.slice(1)) expect(received(externalId)).toEqual([3]);
    const promo = await createCampaign(secret, { name: 'Promo', kind: 'BROADCAST', content });
    await secret(SendNow, { id: promo });
    expect((await waitForStatus(secret, promo)).stats).toMatchObject({ sent: 0, suppressed: 31, suppressedBy: [{ reason: 'FREQUENCY_CAP', count: 31 }] });
  });

  it('let two senders claiming for the same contacts at once stay within the cap (per-contact locks)', async () => {
    const { workspace, ws, ids, policies } = await cappedBroadcasts('Left', 'Right');
    const db = h.kit.herald.prisma;

    for (let round = 0; round < 5; round++) {
      await seedBrowsers(h.kit.databaseUrl, workspace.id, h.push, 40);
      // Both campaigns' rows for every contact without any yet, as prepare would write them.
      await db.$executeRaw`
        INSERT INTO "Message" (id, "workspaceId", "campaignId", "contactId", "subscriptionId", occurrence, "scheduledFor", "dueAt", "updatedAt")
        SELECT gen_random_uuid(), s."workspaceId", c.id, s."contactId", s.id, 'broadcast', now(), now(), now()
        FROM "PushSubscription" s CROSS JOIN unnest(${ids}::uuid[]) AS c(id)
        WHERE s."workspaceId" = ${ws.id}::uuid AND NOT EXISTS (SELECT 1 FROM "Message" m WHERE m."subscriptionId" = s.id)`;
      // Both senders claim their campaign's waiting rows at the same moment, in opposite orders,
      // until none wait: a contact the other holds is left for the next batch.
      for (let batch = 0; batch < 20; batch++) {
        const results = await Promise.all(
          policies.map(async (policy, index) => {
            const order = index === 0 ? Prisma.sql`ASC` : Prisma.sql`DESC`;
            const { tx, rows } = await ClaimTransaction.begin<{ id: string; contactId: string; occurrence: string }>(
              h.kit.herald,
              Prisma.sql`SELECT id::text, "contactId"::text, occurrence FROM "Message" WHERE "campaignId" = ${ids[index]!}::uuid AND status = 'QUEUED' ORDER BY "contactId" ${order} FOR UPDATE SKIP LOCKED`,
            );
            const claims = rows.map((row) => ({ id: row.id, from: 'QUEUED' as const, status: 'SENDING' as const, row: { ...row, timezone: null } }));
            const claim = await policy.claim(tx, claims, []);
            await claim.commit();
            return claim.skipped;
          }),
        );
        if (results.every((skipped) => skipped === 0)) break;
      }
    }
    const perContact = await db.$queryRaw<{ claimed: number; suppressed: number }[]>`
      SELECT count(*) FILTER (WHERE status = 'SENDING')::int AS claimed, count(*) FILTER (WHERE status = 'SUPPRESSED' AND reason = 'FREQUENCY_CAP')::int AS suppressed
      FROM "Message" WHERE "workspaceId" = ${ws.id}::uuid GROUP BY "contactId"`;
    expect(perContact).toHaveLength(200);
    expect(perContact.every((contact) => contact.claimed === 1 && contact.suppressed === 1)).toBe(true);
  });

  it('count a message from its first claim: a retry is not judged again, and counts against others while it waits', async () => {
    const { workspace, ws, ids, policies: [early, late] } = await cappedBroadcasts('Early', 'Late');
    const db = h.kit.herald.prisma;
    await seedBrowsers(h.kit.databaseUrl, workspace.id, h.push, 3);
    await db.$executeRaw`
      INSERT INTO "Message" (id, "workspaceId", "campaignId", "contactId", "subscriptionId", occurrence, "scheduledFor", "dueAt", "updatedAt")
      SELECT gen_random_uuid(), s."workspaceId", c.id, s."contactId", s.id, 'broadcast', now(), now(), now()
      FROM "PushSubscription" s CROSS JOIN unnest(${ids}::uuid[]) AS c(id) WHERE s."workspaceId" = ${ws.id}::uuid`;
    const claimAll = async (policy: NonNullable<typeof early>, campaignId: string) => {
      const { tx, rows } = await ClaimTransaction.begin<{ id: string; contactId: string; occurrence: string }>(
        h.kit.herald,
        Prisma.sql`SELECT id::text, "contactId"::text, occurrence FROM "Message" WHERE "campaignId" = ${campaignId}::uuid AND status = 'QUEUED' FOR UPDATE SKIP LOCKED`,
      );
      const claim = await policy.claim(tx, rows.map((row) => ({ id: row.id, from: 'QUEUED' as const, status: 'SENDING' as const, row: { ...row, timezone: null } })), []);
      await claim.commit();
      return { rows: rows.length, sending: claim.sending.size };
    };
    const statuses = (campaignId: string) =>
      db.message.findMany({ where: { campaignId }, select: { status: true, reason: true } }).then((rows) => rows.map((row) => `${row.status}${row.reason ? `/${row.reason}` : ''}`).sort());

    // Early is claimed for all three; their pushes time out and go back to wait for a retry, as the sender moves them.
    expect(await claimAll(early!, ids[0]!)).toEqual({ rows: 3, sending: 3 });
    const claimed = await db.message.findMany({ where: { campaignId: ids[0]!, status: 'SENDING' }, select: { id: true } });
    await transition(h.kit.herald, claimed.map(({ id }) => ({ id, from: 'SENDING' as const, status: 'QUEUED' as const, error: 'no answer within 10000 ms', dueAt: new Date() })));
    // Late comes while they wait: Early's messages already count, so Late is over the cap.
    expect(await claimAll(late!, ids[1]!)).toEqual({ rows: 3, sending: 0 });
    expect(await statuses(ids[1]!)).toEqual(Array(3).fill('SUPPRESSED/FREQUENCY_CAP'));
    // Early's retries go: they were let through once and are the same messages.
    expect(await claimAll(early!, ids[0]!)).toEqual({ rows: 3, sending: 3 });
    expect(await statuses(ids[0]!)).toEqual(Array(3).fill('SENDING'));
  });

  it('count a message whose claim’s COMMIT failed after it was sent: its resend is not judged again, and counts against others while it waits', async () => {
    const { workspace, ws, ids } = await cappedBroadcasts('Cut', 'Later');
    const [cut, later] = ids as [string, string];
    const db = h.kit.herald.prisma;
    const browsers = await seedBrowsers(h.kit.databaseUrl, workspace.id, h.push, 3);
    await db.$executeRaw`
      INSERT INTO "Message" (id, "workspaceId", "campaignId", "contactId", "subscriptionId", occurrence, "scheduledFor", "dueAt", "updatedAt")
      SELECT gen_random_uuid(), s."workspaceId", c.id, s."contactId", s.id, 'broadcast', now(), now(), now()
      FROM "PushSubscription" s CROSS JOIN unnest(${ids}::uuid[]) AS c(id) WHERE s."workspaceId" = ${ws.id}::uuid`;
    const sending = (campaignId: string) => db.$executeRaw`UPDATE "Campaign" SET status = 'SENDING', "preparedAt" = now() WHERE id = ${campaignId}::uuid`;
    const statuses = (campaignId: string) =>
      db.message.findMany({ where: { campaignId }, select: { status: true, reason: true } }).then((rows) => rows.map((row) => `${row.status}${row.reason ? `/${row.reason}` : ''}`).sort());

    // Cut's claim fails at COMMIT, after its pushes left with it (as when the connection drops): a deferred trigger refuses it.
    await db.$executeRawUnsafe(`CREATE FUNCTION refuse_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'COMMIT refused by the test'; END $$`);
    await db.$executeRawUnsafe(
      `CREATE CONSTRAINT TRIGGER refuse_commit AFTER UPDATE ON "Message" DEFERRABLE INITIALLY DEFERRED
       FOR EACH ROW WHEN (NEW.status = 'SENDING' AND NEW."campaignId" = '${cut}'::uuid) EXECUTE FUNCTION refuse_commit()`,
    );
    await sending(cut);
    await expect(deliverCampaign(h.kit.herald, cut)).rejects.toThrow(/COMMIT refused/);
    await db.$executeRawUnsafe(`DROP TRIGGER refuse_commit ON "Message"; DROP FUNCTION refuse_commit()`);
    expect(browsers.map((browser) => h.push.received(browser.id).length)).toEqual([1, 1, 1]);
    expect(await statuses(cut)).toEqual(Array(3).fill('QUEUED')); // the claims were rolled back

    // Cut is paused before its next pass, which records its resends; they wait.
    await db.$executeRaw`UPDATE "Campaign" SET status = 'PAUSED' WHERE id = ${cut}::uuid`;
    expect(await deliverCampaign(h.kit.herald, cut)).toBe('stopped');
    expect(await statuses(cut)).toEqual(Array(3).fill('QUEUED/RESENT_AFTER_CRASH'));
    // Later comes meanwhile: Cut's messages, already on screen, count, so Later is over the cap.
    await sending(later);
    await pass(later);
    expect(await statuses(later)).toEqual(Array(3).fill('SUPPRESSED/FREQUENCY_CAP'));
    // Cut resumes: its resends were let through once and are the same messages.
    await sending(cut);
    await pass(cut);
    expect(await statuses(cut)).toEqual(Array(3).fill('SENT/RESENT_AFTER_CRASH'));
    expect(browsers.map((browser) => h.push.received(browser.id).length)).toEqual([2, 2, 2]);
  });
});

