/**
 * On-site (IN_APP) messages end to end (issue 23): a real Herald renders each campaign's message
 * for its contacts, the page reads its own with the publishable key, reports what the visitor did
 * with the message's token, and the campaign's stats count it.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useHerald } from '../kit/fixture.ts';
import { as, campaignOf, createInApp, dataOf, pendingFor, recordEvent, sendNow, upsertContacts } from './kit.ts';

const h = useHerald({ HERALD_PUSH_RETRY_BASE_MS: '50' }, { push: false });

const ledgerIdOf = (globalId: string) => Buffer.from(globalId, 'base64').toString().split(':')[1]!;

async function sql<T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: h.kit.databaseUrl });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

describe('an IN_APP broadcast', { timeout: 90_000 }, () => {
  it('renders one message per contact, readable by that visitor only, until clicked or closed; stats count displayed, clicked and closed', async () => {
    const shop = await h.workspace();
    await upsertContacts(h.kit, shop, [{ externalId: 'ada', firstName: 'Ada' }, { externalId: 'bob' }, { anonymousId: 'visitor-cy' }]);
    const created = await createInApp(h.kit, shop, {
      layout: 'SLIDE_IN',
      title: 'Hi {{ contact.firstName | default: "there" }}',
      body: 'Spring sale: 20% off',
      imageUrl: 'https://cdn.shop.example/spring.png',
      buttons: [{ label: 'Shop now', url: 'https://shop.example/sale?who={{ contact.externalId }}' }, { label: 'Later', url: 'http://shop.example/later' }],
      question: { kind: 'NPS', text: '  How likely are you to recommend us?  ' },
    });
    expect(created.__typename).toBe('MutationCreateCampaignSuccess');
    const sentAt = Date.now();
    const campaign = await sendNow(h.kit, shop, created.data!.id);
    expect(campaign.inApp).toMatchObject({ layout: 'SLIDE_IN', question: { kind: 'NPS' }, ttlSeconds: 30 * 86_400 });
    expect(campaign.stats).toMatchObject({ targeted: 3, sent: 3, failed: 0, delivered: 3, displayed: 0 });

    const ada = await pendingFor(h.kit, shop, { externalId: 'ada', identityToken: shop.publishable.identityTokenFor('ada') });
    expect(ada.messages).toHaveLength(1);
    const [message] = ada.messages;
    expect(message).toMatchObject({
      layout: 'SLIDE_IN',
      title: 'Hi Ada',
      body: 'Spring sale: 20% off',
      imageUrl: 'https://cdn.shop.example/spring.png',
      buttons: [{ label: 'Shop now', url: 'https://shop.example/sale?who=ada' }, { label: 'Later', url: 'http://shop.example/later' }],
      question: { kind: 'NPS', text: 'How likely are you to recommend us?', choices: null, freeText: false, answers: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10'] },
    });
    // The default expiry: 30 days after it was made available.
    expect(Math.abs(new Date(message!.expiresAt).getTime() - (sentAt + 30 * 86_400_000))).toBeLessThan(60_000);
    expect((await pendingFor(h.kit, shop, { externalId: 'bob', identityToken: shop.publishable.identityTokenFor('bob') })).messages.map((m) => m.title)).toEqual(['Hi there']);
    const cy = await pendingFor(h.kit, shop, { anonymousId: 'visitor-cy' });
    expect(cy.messages).toHaveLength(1);
    // Unknown visitors have nothing, and nothing is created for them.
    expect((await pendingFor(h.kit, shop, { anonymousId: 'never-seen' })).messages).toEqual([]);

    // Shown, then clicked: gone for Ada. Cy closes hers. Bob's was only shown: it waits for his next page.
    expect(await recordEvent(h.kit, shop.publishableKey, message!.token, 'DISPLAYED')).toBe('MutationRecordMessageEventSuccess');
    expect(await recordEvent(h.kit, shop.publishableKey, message!.token, 'CLICKED')).toBe('MutationRecordMessageEventSuccess');
    expect(await recordEvent(h.kit, shop.publishableKey, cy.messages[0]!.token, 'CLOSED')).toBe('MutationRecordMessageEventSuccess');
    const bob = await pendingFor(h.kit, shop, { externalId: 'bob', identityToken: shop.publishable.identityTokenFor('bob') });
    await recordEvent(h.kit, shop.publishableKey, bob.messages[0]!.token, 'DISPLAYED');
    expect((await pendingFor(h.kit, shop, { externalId: 'ada', identityToken: shop.publishable.identityTokenFor('ada') })).messages).toEqual([]);
    expect((await pendingFor(h.kit, shop, { anonymousId: 'visitor-cy' })).messages).toEqual([]);
    expect((await pendingFor(h.kit, shop, { externalId: 'bob', identityToken: shop.publishable.identityTokenFor('bob') })).messages).toHaveLength(1);
    expect((await campaignOf(h.kit, shop, created.data!.id)).stats).toMatchObject({ displayed: 2, clicked: 1, closed: 1 });
    expect(await sql(`SELECT count(*)::int AS n FROM "Contact" WHERE "anonymousId" = 'never-seen'`)).toEqual([{ n: 0 }]);
  });

  it('stops showing a message once it expires: ttlSeconds, or activeUntil when sooner', async () => {
    const shop = await h.workspace();
    await upsertContacts(h.kit, shop, [{ anonymousId: 'v-ttl' }]);
    const activeUntil = new Date(Date.now() + 120_000);
    const short = await createInApp(h.kit, shop, { title: 'Flash sale', ttlSeconds: 3600 }, { activeUntil: activeUntil.toISOString() });
    await sendNow(h.kit, shop, short.data!.id);
    const [message] = (await pendingFor(h.kit, shop, { anonymousId: 'v-ttl' })).messages;
    expect(new Date(message!.expiresAt).getTime()).toBe(activeUntil.getTime());
    const ttl = await createInApp(h.kit, shop, { body: 'Ten minutes only', ttlSeconds: 600 });
    const before = Date.now();
    await sendNow(h.kit, shop, ttl.data!.id);
    const both = (await pendingFor(h.kit, shop, { anonymousId: 'v-ttl' })).messages;
    expect(both.map((m) => m.title ?? m.body)).toEqual(['Flash sale', 'Ten minutes only']);
    expect(Math.abs(new Date(both[1]!.expiresAt).getTime() - (before + 600_000))).toBeLessThan(30_000);

    // Time passes for the first one (its expiry moved into the past): only the second is left.
    await sql(`UPDATE "InAppMessage" SET "expiresAt" = now() - interval '1 second' WHERE "messageId" = $1::uuid`, [ledgerIdOf((await campaignOf(h.kit, shop, short.data!.id)).messages[0]!.id)]);
    expect((await pendingFor(h.kit, shop, { anonymousId: 'v-ttl' })).messages.map((m) => m.body)).toEqual(['Ten minutes only']);
  });

  it('stores one message per sent ledger row, and fails a row whose URL renders to something else than http(s)', async () => {
    const shop = await h.workspace();
    await upsertContacts(h.kit, shop, [{ externalId: 'ok', firstName: 'shop.example' }, { externalId: 'odd', firstName: 'not a host' }]);
    const created = await createInApp(h.kit, shop, { title: 'Visit', buttons: [{ label: 'Go', url: 'https://{{ contact.firstName }}/' }] });
    const campaign = await sendNow(h.kit, shop, created.data!.id);
    expect(campaign.stats).toMatchObject({ sent: 1, failed: 1 });
    const failed = campaign.messages.find((m) => m.contact.externalId === 'odd')!;
    expect(failed).toMatchObject({ status: 'FAILED', reason: 'TEMPLATE_ERROR' });
    expect(failed.error).toContain('buttons.0.url');
    const stored = await sql<{ messageId: string }>(`SELECT "messageId"::text FROM "InAppMessage" WHERE "messageId" = ANY($1::uuid[])`, [campaign.messages.map((m) => ledgerIdOf(m.id))]);
    expect(stored.map((row) => row.messageId)).toEqual([ledgerIdOf(campaign.messages.find((m) => m.contact.externalId === 'ok')!.id)]);
  });
});

describe('IN_APP suppression', { timeout: 90_000 }, () => {
  it('applies frequency caps, holdouts and the control group as on every channel, and needs no channel consent', async () => {
    const shop = await h.workspace();
    const secret = as(h.kit, shop.secretKey);
    const contacts = Array.from({ length: 40 }, (_, index) => ({ anonymousId: `v-${index}` }));
    await upsertContacts(h.kit, shop, contacts);
    dataOf(await secret(`mutation { updateWorkspaceSettings(input: { frequencyCaps: [{ limit: 1, period: DAY, channel: IN_APP }] }) { __typename } }`));

    const first = await createInApp(h.kit, shop, { title: 'First' }, { holdoutPercent: 50 });
    const one = await sendNow(h.kit, shop, first.data!.id);
    const held = one.stats.suppressedBy.find((entry: { reason: string }) => entry.reason === 'HOLDOUT')?.count ?? 0;
    expect(held).toBeGreaterThan(5);
    expect(one.stats).toMatchObject({ targeted: 40, sent: 40 - held, suppressed: held });
    const heldOut = one.messages.filter((m) => m.reason === 'HOLDOUT').map((m) => m.contact.anonymousId!);
    for (const anonymousId of heldOut.slice(0, 3)) expect((await pendingFor(h.kit, shop, { anonymousId })).messages).toEqual([]);

    // The cap is one on-site message a day: those who got the first get nothing more today.
    const second = await createInApp(h.kit, shop, { title: 'Second' });
    const two = await sendNow(h.kit, shop, second.data!.id);
    expect(two.stats.suppressedBy).toContainEqual({ reason: 'FREQUENCY_CAP', count: 40 - held });
    expect(two.stats.sent).toBe(held);
    expect((await pendingFor(h.kit, shop, { anonymousId: heldOut[0]! })).messages.map((m) => m.title)).toEqual(['Second']);

    // The workspace's control group gets no marketing message on-site either.
    dataOf(await secret(`mutation { updateWorkspaceSettings(input: { frequencyCaps: [], controlGroupPercent: 50 }) { __typename } }`));
    const third = await sendNow(h.kit, shop, (await createInApp(h.kit, shop, { title: 'Third' })).data!.id);
    const control = third.stats.suppressedBy.find((entry: { reason: string }) => entry.reason === 'CONTROL_GROUP')?.count ?? 0;
    expect(control).toBeGreaterThan(5);
    expect(third.stats.sent).toBe(40 - control);
  });
});

describe('IN_APP content', { timeout: 90_000 }, () => {
  it('refuses unsafe or incomplete messages, each problem at its field', async () => {
    const shop = await h.workspace();
    const refused = async (inApp: Record<string, unknown>) => {
      const result = await createInApp(h.kit, shop, inApp);
      expect(result.__typename, JSON.stringify(result)).toBe('ValidationError');
      return result.fieldErrors!.map((error) => error.path.join('.'));
    };
    expect(await refused({ layout: 'MODAL' })).toEqual(['input.inApp.title']);
    expect(await refused({ title: 'x', buttons: [{ label: 'Run', url: 'javascript:alert(1)' }] })).toEqual(['input.inApp.buttons.0.url']);
    expect(await refused({ title: 'x', buttons: [{ label: 'Run', url: ' JavaScript://%0aalert(1)' }] })).toEqual(['input.inApp.buttons.0.url']);
    expect(await refused({ title: 'x', buttons: [{ label: 'Any', url: '{{ contact.homepage }}' }] })).toEqual(['input.inApp.buttons.0.url']);
    expect(await refused({ title: 'x', buttons: [{ label: 'Data', url: 'data:text/html,<script>alert(1)</script>' }] })).toEqual(['input.inApp.buttons.0.url']);
    expect(await refused({ title: 'x', imageUrl: 'http://cdn.example/a.png' })).toEqual(['input.inApp.imageUrl']);
    const three = Array.from({ length: 3 }, (_, n) => ({ label: `B${n}`, url: 'https://a.example' }));
    expect(await refused({ title: 'x', buttons: three })).toEqual(['input.inApp.buttons']);
    expect(await refused({ title: 'x', buttons: [{ label: ' ', url: 'https://a.example' }] })).toEqual(['input.inApp.buttons.0.label']);
    expect(await refused({ title: '{% include "secrets" %}' })).toEqual(['input.inApp.title']);
    expect(await refused({ title: 'x', question: { kind: 'CHOICE', text: 'Which?', choices: ['only one'] } })).toEqual(['input.inApp.question.choices']);
    expect(await refused({ title: 'x', question: { kind: 'NPS', text: '   ' } })).toEqual(['input.inApp.question.text']);
    // Content of another channel, or none of this one.
    const mixed = await createInApp(h.kit, shop, { title: 'x' }, { sms: { body: 'hi' } });
    expect(mixed.fieldErrors!.map((error) => error.path.join('.'))).toEqual(['input.sms']);
    const layout = await as(h.kit, shop.secretKey)(`mutation { createCampaign(input: { name: "x", kind: BROADCAST, channel: IN_APP, inApp: { title: "x", layout: POPUP } }) { __typename } }`);
    expect(layout.body.errors?.[0]?.message).toContain('POPUP');
  });

  it('takes variants with their own on-site message', async () => {
    const shop = await h.workspace();
    await upsertContacts(h.kit, shop, Array.from({ length: 12 }, (_, index) => ({ anonymousId: `w-${index}` })));
    const created = await createInApp(h.kit, shop, { title: 'A' }, { variants: [{ name: 'a', weight: 1, inApp: { title: 'Variant A' } }, { name: 'b', weight: 1, inApp: { title: 'Variant B', layout: 'BANNER' } }] });
    expect(created.__typename).toBe('MutationCreateCampaignSuccess');
    await sendNow(h.kit, shop, created.data!.id);
    const seen = new Set<string>();
    for (let index = 0; index < 12; index++) {
      const [message] = (await pendingFor(h.kit, shop, { anonymousId: `w-${index}` })).messages;
      seen.add(`${message!.title}/${message!.layout}`);
    }
    expect(seen).toEqual(new Set(['Variant A/MODAL', 'Variant B/BANNER']));
  });
});

describe('a triggered IN_APP campaign', { timeout: 90_000 }, () => {
  it('shows its message on the page that tracked the event, in the answer to the next read', async () => {
    const shop = await h.workspace();
    const secret = as(h.kit, shop.secretKey);
    const page = as(h.kit, shop.publishableKey);
    const created = await createInApp(h.kit, shop, { layout: 'MODAL', title: 'Questions about {{ event.properties.plan }}?' }, { kind: 'TRIGGERED', trigger: { event: 'viewed_pricing' } });
    const activated = dataOf(await secret(`mutation($id: ID!) { activateCampaign(input: { id: $id }) { __typename ... on Error { message } } }`, { id: created.data!.id }));
    expect(activated.activateCampaign.__typename).toBe('MutationActivateCampaignSuccess');
    expect((await pendingFor(h.kit, shop, { anonymousId: 'v-pricing' })).triggers).toEqual(['viewed_pricing']);

    const tracked = dataOf(await page(`mutation { trackEvent(input: { anonymousId: "v-pricing", name: "viewed_pricing", properties: { plan: "Pro" } }) { __typename } }`));
    expect(tracked.trackEvent.__typename).toBe('MutationTrackEventSuccess');
    const start = Date.now();
    const { messages } = await pendingFor(h.kit, shop, { anonymousId: 'v-pricing' });
    const waited = Date.now() - start;
    expect(messages.map((m) => m.title)).toEqual(['Questions about Pro?']);
    expect(waited).toBeLessThan(2_000);
  });
});

describe('a journey send step on IN_APP', { timeout: 90_000 }, () => {
  it('makes the step’s message available to the contact, as a campaign on IN_APP would', async () => {
    const shop = await h.workspace();
    const secret = as(h.kit, shop.secretKey);
    const created = dataOf(
      await secret(`mutation($input: JourneyInput!) { createJourney(input: $input) { __typename ... on MutationCreateJourneySuccess { data { id } } ... on ValidationError { fieldErrors { path message } } } }`, {
        input: {
          name: 'On-site welcome',
          entry: { api: true },
          steps: [{ key: 'hello', send: { channel: 'IN_APP', inApp: { layout: 'BANNER', title: 'Welcome, {{ contact.externalId }}', question: { kind: 'THUMBS', text: 'Helpful?' } } } }],
        },
      }),
    ).createJourney;
    expect(created.__typename, JSON.stringify(created)).toBe('MutationCreateJourneySuccess');
    expect(dataOf(await secret(`mutation($id: ID!) { publishJourney(input: { id: $id }) { __typename } }`, { id: created.data.id })).publishJourney.__typename).toBe('MutationPublishJourneySuccess');
    const [contactId] = await upsertContacts(h.kit, shop, [{ externalId: 'jo' }]);
    const entered = dataOf(
      await secret(`mutation($j: ID!, $c: ID!) { enterJourney(input: { journeyId: $j, contactId: $c }) { __typename ... on MutationEnterJourneySuccess { data { path { step outcome channel } } } } }`, { j: created.data.id, c: contactId }),
    ).enterJourney;
    expect(entered.data.path[0]).toEqual({ step: 'hello', outcome: 'sent', channel: 'IN_APP' });
    const visitor = { externalId: 'jo', identityToken: shop.publishable.identityTokenFor('jo') };
    let messages: Awaited<ReturnType<typeof pendingFor>>['messages'] = [];
    for (const start = Date.now(); messages.length === 0 && Date.now() - start < 10_000; await new Promise((resolve) => setTimeout(resolve, 100))) {
      ({ messages } = await pendingFor(h.kit, shop, visitor));
    }
    expect(messages).toMatchObject([{ layout: 'BANNER', title: 'Welcome, jo', question: { kind: 'THUMBS', answers: ['up', 'down'] } }]);
  });
});
