import { describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import { outcome } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';

/**
 * Races the identify lock (one externalId's identifies, one after the other) does not cover by
 * itself: the backend creating a customer (an upsert, an import, an event naming them) while a page
 * identifies a visitor into them, and one visitor identified into two customers at once. Each ends
 * as if the calls came one after the other.
 */

const Track = graphql(`
  mutation IdentifyRaceTrack($events: [EventInput!]!) { trackEvents(input: { events: $events }) { __typename } }
`);
const Upsert = graphql(`
  mutation IdentifyRaceUpsert($input: ContactInput!) { upsertContact(input: $input) { __typename ... on Error { message } } }
`);
const Import = graphql(`
  mutation IdentifyRaceImport($contacts: [ContactInput!]!) {
    importContacts(input: { contacts: $contacts }) { __typename ... on Error { message } ... on MutationImportContactsSuccess { data { failed { index } } } }
  }
`);
const Identify = graphql(`
  mutation IdentifyRaceIdentify($input: MutationIdentifyContactInput!) { identifyContact(input: $input) { __typename ... on Error { message } } }
`);

const ROUNDS = 12;

for (const batchMs of ['0', '2']) describe(`identify racing other writers (HERALD_PUBLIC_BATCH_MS=${batchMs})`, () => {
  const h = useHerald({ HERALD_PUBLIC_BATCH_MS: batchMs }, { push: false });
  const shop = h.useWorkspace();
  // A fresh database: this shop's contacts are all there are.
  const contactsOf = (where: { externalId?: string; anonymousId?: string }) =>
    h.kit.herald.prisma.contact.findMany({ where, include: { events: true } });

  it("the backend's upsert of a new customer and an identify into them, at once: one contact, nothing refused", async () => {
    const rounds = [];
    for (let round = 0; round < ROUNDS; round++) {
      const [externalId, anonymousId] = [`new-customer-${round}`, `their-visitor-${round}`];
      const seen = round % 2 === 0; // the visitor browsed first (an anonymous contact), or logs in on their first call
      if (seen) await shop.secret(Track, { events: [{ anonymousId, name: 'page_view' }] });
      const answers = await Promise.all([
        shop.secret(Upsert, { input: { externalId, attributes: { plan: 'gold' } } }),
        shop.secret(Identify, { input: { anonymousId, externalId } }),
      ]);
      const customers = await contactsOf({ externalId });
      rounds.push({
        round,
        outcomes: answers.map(outcome),
        customers: customers.map((contact) => ({ anonymousId: contact.anonymousId, plan: (contact.attributes as { plan?: string }).plan, events: contact.events.length })),
        visitorContacts: (await contactsOf({ anonymousId })).length,
      });
    }
    expect(rounds).toEqual(
      rounds.map(({ round }) => ({
        round,
        outcomes: ['success', 'success'],
        customers: [{ anonymousId: `their-visitor-${round}`, plan: 'gold', events: round % 2 === 0 ? 1 : 0 }],
        visitorContacts: 1,
      })),
    );
  });

  // The backend names a new customer (an event for them, or an import) while a page identifies a
  // visitor into them: the identify finds no customer yet and loses the race for the externalId.
  const creators = [
    { creator: "an event for them (the backend's trackEvents)", key: 'tracked', create: (externalId: string) => shop.secret(Track, { events: [{ externalId, name: 'signed_up' }] }), events: ['signed_up'], plan: undefined },
    { creator: 'an import of them', key: 'imported', create: (externalId: string) => shop.secret(Import, { contacts: [{ externalId, attributes: { plan: 'gold' } }] }), events: [], plan: 'gold' },
  ];
  for (const { creator, key, create, events, plan } of creators) {
    it(`${creator} and an identify into a new customer, at once: one contact with everything, nothing refused`, async () => {
      const rounds = [];
      for (let round = 0; round < ROUNDS; round++) {
        const [externalId, anonymousId] = [`${key}-customer-${round}`, `${key}-visitor-${round}`];
        const seen = round % 2 === 0;
        if (seen) await shop.secret(Track, { events: [{ anonymousId, name: 'page_view' }] });
        const identify = () => shop.secret(Identify, { input: { anonymousId, externalId } });
        // Either call is sent first, so that each side loses the race for the externalId in some rounds.
        const identified = round % 4 >= 2 ? identify() : undefined;
        const answers = await Promise.all([create(externalId), identified ?? identify()]);
        const customers = await contactsOf({ externalId });
        rounds.push({
          round,
          outcomes: answers.map(outcome),
          customers: customers.map((contact) => ({
            anonymousId: contact.anonymousId,
            plan: (contact.attributes as { plan?: string }).plan,
            events: contact.events.map((event) => event.name).sort(),
          })),
          visitorContacts: (await contactsOf({ anonymousId })).length,
        });
      }
      expect(rounds).toEqual(
        rounds.map(({ round }) => ({
          round,
          outcomes: ['success', 'success'],
          customers: [{ anonymousId: `${key}-visitor-${round}`, plan, events: [...events, ...(round % 2 === 0 ? ['page_view'] : [])].sort() }],
          visitorContacts: 1,
        })),
      );
    });
  }

  it('one visitor identified into two customers at once: one takes the visitor, the other is created, nothing refused', async () => {
    const rounds = [];
    for (let round = 0; round < ROUNDS; round++) {
      const anonymousId = `shared-device-${round}`;
      const externalIds = [`first-${round}`, `second-${round}`];
      const seen = round % 2 === 0;
      if (seen) await shop.secret(Track, { events: [{ anonymousId, name: 'page_view' }] });
      const answers = await Promise.all(externalIds.map((externalId) => shop.secret(Identify, { input: { anonymousId, externalId } })));
      const customers = (await Promise.all(externalIds.map((externalId) => contactsOf({ externalId })))).flat();
      rounds.push({
        round,
        outcomes: answers.map(outcome),
        customers: customers.length,
        // The visitor (and what they did) went to exactly one of them.
        withVisitor: customers.filter((contact) => contact.anonymousId === anonymousId).map((contact) => contact.events.length),
        events: customers.reduce((sum, contact) => sum + contact.events.length, 0),
      });
    }
    expect(rounds).toEqual(
      rounds.map(({ round }) => ({ round, outcomes: ['success', 'success'], customers: 2, withVisitor: [round % 2 === 0 ? 1 : 0], events: round % 2 === 0 ? 1 : 0 })),
    );
  });
});
