import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './generated/index.ts';
import { dataOf, take, wsClient } from './kit/client.ts';
import { createWorkspace } from './kit/flow.ts';
import { startTestHerald, type TestHerald } from './kit/herald.ts';

const WorkspaceStats = graphql(`subscription LiveWorkspaceStats { workspaceStats { workspaceId activeApiKeys updatedAt } }`);
const CreateApiKey = graphql(`
  mutation LiveCreateApiKey { createApiKey(input: { kind: PUBLISHABLE }) { __typename } }
`);

let kit: TestHerald;
let shop: Awaited<ReturnType<typeof createWorkspace>>;

beforeAll(async () => {
  kit = await startTestHerald();
  shop = await createWorkspace(kit);
});
afterAll(() => kit?.stop());

describe('subscriptions', () => {
  it('streams a snapshot, then the change, over graphql-ws', async () => {
    const client = wsClient(kit.wsUrl, shop.secretKey);
    try {
      const results = await take(client, WorkspaceStats, {}, 2, () => {
        void shop.secret(CreateApiKey);
      });
      const [first, second] = results.map((result) => dataOf(result).workspaceStats);
      expect(first).toMatchObject({ workspaceId: shop.workspace.id, activeApiKeys: 2 });
      expect(second).toMatchObject({ workspaceId: shop.workspace.id, activeApiKeys: 3 });
    } finally {
      await client.dispose();
    }
  });

  it('refuses a WebSocket without a key: closed with 4403 at connection_init', async () => {
    const client = wsClient(kit.wsUrl);
    try {
      await expect(take(client, WorkspaceStats, {}, 1)).rejects.toMatchObject({ code: 4403 });
    } finally {
      await client.dispose();
    }
  });

  it('streams over server-sent events', async () => {
    const controller = new AbortController();
    const response = await fetch(kit.graphqlUrl, {
      method: 'POST',
      signal: controller.signal,
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${shop.secretKey}` },
      body: JSON.stringify({ query: print(WorkspaceStats) }),
    });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    let event: RegExpExecArray | null = null;
    while (!(event = /^data: (.*)\n/m.exec(text))) text += (await reader.read()).value ?? '';
    controller.abort();
    const payload = JSON.parse(event[1]!);
    expect(payload.data.workspaceStats).toMatchObject({ workspaceId: shop.workspace.id });
    expect(payload.data.workspaceStats.activeApiKeys).toBeGreaterThanOrEqual(2);
  });
});
