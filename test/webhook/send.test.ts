import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import { v7 as uuidv7 } from 'uuid';
import { deliverCampaign, sendNow } from '../../src/delivery/deliver.ts';
import { activateCampaign, createCampaign, SendNow, waitForStatus } from '../kit/campaigns.ts';
import { dataOf } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';
import { ledgerIdOf, messagesOf, signingSecretOf, UpsertWebhookContact, useReceiver } from './kit.ts';

/**
 * Webhook campaigns end to end (issue 19): a real Herald posts to the kit's HTTPS receiver, which
 * verifies every Standard Webhooks signature with the package's own verifier.
 */

const RotateWebhookSecret = graphql(`
  mutation WebhookRotate {
    rotateWebhookSecret(input: {}) { __typename ... on MutationRotateWebhookSecretSuccess { data { webhookSigningSecret } } }
  }
`);

const TestMessage = graphql(`
  mutation WebhookTestMessage($campaignId: ID!, $contactId: ID!) {
    sendTestMessage(input: { campaignId: $campaignId, contactId: $contactId }) {
      __typename
      ... on MutationSendTestMessageSuccess { data { id status reason test channel } }
      ... on Error { message }
    }
  }
`);

const env: Record<string, string> = { HERALD_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', HERALD_PUSH_RETRY_BASE_MS: '50', HERALD_PUSH_TIMEOUT_MS: '1500' };
const r = useReceiver(env);
const h = useHerald(env, { push: false });

async function workspaceWith(...contacts: Record<string, unknown>[]) {
  const workspace = await h.workspace();
  const ids: string[] = [];
  for (const input of contacts) {
    const result = dataOf(await workspace.secret(UpsertWebhookContact, { input } as never)).upsertContact;
    if (result.__typename !== 'MutationUpsertContactSuccess') throw new Error(JSON.stringify(result));
    ids.push(result.data.id);
  }
  const secret = await signingSecretOf(workspace);
  r.receiver.trust(secret);
  return { ...workspace, signingSecret: secret, contactIds: ids };
}

async function broadcast(workspace: Awaited<ReturnType<typeof workspaceWith>>, webhook: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const id = await createCampaign(workspace.secret, { name: `Hook ${Date.now()}`, kind: 'BROADCAST', channel: 'WEBHOOK', webhook, ...extra });
  expect(dataOf(await workspace.secret(SendNow, { id })).sendCampaignNow.__typename).toBe('MutationSendCampaignNowSuccess');
  await waitForStatus(workspace.secret, id, 'SENT', 30_000);
  return messagesOf(workspace, id);
}

const INJECTION = '"}, "admin": true, "x": {"';

describe('a webhook broadcast', () => {
  it('posts one signed, personalised request per contact, values JSON-escaped and URL-encoded, with the tenant’s method and headers', async () => {
    r.receiver.clear();
    const workspace = await workspaceWith(
      { externalId: 'ada', firstName: 'Ada', tags: ['vip', 'early'], attributes: { plan: 'gold' } },
      { externalId: 'evil&admin=1/../x', firstName: INJECTION, attributes: { plan: 'line\nbreak \\ and \u2028 "quotes"' } },
      { externalId: 'plain' },
    );
    const campaign = await broadcast(workspace, {
      url: `${r.receiver.url('/hook')}?who={{ contact.externalId }}`,
      method: 'put',
      headers: { Authorization: 'Bearer tenant-token', 'X-Tenant': 'shop' },
      body: '{"text": "Hi {{ contact.firstName | default: \'there\' }}", "plan": "{{ contact.plan }}", "tags": {{ contact.tags | json }}, "who": "{{ contact.externalId }}"}',
    });
    expect(campaign.channel).toBe('WEBHOOK');
    expect(campaign.stats, JSON.stringify(campaign.messages)).toMatchObject({ targeted: 3, sent: 3, failed: 0 });

    const received = r.receiver.received();
    expect(received).toHaveLength(3);
    const byWho = new Map(received.map((delivery) => [(delivery.json as { who: string }).who, delivery]));
    expect(byWho.get('ada')!.json).toEqual({ text: 'Hi Ada', plan: 'gold', tags: ['early', 'vip'], who: 'ada' });
    // The name that tried to close the string and add a key is just a name.
    const evil = byWho.get('evil&admin=1/../x')!;
    expect(evil.json).toEqual({ text: `Hi ${INJECTION}`, plan: 'line\nbreak \\ and \u2028 "quotes"', tags: [], who: 'evil&admin=1/../x' });
    expect(Object.keys(evil.json as object)).not.toContain('admin');
    // In the URL the value stays one query value, not a second parameter or another path.
    expect(evil.path).toBe(`/hook?who=${encodeURIComponent('evil&admin=1/../x')}`);
    expect(byWho.get('plain')!.json).toEqual({ text: 'Hi there', plan: '', tags: [], who: 'plain' });

    for (const message of campaign.messages) {
      const delivery = received.find((candidate) => candidate.id === ledgerIdOf(message.id))!;
      expect(delivery, 'webhook-id is the ledger id').toBeDefined();
      expect(message).toMatchObject({ status: 'SENT', reason: 'ACCEPTED', channel: 'WEBHOOK', attempts: 1 });
      expect(delivery.method).toBe('PUT');
      expect(delivery.headers).toMatchObject({ authorization: 'Bearer tenant-token', 'x-tenant': 'shop', 'content-type': 'application/json' });
      expect(delivery.signatures).toHaveLength(1);
      expect(delivery.signatures[0]).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
      expect(Math.abs(delivery.timestamp - Date.now() / 1000)).toBeLessThan(60);
      // Verifies with the workspace's secret, and with no other.
      const headers = { 'webhook-id': delivery.id, 'webhook-timestamp': String(delivery.timestamp), 'webhook-signature': delivery.signatures.join(' ') };
      expect(new Webhook(workspace.signingSecret).verify(delivery.body, headers)).toEqual(delivery.json);
      expect(() => new Webhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`).verify(delivery.body, headers)).toThrow(/No matching signature/);
      expect(() => new Webhook(workspace.signingSecret).verify(delivery.body.replace('Hi', 'Yo'), headers)).toThrow(/No matching signature/);
    }
  });

  it('sends Herald’s own payload when the campaign gives no body', async () => {
    r.receiver.clear();
    const workspace = await workspaceWith({ externalId: 'kim', firstName: 'Kim', attributes: { plan: 'free' } });
    const campaign = await broadcast(workspace, { url: r.receiver.url('/default') });
    const [delivery] = r.receiver.received();
    expect(delivery!.method).toBe('POST');
    expect(delivery!.json).toMatchObject({
      type: 'campaign.message',
      data: { messageId: delivery!.id, contact: { externalId: 'kim', firstName: 'Kim', attributes: { plan: 'free' } }, event: null },
    });
    expect(delivery!.id).toBe(ledgerIdOf(campaign.messages[0]!.id));
  });

  it('fails a message whose body does not render to JSON (TEMPLATE_ERROR), and sends the others', async () => {
    r.receiver.clear();
    const workspace = await workspaceWith({ externalId: 'num', attributes: { n: 5 } }, { externalId: 'text', attributes: { n: 'five and more' } });
    const campaign = await broadcast(workspace, { url: r.receiver.url('/n'), body: '{"n": {{ contact.n }}, "who": "{{ contact.externalId }}"}' });
    expect(campaign.stats).toMatchObject({ sent: 1, failed: 1 });
    const failed = campaign.messages.find((message) => message.contact.externalId === 'text')!;
    expect(failed).toMatchObject({ status: 'FAILED', reason: 'TEMPLATE_ERROR' });
    expect(failed.error).toMatch(/did not render to JSON/);
    expect(r.receiver.received().map((delivery) => delivery.json)).toEqual([{ n: 5, who: 'num' }]);
  });

  it('fails every message (TEMPLATE_ERROR) of a campaign whose stored header no longer opens, and finishes the campaign', async () => {
    r.receiver.clear();
    const workspace = await workspaceWith({ externalId: 'sealed-a' }, { externalId: 'sealed-b' });
    const other = await h.workspace();
    const theirs = await createCampaign(other.secret, { name: 'Theirs', kind: 'BROADCAST', channel: 'WEBHOOK', webhook: { url: r.receiver.url('/theirs'), headers: { 'X-Token': 'theirs' } } });
    const id = await createCampaign(workspace.secret, { name: 'Ours', kind: 'BROADCAST', channel: 'WEBHOOK', webhook: { url: r.receiver.url('/ours'), headers: { 'X-Token': 'ours' } } });
    // A header sealed for another workspace (a row copied across) does not open here.
    const { prisma } = h.kit.herald;
    const foreign = await prisma.campaign.findUniqueOrThrow({ where: { id: ledgerIdOf(theirs) } });
    const ours = await prisma.campaign.findUniqueOrThrow({ where: { id: ledgerIdOf(id) } });
    await prisma.campaign.update({ where: { id: ours.id }, data: { content: { ...(ours.content as object), headers: (foreign.content as { headers: object }).headers } } });

    expect(dataOf(await workspace.secret(SendNow, { id })).sendCampaignNow.__typename).toBe('MutationSendCampaignNowSuccess');
    await waitForStatus(workspace.secret, id, 'SENT', 20_000);
    const campaign = await messagesOf(workspace, id);
    expect(campaign.stats).toMatchObject({ targeted: 2, failed: 2, sent: 0, queued: 0 });
    for (const message of campaign.messages) {
      expect(message).toMatchObject({ status: 'FAILED', reason: 'TEMPLATE_ERROR', attempts: 0 });
      expect(message.error).toMatch(/^headers\.X-Token: was sealed for another workspace/);
    }
    expect(r.receiver.attempts()).toEqual([]);
  });

  it('is refused by a receiver that holds another secret: 401 fails the message, not retried', async () => {
    r.receiver.clear();
    const workspace = await workspaceWith({ externalId: 'wrong' });
    r.receiver.trust(`whsec_${Buffer.alloc(32, 1).toString('base64')}`);
    const campaign = await broadcast(workspace, { url: r.receiver.url('/wrong') });
    expect(campaign.messages[0]).toMatchObject({ status: 'FAILED', reason: 'PROVIDER_REJECTED', attempts: 1 });
    expect(campaign.messages[0]!.error).toBe('the receiver answered 401 (unauthorized)');
    expect(r.receiver.attempts().map((attempt) => attempt.outcome)).toEqual(['unverified']);
  });
});

describe('the receiver’s answers', () => {
  it('retries 429 after its Retry-After and 500s and a hang with backoff, always with the same webhook-id', async () => {
    r.receiver.clear();
    const workspace = await workspaceWith({ externalId: 'busy' });
    r.receiver.behave({ status: 429, retryAfterSeconds: 1 }, { times: 1 });
    let campaign = await broadcast(workspace, { url: r.receiver.url('/busy') });
    let [message] = campaign.messages;
    expect(message).toMatchObject({ status: 'SENT', attempts: 2 });
    let attempts = r.receiver.attempts(ledgerIdOf(message!.id));
    expect(attempts.map((attempt) => attempt.outcome)).toEqual([429, 200]);
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(950);

    r.receiver.clear();
    r.receiver.behave({ status: 500 }, { times: 2 });
    campaign = await broadcast(workspace, { url: r.receiver.url('/flaky') });
    [message] = campaign.messages;
    expect(message).toMatchObject({ status: 'SENT', attempts: 3 });
    expect(r.receiver.attempts(ledgerIdOf(message!.id)).map((attempt) => attempt.outcome)).toEqual([500, 500, 200]);

    r.receiver.clear();
    r.receiver.behave({ hang: true }, { times: 1 });
    campaign = await broadcast(workspace, { url: r.receiver.url('/hang') });
    [message] = campaign.messages;
    expect(message).toMatchObject({ status: 'SENT', attempts: 2 });
    attempts = r.receiver.attempts(ledgerIdOf(message!.id));
    expect(attempts.map((attempt) => attempt.outcome)).toEqual(['hang', 200]);
    expect(r.receiver.received()).toHaveLength(1);
  });

  it('fails other 4xx and redirects at once (a redirect is never followed), and stores no response body', async () => {
    r.receiver.clear();
    const workspace = await workspaceWith({ externalId: 'missing' });
    r.receiver.behave({ status: 404 }, { times: 1 });
    let campaign = await broadcast(workspace, { url: r.receiver.url('/missing') });
    expect(campaign.messages[0]).toMatchObject({ status: 'FAILED', reason: 'PROVIDER_REJECTED', attempts: 1, error: 'the receiver answered 404 (not found)' });

    r.receiver.clear();
    r.receiver.behave({ status: 302, location: 'https://169.254.169.254/latest/meta-data/' }, { times: 1 });
    campaign = await broadcast(workspace, { url: r.receiver.url('/moved') });
    expect(campaign.messages[0]).toMatchObject({ status: 'FAILED', attempts: 1, error: 'the receiver answered 302 (a redirect, not followed)' });
    expect(r.receiver.attempts()).toHaveLength(1);
    for (const message of campaign.messages) expect(message.error).not.toContain('secret-response-body');
    const stored = await h.kit.herald.prisma.message.findMany({ where: { error: { contains: 'secret-response-body' } } });
    expect(stored).toEqual([]);
  });

  it('fails a message whose receiver answers 101 Switching Protocols instead of an answer, and finishes the campaign', async () => {
    r.receiver.clear();
    const workspace = await workspaceWith({ externalId: 'switch' });
    r.receiver.behave({ raw: 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n' }, { times: 1 });
    const campaign = await broadcast(workspace, { url: r.receiver.url('/switch') });
    expect(campaign.messages[0]).toMatchObject({ status: 'FAILED', reason: 'PROVIDER_REJECTED', attempts: 1, error: 'the receiver answered 101 (switching protocols)' });
    expect(r.receiver.attempts().map((attempt) => attempt.outcome)).toEqual(['raw']);
  });

  it('takes the status of a receiver that drips or floods its answer, without waiting for or keeping the body', async () => {
    r.receiver.clear();
    const workspace = await workspaceWith({ externalId: 'drip' });
    r.receiver.behave({ slowBody: true, chunks: 100, intervalMs: 100 }, { times: 1 });
    const started = Date.now();
    let campaign = await broadcast(workspace, { url: r.receiver.url('/drip') });
    expect(campaign.messages[0]).toMatchObject({ status: 'SENT', attempts: 1 });
    expect(Date.now() - started).toBeLessThan(8_000);

    r.receiver.clear();
    r.receiver.behave({ hugeBody: 20 * 1024 * 1024, status: 503 }, { times: 1 });
    campaign = await broadcast(workspace, { url: r.receiver.url('/flood') });
    expect(campaign.messages[0]).toMatchObject({ status: 'SENT', attempts: 2 });
  });
});

const CancelCampaign = graphql(`
  mutation WebhookCancel($id: ID!) {
    cancelCampaign(input: { id: $id }) { __typename ... on Error { message } }
  }
`);

describe('a campaign canceled mid-send', () => {
  it('cancels a message whose request was in flight and answered a retryable failure: never sent again, never left waiting', async () => {
    r.receiver.clear();
    const workspace = await workspaceWith({ externalId: 'late-500' });
    // The request is in flight when the campaign is canceled; its answer, a 500, comes after.
    r.receiver.behave({ status: 500, delayMs: 800 }, { times: 1 });
    const id = await createCampaign(workspace.secret, { name: 'Canceled hook', kind: 'BROADCAST', channel: 'WEBHOOK', webhook: { url: r.receiver.url('/late') } });
    expect(dataOf(await workspace.secret(SendNow, { id })).sendCampaignNow.__typename).toBe('MutationSendCampaignNowSuccess');
    await r.receiver.waitFor(() => r.receiver.attempts().length === 1);
    expect(dataOf(await workspace.secret(CancelCampaign, { id })).cancelCampaign.__typename).toBe('MutationCancelCampaignSuccess');

    // The 500 was answered and its retry would long be due (backoff base 50 ms).
    let campaign = await messagesOf(workspace, id);
    const deadline = Date.now() + 20_000;
    while (campaign.messages[0]!.status !== 'CANCELED' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      campaign = await messagesOf(workspace, id);
    }
    expect(campaign.status).toBe('CANCELED');
    expect(campaign.messages[0]).toMatchObject({ status: 'CANCELED', reason: 'CAMPAIGN_CANCELED', attempts: 1 });
    expect(campaign.stats).toMatchObject({ targeted: 1, queued: 0, sent: 0 });
    expect(r.receiver.attempts().map((attempt) => attempt.outcome)).toEqual([500]);
  });
});

describe('signing secrets', () => {
  it('rotates: for a grace period both secrets sign (either verifies), then only the new one', async () => {
    r.receiver.clear();
    const workspace = await workspaceWith({ externalId: 'rot' });
    const old = workspace.signingSecret;
    expect(old).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const rotated = dataOf(await workspace.secret(RotateWebhookSecret)).rotateWebhookSecret;
    if (rotated.__typename !== 'MutationRotateWebhookSecretSuccess') throw new Error(JSON.stringify(rotated));
    const fresh = rotated.data.webhookSigningSecret!;
    expect(fresh).toMatch(/^whsec_/);
    expect(fresh).not.toBe(old);
    expect(await signingSecretOf(workspace)).toBe(fresh);

    // A receiver still on the old secret keeps verifying during the grace period.
    r.receiver.trust(old);
    await broadcast(workspace, { url: r.receiver.url('/rot') });
    let [delivery] = r.receiver.received();
    expect(delivery!.signatures).toHaveLength(2);
    const headers = (d: typeof delivery) => ({ 'webhook-id': d!.id, 'webhook-timestamp': String(d!.timestamp), 'webhook-signature': d!.signatures.join(' ') });
    expect(() => new Webhook(fresh).verify(delivery!.body, headers(delivery))).not.toThrow();

    // After the grace period the old secret signs no more.
    const workspaceId = ledgerIdOf(workspace.workspace.id);
    await h.kit.herald.prisma.workspace.update({ where: { id: workspaceId }, data: { webhookSecretRotatedAt: new Date(Date.now() - 25 * 3600_000) } });
    r.receiver.clear();
    r.receiver.trust(fresh);
    await broadcast(workspace, { url: r.receiver.url('/rot2') });
    [delivery] = r.receiver.received();
    expect(delivery!.signatures).toHaveLength(1);
    expect(() => new Webhook(old).verify(delivery!.body, headers(delivery))).toThrow(/No matching signature/);
  });
});

describe('sendTestMessage', () => {
  it('is sent once, by the test send: a pass of the running campaign leaves the test’s ledger row alone', async () => {
    r.receiver.clear();
    const workspace = await workspaceWith({ externalId: 'live-tester' });
    const campaignId = await createCampaign(workspace.secret, { name: 'Live hook', kind: 'TRIGGERED', channel: 'WEBHOOK', trigger: { event: 'never_fired' }, webhook: { url: r.receiver.url('/live') } });
    await activateCampaign(workspace.secret, campaignId);
    const { herald } = h.kit;
    const campaign = await herald.prisma.campaign.findUniqueOrThrow({ where: { id: ledgerIdOf(campaignId) } });
    // sendTestMessage writes its row QUEUED, then sends it; the campaign's pass runs in between.
    const now = new Date();
    const row = await herald.prisma.message.create({
      data: { workspaceId: campaign.workspaceId, campaignId: campaign.id, contactId: ledgerIdOf(workspace.contactIds[0]!), channel: 'WEBHOOK', occurrence: `test:${uuidv7()}`, test: true, scheduledFor: now, dueAt: now },
    });
    await deliverCampaign(herald, campaign.id);
    await sendNow(herald, campaign, row.id);
    expect(r.receiver.received(row.id)).toHaveLength(1);
    expect(await herald.prisma.message.findUniqueOrThrow({ where: { id: row.id } })).toMatchObject({ status: 'SENT', reason: 'ACCEPTED', attempts: 1 });
  });

  it('sends a WEBHOOK campaign’s request for one contact now, whatever the campaign’s status', async () => {
    r.receiver.clear();
    const workspace = await workspaceWith({ externalId: 'tester', firstName: 'Tess' });
    const campaignId = await createCampaign(workspace.secret, {
      name: 'Draft hook',
      kind: 'BROADCAST',
      channel: 'WEBHOOK',
      webhook: { url: r.receiver.url('/test'), body: '{"hello": "{{ contact.firstName }}"}' },
    });
    const result = dataOf(await workspace.secret(TestMessage, { campaignId, contactId: workspace.contactIds[0]! })).sendTestMessage;
    if (result.__typename !== 'MutationSendTestMessageSuccess') throw new Error(JSON.stringify(result));
    expect(result.data).toMatchObject({ status: 'SENT', reason: 'ACCEPTED', test: true, channel: 'WEBHOOK' });
    const [delivery] = r.receiver.received();
    expect(delivery!.json).toEqual({ hello: 'Tess' });
    expect(delivery!.id).toBe(ledgerIdOf(result.data.id));
  });
});
