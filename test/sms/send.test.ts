import { describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import { createCampaign, SendNow, waitForStatus } from '../kit/campaigns.ts';
import { dataOf, type httpClient } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';
import { smsCampaign, upsertContacts, useKitAccount, useTwilio } from './kit.ts';

/**
 * SMS campaigns end to end (issue 19): a real Herald posts to the kit's Twilio-compatible API,
 * which checks Basic auth and the form, meets faults on demand and sends signed status callbacks.
 */

const Settings = graphql(`
  mutation SmsSendSettings($input: MutationUpdateWorkspaceSettingsInput!) {
    updateWorkspaceSettings(input: $input) { __typename ... on Error { message } }
  }
`);
const TestMessage = graphql(`
  mutation SmsTestMessage($campaignId: ID!, $contactId: ID!) {
    sendTestMessage(input: { campaignId: $campaignId, contactId: $contactId }) {
      __typename
      ... on MutationSendTestMessageSuccess { data { id status reason test channel } }
      ... on Error { message }
    }
  }
`);

type Client = ReturnType<typeof httpClient>;

const t = useTwilio();
const h = useHerald(t.env, { push: false });

const ADA = '+48601234567';
const BOB = '+48601234568';
const DAN = '+14155552671';
const EVE = '+15555550100'; // E.164 in shape, but no such number: libphonenumber-js refuses it

async function shop(name: string) {
  const workspace = await h.workspace(name);
  await useKitAccount(workspace.secret, t.twilio);
  return workspace;
}

async function broadcast(secret: Client, sms: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const id = await createCampaign(secret, { name: `Text ${Date.now()}`, kind: 'BROADCAST', channel: 'SMS', sms, ...extra });
  expect(dataOf(await secret(SendNow, { id })).sendCampaignNow.__typename).toBe('MutationSendCampaignNowSuccess');
  return id;
}

async function sent(secret: Client, sms: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const id = await broadcast(secret, sms, extra);
  await waitForStatus(secret, id, 'SENT', 30_000);
  return { id, ...(await smsCampaign(secret, id)) };
}

const audience = [
  { externalId: 'ada', firstName: 'Ada', phone: ADA, smsOptIn: true },
  { externalId: 'bob', firstName: 'Bob', phone: BOB, smsOptIn: false },
  { externalId: 'cid', firstName: 'Cid' },
  { externalId: 'dan', firstName: 'Dan', phone: DAN },
  { externalId: 'eve', firstName: 'Eve', phone: EVE, smsOptIn: true },
];

describe('an SMS broadcast', () => {
  it('texts subscribed contacts their personalised body; a receipt goes to every valid number', async () => {
    t.twilio.clear();
    const { secret } = await shop('SMS audience');
    await upsertContacts(secret, audience);
    const campaign = await sent(secret, { body: 'Hi {{ contact.firstName }}, 20% off today only. Reply STOP to opt out' });

    expect(t.twilio.messages().map(({ to, from, body }) => ({ to, from, body }))).toEqual([{ to: ADA, from: '+15017122661', body: 'Hi Ada, 20% off today only. Reply STOP to opt out' }]);
    const [message] = t.twilio.messages();
    const ada = campaign.messages.find((row) => row.contact.externalId === 'ada')!;
    const ledgerId = Buffer.from(ada.id, 'base64').toString().split(':')[1];
    expect(message!.statusCallback).toMatch(new RegExp(`^${h.kit.url}/sms/status/[0-9a-f-]{36}\\?m=${ledgerId}$`));
    expect(ada).toMatchObject({ status: 'SENT', reason: 'ACCEPTED', attempts: 1, channel: 'SMS' });
    const reasons = Object.fromEntries(campaign.messages.map((row) => [row.contact.externalId, `${row.status}/${row.reason}`]));
    expect(reasons).toEqual({ ada: 'SENT/ACCEPTED', bob: 'SUPPRESSED/UNSUBSCRIBED', cid: 'SUPPRESSED/NO_PHONE', dan: 'SUPPRESSED/UNSUBSCRIBED', eve: 'SUPPRESSED/NO_PHONE' });
    expect(campaign.stats).toMatchObject({ targeted: 5, sent: 1, suppressed: 4 });
    expect(campaign.stats.suppressedBy).toEqual(expect.arrayContaining([{ reason: 'NO_PHONE', count: 2 }, { reason: 'UNSUBSCRIBED', count: 2 }]));

    // A receipt (not frequency capped) needs no consent: every valid number gets it.
    t.twilio.clear();
    const receipt = await sent(secret, { body: 'Order {{ contact.externalId }} shipped' }, { frequencyCapped: false });
    expect(t.twilio.messages().map(({ to, body }) => `${to} ${body}`).sort()).toEqual([`${DAN} Order dan shipped`, `${ADA} Order ada shipped`, `${BOB} Order bob shipped`].sort());
    expect(receipt.stats).toMatchObject({ sent: 3, suppressed: 2, suppressedBy: [{ reason: 'NO_PHONE', count: 2 }] });
  }, 90_000);

  it('sends through a messaging service when one is set, and a test message to the contact’s number whatever their consent', async () => {
    t.twilio.clear();
    const { secret } = await h.workspace('SMS service');
    await useKitAccount(secret, t.twilio, { messagingServiceSid: `MG${'b'.repeat(32)}` });
    const [dan] = await upsertContacts(secret, [{ externalId: 'dan', firstName: 'Dan', phone: DAN }]);
    const id = await createCampaign(secret, { name: 'Test', kind: 'BROADCAST', channel: 'SMS', sms: { body: 'Preview for {{ contact.firstName }}' } });
    const result = dataOf(await secret(TestMessage, { campaignId: id, contactId: dan! })).sendTestMessage;
    expect(result).toMatchObject({ data: { status: 'SENT', reason: 'ACCEPTED', test: true, channel: 'SMS' } });
    expect(t.twilio.messages()).toMatchObject([{ to: DAN, from: null, messagingServiceSid: `MG${'b'.repeat(32)}`, body: 'Preview for Dan' }]);
  }, 60_000);

  it('retries 429 and 5xx with backoff, fails other 4xx at once, and unsubscribes a number the provider says texted STOP (21610)', async () => {
    t.twilio.clear();
    const { secret } = await shop('SMS faults');
    const numbers = ['+48601000001', '+48601000002', '+48601000003', '+48601000004'];
    await upsertContacts(secret, numbers.map((phone, index) => ({ externalId: `c${index}`, phone, smsOptIn: true })));
    t.twilio.fault({ to: numbers[0], status: 429, code: 20429, retryAfterSeconds: 0, times: 2 });
    t.twilio.fault({ to: numbers[1], status: 503, times: 1 });
    t.twilio.fault({ to: numbers[2], status: 400, code: 21211 });
    t.twilio.fault({ to: numbers[3], status: 400, code: 21610 });
    const campaign = await sent(secret, { body: 'Flash sale' });

    const rows = Object.fromEntries(campaign.messages.map((row) => [row.contact.externalId, row]));
    expect(rows.c0).toMatchObject({ status: 'SENT', attempts: 3 });
    expect(rows.c1).toMatchObject({ status: 'SENT', attempts: 2 });
    expect(rows.c2).toMatchObject({ status: 'FAILED', reason: 'PROVIDER_REJECTED', attempts: 1 });
    expect(rows.c2!.error).toMatch(/400 \(error 21211/);
    expect(rows.c3).toMatchObject({ status: 'FAILED', reason: 'UNSUBSCRIBED', attempts: 1, contact: { smsStatus: 'UNSUBSCRIBED' } });
    expect(t.twilio.requests().filter((request) => request.to === numbers[0]).map((request) => request.status)).toEqual([429, 429, 201]);
    expect(t.twilio.messages().map((message) => message.to).sort()).toEqual([numbers[0], numbers[1]].sort());
    expect(campaign.stats).toMatchObject({ sent: 2, failed: 2, unsubscribed: 1, suppressed: 0 });
    expect(campaign.stats.suppressedBy).toEqual([]);

    // The next marketing SMS leaves the unsubscribed number out.
    t.twilio.clear();
    const next = await sent(secret, { body: 'Another' });
    expect(next.messages.find((row) => row.contact.externalId === 'c3')).toMatchObject({ status: 'SUPPRESSED', reason: 'UNSUBSCRIBED' });
    expect(t.twilio.messages().map((message) => message.to)).not.toContain(numbers[3]);
  }, 90_000);

  it('records a request that left but got no answer in time as SENT/UNCONFIRMED, and never sends it again', async () => {
    t.twilio.clear();
    const { secret } = await shop('SMS timeout');
    await upsertContacts(secret, [{ externalId: 'ada', phone: ADA, smsOptIn: true }]);
    t.twilio.delay(3_000); // HERALD_PUSH_TIMEOUT_MS is 2000 here
    const campaign = await sent(secret, { body: 'Slow provider' });
    expect(campaign.messages[0]).toMatchObject({ status: 'SENT', reason: 'UNCONFIRMED', attempts: 1 });
    expect(campaign.messages[0]!.error).toMatch(/left but no answer came/);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(t.twilio.requests()).toEqual([{ to: ADA, status: 201 }]);
    t.twilio.delay(0);
  }, 60_000);

  it('never sends a rendered message over maxSegments, whatever the worst case guessed at save', async () => {
    t.twilio.clear();
    const { secret } = await h.workspace('SMS over');
    await useKitAccount(secret, t.twilio, { maxSegments: 1 });
    await upsertContacts(secret, [
      { externalId: 'short', firstName: 'Al', phone: ADA, smsOptIn: true },
      { externalId: 'long', firstName: 'Bartholomew-Maximilian', phone: BOB, smsOptIn: true },
    ]);
    // An assigned variable is written out as one output (counted 64 at save) but holds the name eight times.
    const campaign = await sent(secret, {
      body: '{% assign n = contact.firstName | append: " " %}{% assign n = n | append: n %}{% assign n = n | append: n %}{% assign n = n | append: n %}{{ n }}',
    });
    const rows = Object.fromEntries(campaign.messages.map((row) => [row.contact.externalId, row]));
    expect(rows.short).toMatchObject({ status: 'SENT' });
    expect(rows.long).toMatchObject({ status: 'FAILED', reason: 'TEMPLATE_ERROR', error: 'body: renders to 2 segments (GSM-7); the workspace allows 1' });
    expect(t.twilio.messages().map((message) => message.body)).toEqual(['Al Al Al Al Al Al Al Al']);
  }, 60_000);

  it('waits for the workspace’s quiet hours: SMS interrupts', async () => {
    t.twilio.clear();
    const { secret } = await shop('SMS quiet');
    const now = Date.now();
    const hhmm = (date: Date) => date.toISOString().slice(11, 16);
    const quietHours = { start: hhmm(new Date(now - 3600_000)), end: hhmm(new Date(now + 3600_000)) };
    await secret(Settings, { input: { quietHours } });
    await upsertContacts(secret, [{ externalId: 'ada', phone: ADA, smsOptIn: true }]);
    const id = await broadcast(secret, { body: 'Night owl offer' });
    let held: Awaited<ReturnType<typeof smsCampaign>>['messages'][number] | undefined;
    for (let tries = 0; tries < 200 && !held?.error; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      held = (await smsCampaign(secret, id)).messages[0];
    }
    expect(held).toMatchObject({ status: 'QUEUED', reason: null, error: `waits for the workspace’s quiet hours (${quietHours.end}-${quietHours.start} UTC) to open` });
    expect(t.twilio.requests()).toEqual([]);
  }, 60_000);
});
