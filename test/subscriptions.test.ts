import { print } from 'graphql';
import { describe, expect, it } from 'vitest';
import { graphql } from './generated/index.ts';
import { dataOf, take, wsClient } from './kit/client.ts';
import { useHerald } from './kit/fixture.ts';

const WorkspaceStats = graphql(`subscription LiveWorkspaceStats { workspaceStats { workspaceId activeApiKeys updatedAt } }`);
const CreateApiKey = graphql(`
  mutation LiveCreateApiKey { createApiKey(input: { kind: PUBLISHABLE }) { __typename } }
`);

const h = useHerald({}, { push: false });
const shop = h.useWorkspace();


describe('subscriptions', () => {
  it('streams a snapshot, then the change, over graphql-ws', async () => {
    const client = wsClient(h.kit.wsUrl, shop.secretKey);
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
    const client = wsClient(h.kit.wsUrl);
    try {
      await expect(take(client, WorkspaceStats, {}, 1)).rejects.toMatchObject({ code: 4403 });
    } finally {
      await client.dispose();
    }
  });

  it('streams over server-sent events', async () => {
    const controller = new AbortController();
    const response = await fetch(h.kit.graphqlUrl, {
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
