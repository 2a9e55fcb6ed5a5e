import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import { createCampaign, SendNow, seedBrowsers, subscribeBrowser, waitForStatus } from '../kit/campaigns.ts';
import { dataOf } from '../kit/client.ts';
import { createWorkspace } from '../kit/flow.ts';
import { startTestHerald, type TestHerald } from '../kit/herald.ts';
import { startPushService, type TestPushService } from '../kit/push-service.ts';
import { tally } from '../kit/tally.ts';

// Issue 15, finding 6: a page (publishable key) registered endpoints on Herald's own network and
// Herald connected to them, keeping the first 200 bytes of each answer in Message.error.

const Register = graphql(`
  mutation SecurityRegister($input: MutationRegisterPushSubscriptionInput!) {
    registerPushSubscription(input: $input) {
      __typename
      ... on MutationRegisterPushSubscriptionSuccess { data { id } }
      ... on ValidationError { fieldErrors { path message } }
      ... on Error { code message }
    }
  }
`);

const Messages = graphql(`
  query SecurityMessages($id: ID!) {
    campaign(id: $id) {
      messages(first: 100) { edges { node { status reason error attempts contact { anonymousId } } } }
    }
  }
`);

/** What a visitor's browser would send, with the endpoint chosen by the attacker. */
const subscriptionAt = (push: TestPushService, endpoint: string) => ({ ...push.subscribe().json, endpoint });

const ATTACKS = [
  'https://127.0.0.1:8443/push/x',
  'https://127.0.0.1/push/x',
  'https://[::1]/push/x',
  'https://[::ffff:127.0.0.1]/push/x',
  'https://[fe80::1]/push/x',
  'https://169.254.169.254/latest/meta-data/',
  'https://10.0.0.1/push/x',
  'https://100.64.0.1/push/x',
  'https://2130706433/push/x', // 127.0.0.1 as one decimal number
  'https://0x7f000001/push/x', // hex
  'https://0177.0.0.1/push/x', // octal
  'https://0/push/x',
  'https://user:pw@fcm.googleapis.com/fcm/send/x',
  'https://fcm.googleapis.com@127.0.0.1/fcm/send/x',
  'https://fcm.googleapis.com:8443/fcm/send/x',
  'https://localhost/push/x',
  'https://fcm.googleapis.com.evil.example/fcm/send/x',
  'https://evil.example/push/x',
  'https://push.apple.com/x', // the wildcard covers subdomains only
];

const ALLOWED = [
  'https://fcm.googleapis.com/fcm/send/dGVzdA:APA91b',
  'https://fcm.googleapis.com:443/fcm/send/dGVzdA:APA91c',
  'https://updates.push.services.mozilla.com/wpush/v2/gAAAAAB',
  'https://web.push.apple.com/QOa5lZp',
  'https://api.push.apple.com/3/device/abc',
  'https://wns2-par02p.notify.windows.com/w/?token=BQYAAAB',
];

async function count(databaseUrl: string, sql: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return Number((await client.query<{ n: string }>(sql)).rows[0]!.n);
  } finally {
    await client.end();
  }
}

let push: TestPushService;
beforeAll(async () => {
  push = await startPushService();
});
afterAll(() => push?.close());

describe('with the default policy (only the browsers’ push services)', () => {
  let kit: TestHerald;
  beforeAll(async () => {
    // An empty value means unset: the built-in list, as in production.
    kit = await startTestHerald({ HERALD_PUSH_CA: push.caFile, HERALD_PUSH_ALLOWED_HOSTS: '' });
  });
  afterAll(() => kit?.stop());

  it('refuses every attacker endpoint at registration and stores nothing', async () => {
    const { publishable, workspace } = await createWorkspace(kit);
    const endpoints = [...ATTACKS, `${push.origin}/push/x`];
    for (const [index, endpoint] of endpoints.entries()) {
      const result = dataOf(await publishable(Register, { input: { anonymousId: `attacker-${index}`, subscription: subscriptionAt(push, endpoint) } })).registerPushSubscription;
      expect(result, endpoint).toMatchObject({ __typename: 'ValidationError', fieldErrors: [{ path: ['input', 'subscription', 'endpoint'] }] });
      if (result.__typename === 'ValidationError') expect(result.fieldErrors[0]!.message, endpoint).toMatch(/push service|IP address|user name|port/);
    }
    const workspaceId = Buffer.from(workspace.id, 'base64').toString().split(':')[1]!;
    expect(await count(kit.databaseUrl, `SELECT count(*) AS n FROM "PushSubscription" WHERE "workspaceId" = '${workspaceId}'`)).toBe(0);
    expect(await count(kit.databaseUrl, `SELECT count(*) AS n FROM "Contact" WHERE "workspaceId" = '${workspaceId}'`)).toBe(0);
    tally({ check: 'security: push endpoints aimed at Herald’s own network', attacks: endpoints.length, leaks: 0 });
  });

  it('accepts the browsers’ push services', async () => {
    const { publishable } = await createWorkspace(kit);
    for (const [index, endpoint] of ALLOWED.entries()) {
      const result = dataOf(await publishable(Register, { input: { anonymousId: `visitor-${index}`, subscription: subscriptionAt(push, endpoint) } })).registerPushSubscription;
      expect(result.__typename, `${endpoint}: ${JSON.stringify(result)}`).toBe('MutationRegisterPushSubscriptionSuccess');
    }
  });

  it('does not connect to a stored subscription whose endpoint the policy refuses', async () => {
    const { secret, workspace } = await createWorkspace(kit);
    // Rows from before the policy: straight into the database, at the (now refused) 127.0.0.1.
    const [old] = await seedBrowsers(kit.databaseUrl, workspace.id, push, 1);
    const before = push.requests();
    const id = await createCampaign(secret, { name: 'To an old row', kind: 'BROADCAST', content: { title: 'Hello', url: 'https://shop.example/' } });
    await secret(SendNow, { id });
    const campaign = await waitForStatus(secret, id);
    expect(campaign.stats).toMatchObject({ targeted: 1, sent: 0, failed: 1 });
    const [message] = dataOf(await secret(Messages, { id })).campaign!.messages.edges.map(({ node }) => node);
    expect(message).toMatchObject({ status: 'FAILED', reason: 'PUSH_SERVICE_REJECTED', contact: { anonymousId: old!.anonymousId } });
    expect(message!.error).toMatch(/^endpoint refused: the IP address 127.0.0.1 is not an allowed push service$/);
    expect(push.requests()).toBe(before);
    // Every targeted subscription is a stored, refused endpoint.
    tally({ check: 'security: push endpoints aimed at Herald’s own network', attacks: campaign.stats.targeted, leaks: 0 });
  });
});

describe('with a host allowed by name that resolves to loopback', () => {
  let kit: TestHerald;
  beforeAll(async () => {
    // localhost may be registered, but its address (127.0.0.1) is not allowed: only the
    // connect-time check can stop it.
    kit = await startTestHerald({ HERALD_PUSH_CA: push.caFile, HERALD_PUSH_ALLOWED_HOSTS: 'localhost', HERALD_PUSH_RETRY_BASE_MS: '50' });
  });
  afterAll(() => kit?.stop());

  it('registers the endpoint but refuses the loopback address when connecting, without retrying', async () => {
    const { secret, publishable } = await createWorkspace(kit);
    const endpoint = `${push.origin.replace('127.0.0.1', 'localhost')}/push/${push.subscribe().id}`;
    const registered = dataOf(await publishable(Register, { input: { anonymousId: 'rebinder', subscription: subscriptionAt(push, endpoint) } })).registerPushSubscription;
    expect(registered.__typename, JSON.stringify(registered)).toBe('MutationRegisterPushSubscriptionSuccess');

    const before = push.requests();
    const id = await createCampaign(secret, { name: 'Rebind', kind: 'BROADCAST', content: { title: 'Hello', url: 'https://shop.example/' } });
    await secret(SendNow, { id });
    const campaign = await waitForStatus(secret, id);
    expect(campaign.stats).toMatchObject({ targeted: 1, sent: 0, failed: 1 });
    const [message] = dataOf(await secret(Messages, { id })).campaign!.messages.edges.map(({ node }) => node);
    expect(message).toMatchObject({ status: 'FAILED', reason: 'PUSH_SERVICE_REJECTED', attempts: 1 });
    expect(message!.error).toMatch(/address .* not allowed/);
    expect(push.requests()).toBe(before);
    tally({ check: 'security: push endpoints aimed at Herald’s own network', attacks: campaign.stats.targeted, leaks: 0 });
  });
});

describe('what a push service answers', () => {
  let kit: TestHerald;
  beforeAll(async () => {
    kit = await startTestHerald({ HERALD_PUSH_CA: push.caFile, HERALD_PUSH_ALLOWED_HOSTS: '127.0.0.1', HERALD_PUSH_RETRY_BASE_MS: '20' });
  });
  afterAll(() => kit?.stop());

  it('keeps the status and a short reason in Message.error, never the body', async () => {
    const { secret, publishable } = await createWorkspace(kit);
    const secretBody = 'root:x:0:0:SECRET-FROM-THE-INSIDE';
    const answers = [400, 401, 403, 404, 413, 503] as const;
    for (const status of answers) {
      const { browser } = await subscribeBrowser(publishable, push, { anonymousId: `answer-${status}` });
      push.behave({ status, body: `${secretBody} ${status}` }, { subscriptionId: browser.id });
    }
    const id = await createCampaign(secret, { name: 'Bodies', kind: 'BROADCAST', content: { title: 'Hello', url: 'https://shop.example/' } });
    await secret(SendNow, { id });
    await waitForStatus(secret, id);
    const messages = dataOf(await secret(Messages, { id })).campaign!.messages.edges.map(({ node }) => node);
    expect(messages).toHaveLength(answers.length);
    for (const message of messages) {
      const status = message.contact.anonymousId!.split('-')[1]!;
      expect(message.status).toBe('FAILED');
      expect(message.error).toContain(status);
      expect(message.error).not.toContain('SECRET');
      expect(message.error).not.toContain('root:');
      expect(message.error!.length).toBeLessThanOrEqual(80);
    }
    // Each answer tried to get its body kept where a tenant reads it.
    tally({ check: 'security: push endpoints aimed at Herald’s own network', attacks: answers.length, leaks: 0 });
  });
});
