import { createConnection } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './generated/index.ts';
import { dataOf, take, wsClient } from './kit/client.ts';
import { createWorkspace } from './kit/flow.ts';
import { startTestHerald, type TestHerald } from './kit/herald.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Redis is optional for Herald and for a new user's `npm test`; CI machines have one. */
async function redisAvailable(): Promise<boolean> {
  const { hostname, port } = new URL(REDIS_URL);
  return new Promise((resolve) => {
    const socket = createConnection({ host: hostname, port: Number(port || 6379) });
    socket.setTimeout(500);
    const answer = (up: boolean) => {
      resolve(up);
      socket.destroy();
    };
    socket.once('connect', () => answer(true));
    socket.once('error', () => answer(false));
    socket.once('timeout', () => answer(false));
  });
}

const available = await redisAvailable();

const WorkspaceStats = graphql(`subscription RedisWorkspaceStats { workspaceStats { activeApiKeys } }`);
const CreateApiKey = graphql(`mutation RedisCreateApiKey { createApiKey(input: { kind: SECRET }) { __typename } }`);

describe.runIf(available)('live events through Redis (REDIS_URL)', () => {
  let first: TestHerald;
  let second: TestHerald;
  beforeAll(async () => {
    first = await startTestHerald({ REDIS_URL });
    second = await startTestHerald({ REDIS_URL, DATABASE_URL: first.databaseUrl, HERALD_ROLE: 'api' });
  });
  afterAll(async () => {
    await second?.stop();
    await first?.stop();
  });

  it('delivers a change made on one instance to a subscriber on another', async () => {
    const shop = await createWorkspace(first);
    const client = wsClient(second.wsUrl, shop.secretKey);
    try {
      const results = await take(client, WorkspaceStats, {}, 2, () => void shop.secret(CreateApiKey));
      expect(results.map((result) => dataOf(result).workspaceStats.activeApiKeys)).toEqual([2, 3]);
    } finally {
      await client.dispose();
    }
  });
});
