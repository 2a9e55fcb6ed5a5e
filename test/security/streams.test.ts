import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createWorkspace } from '../kit/flow.ts';
import { startTestHerald, type TestHerald } from '../kit/herald.ts';
import { type HeraldProcess, spawnHerald } from '../kit/process.ts';
import { tally } from '../kit/tally.ts';
import { REDIS_URL, redisAvailable } from '../kit/redis.ts';

// Finding 7 (a revoked key's streams go on) and 9 (unauthenticated sockets, no cap on sockets).

const STATS = 'subscription { workspaceStats { activeApiKeys } }';
type Shop = Awaited<ReturnType<typeof createWorkspace>>;

/** Sends `connection_init` with `payload`; resolves with the close code, or 'ack' if acknowledged. */
function connectionInit(wsUrl: string, payload: Record<string, unknown>): Promise<{ outcome: 'ack' | number; socket: WebSocket }> {
  const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
  socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload })));
  return new Promise((resolve, reject) => {
    socket.on('message', (data) => {
      if (JSON.parse(String(data)).type === 'connection_ack') resolve({ outcome: 'ack', socket });
    });
    socket.on('close', (code) => resolve({ outcome: code, socket }));
    socket.on('error', reject);
  });
}

/** A socket that subscribes to workspace stats with `key` and has had its first result. */
async function liveSocket(wsUrl: string, key: string) {
  const { outcome, socket } = await connectionInit(wsUrl, { authorization: `Bearer ${key}` });
  expect(outcome).toBe('ack');
  const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
  const first = new Promise<void>((resolve) =>
    socket.on('message', (data) => {
      if (JSON.parse(String(data)).type === 'next') resolve();
    }),
  );
  socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: STATS } }));
  await first;
  return { socket, closed };
}

/** An SSE stream of workspace stats with `key` that has had its first event; `ended` resolves when the server ends it. */
async function liveEventStream(graphqlUrl: string, key: string) {
  const controller = new AbortController();
  const response = await fetch(graphqlUrl, {
    method: 'POST',
    signal: controller.signal,
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query: STATS }),
  });
  expect(response.headers.get('content-type')).toContain('text/event-stream');
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  while (!/^data: /m.test(text)) text += (await reader.read()).value ?? '';
  const ended = (async () => {
    while (!(await reader.read()).done);
  })().catch(() => undefined);
  return { ended, abort: () => controller.abort() };
}

async function post(graphqlUrl: string, key: string, query: string, variables?: Record<string, unknown>) {
  const response = await fetch(graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data?: any; errors?: Array<{ message: string; extensions?: { code?: string } }> };
}

async function newSecretKey(graphqlUrl: string, shop: Shop): Promise<{ key: string; id: string }> {
  const result = await post(
    graphqlUrl,
    shop.secretKey,
    'mutation { createApiKey(input: { kind: SECRET }) { ... on MutationCreateApiKeySuccess { data { key apiKey { id } } } } }',
  );
  const { key, apiKey } = result.data.createApiKey.data;
  return { key, id: apiKey.id };
}

async function revoke(graphqlUrl: string, shop: Shop, id: string): Promise<void> {
  const result = await post(graphqlUrl, shop.secretKey, 'mutation($id: ID!) { revokeApiKey(input: { id: $id }) { __typename } }', { id });
  expect(result.data.revokeApiKey.__typename).toBe('MutationRevokeApiKeySuccess');
}

/** Resolves with the milliseconds `promise` took, or rejects after `limit`. */
async function within<T>(limit: number, promise: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`not within ${limit} ms`)), limit)));
  try {
    const value = await Promise.race([promise, timeout]);
    return { value, ms: Date.now() - started };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Revoking a key (on `revokeOn`) ends its WebSocket and SSE streams (held on `streamOn`) within a
 * second. Answers how many of the revoked key's streams were ended.
 */
async function expectRevocationEndsStreams(revokeOn: { graphqlUrl: string }, streamOn: { graphqlUrl: string; wsUrl: string }, shop: Shop): Promise<number> {
  const { key, id } = await newSecretKey(revokeOn.graphqlUrl, shop);
  const socket = await liveSocket(streamOn.wsUrl, key);
  const events = await liveEventStream(streamOn.graphqlUrl, key);
  // An unrelated key's stream goes on.
  const bystander = await liveSocket(streamOn.wsUrl, shop.secretKey);
  try {
    await revoke(revokeOn.graphqlUrl, shop, id);
    const streams = [socket.closed, events.ended];
    const [closed] = await within(1000, Promise.all(streams)).then(({ value }) => value);
    expect(closed).toBe(4403);
    expect(bystander.socket.readyState).toBe(WebSocket.OPEN);
    return streams.length;
  } finally {
    socket.socket.close();
    events.abort();
    bystander.socket.close();
  }
}

describe('live streams', () => {
  let kit: TestHerald;
  let shop: Shop;
  beforeAll(async () => {
    kit = await startTestHerald({
      HERALD_MAX_SOCKETS_PER_KEY: '3',
      HERALD_MAX_SOCKETS_PER_ADDRESS: '6',
      HERALD_MAX_SUBSCRIPTIONS_PER_KEY: '3',
    });
    shop = await createWorkspace(kit);
  });
  afterAll(() => kit?.stop());

  it('closes a WebSocket whose connection_init has no valid credential with 4403', async () => {
    const payloads = [{}, { authorization: 'Bearer sk_nope' }, { authorization: `Bearer ${kit.adminToken}x` }];
    for (const payload of payloads) {
      expect((await connectionInit(kit.wsUrl, payload)).outcome).toBe(4403);
    }
    const { outcome, socket } = await connectionInit(kit.wsUrl, { authorization: `Bearer ${shop.secretKey}` });
    expect(outcome).toBe('ack');
    socket.close();
    tally({ check: 'security: live streams: no key, a revoked key, over the caps', attacks: payloads.length, leaks: 0 });
  });

  it('ends a revoked key’s WebSocket and SSE subscriptions within a second', async () => {
    const ended = await expectRevocationEndsStreams(kit, kit, shop);
    tally({ check: 'security: live streams: no key, a revoked key, over the caps', attacks: ended, leaks: 0 });
  });

  it('refuses the socket over the cap per key, and per address, with 4429', async () => {
    const { key } = await newSecretKey(kit.graphqlUrl, shop);
    const open: WebSocket[] = [];
    try {
      for (let index = 0; index < 3; index++) {
        const { outcome, socket } = await connectionInit(kit.wsUrl, { authorization: `Bearer ${key}` });
        expect(outcome).toBe('ack');
        open.push(socket);
      }
      expect((await connectionInit(kit.wsUrl, { authorization: `Bearer ${key}` })).outcome).toBe(4429);
      // Another key from the same address still gets in, up to the address's cap of 6.
      for (let index = 0; index < 3; index++) {
        const { outcome, socket } = await connectionInit(kit.wsUrl, { authorization: `Bearer ${shop.secretKey}` });
        expect(outcome).toBe('ack');
        open.push(socket);
      }
      expect((await connectionInit(kit.wsUrl, {})).outcome).toBe(4429);
    } finally {
      for (const socket of open) socket.close();
    }
    // Closed sockets no longer count.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const again = await connectionInit(kit.wsUrl, { authorization: `Bearer ${key}` });
    expect(again.outcome).toBe('ack');
    again.socket.close();
    // One socket over the cap per key, one over the cap per address.
    tally({ check: 'security: live streams: no key, a revoked key, over the caps', attacks: 2, leaks: 0 });
  });

  it('answers a subscribe it cannot parse with an error for that id, and keeps the socket and its other subscriptions', async () => {
    const { key } = await newSecretKey(kit.graphqlUrl, shop);
    const { socket, closed } = await liveSocket(kit.wsUrl, key);
    const messages: Array<{ id?: string; type: string; payload?: any }> = [];
    socket.on('message', (data) => messages.push(JSON.parse(String(data))));
    const malformed = {
      '2': '{',
      '3': 'subscription { workspaceStats { activeApiKeys } } subscription { workspaceStats { activeApiKeys } }',
      '4': 'x'.repeat(100),
    };
    try {
      for (const [id, query] of Object.entries(malformed)) socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query } }));
      await expect.poll(() => Object.keys(malformed).every((id) => messages.some((message) => message.id === id)) || socket.readyState !== WebSocket.OPEN).toBe(true);
      expect(socket.readyState).toBe(WebSocket.OPEN);
      for (const id of Object.keys(malformed)) expect(messages.find((message) => message.id === id)?.type).toBe('error');
      // The subscription opened before them goes on.
      await newSecretKey(kit.graphqlUrl, shop);
      await expect.poll(() => messages.some((message) => message.id === '1' && message.type === 'next')).toBe(true);
    } finally {
      socket.close();
      await closed;
    }
  });

  it('refuses subscriptions over the cap per key, over WebSocket and SSE', async () => {
    const { key } = await newSecretKey(kit.graphqlUrl, shop);
    const { outcome, socket } = await connectionInit(kit.wsUrl, { authorization: `Bearer ${key}` });
    expect(outcome).toBe('ack');
    const messages: Array<{ id: string; type: string; payload: any }> = [];
    socket.on('message', (data) => messages.push(JSON.parse(String(data))));
    try {
      for (const id of ['1', '2', '3', '4']) socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query: STATS } }));
      await expect.poll(() => ['1', '2', '3', '4'].every((id) => messages.some((message) => message.id === id))).toBe(true);
      const refused = messages.filter((message) => message.type === 'error' || message.payload?.errors);
      // The four arrive together and are admitted concurrently: exactly one is over the cap, not necessarily the last.
      expect(refused).toHaveLength(1);
      expect(JSON.stringify(refused[0]!.payload)).toContain('TOO_MANY_SUBSCRIPTIONS');

      const response = await fetch(kit.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${key}` },
        body: JSON.stringify({ query: STATS }),
      });
      expect(await response.text()).toContain('TOO_MANY_SUBSCRIPTIONS');
      // The subscriptions over the cap on the socket, and the one over SSE.
      tally({ check: 'security: live streams: no key, a revoked key, over the caps', attacks: refused.length + 1, leaks: 0 });
    } finally {
      socket.close();
    }
  });
});


describe.runIf(await redisAvailable())('live streams across processes (REDIS_URL)', () => {
  let kit: TestHerald;
  let other: HeraldProcess;
  let dataDir: string;
  beforeAll(async () => {
    kit = await startTestHerald({ REDIS_URL });
    dataDir = await mkdtemp(path.join(tmpdir(), 'herald-streams-'));
    other = await spawnHerald({
      REDIS_URL,
      HERALD_ROLE: 'api',
      DATABASE_URL: kit.databaseUrl,
      HERALD_DATA_DIR: dataDir,
      HERALD_ADMIN_TOKEN: kit.adminToken,
      LOG_LEVEL: 'warn',
    });
  });
  afterAll(async () => {
    await other?.stop();
    await kit?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('ends a key’s streams on another Herald process within a second of revoking it here', async () => {
    const shop = await createWorkspace(kit);
    const ended = await expectRevocationEndsStreams(kit, { graphqlUrl: other.graphqlUrl, wsUrl: other.graphqlUrl.replace(/^http/, 'ws') }, shop);
    tally({ check: 'security: live streams: no key, a revoked key, over the caps', attacks: ended, leaks: 0 });
  });
});
