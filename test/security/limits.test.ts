import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { limitKeyOf } from '../../src/server/client-address.ts';
import { rootFieldCount } from '../../src/server/rate-limit.ts';
import { createWorkspace } from '../kit/flow.ts';
import { startTestHerald, type TestHerald } from '../kit/herald.ts';
import { tally } from '../kit/tally.ts';

// Finding 8 (the public rate limit counts requests and trusts no proxy) and 9 (large bodies
// are read before anyone is authenticated).

type Shop = Awaited<ReturnType<typeof createWorkspace>>;

/** HERALD_PUBLIC_RATE_LIMIT in these tests: points per address. */
const LIMIT = 25;

/** One request with 20 aliased trackEvent calls: 20 root fields. */
const TWENTY_EVENTS = `mutation { ${Array.from({ length: 20 }, (_, index) => `e${index}: trackEvent(input: { anonymousId: "visitor-${index}", name: "viewed" }) { __typename }`).join(' ')} }`;

async function post(kit: TestHerald, credential: string | undefined, body: unknown, headers: Record<string, string> = {}) {
  return fetch(kit.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(credential ? { authorization: `Bearer ${credential}` } : {}), ...headers },
    body: JSON.stringify(body),
  });
}

async function statusOf(response: Response): Promise<number> {
  await response.body?.cancel();
  return response.status;
}

async function beacon(kit: TestHerald, forwardedFor: string): Promise<number> {
  const response = await fetch(`${kit.url}/track`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain', 'x-forwarded-for': forwardedFor },
    body: JSON.stringify({ token: 'not-a-token', type: 'DISPLAYED' }),
  });
  return statusOf(response);
}

describe('what an operation costs', () => {
  it('is one point per root field GraphQL runs: each alias, through fragments, a repeated name once', () => {
    expect(rootFieldCount(parse(TWENTY_EVENTS))).toBe(20);
    expect(rootFieldCount(parse('{ __typename }'))).toBe(1);
    const fragments = parse(`
      query Page { a: publicConfig { workspaceId } ...More ... on Query { c: publicConfig { workspaceId } } }
      fragment More on Query { b: publicConfig { workspaceId } a: publicConfig { workspaceId } ...More2 ...More2 }
      fragment More2 on Query { d: publicConfig { workspaceId } }
      query Other { x: publicConfig { workspaceId } }
    `);
    expect(rootFieldCount(fragments, 'Page')).toBe(4);
    expect(rootFieldCount(fragments, 'Other')).toBe(1);
  });
});

describe('public rate limit, behind no proxy', () => {
  let kit: TestHerald;
  let shop: Shop;
  beforeAll(async () => {
    kit = await startTestHerald({ HERALD_PUBLIC_RATE_LIMIT: String(LIMIT) });
    shop = await createWorkspace(kit);
  });
  afterAll(() => kit?.stop());

  it('counts each root field, so 20 aliased trackEvent cost 20 points', async () => {
    const first = await post(kit, shop.publishableKey, { query: TWENTY_EVENTS });
    expect(first.status).toBe(200);
    const body = (await first.json()) as { data?: Record<string, unknown>; errors?: unknown };
    expect(body.errors).toBeUndefined();
    expect(Object.keys(body.data ?? {})).toHaveLength(20);
    // 5 of 25 points are left: the next 20 are refused, as a whole.
    const second = await post(kit, shop.publishableKey, { query: TWENTY_EVENTS });
    expect(second.status).toBe(429);
    expect(await second.json()).toMatchObject({ errors: [{ extensions: { code: 'RATE_LIMITED' } }] });
    tally({ check: 'security: getting past the public rate limit and body limit', attacks: 1, leaks: 0 }); // the second batch of aliases
  });

  it('ignores X-Forwarded-For without HERALD_TRUST_PROXY', async () => {
    // The previous test used this address's points; a forged header does not buy new ones.
    const response = await post(kit, shop.publishableKey, { query: '{ publicConfig { workspaceId } }' }, { 'x-forwarded-for': '198.51.100.7' });
    expect(response.status).toBe(429);
    const beacons = [await beacon(kit, '198.51.100.1'), await beacon(kit, '198.51.100.2')];
    expect(beacons).toEqual([404, 404]);
    for (let index = 0; index < LIMIT; index++) await beacon(kit, `198.51.100.${10 + index}`);
    expect(await beacon(kit, '198.51.100.99')).toBe(429);
    // Every request here forged its address: the GraphQL one, the beacons, the loop, the last beacon.
    tally({ check: 'security: getting past the public rate limit and body limit', attacks: 1 + beacons.length + LIMIT + 1, leaks: 0 });
  });
});

describe('public rate limit, behind a trusted proxy (HERALD_TRUST_PROXY)', () => {
  let kit: TestHerald;
  let shop: Shop;
  beforeAll(async () => {
    kit = await startTestHerald({ HERALD_PUBLIC_RATE_LIMIT: String(LIMIT), HERALD_TRUST_PROXY: 'loopback' });
    shop = await createWorkspace(kit);
  });
  afterAll(() => kit?.stop());

  it('gives each forwarded client address its own count', async () => {
    const visitor = { 'x-forwarded-for': '203.0.113.10' };
    expect(await statusOf(await post(kit, shop.publishableKey, { query: TWENTY_EVENTS }, visitor))).toBe(200);
    expect(await statusOf(await post(kit, shop.publishableKey, { query: TWENTY_EVENTS }, visitor))).toBe(429);
    // Another visitor behind the same proxy is not limited by the first.
    expect(await statusOf(await post(kit, shop.publishableKey, { query: TWENTY_EVENTS }, { 'x-forwarded-for': '203.0.113.11' }))).toBe(200);
    // Only the proxy's own hop is trusted: what the client put in front of it is not.
    expect(await statusOf(await post(kit, shop.publishableKey, { query: TWENTY_EVENTS }, { 'x-forwarded-for': '203.0.113.99, 203.0.113.10' }))).toBe(429);
    // The visitor's second batch, and the one with an address put in front of the proxy's.
    tally({ check: 'security: getting past the public rate limit and body limit', attacks: 2, leaks: 0 });
  });

  it('counts an IPv6 client by its /64, and an IPv4-mapped address as the IPv4 one', async () => {
    // Any IPv6 host holds a /64 and picks its source address in it: each a new address, one budget.
    const statuses: number[] = [];
    for (let host = 1; host <= 4; host++) statuses.push(await statusOf(await post(kit, shop.publishableKey, { query: TWENTY_EVENTS }, { 'x-forwarded-for': `2001:db8:1:2::${host}` })));
    expect(statuses).toEqual([200, 429, 429, 429]);
    // The next /64 is another client.
    expect(await statusOf(await post(kit, shop.publishableKey, { query: TWENTY_EVENTS }, { 'x-forwarded-for': '2001:db8:1:3::1' }))).toBe(200);
    expect(await statusOf(await post(kit, shop.publishableKey, { query: TWENTY_EVENTS }, { 'x-forwarded-for': '203.0.113.30' }))).toBe(200);
    expect(await statusOf(await post(kit, shop.publishableKey, { query: TWENTY_EVENTS }, { 'x-forwarded-for': '::ffff:203.0.113.30' }))).toBe(429);
    expect([limitKeyOf('2001:DB8:1:2:aaaa::1'), limitKeyOf('::ffff:10.0.0.1'), limitKeyOf('10.0.0.1'), limitKeyOf('unknown')]).toEqual(['2001:db8:1:2::/64', '10.0.0.1', '10.0.0.1', 'unknown']);
    tally({ check: 'security: getting past the public rate limit and body limit', attacks: 4, leaks: 0 }); // three more hosts of a /64, the mapped address
  });

  it('counts /track beacons per forwarded address', async () => {
    for (let index = 0; index < LIMIT; index++) expect(await beacon(kit, '203.0.113.20')).toBe(404);
    expect(await beacon(kit, '203.0.113.20')).toBe(429);
    expect(await beacon(kit, '203.0.113.21')).toBe(404);
    tally({ check: 'security: getting past the public rate limit and body limit', attacks: 1, leaks: 0 }); // the beacon past the limit
  });
});

describe('request body limits', () => {
  let kit: TestHerald;
  let shop: Shop;
  beforeAll(async () => {
    kit = await startTestHerald();
    shop = await createWorkspace(kit);
  });
  afterAll(() => kit?.stop());

  const hundredKiB = { query: '{ __typename }', variables: { padding: 'x'.repeat(100 * 1024) } };

  it('refuses 100 KiB without a key, with a publishable key and with a forged secret key: 413', async () => {
    const strangers = [undefined, shop.publishableKey, `sk_${'A'.repeat(32)}`];
    for (const credential of strangers) expect(await statusOf(await post(kit, credential, hundredKiB)), String(credential)).toBe(413);
    expect((await fetch(`${kit.url}/healthz`)).status).toBe(200);
    tally({ check: 'security: getting past the public rate limit and body limit', attacks: strangers.length, leaks: 0 });
  });

  it('takes 100 KiB from a secret key', async () => {
    const response = await post(kit, shop.secretKey, hundredKiB);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { __typename: 'Query' } });
  });
});
