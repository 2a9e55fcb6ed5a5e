import { auditServer } from 'graphql-http';
import { describe, expect, it } from 'vitest';
import { errorCodes } from './kit/client.ts';
import { useHerald } from './kit/fixture.ts';

// The demo shop is off by default (test/security/defaults.test.ts); these tests look at it too.
const h = useHerald({ HERALD_DEMO: '1' }, { push: false });
const shop = h.useWorkspace();


describe('GraphQL over HTTP', () => {
  it('passes every graphql-http server audit', async () => {
    // The audits query `{ __typename }`; they run as a workspace would, with its secret key.
    const authorized: typeof fetch = (input, init) =>
      fetch(input, { ...init, headers: { ...Object.fromEntries(new Headers(init?.headers)), authorization: `Bearer ${shop.secretKey}` } });
    const results = await auditServer({ url: h.kit.graphqlUrl, fetchFn: authorized });
    const failures = results.filter((result) => result.status === 'error');
    expect(failures.map((failure) => `${failure.name}: ${'reason' in failure ? failure.reason : ''}`)).toEqual([]);
    expect(results.length).toBeGreaterThanOrEqual(50);
  });

  it('refuses a body over the limit with 413', async () => {
    const response = await fetch(h.kit.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${shop.secretKey}` },
      body: JSON.stringify({ query: '{ __typename }', variables: { padding: 'x'.repeat(h.kit.herald.config.HERALD_MAX_BODY_BYTES) } }),
    });
    expect(response.status).toBe(413);
    // The server is still fine afterwards.
    expect((await fetch(`${h.kit.url}/healthz`)).status).toBe(200);
  });

  it('refuses queries nested too deep', async () => {
    // Herald's types do not nest this deep, but the limit is checked on the document first.
    const deep = `{ viewer { ${'settings { '.repeat(14)}timezone${' }'.repeat(14)} } }`;
    const response = await post(deep);
    expect(response.errors?.map((error) => error.message).join('\n')).toMatch(/depth limit/i);
  });

  it("validates documents with GraphQL's own rules beside the armor's, the second time as the first", async () => {
    // graphql-armor adds its rules to the validation; GraphQL's specified rules must still run,
    // and a document validated once (the caches answer by document) must get the same verdict.
    for (let round = 0; round < 2; round++) {
      const unknown = await post('{ viewer { id nonexistentField } }');
      expect(unknown.errors?.map((error) => error.message)).toEqual([expect.stringMatching(/Cannot query field "nonexistentField"/)]);
      const undefinedVariable = await post('query { contact(id: $id) { id } }');
      expect(undefinedVariable.errors?.[0]?.message).toMatch(/Variable "\$id" is not defined/);
    }
  });

  it('answers a broken document with a clear error and no stack', async () => {
    const response = await post('{ viewer { id } ');
    expect(response.errors?.[0]?.message).toMatch(/Syntax Error/);
    expect(JSON.stringify(response)).not.toMatch(/at .*\.ts:\d+/);
  });

  it('refuses a malformed key', async () => {
    const result = await fetch(h.kit.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: 'Bearer sk_nope' },
      body: JSON.stringify({ query: '{ viewer { id } }' }),
    });
    expect(errorCodes((await result.json()) as never)).toEqual(['UNAUTHENTICATED']);
  });
});

describe('operations endpoints', () => {
  it('answers /healthz and /readyz', async () => {
    expect(await (await fetch(`${h.kit.url}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${h.kit.url}/readyz`)).json()).toEqual({ status: 'ready' });
  });

  it('serves Prometheus metrics', async () => {
    const text = await (await fetch(`${h.kit.url}/metrics`)).text();
    expect(text).toMatch(/^herald_http_requests_total\{route="graphql",status="200"\} \d+/m);
    expect(text).toMatch(/^herald_graphql_operations_total\{type="query",errors="no"\} \d+/m);
    expect(text).toContain('herald_process_cpu_seconds_total');
  });

  it('answers unknown paths with 404', async () => {
    expect((await fetch(`${h.kit.url}/nope`)).status).toBe(404);
  });
});

async function post(query: string) {
  const response = await fetch(h.kit.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${shop.secretKey}` },
    body: JSON.stringify({ query }),
  });
  return (await response.json()) as { errors?: { message: string; extensions?: { code?: string } }[] };
}

describe('browser files', () => {
  it('serves the SDK as a bundled ES module and as a classic script, loadable from any origin', async () => {
    const module = await fetch(`${h.kit.url}/sdk/herald.js`, { headers: { origin: 'https://shop.example' } });
    expect(module.status).toBe(200);
    expect(module.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(module.headers.get('access-control-allow-origin')).toBe('*');
    const code = await module.text();
    expect(code).toMatch(/export\s*\{/); // an ES module…
    expect(code).not.toMatch(/\bimport\s*[{*\w]/); // …with nothing left to fetch
    // ~10 KB (4 KB gzipped): the on-site message renderer (banner/modal/slide-in and questions) is
    // a module of its own, imported from Herald only when there is a message to show.
    expect(code.length).toBeLessThan(11_000);
    expect(code).toContain('/sdk/herald-in-app.js');
    const renderer = await fetch(`${h.kit.url}/sdk/herald-in-app.js`);
    expect(renderer.headers.get('access-control-allow-origin')).toBe('*'); // a cross-origin import() needs it
    const rendererCode = await renderer.text();
    expect(rendererCode).toMatch(/export\s*\{[^}]*showInApp/);
    expect(rendererCode.length).toBeLessThan(8_000);
    const classic = await (await fetch(`${h.kit.url}/sdk/herald.global.js`)).text();
    expect(classic).not.toMatch(/\bexport\s*\{/);
    const worker = await (await fetch(`${h.kit.url}/sdk/herald-sw.js`)).text();
    expect(worker).toContain('notificationclick');
    expect(worker).not.toMatch(/\bexport\s*\{/); // importScripts needs a classic script
  });

  it('serves the demo shop and its one-line service worker', async () => {
    const redirect = await fetch(`${h.kit.url}/demo?key=pk_x`, { redirect: 'manual' });
    expect([redirect.status, redirect.headers.get('location')]).toEqual([301, '/demo/?key=pk_x']);
    const page = await fetch(`${h.kit.url}/demo/`);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain("import Herald from '/sdk/herald.js'");
    expect(await (await fetch(`${h.kit.url}/demo/herald-sw.js`)).text()).toContain("importScripts('/sdk/herald-sw.js')");
    expect((await fetch(`${h.kit.url}/sdk/herald.js`, { method: 'POST' })).status).toBe(405);
  });
});

