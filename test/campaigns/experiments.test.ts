import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { MIN_TRIALS } from '../../src/analytics/sequential.ts';
import { bucketOf, controlKey, holdoutKey, variantOf } from '../../src/delivery/experiment.ts';
import { graphql } from '../generated/index.ts';
import { activateCampaign, CreateCampaign, createCampaign, seedBrowsers, SendNow, waitForStatus } from '../kit/campaigns.ts';
import { dataOf } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';

const Experiment = graphql(`
  query ExperimentResult($id: ID!) {
    campaign(id: $id) {
      holdoutPercent
      variants { name weight content }
      experiment {
        metric
        variants { name sent displayed opened clicked conversions rate interval }
        holdout { size conversions rate }
        lift interval probabilityToBeatControl significant winner
      }
      stats { experiment { winner holdout { size } } }
    }
  }
`);

const Track = graphql(`
  mutation ExperimentTrack($events: [EventInput!]!) {
    trackEvents(input: { events: $events }) { __typename ... on Error { message } }
  }
`);

const Settings = graphql(`
  mutation ExperimentSettings($percent: Int!) {
    updateWorkspaceSettings(input: { controlGroupPercent: $percent }) {
      __typename
      ... on MutationUpdateWorkspaceSettingsSuccess { data { settings { controlGroupPercent } } }
      ... on ValidationError { fieldErrors { path message } }
    }
  }
`);

const h = useHerald({ HERALD_PUSH_RETRY_BASE_MS: '50' });

const push = (title: string) => ({ title, url: 'https://shop.example/' });
const idOf = (globalId: string) => Buffer.from(globalId, 'base64').toString().split(':')[1]!;

/** The campaign's ledger rows, straight from the database. */
async function ledger(databaseUrl: string, campaignGlobalId: string) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ contactId: string; variant: string | null; status: string; reason: string | null; scheduledFor: Date; sentAt: Date | null }>(
      `SELECT "contactId"::text, variant, status::text, reason::text, "scheduledFor", "sentAt" FROM "Message" WHERE "campaignId" = $1::uuid ORDER BY "scheduledFor"`,
      [idOf(campaignGlobalId)],
    );
    return rows;
  } finally {
    await client.end();
  }
}

describe('experiments', () => {
  it('three variants and a 10% holdout: each contact gets one variant, always the same, the held-out nothing; the experiment reads the winner only when it is real', async () => {
    const { workspace, secret } = await h.workspace();
    const browsers = await seedBrowsers(h.kit.databaseUrl, workspace.id, h.push, 1200);
    const id = await createCampaign(secret, {
      name: 'Subject test',
      kind: 'BROADCAST',
      content: push('Own content, never sent'),
      variants: [
        { name: 'A', weight: 1, content: push('Variant A') },
        { name: 'B', weight: 1, content: push('Variant B') },
        { name: 'C', weight: 2, content: push('Variant C for {{ contact.anonymousId | slice: 0, 4 }}') },
      ],
      holdoutPercent: 10,
      conversion: { event: 'purchase', withinSeconds: 3600 },
    });
    dataOf(await secret(SendNow, { id }));
    await waitForStatus(secret, id, 'SENT', 120_000);

    // The assignment in SQL is the documented one, and each browser got its variant's content.
    const campaignId = idOf(id);
    const rows = await ledger(h.kit.databaseUrl, id);
    expect(rows).toHaveLength(1200);
    const variants = [{ name: 'A', weight: 1 }, { name: 'B', weight: 1 }, { name: 'C', weight: 2 }];
    for (const browser of browsers) {
      const row = rows.find((r) => r.contactId === browser.anonymousId)!;
      const received = h.push.received(browser.id);
      if (bucketOf(holdoutKey(campaignId, browser.anonymousId)) < 1000) {
        expect(row).toMatchObject({ status: 'SUPPRESSED', reason: 'HOLDOUT', variant: null });
        expect(received).toHaveLength(0);
      } else {
        expect(row).toMatchObject({ status: 'SENT', variant: variantOf(variants, campaignId, browser.anonymousId) });
        expect(received).toHaveLength(1);
        const title = (received[0]!.json as { title: string }).title;
        expect(title).toBe(row.variant === 'C' ? `Variant C for ${browser.anonymousId.slice(0, 4)}` : `Variant ${row.variant}`);
      }
    }
    const held = rows.filter((row) => row.reason === 'HOLDOUT');
    const sentTo = (name: string) => rows.filter((row) => row.variant === name).map((row) => row.contactId);
    expect(held.length / rows.length).toBeGreaterThan(0.06);
    expect(held.length / rows.length).toBeLessThan(0.14);
    expect(sentTo('C').length / (rows.length - held.length)).toBeGreaterThan(0.42);
    expect(sentTo('C').length / (rows.length - held.length)).toBeLessThan(0.58);

    // Everyone who got C buys; nobody who got A or B; three of the held-out buy anyway.
    const buyers = [...sentTo('C'), ...held.slice(0, 3).map((row) => row.contactId)];
    const tracked = dataOf(await secret(Track, { events: buyers.map((anonymousId) => ({ anonymousId, name: 'purchase' })) }));
    expect(tracked.trackEvents.__typename).toBe('MutationTrackEventsSuccess');

    const { campaign } = dataOf(await secret(Experiment, { id }));
    expect(campaign!.holdoutPercent).toBe(10);
    expect(campaign!.variants.map((variant) => variant.name)).toEqual(['A', 'B', 'C']);
    const experiment = campaign!.experiment!;
    expect(experiment.metric).toBe('CONVERSIONS');
    expect(experiment.variants.map(({ name, sent, conversions }) => ({ name, sent, conversions }))).toEqual([
      { name: 'A', sent: sentTo('A').length, conversions: 0 },
      { name: 'B', sent: sentTo('B').length, conversions: 0 },
      { name: 'C', sent: sentTo('C').length, conversions: sentTo('C').length },
    ]);
    expect(experiment.holdout).toEqual({ size: held.length, conversions: 3, rate: 3 / held.length });
    for (const variant of experiment.variants) {
      expect(variant.interval[0]).toBeLessThanOrEqual(variant.rate);
      expect(variant.interval[1]).toBeGreaterThanOrEqual(variant.rate);
    }
    // Against the held-out only with enough of them (MIN_TRIALS; ~2.7% of campaign ids hold out fewer than 100 of 1,200).
    expect(experiment).toMatchObject({ significant: held.length >= MIN_TRIALS, winner: 'C' });
    expect(experiment.lift).toBeCloseTo(sentTo('C').length / (rows.length - held.length) / (3 / held.length) - 1, 6);
    if (held.length >= MIN_TRIALS) expect(experiment.interval![0]).toBeGreaterThan(0);
    else expect(experiment.interval).toBeNull();
    expect(campaign!.stats.experiment).toMatchObject({ winner: 'C', holdout: { size: held.length } });
  }, 180_000);

  it('a close race has no winner', async () => {
    const { workspace, secret } = await h.workspace();
    await seedBrowsers(h.kit.databaseUrl, workspace.id, h.push, 400);
    const id = await createCampaign(secret, {
      name: 'Coin toss',
      kind: 'BROADCAST',
      content: push('x'),
      variants: [{ name: 'heads', weight: 1, content: push('Heads') }, { name: 'tails', weight: 1, content: push('Tails') }],
      conversion: { event: 'purchase', withinSeconds: 3600 },
    });
    dataOf(await secret(SendNow, { id }));
    await waitForStatus(secret, id, 'SENT', 120_000);
    const rows = await ledger(h.kit.databaseUrl, id);
    // Every fifth contact buys, whatever they got.
    const buyers = rows.filter((_, index) => index % 5 === 0).map((row) => row.contactId);
    await secret(Track, { events: buyers.map((anonymousId) => ({ anonymousId, name: 'purchase' })) });
    const experiment = dataOf(await secret(Experiment, { id })).campaign!.experiment!;
    expect(experiment.variants.reduce((sum, variant) => sum + variant.conversions, 0)).toBe(buyers.length);
    expect(experiment).toMatchObject({ holdout: null, significant: false, winner: null });
  }, 180_000);

  it('a triggered campaign holds out the triggers it would have sent for, and counts a held-out conversion after any of them', async () => {
    const { workspace, secret } = await h.workspace();
    const browsers = await seedBrowsers(h.kit.databaseUrl, workspace.id, h.push, 30);
    const used = new Set<string>(); // each contact's purchases are its own campaign's
    /**
     * One held-out and one messaged contact of a TRIGGERED campaign on `event`, each triggering it
     * twice 2.5 s apart (each call's campaign listens to an event of its own: an earlier one
     * still active would send the messaged contact a push of its own too).
     */
    const twoCarts = async (event: string, trigger: Record<string, unknown>) => {
      const id = await createCampaign(secret, {
        name: 'Abandoned cart',
        kind: 'TRIGGERED',
        content: push('Your cart'),
        trigger: { event, ...trigger },
        holdoutPercent: 50,
        conversion: { event: 'purchase', withinSeconds: 60 },
      });
      await activateCampaign(secret, id);
      const heldOut = (browser: (typeof browsers)[number]) => bucketOf(holdoutKey(idOf(id), browser.anonymousId)) < 5000;
      const held = browsers.find((browser) => !used.has(browser.anonymousId) && heldOut(browser))!;
      const messaged = browsers.find((browser) => !used.has(browser.anonymousId) && !heldOut(browser))!;
      used.add(held.anonymousId).add(messaged.anonymousId);
      const cart = async () => dataOf(await secret(Track, { events: [held, messaged].map(({ anonymousId }) => ({ anonymousId, name: event })) }));
      const pushes = h.push.received(messaged.id).length;
      await cart();
      await h.push.waitFor(() => h.push.received(messaged.id).length === pushes + 1, 10_000);
      await sleep(2500);
      await cart();
      await sleep(1000);
      return { id, held, messaged };
    };
    /** Each contact buys 61 s after its first (would-be) message: past that one's window, inside a second one's. */
    const purchaseAfterFirst = async (id: string, contacts: { anonymousId: string }[]) => {
      const rows = await ledger(h.kit.databaseUrl, id);
      const events = contacts.map(({ anonymousId }) => {
        const first = rows.find((row) => row.contactId === anonymousId)!;
        return { anonymousId, name: 'purchase', occurredAt: new Date((first.sentAt ?? first.scheduledFor).getTime() + 61_000).toISOString() };
      });
      dataOf(await secret(Track, { events }));
      return dataOf(await secret(Experiment, { id })).campaign!.experiment!;
    };

    // Eligible again after 1 s: both contacts are messaged (or would be) twice, and both convert on the second.
    const again = await twoCarts('cart', { reEligibleAfterSeconds: 1 });
    const againRows = await ledger(h.kit.databaseUrl, again.id);
    expect(againRows.filter((row) => row.contactId === again.messaged.anonymousId).map((row) => row.status)).toEqual(['SENT', 'SENT']);
    expect(againRows.filter((row) => row.contactId === again.held.anonymousId).map((row) => row.reason)).toEqual(['HOLDOUT', 'HOLDOUT']);
    const converted = await purchaseAfterFirst(again.id, [again.held, again.messaged]);
    expect(converted.variants).toMatchObject([{ sent: 1, conversions: 1 }]);
    expect(converted.holdout).toEqual({ size: 1, conversions: 1, rate: 1 });

    // Once ever: the messaged contact gets one message, so the held-out one is held out of one, and neither converts after its window.
    const once = await twoCarts('basket', {});
    const onceRows = await ledger(h.kit.databaseUrl, once.id);
    expect(onceRows.filter((row) => row.contactId === once.messaged.anonymousId).map((row) => row.status)).toEqual(['SENT']);
    expect(onceRows.filter((row) => row.contactId === once.held.anonymousId).map((row) => row.reason)).toEqual(['HOLDOUT']);
    const notConverted = await purchaseAfterFirst(once.id, [once.held, once.messaged]);
    expect(notConverted.variants).toMatchObject([{ sent: 1, conversions: 0 }]);
    expect(notConverted.holdout).toEqual({ size: 1, conversions: 0, rate: 0 });
  }, 60_000);

  it('a held-out conversion is credited as a messaged one: to the latest campaign with that goal, so a later campaign takes both', async () => {
    const { workspace, secret } = await h.workspace();
    const browsers = await seedBrowsers(h.kit.databaseUrl, workspace.id, h.push, 240);
    const goal = { event: 'purchase', withinSeconds: 3600 };
    const sent = async (input: Record<string, unknown>) => {
      const id = await createCampaign(secret, { kind: 'BROADCAST', content: push(String(input.name)), conversion: goal, ...input });
      dataOf(await secret(SendNow, { id }));
      await waitForStatus(secret, id, 'SENT', 120_000);
      return id;
    };
    // A campaign with a holdout, then one to everyone with the same goal: the second is each purchase's last touch.
    const first = await sent({ name: 'Spring sale', holdoutPercent: 50 });
    const second = await sent({ name: 'Last day of the sale' });
    dataOf(await secret(Track, { events: browsers.map(({ anonymousId }) => ({ anonymousId, name: 'purchase' })) }));

    expect(dataOf(await secret(Experiment, { id: second })).campaign!.stats.experiment).toBeNull();
    const experiment = dataOf(await secret(Experiment, { id: first })).campaign!.experiment!;
    const held = (await ledger(h.kit.databaseUrl, first)).filter((row) => row.reason === 'HOLDOUT').length;
    expect(held).toBeGreaterThan(80);
    // Nobody's purchase is the first campaign's, messaged or held out: it makes no difference.
    expect(experiment.variants).toMatchObject([{ sent: 240 - held, conversions: 0 }]);
    expect(experiment.holdout).toEqual({ size: held, conversions: 0, rate: 0 });
    expect(experiment.significant).toBe(false);
  }, 180_000);

  it('the global control group gets no marketing message from any campaign, always the same people, and receipts still go', async () => {
    const { workspace, secret } = await h.workspace();
    const workspaceId = idOf(workspace.id);
    const browsers = await seedBrowsers(h.kit.databaseUrl, workspace.id, h.push, 300);
    expect(dataOf(await secret(Settings, { percent: 20 })).updateWorkspaceSettings).toMatchObject({ data: { settings: { controlGroupPercent: 20 } } });
    const inControl = new Set(browsers.filter((b) => bucketOf(controlKey(workspaceId, b.anonymousId)) < 2000).map((b) => b.anonymousId));
    expect(inControl.size).toBeGreaterThan(30);
    expect(inControl.size).toBeLessThan(90);

    for (const name of ['Monday newsletter', 'Tuesday newsletter']) {
      const id = await createCampaign(secret, { name, kind: 'BROADCAST', content: push(name) });
      dataOf(await secret(SendNow, { id }));
      await waitForStatus(secret, id, 'SENT', 120_000);
      const suppressed = (await ledger(h.kit.databaseUrl, id)).filter((row) => row.reason === 'CONTROL_GROUP').map((row) => row.contactId);
      expect(new Set(suppressed)).toEqual(inControl);
    }
    const receipt = await createCampaign(secret, { name: 'Order update', kind: 'BROADCAST', content: push('Shipped'), frequencyCapped: false });
    dataOf(await secret(SendNow, { id: receipt }));
    const state = await waitForStatus(secret, receipt, 'SENT', 120_000);
    expect(state.stats).toMatchObject({ sent: 300, suppressed: 0 });

    expect(dataOf(await secret(Settings, { percent: 51 })).updateWorkspaceSettings).toMatchObject({
      fieldErrors: [{ path: ['input', 'controlGroupPercent'], message: 'must be at most 50' }],
    });
  }, 180_000);

  it('refuses experiments that cannot work, saying where, and saves nothing', async () => {
    const { secret } = await h.workspace();
    const create = async (input: Record<string, unknown>) =>
      dataOf(await secret(CreateCampaign, { input: { name: 'x', kind: 'BROADCAST', content: push('x'), ...input } } as never)).createCampaign;
    expect(await create({ variants: [{ name: 'A', weight: 1, content: push('A') }] })).toMatchObject({
      fieldErrors: [{ path: ['input', 'variants'], message: 'give at least 2 variants (or none)' }],
    });
    expect(await create({ variants: [{ name: 'A', weight: 1, content: push('A') }, { name: 'A', weight: 0, email: { subject: 'x', html: 'x' } }] })).toMatchObject({
      fieldErrors: [
        { path: ['input', 'variants', '1', 'weight'], message: 'must be at least 1' },
        { path: ['input', 'variants'], message: 'variant names must differ' },
        { path: ['input', 'variants', '1', 'email'], message: "email is for another channel; this campaign's channel is WEB_PUSH" },
        { path: ['input', 'variants', '1', 'content'], message: 'each variant of a WEB_PUSH campaign needs content' },
      ],
    });
    expect(await create({ holdoutPercent: 60, variants: [{ name: 'A', weight: 1, content: push('A') }, { name: 'B', weight: 1, content: { title: 'B', url: 'ftp://x' } }] })).toMatchObject({
      __typename: 'ValidationError',
    });
    const result = await create({ holdoutPercent: 60 });
    expect(result).toMatchObject({ fieldErrors: [{ path: ['input', 'holdoutPercent'], message: 'must be at most 50' }] });
    const huge = await create({ variants: [{ name: 'A', weight: 1, content: push('A') }, { name: 'B', weight: 1, content: push('{% for i in (1..10) %}' + 'x'.repeat(5000) + '{% endfor %}') }] });
    // A variant's content is checked as the campaign's own: here its template, at its own place.
    expect(huge.__typename === 'ValidationError' && huge.fieldErrors[0]!.path.slice(0, 4)).toEqual(['input', 'variants', '1', 'content']);
  });
});
