import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mayReadMetrics } from '../../src/server/metrics.ts';
import { createWorkspace } from '../kit/flow.ts';
import { startTestHerald, type TestHerald } from '../kit/herald.ts';
import { tally } from '../kit/tally.ts';

// Finding 10: CORS with credentials for any origin, introspection for anyone, /metrics on every
// interface, /demo always served.

type Shop = Awaited<ReturnType<typeof createWorkspace>>;
const METRICS_TOKEN = 'metrics-token-0123456789abcdef';

let kit: TestHerald;
let shop: Shop;
beforeAll(async () => {
  kit = await startTestHerald();
  shop = await createWorkspace(kit);
});
afterAll(() => kit?.stop());

async function post(credential: string | undefined, query: string) {
  const response = await fetch(kit.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(credential ? { authorization: `Bearer ${credential}` } : {}) },
    body: JSON.stringify({ query }),
  });
  return (await response.json()) as { data?: Record<string, unknown> | null; errors?: Array<{ message: string; extensions?: { code?: string } }> };
}

describe('CORS', () => {
  it('allows any origin, without credentials, on preflight and on the answer', async () => {
    const origin = 'https://attacker.example';
    const preflight = await fetch(kit.graphqlUrl, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(preflight.status).toBeLessThan(300);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-credentials')).toBeNull();
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');

    const answer = await fetch(kit.graphqlUrl, {
      method: 'POST',
      headers: { origin, 'content-type': 'application/json', authorization: `Bearer ${shop.publishableKey}` },
      body: JSON.stringify({ query: '{ publicConfig { workspaceId } }' }),
    });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('access-control-allow-origin')).toBe('*');
    expect(answer.headers.get('access-control-allow-credentials')).toBeNull();
    tally({ check: 'security: what is closed by default (CORS, introspection, /metrics, /demo)', attacks: 2, leaks: 0 }); // the attacker origin's preflight and request
  });
});

describe('introspection', () => {
  const queries = ['{ __schema { queryType { name } } }', '{ __type(name: "Query") { name } }', 'query { ...Types } fragment Types on Query { __schema { types { name } } }'];

  it('is refused without a secret key: no credential, admin token, publishable key', async () => {
    const credentials = [undefined, kit.adminToken, shop.publishableKey];
    for (const credential of credentials) {
      for (const query of queries) {
        const result = await post(credential, query);
        expect(result.data ?? null).toBeNull();
        expect(result.errors?.[0]?.message).toMatch(/introspection|publishable key may not|Authentication required/i);
        expect(JSON.stringify(result)).not.toContain('"Query"');
      }
    }
    // __typename is not introspection.
    expect((await post(undefined, '{ __typename }')).data).toEqual({ __typename: 'Query' });
    tally({ check: 'security: what is closed by default (CORS, introspection, /metrics, /demo)', attacks: credentials.length * queries.length, leaks: 0 });
  });

  it('is answered with a secret key', async () => {
    expect((await post(shop.secretKey, queries[0]!)).data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    expect((await post(shop.secretKey, queries[1]!)).data).toEqual({ __type: { name: 'Query' } });
  });
});

describe('/metrics', () => {
  it('is for loopback callers, or others with the metrics token', () => {
    for (const address of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) {
      expect(mayReadMetrics({ address, authorization: undefined, token: undefined })).toBe(true);
    }
    const outsiders = ['10.0.0.1', '192.168.1.4', '203.0.113.5', '::ffff:10.0.0.1', 'fe80::1', '2001:db8::1', 'unknown', ''];
    const refused = [
      { authorization: undefined, token: undefined },
      { authorization: `Bearer ${METRICS_TOKEN}`, token: undefined },
      { authorization: 'Bearer wrong', token: METRICS_TOKEN },
    ];
    for (const address of outsiders) {
      for (const credentials of refused) expect(mayReadMetrics({ address, ...credentials })).toBe(false);
      expect(mayReadMetrics({ address, authorization: `Bearer ${METRICS_TOKEN}`, token: METRICS_TOKEN })).toBe(true);
    }
    tally({ check: 'security: what is closed by default (CORS, introspection, /metrics, /demo)', attacks: outsiders.length * refused.length, leaks: 0 });
  });

  it('answers a non-loopback client (behind a trusted proxy) only with HERALD_METRICS_TOKEN', async () => {
    const proxied = await startTestHerald({ HERALD_TRUST_PROXY: 'loopback', HERALD_METRICS_TOKEN: METRICS_TOKEN });
    try {
      const metrics = (headers: Record<string, string>) => fetch(`${proxied.url}/metrics`, { headers });
      const remote = { 'x-forwarded-for': '203.0.113.5' };
      expect((await metrics(remote)).status).toBe(403);
      expect((await metrics({ ...remote, authorization: 'Bearer wrong-token-0123456789' })).status).toBe(403);
      const withToken = await metrics({ ...remote, authorization: `Bearer ${METRICS_TOKEN}` });
      expect(withToken.status).toBe(200);
      expect(await withToken.text()).toContain('herald_http_requests_total');
      expect((await metrics({})).status).toBe(200); // loopback itself
      tally({ check: 'security: what is closed by default (CORS, introspection, /metrics, /demo)', attacks: 2, leaks: 0 }); // from outside: no token, a wrong one
    } finally {
      await proxied.stop();
    }
  });
});

describe('/demo', () => {
  it('is not served by default', async () => {
    const paths = ['/demo', '/demo/', '/demo/herald-sw.js'];
    for (const path of paths) {
      const response = await fetch(`${kit.url}${path}`, { redirect: 'manual' });
      await response.body?.cancel();
      expect([path, response.status]).toEqual([path, 404]);
    }
    // The SDK itself is always served.
    expect((await fetch(`${kit.url}/sdk/herald.js`)).status).toBe(200);
    tally({ check: 'security: what is closed by default (CORS, introspection, /metrics, /demo)', attacks: paths.length, leaks: 0 });
  });

  it('is served with HERALD_DEMO=1', async () => {
    const demo = await startTestHerald({ HERALD_DEMO: '1' });
    try {
      expect((await fetch(`${demo.url}/demo/`)).status).toBe(200);
      expect((await fetch(`${demo.url}/demo/herald-sw.js`)).status).toBe(200);
    } finally {
      await demo.stop();
    }
  });
});
