import { describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import { dataOf } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';

/**
 * One person logs in on several devices at once, as a customer Herald does not know yet: every
 * visitor merges into the one new contact, whether the calls are gathered into batches or not.
 */

const Track = graphql(`
  mutation ConcurrentIdentifyTrack($events: [EventInput!]!) { trackEvents(input: { events: $events }) { __typename } }
`);
const Identify = graphql(`
  mutation ConcurrentIdentify($input: MutationIdentifyContactInput!) {
    identifyContact(input: $input) { __typename ... on MutationIdentifyContactSuccess { data { id } } ... on Error { code message } }
  }
`);

for (const batchMs of ['0', '2']) {
  describe(`concurrent identifies of one new customer (HERALD_PUBLIC_BATCH_MS=${batchMs})`, () => {
    const h = useHerald({ HERALD_PUBLIC_BATCH_MS: batchMs }, { push: false });
    const shop = h.useWorkspace();

    it('merges every visitor into the one customer; none fails', async () => {
      const visitors = Array.from({ length: 8 }, (_, i) => `device-${i}`);
      await shop.secret(Track, { events: visitors.map((anonymousId) => ({ anonymousId, name: 'page_view' })) });
      const answers = await Promise.all(visitors.map((anonymousId) => shop.secret(Identify, { input: { anonymousId, externalId: 'same-person' } })));
      const outcomes = answers.map((answer) => (answer.errors ? `error: ${answer.errors[0]!.message}` : dataOf(answer).identifyContact.__typename));
      expect(outcomes).toEqual(visitors.map(() => 'MutationIdentifyContactSuccess'));
      const [row] = await h.kit.herald.prisma.$queryRaw<{ contacts: number; events: number }[]>`
        SELECT (SELECT count(*)::int FROM "Contact") AS contacts,
          (SELECT count(*)::int FROM "Event" e JOIN "Contact" c ON c.id = e."contactId" WHERE c."externalId" = 'same-person') AS events`;
      expect(row).toEqual({ contacts: 1, events: 8 });
    });
  });
}
