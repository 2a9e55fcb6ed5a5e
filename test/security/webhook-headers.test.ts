import { describe, expect, it } from 'vitest';
import { sealStoredWebhookHeaders } from '../../src/delivery/webhook/seal-rows.ts';
import { postRaw } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';
import { tally } from '../kit/tally.ts';
import { signingSecretOf, useReceiver } from '../webhook/kit.ts';

/**
 * A webhook campaign's headers carry the tenant's credentials for its own systems
 * (`Authorization: Bearer …`). Their values are write-only: sealed at rest (in campaigns, their
 * variants and journeys), never shown by the API, kept when given back as null, and a sealed value
 * from another workspace is refused, so nobody can make Herald send someone else's credential.
 */

const TOKEN = 'Bearer tenant-credential-8f2c1d';
const env: Record<string, string> = { HERALD_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1' };
const r = useReceiver(env);
const h = useHerald(env, { push: false });

const CREATE = `mutation($input: CampaignInput!) { createCampaign(input: $input) { __typename
  ... on MutationCreateCampaignSuccess { data { id webhook { headers } variants { content } } }
  ... on ValidationError { fieldErrors { path message } } } }`;
const UPDATE = `mutation($input: UpdateCampaignInput!) { updateCampaign(input: $input) { __typename
  ... on MutationUpdateCampaignSuccess { data { id webhook { headers } variants { content } } }
  ... on ValidationError { fieldErrors { path message } } } }`;

async function shop() {
  const workspace = await h.workspace();
  r.receiver.trust(await signingSecretOf(workspace));
  const post = (query: string, variables?: Record<string, unknown>) => postRaw(h.kit.graphqlUrl, workspace.secretKey, query, variables);
  await post('mutation { upsertContact(input: { externalId: "ada" }) { __typename } }');
  return { ...workspace, post };
}

const rowsText = async (table: 'Campaign' | 'Journey' | 'JourneyVersion') =>
  (await h.kit.herald.prisma.$queryRawUnsafe<{ row: string }[]>(`SELECT row_to_json(t)::text AS row FROM "${table}" t`)).map(({ row }) => row).join('\n');

describe('webhook header values', () => {
  it('are sealed at rest, never shown, kept when given back as null, and sent opened', async () => {
    const { post } = await shop();
    const webhook = { url: r.receiver.url('/headers'), headers: { Authorization: TOKEN, 'X-Tenant': 'shop' } };
    const created = await post(CREATE, { input: { name: 'Hook', kind: 'BROADCAST', channel: 'WEBHOOK', webhook, variants: [{ name: 'B', weight: 50, webhook }, { name: 'A', weight: 50, webhook }] } });
    expect(created.text).not.toContain('tenant-credential');
    const campaign = created.body.data!.createCampaign.data;
    expect(campaign.webhook.headers).toEqual({ Authorization: null, 'X-Tenant': null });
    expect(campaign.variants.map((variant: { content: { headers: unknown } }) => variant.content.headers)).toEqual([
      { Authorization: null, 'X-Tenant': null },
      { Authorization: null, 'X-Tenant': null },
    ]);
    expect(await rowsText('Campaign')).not.toContain('tenant-credential');

    // Saving what was read back keeps the values (a variant's by its name); a header dropped is
    // gone, a new one is sealed too.
    const kept = { url: webhook.url, headers: { authorization: null, 'X-Extra': 'more' } };
    const updated = await post(UPDATE, { input: { id: campaign.id, webhook: kept, variants: [{ name: 'B', weight: 50, webhook: kept }, { name: 'C', weight: 50, webhook: { url: webhook.url, headers: { Authorization: TOKEN, 'X-Extra': 'more' } } }] } });
    expect(updated.body.data!.updateCampaign.__typename, updated.text).toBe('MutationUpdateCampaignSuccess');
    expect(updated.body.data!.updateCampaign.data.webhook.headers).toEqual({ authorization: null, 'X-Extra': null });
    expect(updated.body.data!.updateCampaign.data.variants[0].content.headers).toEqual({ authorization: null, 'X-Extra': null });
    expect(await rowsText('Campaign')).not.toMatch(/tenant-credential|"more"/);

    const before = r.receiver.received().length;
    await post('mutation($id: ID!) { sendCampaignNow(input: { id: $id }) { __typename } }', { id: campaign.id });
    await r.receiver.waitFor(() => r.receiver.received().length === before + 1, 20_000);
    const delivery = r.receiver.received().at(-1)!;
    expect(delivery.headers).toMatchObject({ authorization: TOKEN, 'x-extra': 'more' });
    expect(delivery.headers['x-tenant']).toBeUndefined();
  });

  it('refuses null for a header with no stored value, and a sealed value from another workspace; nothing changes', async () => {
    const victim = await shop();
    await victim.post(CREATE, { input: { name: 'Theirs', kind: 'BROADCAST', channel: 'WEBHOOK', webhook: { url: r.receiver.url('/theirs'), headers: { Authorization: TOKEN } } } });
    const [row] = await h.kit.herald.prisma.$queryRaw<{ sealed: string }[]>`SELECT content->'headers'->>'Authorization' AS sealed FROM "Campaign" WHERE name = 'Theirs'`;
    expect(row!.sealed).toMatch(/^hs1\./);

    const attacker = await shop();
    const campaigns = await h.kit.herald.prisma.campaign.count();
    const attempts = [
      { headers: { Authorization: row!.sealed }, path: 'input.webhook.headers.Authorization', message: /not a value Herald stored/ },
      { headers: { Authorization: null }, path: 'input.webhook.headers.Authorization', message: /has none/ },
    ];
    for (const { headers, path, message } of attempts) {
      const answer = await attacker.post(CREATE, { input: { name: 'Stolen', kind: 'BROADCAST', channel: 'WEBHOOK', webhook: { url: r.receiver.url('/stolen'), headers } } });
      const [error] = answer.body.data!.createCampaign.fieldErrors;
      expect(error.path.join('.')).toBe(path);
      expect(error.message).toMatch(message);
    }
    expect(await h.kit.herald.prisma.campaign.count()).toBe(campaigns);
    tally({ check: 'security: webhook header values from another workspace', attacks: 1, leaks: 0 });
  });

  it('in a journey: sealed in the draft and its version, hidden in Journey.steps, kept on update, sent opened', async () => {
    const { post, secretKey } = await shop();
    const step = (headers: Record<string, string | null>) => ({ key: 'hook', send: { channel: 'WEBHOOK', webhook: { url: r.receiver.url('/journey'), headers } } });
    const created = await post(
      `mutation($input: JourneyInput!) { createJourney(input: $input) { __typename ... on MutationCreateJourneySuccess { data { id steps } } } }`,
      { input: { name: 'Hooked', entry: { api: true }, steps: [step({ Authorization: TOKEN })] } },
    );
    const journey = created.body.data!.createJourney.data;
    expect(journey.steps[0].send.webhook.headers).toEqual({ Authorization: null });
    const updated = await post(
      `mutation($input: UpdateJourneyInput!) { updateJourney(input: $input) { __typename ... on MutationUpdateJourneySuccess { data { steps } } ... on Error { message } } }`,
      { input: { id: journey.id, steps: [step({ Authorization: null, 'X-Step': 'two' })] } },
    );
    expect(updated.body.data!.updateJourney.data.steps[0].send.webhook.headers).toEqual({ Authorization: null, 'X-Step': null });
    expect((await post(`mutation($id: ID!) { publishJourney(input: { id: $id }) { __typename } }`, { id: journey.id })).body.data!.publishJourney.__typename).toBe(
      'MutationPublishJourneySuccess',
    );
    for (const table of ['Journey', 'JourneyVersion', 'Campaign'] as const) expect(await rowsText(table)).not.toMatch(/tenant-credential|"two"/);

    const contact = await postRaw(h.kit.graphqlUrl, secretKey, '{ contacts(first: 1) { edges { node { id } } } }');
    const before = r.receiver.received().length;
    await post(`mutation($j: ID!, $c: ID!) { enterJourney(input: { journeyId: $j, contactId: $c }) { __typename } }`, {
      j: journey.id,
      c: contact.body.data!.contacts.edges[0].node.id,
    });
    await r.receiver.waitFor(() => r.receiver.received().length === before + 1, 20_000);
    expect(r.receiver.received().at(-1)!.headers).toMatchObject({ authorization: TOKEN, 'x-step': 'two' });
  });

  it('an older Herald stored in plain text are sealed at start', async () => {
    const { post } = await shop();
    const made = await post(CREATE, { input: { name: 'Legacy', kind: 'BROADCAST', channel: 'WEBHOOK', webhook: { url: r.receiver.url('/legacy') } } });
    expect(made.body.data!.createCampaign.__typename).toBe('MutationCreateCampaignSuccess');
    await h.kit.herald.prisma.$executeRaw`UPDATE "Campaign" SET content = jsonb_set(content, '{headers}', '{"Authorization": "Bearer legacy-plain-77"}') WHERE name = 'Legacy'`;
    expect(await rowsText('Campaign')).toContain('legacy-plain-77');

    expect((await sealStoredWebhookHeaders(h.kit.herald)).changed).toBeGreaterThanOrEqual(1);
    expect(await rowsText('Campaign')).not.toContain('legacy-plain-77');
    expect((await sealStoredWebhookHeaders(h.kit.herald)).changed, 'nothing left to seal').toBe(0);
  });
});
