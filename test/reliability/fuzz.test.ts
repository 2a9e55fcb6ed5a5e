/**
 * Hostile input (issue #9): every mutation, fed inputs that fast-check builds from the GraphQL
 * schema itself — right shapes with wrong contents (NUL and lone surrogates, huge and negative
 * numbers, junk ids and dates, deep JSON), and sometimes real ids. Whatever comes in: never a 5xx,
 * never an unexpected error, and a mutation that answers with an error changed nothing.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import {
  buildSchema,
  type GraphQLInputType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaign } from '../kit/campaigns.ts';
import { wsClient } from '../kit/client.ts';
import { createWorkspace } from '../kit/flow.ts';
import { startTestHerald, type TestHerald } from '../kit/herald.ts';
import { tally } from '../kit/tally.ts';

const schema = buildSchema(readFileSync(new URL('../../schema/schema.graphql', import.meta.url), 'utf8'));
const RUNS = Number(process.env.FUZZ_RUNS ?? 25);

let kit: TestHerald;
let shop: Awaited<ReturnType<typeof createWorkspace>>;
/** Ids of things that exist, so some inputs reach past "not found". */
const realIds: string[] = [];
/** Ids of another workspace's things (see "another workspace"), and its secret key. */
const foreignIds: string[] = [];
let other: Awaited<ReturnType<typeof createWorkspace>>;
/** The other workspace's short link code. */
let foreignCode = '';

beforeAll(async () => {
  kit = await startTestHerald();
  shop = await createWorkspace(kit);
  const upsert = await post(`mutation { upsertContact(input: { externalId: "ada", email: "ada@example.com" }) { ... on MutationUpsertContactSuccess { data { id } } } }`);
  realIds.push(upsert.data.upsertContact.data.id);
  const segment = await post(`mutation { createSegment(input: { name: "All", rule: { identified: true } }) { ... on MutationCreateSegmentSuccess { data { id } } } }`);
  realIds.push(segment.data.createSegment.data.id);
  realIds.push(await createCampaign(shop.secret, { name: 'Fuzzed', kind: 'BROADCAST', content: { title: 'Hi', url: 'https://shop.example/' } }));
});
afterAll(() => kit?.stop());

async function post(query: string, variables?: unknown): Promise<{ status: number; data?: any; errors?: { message: string; extensions?: { code?: string } }[] }> {
  const response = await fetch(kit.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${shop.secretKey}` },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = { errors: [{ message: `not JSON: ${text.slice(0, 200)}` }] };
  }
  return { status: response.status, ...body };
}

/** Strings a careless server trips on. */
const nasty = fc.oneof(
  { arbitrary: fc.string(), weight: 12 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 1 }, // any code point, lone surrogates included
  { arbitrary: fc.constantFrom('', ' ', '\u0000', 'a\u0000b', '\ud800', '💥'.repeat(300), 'x'.repeat(20_000), "'; DROP TABLE \"Contact\"; --", '{{ x | nope }}', '../../etc/passwd', 'null', '2024-02-30'), weight: 3 },
);

/** Valid nine times in ten, else something invalid. */
const mostly = <T>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<unknown> = nasty) =>
  fc.oneof({ arbitrary: valid, weight: 9 }, { arbitrary: invalid, weight: 1 });

/**
 * Inputs of the shape `type` describes. `text` fills every string: hostile by default; the isolation
 * checks pass well-formed text, so that inputs get past the Unicode check to the ids they test.
 */
function arbitraryFor(type: GraphQLInputType, depth = 0, text: fc.Arbitrary<string> = nasty): fc.Arbitrary<unknown> {
  if (isNonNullType(type)) return arbitraryFor(type.ofType, depth, text);
  if (isListType(type)) return fc.array(arbitraryFor(type.ofType, depth + 1, text), { maxLength: depth > 3 ? 1 : 4 });
  if (isEnumType(type)) return fc.constantFrom(...type.getValues().map((value) => value.name));
  if (isScalarType(type)) {
    switch (type.name) {
      case 'Int':
        return fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.constantFrom(0, -1, 1, 2 ** 31 - 1));
      case 'Float':
        return fc.double({ noNaN: true, noDefaultInfinity: true });
      case 'Boolean':
        return fc.boolean();
      case 'ID':
        if (foreignIds.length) return fc.constantFrom(...foreignIds);
        return fc.oneof(fc.constantFrom(...realIds), nasty, fc.uuid().map((uuid) => Buffer.from(`Campaign:${uuid}`).toString('base64')));
      // Scalars GraphQL itself checks are mostly valid, or the input rarely gets past coercion.
      case 'DateTime':
        return mostly(fc.date({ noInvalidDate: true, min: new Date('1900-01-01'), max: new Date('2200-01-01') }).map((date) => date.toISOString()));
      case 'JSON':
        return fc.jsonValue({ maxDepth: 4 });
      case 'JSONObject':
        return fc.dictionary(text, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 });
      case 'LocalTime':
        return mostly(fc.constantFrom('00:00', '07:30', '23:59'), fc.constantFrom('24:00', '7:5', '12:60'));
      case 'TimeZone':
        return mostly(fc.constantFrom('Europe/Berlin', 'UTC', 'America/New_York'), fc.constantFrom('Mars/Olympus', '+01:00'));
      default:
        return text;
    }
  }
  if (!isInputObjectType(type)) throw new Error(`unexpected input type ${String(type)}`);
  const fields = Object.values(type.getFields());
  // A deep rule stops nesting: only leaf alternatives below depth 4.
  const usable = depth > 4 ? fields.filter((field) => !/Rule|Input$/.test(String(field.type)) || isNonNullType(field.type)) : fields;
  if (type.isOneOf) {
    const choices = (usable.length ? usable : fields).map((field) => arbitraryFor(field.type, depth + 1, text).map((value) => ({ [field.name]: value })));
    return fc.oneof(...choices);
  }
  const shape = Object.fromEntries(fields.map((field) => [field.name, arbitraryFor(field.type, depth + 1, text)]));
  const requiredKeys = fields.filter((field) => isNonNullType(field.type)).map((field) => field.name);
  return fc.record(shape, { requiredKeys });
}

/** What a mutation answering with an error must have left alone. */
async function fingerprint(): Promise<string> {
  const [row] = await kit.herald.prisma.$queryRaw<Record<string, unknown>[]>`
    SELECT (SELECT count(*) FROM "Contact") AS contacts, (SELECT max("updatedAt") FROM "Contact") AS contacts_at,
      (SELECT count(*) FROM "Event") AS events, (SELECT count(*) FROM "PushSubscription") AS subscriptions,
      (SELECT max("updatedAt") FROM "PushSubscription") AS subscriptions_at,
      (SELECT count(*) FROM "Segment") AS segments, (SELECT max("updatedAt") FROM "Segment") AS segments_at,
      (SELECT count(*) FROM "Campaign") AS campaigns, (SELECT max("updatedAt") FROM "Campaign") AS campaigns_at,
      (SELECT count(*) FROM "Message") AS messages, (SELECT count(*) FROM "ApiKey") AS keys,
      (SELECT count(*) FROM "Link") AS links,
      (SELECT max("updatedAt") FROM "Workspace") AS workspaces_at`;
  return JSON.stringify(row, (_key, value) => (typeof value === 'bigint' ? String(value) : value));
}

/** Resolves once the fingerprint has held for 300 ms (at most 10 s). */
async function stillness(): Promise<void> {
  const until = Date.now() + 10_000;
  let last = await fingerprint();
  let since = Date.now();
  while (Date.now() - since < 300 && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const now = await fingerprint();
    if (now !== last) [last, since] = [now, Date.now()];
  }
}

const mutations = Object.values(schema.getMutationType()!.getFields()).filter((field) => field.name !== 'createWorkspace');

describe('every mutation under hostile input', () => {
  it.each(mutations.map((field) => [field.name, field] as const))('%s: never a 5xx, a typed error changes nothing', async (name, field) => {
    const inputType = field.args.find((arg) => arg.name === 'input')!.type;
    const query = `mutation($input: ${String(inputType)}) { ${name}(input: $input) { __typename ... on Error { code message } } }`;
    let reached = 0;
    let runs = 0;
    const property = () =>
      fc.assert(
        fc.asyncProperty(arbitraryFor(inputType), async (input) => {
          const before = await fingerprint();
          const answer = await post(query, { input });
          expect(answer.status, JSON.stringify(answer.errors)).toBeLessThan(500);
          const unexpected = (answer.errors ?? []).filter((error) => error.extensions?.code === 'INTERNAL_SERVER_ERROR' || error.message === 'Unexpected error.');
          expect(unexpected, JSON.stringify(input).slice(0, 500)).toEqual([]);
          const result = answer.data?.[name];
          if (result) reached++;
          if (result && !String(result.__typename).endsWith('Success')) {
            expect(result.message).toEqual(expect.any(String));
            expect(await fingerprint()).toBe(before);
          } else if (result) {
            // A call that succeeded may go on in the background (sendCampaignNow prepares and sends
            // the broadcast after answering): let it finish before the next call is judged by what changed.
            await stillness();
          }
        }),
        { numRuns: RUNS },
      );
    // A wide input type (campaigns: every channel's content, variants…) may take more draws
    // before one passes GraphQL's own coercion and reaches the resolver.
    do {
      await property();
      runs += RUNS;
    } while (reached === 0 && runs < RUNS * 8);
    // The generator must reach the resolvers, not only GraphQL's own input coercion.
    expect(reached).toBeGreaterThan(0);
    tally({ check: 'hostile input: fast-check inputs to every mutation', trials: 1, inputs: runs });
  }, 120_000);
});

describe('text PostgreSQL cannot store', () => {
  it.each([
    ['a NUL in a variable', `mutation($input: ContactInput!) { upsertContact(input: $input) { __typename } }`, { input: { externalId: 'a\u0000b' } }, 'variables.input.externalId'],
    ['a lone surrogate in JSON', `mutation($input: ContactInput!) { upsertContact(input: $input) { __typename } }`, { input: { externalId: 'x', attributes: { city: '\ud800' } } }, 'variables.input.attributes.city'],
    ['a NUL in the query text', `mutation { upsertContact(input: { externalId: "a\\u0000b" }) { __typename } }`, undefined, 'a string in the query'],
  ])('refuses %s as bad input, changing nothing', async (_name, query, variables, where) => {
    const before = await fingerprint();
    const answer = await post(query, variables);
    expect(answer.status).toBe(400);
    expect(answer.errors).toEqual([
      expect.objectContaining({
        message: `Text must be well-formed Unicode without the NUL character (U+0000): not so in ${where}`,
        extensions: { code: 'BAD_USER_INPUT' },
      }),
    ]);
    expect(await fingerprint()).toBe(before);
    tally({ check: 'hostile input: text PostgreSQL cannot store', trials: 1, inputs: 1 });
  });
});

describe('another workspace', () => {
  /** Workspace `other`'s own rows: counts and last changes, all tables. */
  async function otherFingerprint(): Promise<string> {
    const workspaceId = Buffer.from(other.workspace.id, 'base64').toString().split(':')[1]!;
    const [row] = await kit.herald.prisma.$queryRaw<Record<string, unknown>[]>`
      SELECT (SELECT count(*) || '/' || max("updatedAt") FROM "Contact" WHERE "workspaceId" = ${workspaceId}::uuid) AS contacts,
        (SELECT count(*) FROM "Event" WHERE "workspaceId" = ${workspaceId}::uuid) AS events,
        (SELECT count(*) || '/' || max("updatedAt") FROM "PushSubscription" WHERE "workspaceId" = ${workspaceId}::uuid) AS subscriptions,
        (SELECT count(*) || '/' || max("updatedAt") FROM "Segment" WHERE "workspaceId" = ${workspaceId}::uuid) AS segments,
        (SELECT count(*) || '/' || max("updatedAt") FROM "Campaign" WHERE "workspaceId" = ${workspaceId}::uuid) AS campaigns,
        (SELECT count(*) || '/' || max("updatedAt") FROM "Message" WHERE "workspaceId" = ${workspaceId}::uuid) AS messages,
        (SELECT count(*) || '/' || count("revokedAt") FROM "ApiKey" WHERE "workspaceId" = ${workspaceId}::uuid) AS keys,
        (SELECT count(*) || '/' || max("updatedAt") FROM "Link" WHERE "workspaceId" = ${workspaceId}::uuid) AS links,
        (SELECT "updatedAt" FROM "Workspace" WHERE id = ${workspaceId}::uuid) AS workspace`;
    return JSON.stringify(row, (_key, value) => (typeof value === 'bigint' ? String(value) : value));
  }

  beforeAll(async () => {
    other = await createWorkspace(kit, 'Other shop');
    const as = async (query: string) => {
      const response = await fetch(kit.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${other.secretKey}` },
        body: JSON.stringify({ query }),
      });
      return ((await response.json()) as { data: any }).data;
    };
    const contact = await as(`mutation { upsertContact(input: { externalId: "bob", attributes: { plan: "gold" } }) { ... on MutationUpsertContactSuccess { data { id } } } }`);
    const segment = await as(`mutation { createSegment(input: { name: "Gold", rule: { identified: true } }) { ... on MutationCreateSegmentSuccess { data { id } } } }`);
    const campaign = await as(`mutation { createCampaign(input: { name: "Theirs", kind: TRIGGERED, content: { title: "Hi", url: "https://other.example/" }, trigger: { event: "signup" } }) { ... on MutationCreateCampaignSuccess { data { id } } } }`);
    const viewer = await as(`query { viewer { apiKeys { id } } }`);
    const link = await as(`mutation { createLink(input: { url: "https://other.example/theirs" }) { ... on MutationCreateLinkSuccess { data { id code } } } }`);
    foreignIds.push(contact.upsertContact.data.id, segment.createSegment.data.id, campaign.createCampaign.data.id, other.workspace.id);
    foreignIds.push(...viewer.viewer.apiKeys.map((key: { id: string }) => key.id));
    foreignIds.push(link.createLink.data.id);
    foreignCode = link.createLink.data.code;
  });
  afterAll(() => foreignIds.splice(0));

  it('is invisible through node(id) and the id-taking queries', async () => {
    for (const id of foreignIds) {
      const answer = await post(`query($id: ID!) { node(id: $id) { id } campaign(id: $id) { id } segment(id: $id) { id } contact(id: $id) { id } }`, { id });
      expect(answer.errors ?? []).toEqual([]);
      expect(answer.data).toEqual({ node: null, campaign: null, segment: null, contact: null });
    }
    expect((await post(`query { contact(externalId: "bob") { id } }`)).data).toEqual({ contact: null });
    tally({ check: 'isolation: another workspace’s ids, queries and subscriptions', trials: 1, inputs: foreignIds.length * 4 + 1, leaks: 0 });
  });

  it('is absent from every root field of the API', async () => {
    const markers = [...foreignIds, other.workspace.vapidPublicKey, '"bob"', foreignCode, 'other.example/theirs'];
    const day = 86_400_000;
    const range = { from: new Date(Date.now() - day).toISOString(), to: new Date(Date.now() + day).toISOString() };
    // Each root field of Query, asked by this workspace's key, with the other's ids where one is taken.
    const asked: [string, string, unknown?][] = [
      ['analytics', `query($from: DateTime!, $to: DateTime!) { analytics(from: $from, to: $to) { totals { sent } buckets { sent } } }`, range],
      ['campaign', `query($id: ID!) { campaign(id: $id) { id name } }`, { id: foreignIds[2] }],
      ['campaigns', `{ campaigns(first: 100) { edges { node { id name } } } }`],
      ['contact', `{ contact(externalId: "bob") { id } }`],
      ['contacts', `{ contacts(first: 100) { edges { node { id externalId } } } }`],
      ['contacts in its segment', `query($id: ID!) { contacts(first: 100, segmentId: $id) { edges { node { id externalId } } } }`, { id: foreignIds[1] }],
      ['node', `query($id: ID!) { node(id: $id) { id } }`, { id: foreignIds[0] }],
      ['inAppMessages', `{ inAppMessages(externalId: "bob") { token title body buttons { url } } }`],
      ['inAppTriggers', `{ inAppTriggers }`],
      ['journey', `query($id: ID!) { journey(id: $id) { id name } }`, { id: foreignIds[2] }],
      ['journeys', `{ journeys(first: 100) { edges { node { id name } } } }`],
      ['links', `{ links(first: 100) { totalCount edges { node { id code shortUrl url } } } }`],
      ['simulateJourney', `query($id: ID!, $from: DateTime!, $to: DateTime!) { simulateJourney(id: $id, from: $from, to: $to) { entered } }`, { id: foreignIds[2], ...range }],
      ['previewSegment', `{ previewSegment(rule: { identified: true }) { count sample(first: 100) { id externalId } } }`],
      ['publicConfig', `{ publicConfig { vapidPublicKey workspaceId } }`],
      ['segment', `query($id: ID!) { segment(id: $id) { id name } }`, { id: foreignIds[1] }],
      ['segments', `{ segments(first: 100) { edges { node { id name } } } }`],
      ['viewer', `{ viewer { id name vapidPublicKey apiKeys { id } } }`],
      ['workspaces', `{ workspaces { id name } }`],
    ];
    const rootFields = Object.keys(schema.getQueryType()!.getFields());
    expect(new Set(asked.map(([name]) => name.split(' ')[0]))).toEqual(new Set(rootFields));
    for (const [name, query, variables] of asked) {
      const answer = await post(query, variables);
      expect(answer.status, name).toBeLessThan(500);
      const text = JSON.stringify(answer);
      expect(markers.filter((marker) => text.includes(marker)), `${name} shows the other workspace`).toEqual([]);
    }
    // The lists do answer, with this workspace's own things (made here: the fuzzed mutations may
    // have deleted or archived the earlier ones).
    const mine = [
      (await post(`mutation { createSegment(input: { name: "Own", rule: { identified: true } }) { ... on MutationCreateSegmentSuccess { data { id } } } }`)).data.createSegment.data.id,
      await createCampaign(shop.secret, { name: 'Own', kind: 'BROADCAST', content: { title: 'Hi', url: 'https://shop.example/' } }),
    ];
    const own = JSON.stringify(await Promise.all([`{ campaigns(first: 20) { edges { node { id } } } }`, `{ segments(last: 20) { edges { node { id } } } }`].map((query) => post(query))));
    expect(mine.filter((id) => !own.includes(id)), own.slice(0, 500)).toEqual([]);
    expect((await post(`{ contacts(first: 1) { edges { node { id } } } }`)).data.contacts.edges).toHaveLength(1);
    expect((await post(`{ workspaces { id } }`)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    tally({ check: 'isolation: another workspace’s ids, queries and subscriptions', trials: 1, inputs: asked.length, leaks: 0 });
  });

  it('streams none of its delivery events to a workspace-wide subscription', async () => {
    const mine = wsClient(kit.wsUrl, shop.secretKey);
    const theirs = wsClient(kit.wsUrl, other.secretKey);
    const seen = { mine: [] as unknown[], theirs: [] as unknown[] };
    const query = 'subscription { deliveryEvents { type messageId campaignId } }';
    const stops = [
      mine.subscribe({ query }, { next: (event) => void seen.mine.push(event), error: () => {}, complete: () => {} }),
      theirs.subscribe({ query }, { next: (event) => void seen.theirs.push(event), error: () => {}, complete: () => {} }),
    ];
    try {
      await new Promise((resolve) => setTimeout(resolve, 300)); // both subscribed
      // Their triggered campaign goes live and its trigger arrives: bob has no browser, so the
      // ledger row is SUPPRESSED at once, a delivery event for their workspace.
      const as = (query: string, variables?: unknown) =>
        fetch(kit.graphqlUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${other.secretKey}` },
          body: JSON.stringify({ query, variables }),
        }).then((response) => response.json() as Promise<{ data: any }>);
      const activated = await as(`mutation($id: ID!) { activateCampaign(input: { id: $id }) { __typename } }`, { id: foreignIds[2] });
      expect(activated.data.activateCampaign.__typename).toBe('MutationActivateCampaignSuccess');
      await as(`mutation { trackEvent(input: { externalId: "bob", name: "signup" }) { __typename } }`);
      const deadline = Date.now() + 5_000;
      while (seen.theirs.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(seen.theirs.length).toBeGreaterThan(0); // the event exists
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(seen.mine).toEqual([]);
      tally({ check: 'isolation: another workspace’s ids, queries and subscriptions', trials: 1, inputs: 1, leaks: 0 });
    } finally {
      for (const stop of stops) stop();
      await Promise.all([mine.dispose(), theirs.dispose()]);
    }
  });

  it('streams none of its campaign figures or delivery events to a subscription', async () => {
    const client = wsClient(kit.wsUrl, shop.secretKey);
    try {
      const campaignId = foreignIds[2]!;
      for (const query of [
        `subscription($id: ID!) { campaignStats(campaignId: $id) { sent } }`,
        `subscription($id: ID) { deliveryEvents(campaignId: $id) { type } }`,
      ]) {
        const outcome = await new Promise<{ data?: unknown; errors?: unknown }>((resolve, reject) => {
          const results = client.iterate({ query, variables: { id: campaignId } });
          results
            .next()
            .then((first) => resolve(first.value ?? {}), (error: unknown) => resolve({ errors: [error] }))
            .finally(() => void results.return?.());
          setTimeout(() => reject(new Error(`${query} neither answered nor failed within 5 s`)), 5_000);
        });
        expect(outcome.data ?? null).toBeNull();
        expect(outcome.errors).toBeDefined();
      }
      tally({ check: 'isolation: another workspace’s ids, queries and subscriptions', trials: 1, inputs: 2, leaks: 0 });
    } finally {
      await client.dispose();
    }
  });

  it.each(mutations.map((field) => [field.name, field] as const))('%s with its ids changes nothing of it', async (name, field) => {
    const inputType = field.args.find((arg) => arg.name === 'input')!.type;
    const query = `mutation($input: ${String(inputType)}) { ${name}(input: $input) { __typename ... on Error { code message } } }`;
    const before = await otherFingerprint();
    let reached = 0;
    await fc.assert(
      fc.asyncProperty(arbitraryFor(inputType, 0, fc.string()), async (input) => {
        const answer = await post(query, { input });
        expect(answer.status).toBeLessThan(500);
        if (answer.data?.[name]) reached++;
      }),
      { numRuns: RUNS },
    );
    expect(reached).toBeGreaterThan(0);
    expect(await otherFingerprint()).toBe(before);
    tally({ check: 'isolation: every mutation fed another workspace’s ids', trials: 1, inputs: RUNS, leaks: 0 });
  }, 120_000);
});

