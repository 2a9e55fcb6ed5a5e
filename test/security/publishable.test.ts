/**
 * Issue 15, findings 1, 4 and 5: a publishable key lives in every visitor's browser, so it reaches
 * only what its own visitor made or received, names a customer only with an identity token, and
 * its idempotency keys cannot touch the backend's. The walk is generated from the schema: a field
 * added later is covered without editing this file. Run against the code before the fix (the walk,
 * with identify called without a token), it failed: Event.idempotencyKey was answered instead of
 * refused, and 3 of the 342 probes leaked a canary: Message.error, the campaign's name and its
 * segment's name.
 */
import { createHmac } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PUBLISHABLE_FIELDS } from '../../src/graphql/public-surface.ts';
import { schema } from '../../src/graphql/schema.ts';
import { createCampaign, SendNow, subscribeBrowser, waitForStatus } from '../kit/campaigns.ts';
import { dataOf, postRaw, wsClient } from '../kit/client.ts';
import { createWorkspace } from '../kit/flow.ts';
import { startTestHerald, type TestHerald } from '../kit/herald.ts';
import { startPushService, type TestPushService } from '../kit/push-service.ts';
import { tally } from '../kit/tally.ts';
import { probesFrom } from './walk.ts';

let push: TestPushService;
let kit: TestHerald;
let shop: Awaited<ReturnType<typeof createWorkspace>>;

const post = (credential: string, query: string, variables?: Record<string, unknown>) => postRaw(kit.graphqlUrl, credential, query, variables);

const asSecret = (query: string, variables?: Record<string, unknown>) => post(shop.secretKey, query, variables);
const asPage = (query: string, variables?: Record<string, unknown>) => post(shop.publishableKey, query, variables);
const sign = (secret: string, value: string) => createHmac('sha256', secret).update(value).digest('hex');
const identitySecret = async () => (await asSecret('{ viewer { identitySecret } }')).body.data!.viewer.identitySecret as string;

/** What must never reach the attacker's page: someone else's data, and internal text. */
const canaries = {
  externalId: 'victim-externalid-7c1e',
  email: 'victim-7c1e@canary.example',
  plan: 'plan-canary-7c1e',
  segment: 'Segment canary 7c1e',
  campaign: 'Campaign canary 7c1e',
  error: 'internal error text canary 7c1e',
  endpoint: 'filled in when the victim subscribes',
};
let attacker: { anonymousId: string; subscription: { endpoint: string; keys: { p256dh: string; auth: string } }; token: string };
/** The victim's own push token: what a page must never be able to answer with a forged or foreign key. */
let victimToken: string;

beforeAll(async () => {
  push = await startPushService();
  kit = await startTestHerald({ HERALD_PUSH_CA: push.caFile, HERALD_PUBLIC_RATE_LIMIT: '100000' });
  shop = await createWorkspace(kit);

  await asSecret(
    `mutation($input: ContactInput!) { upsertContact(input: $input) { __typename } }`,
    { input: { externalId: canaries.externalId, email: canaries.email, attributes: { plan: canaries.plan } } },
  );
  const victim = await subscribeBrowser(shop.secret, push, { externalId: canaries.externalId });
  canaries.endpoint = victim.browser.json.endpoint;

  const anonymousId = 'attacker-visitor-1';
  const own = await subscribeBrowser(shop.publishable, push, { anonymousId });
  const segment = await asSecret(
    `mutation { createSegment(input: { name: "${canaries.segment}", rule: { pushSubscribed: true } }) { ... on MutationCreateSegmentSuccess { data { id } } } }`,
  );
  const campaignId = await createCampaign(shop.secret, {
    name: canaries.campaign,
    kind: 'BROADCAST',
    audience: { segmentId: segment.body.data!.createSegment.data.id },
    content: { title: 'Hello', url: 'https://shop.example/', question: { kind: 'THUMBS', text: 'Did this help?' } },
  });
  dataOf(await shop.secret(SendNow, { id: campaignId }));
  await waitForStatus(shop.secret, campaignId);
  const received = push.received(own.browser.id)[0]!.json as { token: string };
  attacker = { anonymousId, subscription: own.browser.json, token: received.token };
  victimToken = (push.received(victim.browser.id)[0]!.json as { token: string }).token;

  // Internal text on the attacker's own ledger row: a page must not read it either.
  const db = new pg.Client({ connectionString: kit.databaseUrl });
  await db.connect();
  await db.query(`UPDATE "Message" SET error = $1`, [canaries.error]);
  await db.end();
});
afterAll(async () => {
  await kit?.stop();
  await push?.close();
});

function leaked(text: string): string[] {
  return Object.entries(canaries).filter(([, value]) => text.includes(value)).map(([name]) => name);
}

const allowed = new Set(Object.entries(PUBLISHABLE_FIELDS).flatMap(([type, fields]) => fields.map((field) => `${type}.${field}`)));

describe('a publishable key', () => {
  it('is refused every field outside the public surface, from every field a page may call, and sees nobody else', async () => {
    const secret = await identitySecret();
    const roots: [operation: 'query' | 'mutation', field: string, args: string, variables: string, values: Record<string, unknown>][] = [
      ['query', 'publicConfig', '', '', {}],
      ['mutation', 'trackEvent', '(input: $input)', '($input: EventInput!)', { input: { anonymousId: attacker.anonymousId, name: 'walked' } }],
      ['mutation', 'recordMessageEvent', '(input: $input)', '($input: MutationRecordMessageEventInput!)', { input: { token: attacker.token, type: 'DISPLAYED' } }],
      ['mutation', 'answerQuestion', '(input: $input)', '($input: MutationAnswerQuestionInput!)', { input: { token: attacker.token, answer: 'up' } }],
      [
        'mutation',
        'registerPushSubscription',
        '(input: $input)',
        '($input: MutationRegisterPushSubscriptionInput!)',
        { input: { anonymousId: attacker.anonymousId, subscription: attacker.subscription } },
      ],
      [
        'mutation',
        'identifyContact',
        '(input: $input)',
        '($input: MutationIdentifyContactInput!)',
        { input: { anonymousId: attacker.anonymousId, externalId: 'attacker-customer', identityToken: sign(secret, 'attacker-customer') } },
      ],
      ['mutation', 'revokePushSubscription', '(input: $input)', '($input: MutationRevokePushSubscriptionInput!)', { input: { endpoint: attacker.subscription.endpoint } }],
    ];
    let probes = 0;
    let refused = 0;
    for (const [operation, field, args, variables, values] of roots) {
      const all = probesFrom(schema, operation, field, args, variables);
      // Ten at a time: the order of answers does not matter, and the walk stays a few seconds.
      const answers = [];
      for (let start = 0; start < all.length; start += 10) {
        answers.push(...(await Promise.all(all.slice(start, start + 10).map(async (probe) => ({ probe, ...(await asPage(probe.query, values)) })))));
      }
      for (const { probe, text, body } of answers) {
        probes++;
        expect(leaked(text), `${probe.path.join(' > ')} leaked`).toEqual([]);
        const codes = (body.errors ?? []).map((error) => error.extensions?.code);
        if (probe.path.every((coordinate) => allowed.has(coordinate))) {
          expect(codes, `${probe.path.join(' > ')}: ${text}`).not.toContain('FORBIDDEN');
          expect(body.data?.[field], probe.path.join(' > ')).toBeTruthy();
        } else {
          // Refused before anything ran: no data at all, a FORBIDDEN error for the refused field.
          expect(codes.length, `${probe.path.join(' > ')}: ${text}`).toBeGreaterThan(0);
          expect(new Set(codes), `${probe.path.join(' > ')}: ${text}`).toEqual(new Set(['FORBIDDEN']));
          expect(body.data ?? null).toBeNull();
          refused++;
        }
      }
    }
    expect(refused).toBeGreaterThan(100); // the walk reached far: Message > campaign > messages > …
    tally({ check: 'security: publishable key walked over the schema', inputs: probes, attacks: refused, leaks: 0 });
  }, 90_000); // ~400 requests: a few seconds on a quiet machine, 20-30 s on a busy one

  it('is refused every other root field, over HTTP and WebSocket', async () => {
    const queries = Object.keys(schema.getQueryType()!.getFields()).filter((name) => !allowed.has(`Query.${name}`));
    const mutations = Object.keys(schema.getMutationType()!.getFields()).filter((name) => !allowed.has(`Mutation.${name}`));
    for (const [operation, names] of [['query', queries], ['mutation', mutations]] as const) {
      for (const name of names) {
        const type = operation === 'query' ? schema.getQueryType()! : schema.getMutationType()!;
        const probe = probesFrom(schema, operation, name, sampleRootArgs(type.getFields()[name]!.args), '', 1)[0]!;
        const { text, body } = await asPage(probe.query);
        expect(leaked(text)).toEqual([]);
        expect(body.data ?? null, `${name}: ${text}`).toBeNull();
        expect(body.errors?.length, `${name}: ${text}`).toBeGreaterThan(0);
      }
    }
    const client = wsClient(kit.wsUrl, shop.publishableKey);
    for (const name of Object.keys(schema.getSubscriptionType()!.getFields())) {
      const outcome = await new Promise<string>((resolve) => {
        client.subscribe(
          { query: `subscription { ${name}${sampleRootArgs(schema.getSubscriptionType()!.getFields()[name]!.args)} { __typename } }` },
          { next: (result) => resolve(JSON.stringify(result)), error: (error) => resolve(JSON.stringify(error)), complete: () => resolve('complete') },
        );
      });
      expect(outcome, name).toMatch(/FORBIDDEN|may not/);
      expect(leaked(outcome)).toEqual([]);
    }
    await client.dispose();
    tally({ check: 'security: publishable key at every other root field', attacks: queries.length + mutations.length + Object.keys(schema.getSubscriptionType()!.getFields()).length, leaks: 0 });
  });

  it('gets its own message back from recordMessageEvent: id, status and times only', async () => {
    const { body } = await asPage(
      `mutation($token: String!) { recordMessageEvent(input: { token: $token, type: CLICKED }) {
        __typename ... on MutationRecordMessageEventSuccess { data { id status displayedAt clickedAt closedAt } } } }`,
      { token: attacker.token },
    );
    const message = body.data!.recordMessageEvent.data;
    expect(message.status).toBe('SENT');
    expect(message.clickedAt).toBeTruthy();
    expect(message.displayedAt).toBeTruthy();
    const refused = await asPage(`mutation($token: String!) { recordMessageEvent(input: { token: $token, type: CLICKED }) {
        ... on MutationRecordMessageEventSuccess { data { error campaign { name } } } } }`, { token: attacker.token });
    expect(refused.body.errors!.map((error) => error.message)).toEqual([
      'A publishable key may not read Message.error',
      'A publishable key may not read Message.campaign',
    ]);
    expect(refused.body.data ?? null).toBeNull();
  });
});

describe('answerQuestion from a page', () => {
  it('answers only with a token of its own workspace: forged tokens and another workspace’s key change nothing', async () => {
    const answer = (credential: string, token: string) =>
      post(credential, `mutation($token: String!) { answerQuestion(input: { token: $token, answer: "down" }) {
        __typename ... on Error { code } ... on MutationAnswerQuestionSuccess { data { answer } } } }`, { token });
    const other = await createWorkspace(kit, 'Another shop');
    const [head, mac] = victimToken.split('.') as [string, string];
    const attempts: [credential: string, token: string][] = [
      [other.publishableKey, victimToken], // the right token, the wrong workspace
      [other.secretKey, victimToken],
      [shop.publishableKey, `${head}.${attacker.token.split('.')[1]}`], // the victim's id with the attacker's MAC
      [shop.publishableKey, `${head}.${mac[0] === 'A' ? 'B' : 'A'}${mac.slice(1)}`], // the MAC changed where every bit counts
      [shop.publishableKey, `${attacker.token.split('.')[0]}.${mac}`],
      [shop.publishableKey, victimToken.slice(0, -1)],
    ];
    for (const [credential, token] of attempts) {
      const { text, body } = await answer(credential, token);
      expect(body.data!.answerQuestion, text).toEqual({ __typename: 'NotFoundError', code: 'message/not_found' });
      expect(leaked(text)).toEqual([]);
    }
    const db = new pg.Client({ connectionString: kit.databaseUrl });
    await db.connect();
    const { rows } = await db.query(`SELECT count(*)::int AS answered FROM "Message" m JOIN "Contact" c ON c.id = m."contactId" WHERE c."externalId" = $1 AND m."answeredAt" IS NOT NULL`, [
      canaries.externalId,
    ]);
    const events = await db.query(`SELECT count(*)::int AS n FROM "Event" e JOIN "Contact" c ON c.id = e."contactId" WHERE c."externalId" = $1 AND e.name = 'feedback'`, [canaries.externalId]);
    await db.end();
    expect(rows[0].answered).toBe(0);
    expect(events.rows[0].n).toBe(0);
    tally({ check: 'security: answering another visitor’s question', attacks: attempts.length, leaks: 0 });
  });
});

function sampleRootArgs(args: readonly { name: string; type: unknown }[]): string {
  const required = args.filter((arg) => String(arg.type).endsWith('!'));
  if (!required.length) return '';
  // Wrong shapes are fine here: the field is refused whatever its arguments say.
  return `(${required.map((arg) => `${arg.name}: ${String(arg.type).startsWith('DateTime') ? '"2026-01-01T00:00:00Z"' : '"x"'}`).join(', ')})`;
}

describe('identity verification', () => {
  const Identify = `mutation($input: MutationIdentifyContactInput!) {
    identifyContact(input: $input) { __typename ... on ValidationError { code fieldErrors { path message } } } }`;
  const Register = `mutation($input: MutationRegisterPushSubscriptionInput!) {
    registerPushSubscription(input: $input) { __typename ... on ValidationError { code fieldErrors { path message } } } }`;
  const Track = `mutation($input: EventInput!) { trackEvent(input: $input) { __typename ... on ValidationError { code fieldErrors { path message } } } }`;

  async function victimState() {
    const { body } = await asSecret(`query($externalId: String!) { contact(externalId: $externalId) {
      id anonymousId attributes pushSubscriptions { endpoint } events(first: 50) { totalCount } } }`, { externalId: canaries.externalId });
    return body.data!.contact;
  }

  it('refuses a page that names a customer without a valid token, and changes nothing', async () => {
    const before = await victimState();
    const browser = push.subscribe();
    const attempts: [string, Record<string, unknown>][] = [];
    for (const identityToken of [undefined, 'a'.repeat(64), sign('not-the-secret', canaries.externalId), 'not hex at all']) {
      attempts.push([Identify, { input: { anonymousId: 'attacker-visitor-2', externalId: canaries.externalId, attributes: { plan: 'free' }, identityToken } }]);
      attempts.push([Register, { input: { externalId: canaries.externalId, subscription: browser.json, identityToken } }]);
      attempts.push([Register, { input: { contactId: before.id, subscription: browser.json, identityToken } }]);
      attempts.push([Track, { input: { externalId: canaries.externalId, name: 'purchase', properties: { value: 1 }, identityToken } }]);
      attempts.push([Track, { input: { contactId: before.id, name: 'purchase', identityToken } }]);
    }
    for (const [query, variables] of attempts) {
      const { body } = await asPage(query, variables);
      const result = Object.values(body.data!)[0] as { __typename: string; code: string; fieldErrors: { path: string[] }[] };
      expect(result.__typename, JSON.stringify(variables)).toBe('ValidationError');
      expect(result.code).toBe('identity/verification_required');
      expect(result.fieldErrors[0]!.path.at(-1)).toBe('identityToken');
    }
    expect(await victimState()).toEqual(before);
    tally({ check: 'security: a page acting as a customer without proof', attacks: attempts.length, leaks: 0 });
  });

  it("refuses a page that names a customer by the browser's anonymousId, which the customer keeps", async () => {
    // The backend linked this browser to a customer (or the visitor identified): its anonymousId names a customer now.
    await asSecret(`mutation($input: ContactInput!) { upsertContact(input: $input) { __typename } }`, {
      input: { externalId: 'ann-7c1e', anonymousId: 'ann-laptop', email: 'ann-7c1e@canary.example' },
    });
    await asSecret(`mutation($input: ContactInput!) { upsertContact(input: $input) { __typename } }`, {
      input: { email: 'mail-only-7c1e@canary.example', anonymousId: 'mail-only-laptop' },
    });
    const state = async (externalId: string) =>
      (await asSecret(`query($externalId: String!) { contact(externalId: $externalId) { pushSubscriptions { endpoint } devices { token } events(first: 5) { totalCount } } }`, { externalId })).body.data!.contact;
    const before = await state('ann-7c1e');
    const browser = push.subscribe();
    const RegisterDevice = `mutation($input: MutationRegisterDeviceInput!) { registerDevice(input: $input) { __typename ... on ValidationError { code fieldErrors { path message } } } }`;
    const attempts: [string, Record<string, unknown>][] = [];
    for (const anonymousId of ['ann-laptop', 'mail-only-laptop']) {
      attempts.push([Track, { input: { anonymousId, name: 'purchase', properties: { forged: true } } }]);
      attempts.push([Register, { input: { anonymousId, subscription: browser.json } }]);
      attempts.push([RegisterDevice, { input: { anonymousId, platform: 'IOS', token: 'ab'.repeat(32), appId: 'com.shop.app' } }]);
    }
    for (const [query, variables] of attempts) {
      const { body } = await asPage(query, variables);
      const result = Object.values(body.data!)[0] as { __typename: string; code: string; fieldErrors: { path: string[] }[] };
      expect(result.__typename, JSON.stringify(variables)).toBe('ValidationError');
      expect(result.code).toBe('identity/verification_required');
      expect(result.fieldErrors[0]!.path).toEqual(['input', 'identityToken']);
    }
    expect(await state('ann-7c1e')).toEqual(before);
    // Its on-site messages are closed to the anonymousId too, for a customer known by email only.
    const inApp = await asPage(`query($a: String) { inAppMessages(anonymousId: $a) { title } }`, { a: 'mail-only-laptop' });
    expect(inApp.body.data!.inAppMessages).toEqual([]);
    // An anonymous visitor's own anonymousId still works, and the customer's token still does.
    expect((await asPage(Track, { input: { anonymousId: 'still-anonymous-7c1e', name: 'viewed' } })).body.data!.trackEvent.__typename).toBe('MutationTrackEventSuccess');
    const token = sign(await identitySecret(), 'ann-7c1e');
    expect((await asPage(Track, { input: { externalId: 'ann-7c1e', name: 'viewed', identityToken: token } })).body.data!.trackEvent.__typename).toBe('MutationTrackEventSuccess');
    tally({ check: 'security: a page acting as a customer without proof', attacks: attempts.length + 1, leaks: 0 });
  });

  it("refuses a page that registers a known endpoint with other keys, and lets the browser itself register again", async () => {
    const Registered = `mutation($input: MutationRegisterPushSubscriptionInput!) {
      registerPushSubscription(input: $input) { __typename ... on Error { code message } } }`;
    const victim = await asSecret(`query($externalId: String!) { contact(externalId: $externalId) { pushSubscriptions { endpoint status } } }`, { externalId: canaries.externalId });
    const stolen = { endpoint: canaries.endpoint, keys: push.subscribe().json.keys };
    const moved = await asPage(Registered, { input: { anonymousId: 'endpoint-thief-7c1e', subscription: stolen } });
    expect(moved.body.data!.registerPushSubscription).toMatchObject({ __typename: 'ConflictError', code: 'resource/conflict' });
    const after = await asSecret(`query($externalId: String!) { contact(externalId: $externalId) { pushSubscriptions { endpoint status } } }`, { externalId: canaries.externalId });
    expect(after.body.data!.contact).toEqual(victim.body.data!.contact);
    // The attacker's own browser (identified in the walk above), with its own keys, registers again as often as it likes.
    const identityToken = sign(await identitySecret(), 'attacker-customer');
    const again = await asPage(Registered, { input: { externalId: 'attacker-customer', identityToken, subscription: attacker.subscription } });
    expect(again.body.data!.registerPushSubscription.__typename).toBe('MutationRegisterPushSubscriptionSuccess');
    tally({ check: 'security: a page acting as a customer without proof', attacks: 1, leaks: 0 });
  });

  it('lets a page with a valid token identify, but a page only fills gaps', async () => {
    const secret = await identitySecret();
    const token = sign(secret, canaries.externalId);
    const { body } = await asPage(Identify, {
      input: { anonymousId: 'victim-laptop', externalId: canaries.externalId, attributes: { plan: 'free', color: 'blue' }, identityToken: token },
    });
    expect(body.data!.identifyContact.__typename).toBe('MutationIdentifyContactSuccess');
    const track = await asPage(Track, { input: { externalId: canaries.externalId, name: 'viewed', identityToken: token.toUpperCase() } });
    expect(track.body.data!.trackEvent.__typename).toBe('MutationTrackEventSuccess');
    const after = await victimState();
    expect(after.attributes).toEqual({ plan: canaries.plan, color: 'blue' });
  });

  it('can be turned off per workspace, and the page still never overwrites', async () => {
    await asSecret(`mutation { updateWorkspaceSettings(input: { requireIdentityVerification: false }) { __typename } }`);
    const { body } = await asPage(Identify, { input: { anonymousId: 'risky-visitor', externalId: canaries.externalId, attributes: { plan: 'free' } } });
    expect(body.data!.identifyContact.__typename).toBe('MutationIdentifyContactSuccess');
    expect((await victimState()).attributes.plan).toBe(canaries.plan);
    await asSecret(`mutation { updateWorkspaceSettings(input: { requireIdentityVerification: true }) { __typename } }`);
    const again = await asPage(Identify, { input: { anonymousId: 'risky-visitor', externalId: canaries.externalId } });
    expect(again.body.data!.identifyContact.code).toBe('identity/verification_required');
  });

  it('rotates the secret: old tokens stop verifying; only a secret key reads it', async () => {
    const old = await identitySecret();
    const rotated = await asSecret(`mutation { rotateIdentitySecret(input: {}) {
      __typename ... on MutationRotateIdentitySecretSuccess { data { identitySecret } } } }`);
    const fresh = rotated.body.data!.rotateIdentitySecret.data.identitySecret as string;
    expect(fresh).toMatch(/^\S{32,}$/);
    expect(fresh).not.toBe(old);
    const stale = await asPage(Track, { input: { externalId: 'someone', name: 'x', identityToken: sign(old, 'someone') } });
    expect(stale.body.data!.trackEvent.code).toBe('identity/verification_required');
    const good = await asPage(Track, { input: { externalId: 'someone', name: 'x', identityToken: sign(fresh, 'someone') } });
    expect(good.body.data!.trackEvent.__typename).toBe('MutationTrackEventSuccess');

    const page = await asPage('{ viewer { identitySecret } }');
    expect(page.body.errors![0]!.extensions!.code).toBe('FORBIDDEN');
    const admin = await post(kit.adminToken, '{ workspaces { identitySecret } }');
    expect(admin.body.errors![0]!.extensions!.code).toBe('FORBIDDEN');
    expect(admin.text).not.toContain(fresh);
  });
});

describe('the demo shop’s identity tokens', () => {
  it('are served only where the demo is, and verify', async () => {
    const ask = (url: string) =>
      fetch(`${url}/demo/identity-token`, {
        method: 'POST',
        headers: { authorization: `Bearer ${shop.publishableKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ externalId: 'demo-customer' }),
      });
    expect((await ask(kit.url)).status).toBe(404);
    const demo = await startTestHerald({ DATABASE_URL: kit.databaseUrl, HERALD_DEMO: '1' });
    try {
      const answer = await ask(demo.url);
      expect(answer.status).toBe(200);
      const { identityToken } = (await answer.json()) as { identityToken: string };
      expect(identityToken).toBe(sign(await identitySecret(), 'demo-customer'));
      const anonymous = await fetch(`${demo.url}/demo/identity-token`, { method: 'POST', body: '{"externalId":"x"}' });
      expect(anonymous.status).toBe(401);
    } finally {
      await demo.stop();
    }
  });
});

describe('idempotency keys of a page', () => {
  const Track = `mutation($input: EventInput!) { trackEvent(input: $input) {
    __typename ... on MutationTrackEventSuccess { data { id name properties } } } }`;

  it('never answer with the backend’s event and cannot pre-empt the backend’s key', async () => {
    const backend = await asSecret(Track, { input: { externalId: canaries.externalId, name: 'order', properties: { total: 'secret-total-1001' }, idempotencyKey: 'order-1001' } });
    const page = await asPage(Track, { input: { anonymousId: 'order-visitor-7c1e', name: 'order', idempotencyKey: 'order-1001' } });
    expect(page.body.data!.trackEvent.data.id).not.toBe(backend.body.data!.trackEvent.data.id);
    expect(page.text).not.toContain('secret-total-1001');

    const claimed = await asPage(Track, { input: { anonymousId: 'order-visitor-7c1e', name: 'order', idempotencyKey: 'order-1002' } });
    const real = await asSecret(Track, { input: { externalId: canaries.externalId, name: 'order', properties: { total: 42 }, idempotencyKey: 'order-1002' } });
    expect(real.body.data!.trackEvent.data.id).not.toBe(claimed.body.data!.trackEvent.data.id);
    expect(real.body.data!.trackEvent.data.properties).toEqual({ total: 42 });

    // The page's own key still deduplicates its own events, and another visitor's key is theirs.
    const replay = await asPage(Track, { input: { anonymousId: 'order-visitor-7c1e', name: 'order', idempotencyKey: 'order-1002' } });
    expect(replay.body.data!.trackEvent.data.id).toBe(claimed.body.data!.trackEvent.data.id);
    const neighbour = await asPage(Track, { input: { anonymousId: 'another-visitor', name: 'order', idempotencyKey: 'order-1002' } });
    expect(neighbour.body.data!.trackEvent.data.id).not.toBe(claimed.body.data!.trackEvent.data.id);
    tally({ check: 'security: idempotency keys from a page', attacks: 2, leaks: 0 });
  });
});
