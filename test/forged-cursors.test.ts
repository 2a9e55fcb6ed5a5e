/**
 * A cursor a client made up (right prefix, wrong content, or not one at all) is bad input on every list, never
 * a masked "Unexpected error.".
 */
import { describe, expect, it } from 'vitest';
import { createCampaign } from './kit/campaigns.ts';
import { postRaw } from './kit/client.ts';
import { useHerald } from './kit/fixture.ts';

const h = useHerald({}, { push: false });
const shop = h.useWorkspace();

const lists = ['contacts', 'segments', 'campaigns', 'journeys', 'links'];
const cursor = (text: string) => Buffer.from(text).toString('base64');
/** The right prefix around what is not a row's id, a compound cursor's parts of the wrong kinds, not Pothos' at all, not base64. */
const forgeries = [
  cursor('GPC:S:not-a-uuid'),
  cursor('GPC:J:{"id":1}'),
  cursor('GPC:N:7'),
  cursor('GPC:T:["S:x","D:nope","S:y"]'),
  cursor('GPC:D:12'),
  cursor('nonsense'),
  'not base64!',
];

describe('a forged cursor', () => {
  it('is BAD_USER_INPUT on every root connection', async () => {
    for (const list of lists) {
      for (const after of forgeries) {
        const { body } = await postRaw(h.kit.graphqlUrl, shop.secretKey, `query($after: String) { ${list}(first: 2, after: $after) { totalCount edges { cursor } } }`, { after });
        expect({ list, after, errors: body.errors?.map((error) => [error.message, error.extensions?.code]) })
          .toEqual({ list, after, errors: [[expect.stringMatching(/cursor/i), 'BAD_USER_INPUT']] });
      }
    }
  });
});

describe('a forged cursor on a nested list', () => {
  it('is BAD_USER_INPUT on a campaign’s messages, a contact’s events and messages, and a segment’s contacts', async () => {
    const { secretKey, secret } = await h.workspace();
    const run = async (query: string, variables?: Record<string, unknown>) => (await postRaw(h.kit.graphqlUrl, secretKey, query, variables)).body;
    expect((await run('mutation { upsertContact(input: { externalId: "ada" }) { __typename } }')).data).toEqual({ upsertContact: { __typename: 'MutationUpsertContactSuccess' } });
    const segment = await run('mutation { createSegment(input: { name: "all", rule: { attribute: { path: "externalId", op: EQ, value: "ada" } } }) { ... on MutationCreateSegmentSuccess { data { id } } } }');
    const campaign = await createCampaign(secret, { name: 'c', kind: 'BROADCAST', content: { title: 't', url: 'https://shop.example/' } });
    const lists = {
      'Campaign.messages': [`query($after: String) { node(id: "${campaign}") { ... on Campaign { messages(first: 2, after: $after) { edges { cursor } } } } }`],
      'Contact.events': ['query($after: String) { contact(externalId: "ada") { events(first: 2, after: $after) { edges { cursor } } } }'],
      'Contact.messages': ['query($after: String) { contact(externalId: "ada") { messages(first: 2, after: $after) { edges { cursor } } } }'],
      'Segment.contacts': [`query($after: String) { node(id: "${segment.data!.createSegment.data.id}") { ... on Segment { contacts(first: 2, after: $after) { edges { cursor } } } } }`],
    };
    const answers = [];
    for (const [list, [query]] of Object.entries(lists)) {
      for (const after of forgeries) {
        const { errors } = await run(query!, { after });
        answers.push({ list, after, errors: errors?.map((error: { message: string; extensions?: { code?: string } }) => [error.message, error.extensions?.code]) });
      }
    }
    expect(answers).toEqual(answers.map(({ list, after }) => ({ list, after, errors: [[expect.stringMatching(/cursor/i), 'BAD_USER_INPUT']] })));
  });
});

describe('a cursor whose row was deleted', () => {
  it('keeps its place: the page after it holds the rows after it', async () => {
    const { secretKey } = await h.workspace();
    const create = (name: string) =>
      postRaw(h.kit.graphqlUrl, secretKey, `mutation { createSegment(input: { name: "${name}", rule: { attribute: { path: "plan", op: EQ, value: "pro" } } }) { __typename } }`);
    for (const name of ['first', 'second', 'third']) expect((await create(name)).body.data).toEqual({ createSegment: { __typename: 'MutationCreateSegmentSuccess' } });
    const page = async (after?: string) =>
      (await postRaw(h.kit.graphqlUrl, secretKey, 'query($after: String) { segments(first: 1, after: $after) { edges { cursor node { id name } } pageInfo { hasNextPage } } }', { after })).body.data as {
        segments: { edges: { cursor: string; node: { id: string; name: string } }[]; pageInfo: { hasNextPage: boolean } };
      };
    const one = await page();
    expect(one.segments.edges.map((edge) => edge.node.name)).toEqual(['first']);
    // The client deletes what it just read, then asks for the next page with its cursor.
    const deleted = await postRaw(h.kit.graphqlUrl, secretKey, 'mutation($id: ID!) { deleteSegment(input: { id: $id }) { __typename } }', { id: one.segments.edges[0]!.node.id });
    expect(deleted.body.data).toEqual({ deleteSegment: { __typename: 'MutationDeleteSegmentSuccess' } });
    const two = await page(one.segments.edges[0]!.cursor);
    expect(two.segments.edges.map((edge) => edge.node.name)).toEqual(['second']);
    expect(two.segments.pageInfo.hasNextPage).toBe(true);
    // Back from the last one: the nearest before it, in the list's order.
    const last = (await page(two.segments.edges[0]!.cursor)).segments.edges;
    const back = await postRaw(h.kit.graphqlUrl, secretKey, 'query($before: String) { segments(last: 2, before: $before) { edges { node { name } } pageInfo { hasPreviousPage } } }', { before: last[0]!.cursor });
    expect(back.body.data).toEqual({ segments: { edges: [{ node: { name: 'second' } }], pageInfo: { hasPreviousPage: false } } });
  });
});
