import { describe, expect, it } from 'vitest';
import { graphql } from './generated/index.ts';
import { dataOf, errorCodes, httpClient } from './kit/client.ts';
import { createWorkspace } from './kit/flow.ts';
import { useHerald } from './kit/fixture.ts';

const Viewer = graphql(`query AuthViewer { viewer { id name apiKeys { id kind prefix revokedAt } } }`);
const PublicConfig = graphql(`query AuthPublicConfig { publicConfig { workspaceId vapidPublicKey } }`);
const Workspaces = graphql(`query AuthWorkspaces { workspaces { id name } }`);
const Node = graphql(`query AuthNode($id: ID!) { node(id: $id) { __typename id ... on Workspace { name } } }`);
const CreateWorkspace = graphql(`
  mutation AuthCreateWorkspace { createWorkspace(input: { name: "Other" }) { __typename } }
`);
const CreateApiKey = graphql(`
  mutation AuthCreateApiKey($kind: ApiKeyKind!) {
    createApiKey(input: { kind: $kind }) {
      __typename
      ... on MutationCreateApiKeySuccess { data { key apiKey { id kind prefix createdAt revokedAt } } }
    }
  }
`);
const RevokeApiKey = graphql(`
  mutation AuthRevokeApiKey($id: ID!) {
    revokeApiKey(input: { id: $id }) {
      __typename
      ... on MutationRevokeApiKeySuccess { data { id revokedAt } }
      ... on Error { code message }
    }
  }
`);

const h = useHerald({}, { push: false });
const shop = h.useWorkspace('Shop');
const other = h.useWorkspace('Other shop');


describe('credentials', () => {
  it('refuses a request without a key as UNAUTHENTICATED', async () => {
    const anonymous = httpClient(h.kit.graphqlUrl);
    expect(errorCodes(await anonymous(Viewer))).toEqual(['UNAUTHENTICATED']);
    expect(errorCodes(await anonymous(PublicConfig))).toEqual(['UNAUTHENTICATED']);
    expect(errorCodes(await anonymous(CreateWorkspace))).toEqual(['UNAUTHENTICATED']);
  });

  it('refuses an unknown key or token as UNAUTHENTICATED', async () => {
    const forgedKey = `sk_${'A'.repeat(32)}`;
    expect(errorCodes(await httpClient(h.kit.graphqlUrl, forgedKey)(Viewer))).toEqual(['UNAUTHENTICATED']);
    expect(errorCodes(await httpClient(h.kit.graphqlUrl, `${h.kit.adminToken}x`)(Workspaces))).toEqual(['UNAUTHENTICATED']);
    expect(errorCodes(await httpClient(h.kit.graphqlUrl, 'garbage')(Viewer))).toEqual(['UNAUTHENTICATED']);
  });

  it('lets a secret key read its own workspace', async () => {
    const { viewer } = dataOf(await shop.secret(Viewer));
    expect(viewer).toMatchObject({ id: shop.workspace.id, name: 'Shop' });
    expect(viewer.apiKeys.map((key) => key.kind).sort()).toEqual(['PUBLISHABLE', 'SECRET']);
    expect(shop.secretKey.startsWith(viewer.apiKeys.find((key) => key.kind === 'SECRET')!.prefix)).toBe(true);
  });

  it('lets a publishable key read publicConfig and nothing secret', async () => {
    const { publicConfig } = dataOf(await shop.publishable(PublicConfig));
    expect(publicConfig).toEqual({ workspaceId: shop.workspace.id, vapidPublicKey: shop.workspace.vapidPublicKey });
    expect(errorCodes(await shop.publishable(Viewer))).toEqual(['FORBIDDEN']);
    expect(errorCodes(await shop.publishable(CreateApiKey, { kind: 'SECRET' }))).toEqual(['FORBIDDEN']);
    expect(errorCodes(await shop.publishable(Node, { id: shop.workspace.id }))).toEqual(['FORBIDDEN']);
  });

  it('keeps the admin token to workspace administration', async () => {
    const admin = httpClient(h.kit.graphqlUrl, h.kit.adminToken);
    const { workspaces } = dataOf(await admin(Workspaces));
    expect(workspaces.map((workspace) => workspace.id)).toEqual(expect.arrayContaining([shop.workspace.id, other.workspace.id]));
    expect(errorCodes(await admin(Viewer))).toEqual(['FORBIDDEN']);
    expect(errorCodes(await admin(CreateApiKey, { kind: 'SECRET' }))).toEqual(['FORBIDDEN']);
    expect(errorCodes(await admin(Node, { id: shop.workspace.id }))).toEqual(['FORBIDDEN']);
    expect(errorCodes(await shop.secret(Workspaces))).toEqual(['FORBIDDEN']);
    expect(errorCodes(await shop.secret(CreateWorkspace))).toEqual(['FORBIDDEN']);
  });

  it('revokes a key at once', async () => {
    const created = dataOf(await shop.secret(CreateApiKey, { kind: 'SECRET' })).createApiKey;
    if (created.__typename !== 'MutationCreateApiKeySuccess') throw new Error(created.__typename);
    const extra = httpClient(h.kit.graphqlUrl, created.data.key);
    expect(dataOf(await extra(Viewer)).viewer.id).toBe(shop.workspace.id);

    const revoked = dataOf(await shop.secret(RevokeApiKey, { id: created.data.apiKey.id })).revokeApiKey;
    expect(revoked).toMatchObject({ __typename: 'MutationRevokeApiKeySuccess', data: { id: created.data.apiKey.id } });
    expect(errorCodes(await extra(Viewer))).toEqual(['UNAUTHENTICATED']);
    // The key that revoked it still works.
    expect(dataOf(await shop.secret(Viewer)).viewer.id).toBe(shop.workspace.id);
  });

  it('stores keys hashed, never as given', async () => {
    const rows = await h.kit.herald.prisma.apiKey.findMany({ where: { workspaceId: await localWorkspaceId() } });
    const stored = JSON.stringify(rows);
    expect(stored).not.toContain(shop.secretKey);
    expect(stored).not.toContain(shop.publishableKey.slice(12));
    expect(rows.every((row) => /^[0-9a-f]{64}$/.test(row.hash))).toBe(true);
  });
});

describe('tenant isolation', () => {
  it('resolves node(id) only inside the caller’s workspace', async () => {
    expect(dataOf(await shop.secret(Node, { id: shop.workspace.id })).node).toMatchObject({ __typename: 'Workspace', name: 'Shop' });
    expect(dataOf(await shop.secret(Node, { id: other.workspace.id })).node).toBeNull();

    const otherKeys = dataOf(await other.secret(Viewer)).viewer.apiKeys;
    for (const key of otherKeys) expect(dataOf(await shop.secret(Node, { id: key.id })).node).toBeNull();
  });

  it('answers malformed ids with null, not a crash', async () => {
    for (const id of ['', 'not-base64!', Buffer.from('ApiKey:1').toString('base64'), Buffer.from('Nope:x').toString('base64')]) {
      const result = await shop.secret(Node, { id });
      expect(result.errors ?? []).toEqual([]);
      expect(result.data?.node).toBeNull();
    }
  });

  it('cannot revoke another workspace’s key', async () => {
    const otherSecret = dataOf(await other.secret(Viewer)).viewer.apiKeys.find((key) => key.kind === 'SECRET')!;
    const result = dataOf(await shop.secret(RevokeApiKey, { id: otherSecret.id })).revokeApiKey;
    expect(result).toMatchObject({ __typename: 'NotFoundError', code: 'api_key/not_found' });
    expect(dataOf(await other.secret(Viewer)).viewer.id).toBe(other.workspace.id);
  });
});

async function localWorkspaceId(): Promise<string> {
  return Buffer.from(shop.workspace.id, 'base64').toString().split(':')[1]!;
}
