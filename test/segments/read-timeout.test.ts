/**
 * A rule that would keep PostgreSQL busy for minutes (a hundred CONTAINS over every contact's large
 * attributes) is stopped at HERALD_SEGMENT_READ_TIMEOUT_MS when the API counts, previews or pages
 * it, and refused as bad input naming the rule; a plain rule over the same contacts still counts.
 */
import { describe, expect, it } from 'vitest';
import { postRaw } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';

const TIMEOUT_MS = 200;
const CONTACTS = 5_000;

const h = useHerald({ HERALD_SEGMENT_READ_TIMEOUT_MS: String(TIMEOUT_MS) }, { push: false });

describe('a segment read that takes too long', () => {
  it('is stopped at the timeout and refused as BAD_USER_INPUT on rule; a plain rule still counts', async () => {
    const { secretKey, workspace } = await h.workspace();
    const workspaceId = Buffer.from(workspace.id, 'base64').toString().split(':')[1]!;
    await h.kit.herald.prisma.$executeRaw`
      INSERT INTO "Contact" (id, "workspaceId", "externalId", attributes, "updatedAt")
      SELECT gen_random_uuid(), ${workspaceId}::uuid, 'c' || n, jsonb_build_object('plan', 'pro', 'bio', repeat(md5(n::text), 64)), now()
      FROM generate_series(1, ${CONTACTS}) n`;
    const run = async (query: string, variables: Record<string, unknown>) => (await postRaw(h.kit.graphqlUrl, secretKey, query, variables)).body;
    const slow = { or: Array.from({ length: 100 }, (_, n) => ({ attribute: { path: 'bio', op: 'CONTAINS', value: `zz${n}` } })) };
    const plain = { attribute: { path: 'plan', op: 'EQ', value: 'pro' } };

    const started = Date.now();
    for (const query of [
      'query($rule: SegmentRuleInput!) { previewSegment(rule: $rule) { count } }',
      'query($rule: SegmentRuleInput!) { previewSegment(rule: $rule) { sample(first: 5) { externalId } } }',
      'query($rule: SegmentRuleInput!) { contacts(first: 5, segment: $rule) { edges { node { externalId } } } }',
    ]) {
      const { errors } = await run(query, { rule: slow });
      expect(errors?.map((error: { message: string; extensions?: { code?: string } }) => [error.message, error.extensions?.code])).toEqual([
        [`rule: took longer than ${TIMEOUT_MS} ms to evaluate over this workspace's contacts: narrow it (fewer conditions on attributes)`, 'BAD_USER_INPUT'],
      ]);
    }
    expect(Date.now() - started).toBeLessThan(30_000); // three refusals, not three full scans
    expect((await run('query($rule: SegmentRuleInput!) { previewSegment(rule: $rule) { count } }', { rule: plain })).data).toEqual({ previewSegment: { count: CONTACTS } });
  });
});
