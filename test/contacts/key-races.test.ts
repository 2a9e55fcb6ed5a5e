import { describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import { outcome } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';

/**
 * The backend's writers of one new customer at once: upserts, imports and events naming them. Only
 * upserts and identifies take the identify lock, so the others race for the customer's externalId;
 * the loser runs again and updates the winner's contact (contacts/apply.ts, retryingKeyRaces).
 */

const Track = graphql(`
  mutation KeyRaceTrack($events: [EventInput!]!) { trackEvents(input: { events: $events }) { __typename } }
`);
const Upsert = graphql(`
  mutation KeyRaceUpsert($input: ContactInput!) { upsertContact(input: $input) { __typename ... on Error { message } } }
`);
const Import = graphql(`
  mutation KeyRaceImport($contacts: [ContactInput!]!) {
    importContacts(input: { contacts: $contacts }) { __typename ... on Error { message } ... on MutationImportContactsSuccess { data { failed { index } } } }
  }
`);

const ROUNDS = 12;

describe('backend writers of one new customer at once', () => {
  const h = useHerald({}, { push: false });
  const shop = h.useWorkspace();

  // Each writer leaves its mark: an attribute of its own, or an event.
  const writers = {
    upsert: (externalId: string) => shop.secret(Upsert, { input: { externalId, attributes: { upsert: true } } }),
    import: (externalId: string) => shop.secret(Import, { contacts: [{ externalId, attributes: { import: true } }] }),
    event: (externalId: string) => shop.secret(Track, { events: [{ externalId, name: 'signed_up' }] }),
  };
  const pairs = [
    ['upsert', 'event'],
    ['upsert', 'import'],
    ['import', 'import'],
    ['import', 'event'],
  ] as const;

  for (const [first, second] of pairs) {
    it(`an ${first} and an ${second} of a new customer: one contact with both, nothing refused`, async () => {
      const rounds = [];
      for (let round = 0; round < ROUNDS; round++) {
        const externalId = `${first}-${second}-${round}`;
        const answers = await Promise.all([writers[first](externalId), writers[second](externalId)]);
        const customers = await h.kit.herald.prisma.contact.findMany({ where: { externalId }, include: { events: true } });
        rounds.push({
          round,
          outcomes: answers.map(outcome),
          customers: customers.map((contact) => ({ attributes: contact.attributes, events: contact.events.length })),
        });
      }
      const marks = [first, second].filter((writer) => writer !== 'event');
      expect(rounds).toEqual(
        rounds.map(({ round }) => ({
          round,
          outcomes: ['success', 'success'],
          customers: [{ attributes: Object.fromEntries(marks.map((mark) => [mark, true])), events: second === 'event' ? 1 : 0 }],
        })),
      );
    });
  }
});
