/**
 * A cursor a client made up (right prefix, wrong content) is bad input on every root list, never
 * a masked "Unexpected error.".
 */
import { describe, expect, it } from 'vitest';
import { postRaw } from './kit/client.ts';
import { useHerald } from './kit/fixture.ts';

const h = useHerald({}, { push: false });
const shop = h.useWorkspace();

const lists = ['contacts', 'segments', 'campaigns', 'journeys', 'links'];
const cursor = (text: string) => Buffer.from(text).toString('base64');

describe('a forged cursor', () => {
  it('is BAD_USER_INPUT on every root connection', async () => {
    for (const list of lists) {
      for (const after of [cursor('GPC:S:not-a-uuid'), cursor('GPC:J:{"id":1}'), cursor('GPC:N:7')]) {
        const { body } = await postRaw(h.kit.graphqlUrl, shop.secretKey, `query($after: String) { ${list}(first: 2, after: $after) { totalCount edges { cursor } } }`, { after });
        expect({ list, after, errors: body.errors?.map((error) => [error.message, error.extensions?.code]) })
          .toEqual({ list, after, errors: [['Invalid cursor', 'BAD_USER_INPUT']] });
      }
    }
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
