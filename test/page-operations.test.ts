import { describe, expect, it } from 'vitest';
import { useHerald } from './kit/fixture.ts';
import { PAGE_TRACK } from './kit/flow.ts';

/**
 * A page's JSON POST takes the lighter route (src/server/page-operations.ts); an Accept header
 * that route leaves to Yoga (`application/json, *\/*`, which Yoga also answers as application/json)
 * sends the same request through Yoga's HTTP layer. Both must answer alike: status, the headers a
 * page reads, and the body, byte for byte (a replayed idempotency key answers the same event).
 */
const h = useHerald({}, { push: false });
const shop = h.useWorkspace();

const TRACK = PAGE_TRACK;

async function post(body: unknown, route: 'page' | 'yoga') {
  const response = await fetch(h.kit.graphqlUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${shop.publishableKey}`,
      origin: 'https://shop.example',
      ...(route === 'yoga' ? { accept: 'application/json, */*' } : {}),
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    cors: response.headers.get('access-control-allow-origin'),
    body: await response.text(),
  };
}

describe("a page's call on the lighter route", () => {
  it('is answered as Yoga answers it: stored, replayed, refused, malformed', async () => {
    const cases: [string, unknown][] = [
      ['an event (the second call replays its key)', { query: TRACK, variables: { input: { anonymousId: 'visitor-1', name: 'page_viewed', properties: { path: '/' }, idempotencyKey: 'same' } } }],
      ['an event with a bad name', { query: TRACK, variables: { input: { anonymousId: 'visitor-1', name: 'no spaces allowed' } } }],
      ['a customer named without proof', { query: TRACK, variables: { input: { externalId: 'customer-1', name: 'page_viewed' } } }],
      ['a NUL in the variables', { query: TRACK, variables: { input: { anonymousId: 'visitor-\u0000', name: 'page_viewed' } } }],
      ['a query a page may make', { query: '{ publicConfig { workspaceId vapidPublicKey } }' }],
      ['a field outside the public surface', { query: '{ contacts(first: 1) { totalCount } }' }],
      ['a missing variable', { query: TRACK, variables: {} }],
      ['a syntax error', { query: 'mutation { trackEvent(' }],
      ['an unknown parameter', { query: '{ publicConfig { workspaceId } }', persisted: true }],
      ['variables that are not an object', { query: TRACK, variables: [1] }],
      ['a body that is not JSON', '{"query": '],
    ];
    for (const [name, body] of cases) {
      const page = await post(body, 'page');
      const yoga = await post(body, 'yoga');
      expect({ name, ...page }, name).toEqual({ name, ...yoga });
      expect(page.cors, name).toBe('*');
    }
    // The routes did run: the event was stored once, and its replay answered with it.
    const first = JSON.parse((await post(cases[0]![1], 'page')).body);
    expect(first.data.trackEvent).toMatchObject({ __typename: 'MutationTrackEventSuccess', data: { name: 'page_viewed', properties: { path: '/' } } });
  });
});
