/**
 * Hostile requests (issue #9): oversized bodies, deep, expensive and alias-flooded queries, huge
 * batches, invalid JSON and invalid UTF-8. Each is refused with a clear error, not a 5xx, and the
 * server keeps serving.
 */
import { describe, expect, it } from 'vitest';
import { useHerald } from '../kit/fixture.ts';
import { tally } from '../kit/tally.ts';

const h = useHerald({ HERALD_MAX_BODY_BYTES: String(2 * 1024 * 1024) }, { push: false });
const shop = h.useWorkspace();


async function send(body: string | Uint8Array<ArrayBuffer>, contentType = 'application/json') {
  const response = await fetch(h.kit.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': contentType, authorization: `Bearer ${shop.secretKey}` },
    body,
  });
  const text = await response.text();
  return { status: response.status, text };
}

const json = (query: string, variables?: unknown) => JSON.stringify({ query, variables });

describe('hostile requests', () => {
  it.each([
    ['a body over the limit', () => send(json('{ __typename }', { padding: 'x'.repeat(3 * 1024 * 1024) })), 413, /larger than/],
    ['invalid JSON', () => send('{"query": "{ __typename }"'), 400, /JSON/i],
    ['invalid UTF-8', () => send(new Uint8Array([0x7b, 0x22, 0x71, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])), 400, /./],
    ['a query nested too deep', () => send(json(`{ viewer { ${'settings { '.repeat(14)}timezone${' }'.repeat(14)} } }`)), 200, /depth/i],
    ['an alias flood', () => send(json(`{ ${Array.from({ length: 200 }, (_, i) => `a${i}: viewer { id }`).join(' ')} }`)), 200, /alias/i],
    ['an expensive query', () => send(json(`{ contacts(first: 1000) { edges { node { events(first: 1000) { edges { node { id } } } messages(first: 1000) { edges { node { id } } } } } } }`)), 200, /cost|first/i],
    ['a huge batch', () => send(json('mutation($events: [EventInput!]!) { trackEvents(input: { events: $events }) { __typename ... on ValidationError { fieldErrors { message } } } }', { events: Array.from({ length: 10_001 }, () => ({ anonymousId: 'v', name: 'e' })) })), 200, /at most 10000 events per call/],
  ])('refuses %s with a clear error', async (_name, request, status, message) => {
    const answer = await request();
    // Refused queries answer 200 with `errors`, as GraphQL over HTTP does for application/json.
    expect(answer.status).toBe(status);
    expect(answer.text).toMatch(message);
    expect(answer.text).not.toContain('Unexpected error');
    // Still serving.
    const after = await send(json('{ viewer { id } }'));
    expect(after.status).toBe(200);
    tally({ check: 'hostile requests: size, JSON, UTF-8, depth, aliases, cost, batch', trials: 1, inputs: 1 });
  });
});
