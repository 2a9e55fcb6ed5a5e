import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useHeraldProcesses } from '../kit/fixture.ts';
import type { HeraldProcess } from '../kit/process.ts';
import { postRaw } from '../kit/client.ts';
import { tally } from '../kit/tally.ts';
import { startWebhookReceiver, type TestWebhookReceiver } from '../kit/webhook-receiver.ts';

/**
 * The webhook signing secret (issue 19) is a credential: whoever has it can forge Herald's webhooks
 * to the tenant's systems. Only a secret key reads or rotates it; a publishable key (in every
 * visitor's browser) and the admin token are refused; it is sealed at rest and never logged, even
 * at trace level while it signs requests and is rotated.
 */

let herald: HeraldProcess;
let receiver: TestWebhookReceiver;

const post = (credential: string, query: string, variables?: Record<string, unknown>) => postRaw(herald.graphqlUrl, credential, query, variables);

beforeAll(async () => {
  receiver = await startWebhookReceiver();
});
afterAll(async () => {
  await receiver?.close();
});
const heralds = useHeraldProcesses('webhook-secret', () => ({ LOG_LEVEL: 'trace', HERALD_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', HERALD_WEBHOOK_CA: receiver.caFile }));
beforeAll(async () => {
  herald = await heralds.start();
});

describe('the webhook signing secret', () => {
  it('reaches only a secret key, is sealed at rest, and appears in no log line while it signs and rotates', async () => {
    const created = await post(herald.adminToken, `mutation { createWorkspace(input: { name: "Hooks" }) {
      ... on MutationCreateWorkspaceSuccess { data { secretKey publishableKey workspace { id } } } } }`);
    const { secretKey, publishableKey, workspace } = created.body.data!.createWorkspace.data;
    const read = async () => (await post(secretKey, '{ viewer { webhookSigningSecret } }')).body.data!.viewer.webhookSigningSecret as string;
    const first = await read();
    expect(first).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);

    // Every way a publishable key or the admin token could ask for it, or rotate it.
    const attempts = [
      post(publishableKey, '{ viewer { webhookSigningSecret } }'),
      post(publishableKey, 'query($id: ID!) { node(id: $id) { ... on Workspace { webhookSigningSecret } } }', { id: workspace.id }),
      post(publishableKey, 'mutation { rotateWebhookSecret(input: {}) { __typename ... on MutationRotateWebhookSecretSuccess { data { webhookSigningSecret } } } }'),
      post(herald.adminToken, '{ workspaces { webhookSigningSecret } }'),
      post(herald.adminToken, 'mutation { rotateWebhookSecret(input: {}) { __typename } }'),
    ];
    const answers = await Promise.all(attempts);
    for (const answer of answers) {
      expect(answer.text).not.toContain(first);
      expect(answer.body.errors?.[0]?.extensions?.code, answer.text).toBe('FORBIDDEN');
    }
    expect(await read(), 'nobody but the secret key rotated it').toBe(first);

    // A webhook signed with it, then a rotation and another signed with both.
    receiver.trust(first);
    const campaign = async (name: string) => {
      const made = await post(secretKey, `mutation($input: CampaignInput!) { createCampaign(input: $input) { ... on MutationCreateCampaignSuccess { data { id } } } }`, {
        input: { name, kind: 'BROADCAST', channel: 'WEBHOOK', webhook: { url: receiver.url('/secret') } },
      });
      const id = made.body.data!.createCampaign.data.id as string;
      await post(secretKey, 'mutation($id: ID!) { sendCampaignNow(input: { id: $id }) { __typename } }', { id });
    };
    await post(secretKey, 'mutation { upsertContact(input: { externalId: "someone" }) { __typename } }');
    await campaign('Before');
    await receiver.waitFor(() => receiver.counts().accepted === 1, 20_000);
    const rotated = await post(secretKey, 'mutation { rotateWebhookSecret(input: { reason: "drill" }) { ... on MutationRotateWebhookSecretSuccess { data { webhookSigningSecret } } } }');
    const second = rotated.body.data!.rotateWebhookSecret.data.webhookSigningSecret as string;
    expect(second).not.toBe(first);
    receiver.trust(second);
    await campaign('After');
    await receiver.waitFor(() => receiver.counts().accepted === 2, 20_000);
    expect(receiver.received()[1]!.signatures).toHaveLength(2);

    // Sealed at rest: neither secret, nor its key bytes, is in the row.
    const db = new pg.Client({ connectionString: heralds.databaseUrl });
    await db.connect();
    const { rows } = await db.query<{ row: string }>('SELECT row_to_json(w)::text AS row FROM "Workspace" w').finally(() => db.end());
    const keyOf = (secret: string) => secret.slice('whsec_'.length);
    for (const { row } of rows) for (const secret of [first, second]) expect(row).not.toContain(keyOf(secret));

    const logLines = herald.output().split('\n').filter((line) => line.startsWith('{'));
    expect(logLines.some((line) => line.includes('webhook signing secret rotated'))).toBe(true);
    const leaking = logLines.filter((line) => [first, second].some((secret) => line.includes(keyOf(secret)) || line.includes(keyOf(secret).slice(0, 24))));
    expect(leaking).toEqual([]);
    tally({ check: 'security: the webhook signing secret', attacks: attempts.length, inputs: logLines.length, leaks: 0 });
  });
});
