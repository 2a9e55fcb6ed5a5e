import { buildSchema, parse } from 'graphql';
import { createYoga } from 'graphql-yoga';
import { compileQuery, isCompiledQuery } from 'graphql-jit';
import { describe, expect, it } from 'vitest';
import { schema } from '../src/graphql/schema.ts';
import { COMPILE_AFTER, COMPILED_MAX, compiledExecution, qualifies } from '../src/server/compiled-execution.ts';
import { useHerald } from './kit/fixture.ts';
import { PAGE_TRACK } from './kit/flow.ts';
import { tally } from './kit/tally.ts';

/**
 * A browser's hot documents run compiled (src/server/compiled-execution.ts). A compiled document
 * must answer exactly as graphql-js answers it, and nothing a caller writes may reach the code
 * graphql-jit generates.
 */
// Over a thousand calls from one address: more than the default rate limit lets through in a minute.
const h = useHerald({ HERALD_PUBLIC_RATE_LIMIT: '100000' }, { push: false });
const shop = h.useWorkspace();

const TRACK = PAGE_TRACK;
const RECORD = 'mutation($token: String!, $type: MessageEventType!) { recordMessageEvent(input: { token: $token, type: $type }) { __typename ... on Error { code message } } }';
const CONFIG = '{ publicConfig { workspaceId vapidPublicKey } }';
const IDENTIFY = `mutation($input: MutationIdentifyContactInput!) {
  identifyContact(input: $input) { __typename ... on MutationIdentifyContactSuccess { data { anonymousId identified } } ... on Error { code message } }
}`;

/** A page's call; `text` is sent as written (a trailing comment makes another document of one query). */
async function call(text: string, variables?: unknown, key = shop.publishableKey) {
  const response = await fetch(h.kit.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query: text, variables }),
  });
  return { status: response.status, body: await response.text() };
}

async function metric(line: RegExp): Promise<number> {
  const text = await (await fetch(`${h.kit.url}/metrics`)).text();
  return Number(line.exec(text)?.[1] ?? NaN);
}
const compiledSoFar = () => metric(/^herald_graphql_documents_compiled_total (\d+)/m);
const keptNow = () => metric(/^herald_graphql_compiled_documents (\d+)/m);
/** Calls of compiled documents so far, by who answered them. */
const runs = async () => ({
  compiled: await metric(/^herald_graphql_compiled_runs_total\{answered="compiled"\} (\d+)/m),
  graphqlJs: await metric(/^herald_graphql_compiled_runs_total\{answered="graphql-js"\} (\d+)/m),
});

/** Runs `text` as often as compiling it takes, with harmless variables. */
async function makeHot(text: string, variables: (n: number) => unknown, key?: string) {
  for (let n = 0; n < COMPILE_AFTER; n++) await call(text, variables(n), key);
}

describe('a hot document', () => {
  it('answers as graphql-js does: stored, replayed, refused, typed errors, bad variables', async () => {
    const before = await compiledSoFar();
    const warm = (n: number) => ({ input: { anonymousId: `warm-${n}`, name: 'warmed_up' } });
    await makeHot(TRACK, warm);
    await makeHot(RECORD, () => ({ token: 'nonsense', type: 'CLICKED' }));
    await makeHot(CONFIG, () => undefined);
    await makeHot(IDENTIFY, (n) => ({ input: { anonymousId: `warm-${n}`, externalId: 'nobody' } }));
    expect(await compiledSoFar()).toBe(before + 4);

    // Who should answer each hot call: the compiled function, graphql-js for variables that do
    // not coerce, or neither (a plugin refused the call before it ran).
    const cases: [string, string, unknown, 'compiled' | 'graphqlJs' | 'neither'][] = [
      ['an event, replayed', TRACK, { input: { anonymousId: 'visitor-1', name: 'page_viewed', properties: { path: '/', n: [1, 2.5, null, true] }, occurredAt: '2026-11-30T10:00:00.000Z', idempotencyKey: 'same' } }, 'compiled'],
      ['an event with a bad name', TRACK, { input: { anonymousId: 'visitor-1', name: 'no spaces allowed' } }, 'compiled'],
      ['a customer named without proof', TRACK, { input: { externalId: 'customer-1', name: 'page_viewed' } }, 'compiled'],
      ['a NUL in the variables', TRACK, { input: { anonymousId: 'visitor-\u0000', name: 'page_viewed' } }, 'neither'],
      ['a missing variable', TRACK, {}, 'graphqlJs'],
      ['a variable of the wrong type', TRACK, { input: { anonymousId: 'visitor-1', name: 5 } }, 'graphqlJs'],
      ['a field the input does not have', TRACK, { input: { anonymousId: 'visitor-1', name: 'page_viewed', admin: true } }, 'graphqlJs'],
      ['a date that is not one', TRACK, { input: { anonymousId: 'visitor-1', name: 'page_viewed', occurredAt: 'yesterday' } }, 'graphqlJs'],
      ['an unknown token', RECORD, { token: 'nonsense', type: 'CLICKED' }, 'compiled'],
      ['an enum value that does not exist', RECORD, { token: 'nonsense', type: 'EXPLODED' }, 'graphqlJs'],
      ['the public configuration', CONFIG, undefined, 'compiled'],
      ['identify, with proof', IDENTIFY, { input: { anonymousId: 'visitor-2', externalId: 'customer-2', identityToken: shop.publishable.identityTokenFor('customer-2'), attributes: { plan: 'pro' } } }, 'compiled'],
      ['identify, a customer without proof', IDENTIFY, { input: { externalId: 'customer-3', anonymousId: 'visitor-3' } }, 'compiled'],
      ['identify, without the customer', IDENTIFY, { input: { anonymousId: 'visitor-3' } }, 'graphqlJs'],
    ];
    for (const [name, text, variables, answeredBy] of cases) {
      // A first call stores what the case stores, so that both answers below are replays (a
      // replay reads the event back, with its properties' keys in PostgreSQL's order).
      await call(`${text}\n# first`, variables);
      // The same query with a comment is a document of its own, run once: graphql-js answers it.
      const cold = await call(`${text}\n# cold`, variables);
      const ran = await runs();
      const hot = await call(text, variables);
      expect({ name, ...hot }, name).toEqual({ name, ...cold });
      const after = await runs();
      expect({ name, compiled: after.compiled - ran.compiled, graphqlJs: after.graphqlJs - ran.graphqlJs }).toEqual({ name, compiled: 0, graphqlJs: 0, ...(answeredBy === 'neither' ? {} : { [answeredBy]: 1 }) });
    }
    expect(await compiledSoFar()).toBe(before + 4);
    // The calls did run: the event was stored once, and its replay answered with it.
    const [, , stored] = cases[0]!;
    expect(JSON.parse((await call(TRACK, stored)).body).data.trackEvent).toMatchObject({
      __typename: 'MutationTrackEventSuccess',
      data: { name: 'page_viewed', properties: { path: '/', n: [1, 2.5, null, true] }, occurredAt: '2026-11-30T10:00:00.000Z' },
    });
  });

  it('is compiled only for publishable keys, and only once', async () => {
    const before = await compiledSoFar();
    const query = '{ viewer { workspace { name } } }';
    await makeHot(query, () => undefined, shop.secretKey);
    await makeHot(query, () => undefined, shop.secretKey);
    expect(await compiledSoFar()).toBe(before);
    const page = `${CONFIG}\n# another page`;
    await makeHot(page, () => undefined);
    await makeHot(page, () => undefined);
    expect(await compiledSoFar()).toBe(before + 1);
  });

  it("hides a resolver's unexpected error as graphql-js's path does", async () => {
    // A field that fails unexpectedly, on a Yoga of its own: Herald's public fields offer none to provoke.
    const toy = buildSchema('type Query { boom(why: String): String }');
    toy.getQueryType()!.getFields().boom!.resolve = (_, { why }) => {
      throw new Error(`internal detail: ${why}`);
    };
    const yoga = createYoga({ schema: toy, maskedErrors: true, logging: false, plugins: [compiledExecution()], context: () => ({ principal: { kind: 'publishable' } }) });
    const ask = async () =>
      (await yoga.fetch('http://yoga/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: 'query($why: String) { boom(why: $why) }', variables: { why: 'db password' } }) })).text();
    const answers = [];
    for (let n = 0; n <= COMPILE_AFTER; n++) answers.push(await ask());
    const masked = { data: { boom: null }, errors: [{ message: 'Unexpected error.', path: ['boom'], extensions: { code: 'INTERNAL_SERVER_ERROR' } }] };
    // graphql-js's answer (the first) says where in the document; a compiled one cannot (graphql-jit keeps no nodes).
    expect(JSON.parse(answers[0]!)).toEqual({ ...masked, errors: [{ ...masked.errors[0], locations: [{ line: 1, column: 23 }] }] });
    expect(JSON.parse(answers.at(-1)!)).toEqual(masked);
    for (const answer of answers) expect(answer).not.toContain('db password');
  });

  it('keeps at most COMPILED_MAX, the most recently run, and compiles an evicted one no more', async () => {
    const before = await compiledSoFar();
    const page = (n: number) => `query Page${n} { publicConfig { workspaceId } }`;
    for (let n = 0; n <= COMPILED_MAX; n++) await makeHot(page(n), () => undefined);
    expect(await compiledSoFar()).toBe(before + COMPILED_MAX + 1);
    expect(await keptNow()).toBe(COMPILED_MAX);
    // Page0, run least recently of them, was evicted: graphql-js answers it now, and always will.
    const ran = await runs();
    await makeHot(page(0), () => undefined);
    expect(await compiledSoFar()).toBe(before + COMPILED_MAX + 1);
    expect((await runs()).compiled).toBe(ran.compiled);
    expect(JSON.parse((await call(page(0))).body)).toEqual({ data: { publicConfig: { workspaceId: shop.workspace.id } } });
    // The most recent one is still compiled.
    await call(page(COMPILED_MAX));
    expect((await runs()).compiled).toBe(ran.compiled + 1);
  });
});

describe('what a caller writes', () => {
  // graphql-jit 0.8.9 writes a literal argument into the code it generates and turns a string
  // holding its date marker into code there.
  const MARKER = '__MAGIC_DATE__33a9e76d_02e0_4128_8e92_3530ad3da74d';
  const PAYLOAD = `${MARKER}1)&&(\`owned\`)&&(\`owned\``;

  it('would run as code in graphql-jit: the reason no document with a literal is compiled', async () => {
    const toy = buildSchema('type Query { echo(s: String): String }');
    toy.getQueryType()!.getFields().echo!.resolve = (_, { s }) => s;
    const compiled = compileQuery(toy, parse(`{ echo(s: ${JSON.stringify(PAYLOAD)}) }`));
    if (!isCompiledQuery(compiled)) throw new Error('did not compile');
    expect(await compiled.query({}, {}, {})).toEqual({ data: { echo: 'owned' } });
  });

  it('never reaches compiled code: a literal stays text, however hot its document', async () => {
    const before = await compiledSoFar();
    const text = `mutation($visitor: String!) {
      trackEvent(input: { anonymousId: $visitor, name: "literal_sent", properties: { note: ${JSON.stringify(PAYLOAD)} } }) { __typename }
    }`;
    for (let n = 0; n < COMPILE_AFTER * 2; n++) expect(JSON.parse((await call(text, { visitor: `literal-${n}` })).body).data.trackEvent.__typename).toBe('MutationTrackEventSuccess');
    expect(await compiledSoFar()).toBe(before);
    const stored = await h.kit.herald.prisma.event.findMany({ where: { name: 'literal_sent' }, select: { properties: true } });
    expect(stored).toHaveLength(COMPILE_AFTER * 2);
    expect(new Set(stored.map((event) => (event.properties as { note: string }).note))).toEqual(new Set([PAYLOAD]));
    tally({ check: 'security: a literal never reaches compiled code', attacks: COMPILE_AFTER * 2 });
  });

  it('qualifies a document only when every value is a variable', () => {
    const check = (text: string) => qualifies(schema, parse(text));
    for (const text of [TRACK, RECORD, CONFIG, IDENTIFY, 'mutation($e0: EventInput!, $e1: EventInput!) { e0: trackEvent(input: $e0) { __typename } e1: trackEvent(input: $e1) { __typename } }'])
      expect(check(text), text).toBe(true);
    for (const text of [
      'mutation { trackEvent(input: { anonymousId: "a", name: "b" }) { __typename } }',
      'mutation($a: String!) { trackEvent(input: { anonymousId: $a, name: "b" }) { __typename } }',
      'mutation($i: EventInput!) { recordMessageEvent(input: { token: "t", type: CLICKED }) { __typename } trackEvent(input: $i) { __typename } }',
      'query { inAppMessages(limit: 3) { token } }',
      'query($a: Boolean = true) { publicConfig { workspaceId } }',
      'query($a: Boolean!) { publicConfig { workspaceId @include(if: $a) } }',
      'query { __proto__: publicConfig { workspaceId } }',
      'query A { publicConfig { workspaceId } } query B { publicConfig { vapidPublicKey } }',
      'subscription { campaignStats(id: $id) { sent } }',
      'query($rule: SegmentRuleInput!) { previewSegment(rule: $rule) { count } }',
    ])
      expect(check(text), text).toBe(false);
  });
});
