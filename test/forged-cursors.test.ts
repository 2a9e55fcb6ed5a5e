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
