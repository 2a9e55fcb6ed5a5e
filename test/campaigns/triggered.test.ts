import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import { campaignState, createCampaign, subscribeBrowser } from '../kit/campaigns.ts';
import { dataOf, type httpClient } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';
import { eventKeyOf } from '../../src/segments/compile.ts';

type Client = ReturnType<typeof httpClient>;

const Upsert = graphql(`
  mutation TriggerUpsert($input: ContactInput!) {
    upsertContact(input: $input) { __typename ... on MutationUpsertContactSuccess { data { id } } ... on Error { message } }
  }
`);
const Activate = graphql(`
  mutation TriggerActivate($id: ID!) {
    activateCampaign(input: { id: $id }) { __typename ... on MutationActivateCampaignSuccess { data { status } } ... on Error { code message } }
  }
`);
const Track = graphql(`
  mutation TriggerTrack($input: EventInput!) {
    trackEvent(input: $input) { __typename ... on MutationTrackEventSuccess { data { id } } ... on Error { message } }
  }
`);
const TrackMany = graphql(`
  mutation TriggerTrackMany($events: [EventInput!]!) {
    trackEvents(input: { events: $events }) { __typename ... on MutationTrackEventsSuccess { data { count duplicates } } ... on Error { message } }
  }
`);
const Pause = graphql(`
  mutation TriggerPause($id: ID!) { pauseCampaign(input: { id: $id }) { __typename ... on Error { message } } }
`);
const Resume = graphql(`
  mutation TriggerResume($id: ID!) { resumeCampaign(input: { id: $id }) { __typename ... on Error { message } } }
`);
const CreateSegment = graphql(`
  mutation TriggerSegment($rule: SegmentRuleInput!) {
    createSegment(input: { name: "Plan", rule: $rule }) { __typename ... on MutationCreateSegmentSuccess { data { id } } ... on Error { message } }
  }
`);
const UpdateSegment = graphql(`
  mutation TriggerSegmentEdit($id: ID!, $rule: SegmentRuleInput!) {
    updateSegment(input: { id: $id, rule: $rule }) { __typename ... on Error { message } }
  }
`);
const Messages = graphql(`
  query TriggerMessages($id: ID!) {
    campaign(id: $id) {
      messages(first: 100) { totalCount edges { node { status reason error scheduledFor sentAt contact { externalId } } } }
    }
  }
`);

const RegisterAgain = graphql(`
  mutation TriggerRegisterAgain($input: MutationRegisterPushSubscriptionInput!) {
    registerPushSubscription(input: $input) { __typename ... on Error { code message } }
  }
`);
const h = useHerald({ HERALD_PUSH_RETRY_BASE_MS: '50', HERALD_PUSH_TIMEOUT_MS: '1000' });


const content = {
  title: 'You left {{ event.properties.item }} behind, {{ contact.firstName | default: "friend" }}',
  body: 'Your cart is worth {{ event.properties.cart_value }}',
  url: 'https://shop.example/cart',
};

/** A workspace with one ACTIVE triggered campaign and a function to add subscribed shoppers. */
async function shopWith(trigger: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const { secret, publishable } = await h.workspace();
  const id = await createCampaign(secret, { name: 'Abandoned cart', kind: 'TRIGGERED', content, trigger, ...extra });
  const activated = dataOf(await secret(Activate, { id })).activateCampaign;
  expect(activated).toMatchObject({ data: { status: 'ACTIVE' } });
  const shopper = async (externalId: string, attributes: Record<string, unknown> = {}) => {
    await secret(Upsert, { input: { externalId, firstName: externalId, attributes } });
    return (await subscribeBrowser(publishable, h.push, { externalId })).browser;
  };
  return { secret, publishable, id, shopper };
}

async function track(secret: Client, externalId: string, name: string, properties: Record<string, unknown> = {}, idempotencyKey?: string) {
  const result = dataOf(await secret(Track, { input: { externalId, name, properties, idempotencyKey } })).trackEvent;
  expect(result.__typename).toBe('MutationTrackEventSuccess');
}

async function messages(secret: Client, id: string) {
  const campaign = dataOf(await secret(Messages, { id })).campaign!;
  return campaign.messages.edges.map(({ node }) => node);
}

/** The campaign's ledger once `settled` holds: the push service's answer is recorded a moment after the push arrives there. */
async function ledgerOnce(secret: Client, id: string, settled: (rows: Awaited<ReturnType<typeof messages>>) => boolean) {
  for (let tries = 0; ; tries++) {
    const rows = await messages(secret, id);
    if (settled(rows) || tries >= 50) return rows;
    await sleep(100);
  }
}

const titles = (browser: { id: string }) => h.push.received(browser.id).map((received) => (received.json as { title: string }).title);

describe('triggered campaigns', () => {
  it('sends after the delay, not before, with the event in the template, only when the filter matches', async () => {
    const { secret, id, shopper } = await shopWith({ event: 'cart_abandoned', where: [{ path: 'cart_value', op: 'GT', value: 100 }], delaySeconds: 2 });
    const ada = await shopper('ada');
    const bob = await shopper('bob');

    const trackedAt = Date.now();
    await track(secret, 'ada', 'cart_abandoned', { cart_value: 150, item: 'the red shoes' });
    await track(secret, 'bob', 'cart_abandoned', { cart_value: 40, item: 'socks' }); // below the filter
    await sleep(1500);
    expect(h.push.received(ada.id)).toHaveLength(0);

    await h.push.waitFor(() => h.push.received(ada.id).length === 1, 5_000);
    const latency = h.push.received(ada.id)[0]!.receivedAt - trackedAt;
    expect(latency).toBeGreaterThanOrEqual(2000);
    expect(latency).toBeLessThan(3500); // woken at the due time, not at the next poll
    expect(titles(ada)).toEqual(['You left the red shoes behind, ada']);
    expect((h.push.received(ada.id)[0]!.json as { body: string }).body).toBe('Your cart is worth 150');
    expect(h.push.received(bob.id)).toHaveLength(0);
    const rows = await ledgerOnce(secret, id, (all) => all.every((row) => row.status !== 'SENDING'));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'SENT', reason: 'ACCEPTED', contact: { externalId: 'ada' } });
    expect(new Date(rows[0]!.scheduledFor).getTime() - trackedAt).toBeGreaterThanOrEqual(1900);
  });

  it("does not send a browser that moved to another contact its previous owner's waiting message", async () => {
    // A shared computer: Ada's browser is subscribed, her trigger's message waits out its delay, and
    // meanwhile the browser is registered again for someone else (another sign-in, a new visitor).
    const { secret, publishable, id, shopper } = await shopWith({ event: 'cart_abandoned', delaySeconds: 1 });
    const ada = await shopper('ada');
    await track(secret, 'ada', 'cart_abandoned', { cart_value: 150, item: 'the red shoes' });
    const moved = dataOf(await publishable(RegisterAgain, { input: { anonymousId: 'next-visitor', subscription: ada.json } })).registerPushSubscription;
    expect(moved.__typename).toBe('MutationRegisterPushSubscriptionSuccess');
    const rows = await ledgerOnce(secret, id, (all) => all.length === 1 && all[0]!.status !== 'QUEUED' && all[0]!.status !== 'SENDING');
    expect(rows).toMatchObject([{ status: 'SUPPRESSED', reason: 'NOT_ELIGIBLE', contact: { externalId: 'ada' } }]);
    expect(h.push.received(ada.id)).toHaveLength(0);
  });

  it('cancels the message when an exception event arrives during the delay, and not after the send', async () => {
    const { secret, id, shopper } = await shopWith({ event: 'cart_abandoned', delaySeconds: 2, exceptionEvents: ['purchase'] });
    const ada = await shopper('ada');
    await track(secret, 'ada', 'cart_abandoned', { item: 'a hat' });
    await sleep(300);
    await track(secret, 'ada', 'purchase', { total: 30 });
    await sleep(2500);
    expect(h.push.received(ada.id)).toHaveLength(0);
    expect(await messages(secret, id)).toMatchObject([{ status: 'SUPPRESSED', reason: 'EXCEPTION_EVENT' }]);
    const stats = (await campaignState(secret, id)).stats;
    expect(stats).toMatchObject({ targeted: 1, sent: 0, suppressed: 1, suppressedBy: [{ reason: 'EXCEPTION_EVENT', count: 1 }] });

    // Once sent, a purchase changes nothing.
    const { secret: secret2, id: id2, shopper: shopper2 } = await shopWith({ event: 'cart_abandoned', exceptionEvents: ['purchase'] });
    const bob = await shopper2('bob');
    await track(secret2, 'bob', 'cart_abandoned', { item: 'a scarf' });
    await h.push.waitFor(() => h.push.received(bob.id).length === 1, 5_000);
    await track(secret2, 'bob', 'purchase');
    await sleep(300);
    expect(await messages(secret2, id2)).toMatchObject([{ status: 'SENT', reason: 'ACCEPTED' }]);
  });

  it('ignores triggers outside startAt/endAt', async () => {
    const later = await shopWith({ event: 'signup' }, { startAt: new Date(Date.now() + 3600_000).toISOString() });
    const ada = await later.shopper('ada');
    await track(later.secret, 'ada', 'signup');

    const soon = await shopWith({ event: 'signup' }, { endAt: new Date(Date.now() + 1500).toISOString() });
    const bob = await soon.shopper('bob');
    const carol = await soon.shopper('carol');
    await track(soon.secret, 'bob', 'signup');
    await h.push.waitFor(() => h.push.received(bob.id).length === 1, 5_000);
    await sleep(1600);
    await track(soon.secret, 'carol', 'signup'); // after endAt

    await sleep(500);
    expect(h.push.received(ada.id)).toHaveLength(0);
    expect(await messages(later.secret, later.id)).toHaveLength(0);
    expect(h.push.received(carol.id)).toHaveLength(0);
    expect((await messages(soon.secret, soon.id)).map((row) => row.contact.externalId)).toEqual(['bob']);
  });

  it('enters only the events that pass every condition, the equality it checks first among them', async () => {
    const where = [
      { path: 'price', op: 'GT', value: 10 },
      { path: 'product.category', op: 'EQ', value: 'shoes' },
      { path: 'vip', op: 'EQ', value: true },
    ];
    // Trigger entry joins on this condition before the campaign's whole filter: a string or boolean
    // equality, never a number (1 = 1.0) or a date (compared as a time), whose equality differs.
    expect(eventKeyOf(where as never)).toEqual({ path: ['product', 'category'], value: 'shoes' });
    expect(eventKeyOf([{ path: 'price', op: 'EQ', value: 10 }, { path: 'at', op: 'EQ', value: '2026-12-04' }] as never)).toBeNull();
    // As the filter compares it: an event's email as sent (only a contact's email is stored lowercased).
    expect(eventKeyOf([{ path: 'email', op: 'EQ', value: 'Ada@Shop.Example' }] as never)).toEqual({ path: ['email'], value: 'Ada@Shop.Example' });
    const { secret, id, shopper } = await shopWith({ event: 'viewed', where });
    const visitors = {
      ada: { product: { category: 'shoes' }, vip: true, price: 20 }, // passes all three
      bob: { product: { category: 'shoes' }, vip: 'true', price: 20 }, // vip a string
      cy: { product: { category: 'Shoes' }, vip: true, price: 20 }, // another case
      dan: { product: { category: 'shoes' }, vip: true, price: 5 }, // too cheap
      eve: { category: 'shoes', vip: true, price: 20 }, // not under product
      fay: { product: { category: ['shoes'] }, vip: true, price: 20 }, // a list, not the value
    };
    for (const name of Object.keys(visitors)) await shopper(name);
    for (const [name, properties] of Object.entries(visitors)) await track(secret, name, 'viewed', properties);
    const rows = await ledgerOnce(secret, id, (all) => all.length > 0 && all.every((row) => row.status !== 'SENDING' && row.status !== 'QUEUED'));
    expect(rows.map((row) => row.contact.externalId)).toEqual(['ada']);
  });

  it("compares an event's email as sent, not lowercased as a contact's", async () => {
    const { secret, id, shopper } = await shopWith({ event: 'referred', where: [{ path: 'email', op: 'EQ', value: 'Ada@Shop.Example' }] });
    await shopper('ada');
    await shopper('bob');
    await track(secret, 'ada', 'referred', { email: 'Ada@Shop.Example' });
    await track(secret, 'bob', 'referred', { email: 'ada@shop.example' });
    const rows = await ledgerOnce(secret, id, (all) => all.length > 0 && all.every((row) => row.status !== 'SENDING' && row.status !== 'QUEUED'));
    expect(rows.map((row) => row.contact.externalId)).toEqual(['ada']);
  });

  it('sends once ever without reEligibleAfterSeconds, and again only after it with it', async () => {
    const once = await shopWith({ event: 'visit' });
    const ada = await once.shopper('ada');
    await track(once.secret, 'ada', 'visit');
    await h.push.waitFor(() => h.push.received(ada.id).length === 1, 5_000);
    await track(once.secret, 'ada', 'visit');
    await sleep(500);
    expect(h.push.received(ada.id)).toHaveLength(1);

    const again = await shopWith({ event: 'visit', reEligibleAfterSeconds: 2 });
    const bob = await again.shopper('bob');
    await track(again.secret, 'bob', 'visit');
    await h.push.waitFor(() => h.push.received(bob.id).length === 1, 5_000);
    await track(again.secret, 'bob', 'visit'); // too soon
    await sleep(2200);
    expect(h.push.received(bob.id)).toHaveLength(1);
    await track(again.secret, 'bob', 'visit'); // eligible again
    await h.push.waitFor(() => h.push.received(bob.id).length === 2, 5_000);
    const rows = await ledgerOnce(again.secret, again.id, (all) => all.every((row) => row.status !== 'SENDING'));
    expect(rows.filter((row) => row.status === 'SENT')).toHaveLength(2);
  });

  it('counts reEligibleAfterSeconds from the last push sent to the trigger itself, not to its delayed message', async () => {
    // Each push goes 3 s after its trigger; a contact is eligible again 5 s after the last one sent.
    const { secret, shopper } = await shopWith({ event: 'visit', delaySeconds: 3, reEligibleAfterSeconds: 5 });
    const ada = await shopper('ada');
    await track(secret, 'ada', 'visit');
    await h.push.waitFor(() => h.push.received(ada.id).length === 1, 10_000);
    const sent = h.push.received(ada.id)[0]!.receivedAt;
    // 3 s after the push: inside the 5 s, ignored (though its message would have been due 6 s after, past them).
    await sleep(sent + 3_000 - Date.now());
    await track(secret, 'ada', 'visit');
    await sleep(sent + 7_000 - Date.now());
    expect(h.push.received(ada.id)).toHaveLength(1);
    // 7 s after: eligible again.
    await track(secret, 'ada', 'visit');
    await h.push.waitFor(() => h.push.received(ada.id).length === 2, 10_000);
  }, 30_000);

  it('never sends twice for a replayed event, nor for two triggers in one batch', async () => {
    const { secret, id, shopper } = await shopWith({ event: 'checkout_started', reEligibleAfterSeconds: 0 });
    const ada = await shopper('ada');
    const bob = await shopper('bob');
    await track(secret, 'ada', 'checkout_started', {}, 'order-1');
    await track(secret, 'ada', 'checkout_started', {}, 'order-1'); // replayed by a retrying integration
    const batch = dataOf(
      await secret(TrackMany, {
        events: [
          { externalId: 'bob', name: 'checkout_started', idempotencyKey: 'order-2' },
          { externalId: 'bob', name: 'checkout_started', idempotencyKey: 'order-3' },
          { externalId: 'bob', name: 'checkout_started', idempotencyKey: 'order-2' },
        ],
      }),
    ).trackEvents;
    expect(batch).toMatchObject({ data: { count: 2, duplicates: 1 } });
    await h.push.waitFor(() => h.push.received(ada.id).length === 1 && h.push.received(bob.id).length === 1, 5_000);
    await sleep(500);
    expect(h.push.received(ada.id)).toHaveLength(1);
    expect(h.push.received(bob.id)).toHaveLength(1);
    expect(await messages(secret, id)).toHaveLength(2);
  });

  it('sends each of a trickle of immediate triggers once, whatever a pass is doing when it fires, and the pass ends after', async () => {
    // Triggers 0-400 ms apart reach the campaign's pass as it opens, claims, sends, waits for more
    // (deliver.ts, LINGER_MS) and ends; each row is sent by the running pass or by the next.
    const { secret, id, shopper } = await shopWith({ event: 'signed_up' });
    const shoppers = await Promise.all(Array.from({ length: 24 }, (_, index) => shopper(`trickle-${index}`)));
    const campaignId = Buffer.from(id, 'base64').toString().split(':')[1]!;
    for (const [index] of shoppers.entries()) {
      await track(secret, `trickle-${index}`, 'signed_up');
      await sleep((index * 37) % 400);
    }
    await h.push.waitFor(() => shoppers.every((browser) => h.push.received(browser.id).length >= 1), 10_000);
    const rows = await ledgerOnce(secret, id, (all) => all.length === shoppers.length && all.every((row) => row.status === 'SENT'));
    expect(rows).toHaveLength(shoppers.length);
    expect(rows.every((row) => row.status === 'SENT')).toBe(true);
    await sleep(300);
    for (const browser of shoppers) expect(h.push.received(browser.id)).toHaveLength(1);
    // Nothing stays behind waiting: the last pass ends once nothing more comes.
    await h.push.waitFor(() => !h.kit.herald.deliveries.active.has(campaignId), 5_000);
  });

  it('checks the audience when the event arrives and again when the message is due', async () => {
    const { secret, id, shopper } = await shopWith(
      { event: 'cart_abandoned', delaySeconds: 2 },
      { audience: { rule: { attribute: { path: 'plan', op: 'EQ', value: 'gold' } } } },
    );
    const gold = await shopper('gold', { plan: 'gold' });
    const free = await shopper('free', { plan: 'free' });
    const leaver = await shopper('leaver', { plan: 'gold' });
    const trackedAt = Date.now();
    await track(secret, 'leaver', 'cart_abandoned');
    await secret(Upsert, { input: { externalId: 'leaver', attributes: { plan: 'free' } } }); // leaves during the delay
    expect(Date.now() - trackedAt, 'the machine was too slow to leave within the delay').toBeLessThan(2_000);
    for (const who of ['gold', 'free']) await track(secret, who, 'cart_abandoned');

    await h.push.waitFor(() => h.push.received(gold.id).length === 1, 8_000);
    await sleep(500);
    expect(h.push.received(free.id)).toHaveLength(0);
    expect(h.push.received(leaver.id)).toHaveLength(0);
    const rows = await messages(secret, id);
    expect(rows.map((row) => [row.contact.externalId, row.status, row.reason]).sort()).toEqual([
      ['gold', 'SENT', 'ACCEPTED'],
      ['leaver', 'SUPPRESSED', 'NOT_ELIGIBLE'],
    ]);
  });

  it('holds due messages while paused, ignores triggers meanwhile, and sends the held ones on resume', async () => {
    const { secret, id, shopper } = await shopWith({ event: 'cart_abandoned', delaySeconds: 1 });
    const ada = await shopper('ada');
    const bob = await shopper('bob');
    await track(secret, 'ada', 'cart_abandoned', { item: 'gloves' });
    await secret(Pause, { id });
    await track(secret, 'bob', 'cart_abandoned', { item: 'boots' }); // not listening
    await sleep(1800);
    expect(h.push.received(ada.id)).toHaveLength(0);
    expect(await messages(secret, id)).toMatchObject([{ status: 'QUEUED', contact: { externalId: 'ada' } }]);

    await secret(Resume, { id });
    await h.push.waitFor(() => h.push.received(ada.id).length === 1, 5_000);
    expect(titles(ada)).toEqual(['You left gloves behind, ada']);
    expect(h.push.received(bob.id)).toHaveLength(0);
    expect((await campaignState(secret, id)).status).toBe('ACTIVE');
  });

  it('reads an edit of its campaigns or of their segment at the next event, after events read them before', async () => {
    const plan = (value: string) => ({ attribute: { path: 'plan', op: 'EQ' as const, value } });
    const { secret, publishable } = await h.workspace();
    const segment = dataOf(await secret(CreateSegment, { rule: plan('gold') })).createSegment;
    if (segment.__typename !== 'MutationCreateSegmentSuccess') throw new Error(JSON.stringify(segment));
    const first = await createCampaign(secret, { name: 'Gold', kind: 'TRIGGERED', content, trigger: { event: 'viewed' }, audience: { segmentId: segment.data.id } });
    expect(dataOf(await secret(Activate, { id: first })).activateCampaign.__typename).toBe('MutationActivateCampaignSuccess');
    const shopper = async (externalId: string, planName: string) => {
      await secret(Upsert, { input: { externalId, attributes: { plan: planName } } });
      await subscribeBrowser(publishable, h.push, { externalId });
    };
    for (const [who, planName] of [['gold-1', 'gold'], ['gold-2', 'gold'], ['free-1', 'free'], ['free-2', 'free']] as const) await shopper(who, planName);
    const entered = async (id: string) => (await messages(secret, id)).map((row) => row.contact.externalId).sort();

    // The workspace's campaigns are read (and kept by this process) with these events.
    await track(secret, 'gold-1', 'viewed');
    await track(secret, 'free-1', 'viewed');
    expect(await entered(first)).toEqual(['gold-1']);

    // The segment now names the other plan: the next events are judged by the new rule.
    expect(dataOf(await secret(UpdateSegment, { id: segment.data.id, rule: plan('free') })).updateSegment.__typename).toBe('MutationUpdateSegmentSuccess');
    await track(secret, 'gold-2', 'viewed');
    await track(secret, 'free-2', 'viewed');
    expect(await entered(first)).toEqual(['free-2', 'gold-1']);

    // A campaign activated since listens from the next event on.
    const second = await createCampaign(secret, { name: 'Everyone', kind: 'TRIGGERED', content, trigger: { event: 'viewed' } });
    await secret(Activate, { id: second });
    await track(secret, 'gold-2', 'viewed');
    expect(await entered(second)).toEqual(['gold-2']);
  });

  it('keeps what it read of its campaigns while only their wake-up times move', async () => {
    const { secret, id, shopper } = await shopWith({ event: 'viewed', delaySeconds: 3600 });
    const campaignId = Buffer.from(id, 'base64').toString().split(':')[1]!;
    const read = () => [...h.kit.herald.deliveries.listeners.values()].find((known) => known.campaigns.some((campaign) => campaign.id === campaignId))!;
    for (const who of ['ada', 'bob', 'cy']) await shopper(who);
    await track(secret, 'ada', 'viewed'); // queued an hour ahead: the campaign's wake-up is planned
    const first = read();
    await h.kit.herald.prisma.$executeRaw`UPDATE "Campaign" SET "wakeAt" = now() + interval '2 hours' WHERE id = ${campaignId}::uuid`;
    await track(secret, 'bob', 'viewed');
    expect(read().version).toBe(first.version);
    expect(read().campaigns).toBe(first.campaigns); // not read again

    await secret(Pause, { id });
    await track(secret, 'cy', 'viewed');
    expect(read().campaigns.map((campaign) => campaign.status)).toEqual(['PAUSED']);
    expect((await messages(secret, id)).map((row) => row.contact.externalId).sort()).toEqual(['ada', 'bob']);
  });
});
