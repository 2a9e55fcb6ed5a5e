import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import { dataOf } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';

/**
 * A visitor in a journey who then signs in as a customer Herald already knows: identify merges the
 * visitor's contact into the customer's and deletes the visitor's row. The enrolment must move with
 * the events and messages, not be deleted with the row; but one person walks a journey once at a
 * time, so where the customer may not enter again the visitor's enrolment ends, path outcome merged.
 */

const Upsert = graphql(`
  mutation MergeUpsert($input: ContactInput!) {
    upsertContact(input: $input) { __typename ... on MutationUpsertContactSuccess { data { id } } ... on Error { message } }
  }
`);
const Create = graphql(`
  mutation MergeCreateJourney($input: JourneyInput!) {
    createJourney(input: $input) { __typename ... on MutationCreateJourneySuccess { data { id } } ... on Error { message } }
  }
`);
const Publish = graphql(`
  mutation MergePublishJourney($id: ID!) {
    publishJourney(input: { id: $id }) { __typename ... on Error { message } }
  }
`);
const Enter = graphql(`
  mutation MergeEnterJourney($journeyId: ID!, $contactId: ID!) {
    enterJourney(input: { journeyId: $journeyId, contactId: $contactId }) { __typename ... on Error { code message } }
  }
`);
const Identify = graphql(`
  mutation MergeIdentify($input: MutationIdentifyContactInput!) {
    identifyContact(input: $input) { __typename ... on MutationIdentifyContactSuccess { data { id } } ... on Error { code message } }
  }
`);
const JourneysOf = graphql(`
  query MergeJourneysOf($externalId: String!) {
    contact(externalId: $externalId) { journeys { status step path { step outcome } } }
  }
`);

describe('identify and journeys', () => {
  const h = useHerald({}, { push: false });
  const shop = h.useWorkspace();

  it("a visitor's enrolment stays with the customer they turn out to be", async () => {
    const upsert = async (input: Record<string, unknown>) => {
      const result = dataOf(await shop.secret(Upsert, { input } as never)).upsertContact;
      if (result.__typename !== 'MutationUpsertContactSuccess') throw new Error(JSON.stringify(result));
      return result.data.id;
    };
    const visitor = await upsert({ anonymousId: 'visitor-42' });
    const customer = await upsert({ externalId: 'customer-42', firstName: 'Ada' });
    const created = dataOf(await shop.secret(Create, { input: { name: 'Welcome', entry: { api: true }, steps: [{ key: 'pause', wait: { seconds: 3600 } }] } } as never)).createJourney;
    if (created.__typename !== 'MutationCreateJourneySuccess') throw new Error(JSON.stringify(created));
    expect(dataOf(await shop.secret(Publish, { id: created.data.id })).publishJourney.__typename).toBe('MutationPublishJourneySuccess');
    expect(dataOf(await shop.secret(Enter, { journeyId: created.data.id, contactId: visitor })).enterJourney.__typename).toBe('MutationEnterJourneySuccess');

    const identified = dataOf(await shop.secret(Identify, { input: { anonymousId: 'visitor-42', externalId: 'customer-42' } })).identifyContact;
    expect(identified).toMatchObject({ __typename: 'MutationIdentifyContactSuccess', data: { id: customer } });
    const journeys = dataOf(await shop.secret(JourneysOf, { externalId: 'customer-42' })).contact!.journeys;
    expect(journeys).toHaveLength(1);
    expect(journeys[0]).toMatchObject({ status: 'ACTIVE', step: 'pause' });
  });

  it('a visitor and a customer both in a once-ever journey: the merged person walks it once, one email', { timeout: 60_000 }, async () => {
    const upsert = async (input: Record<string, unknown>) => {
      const result = dataOf(await shop.secret(Upsert, { input } as never)).upsertContact;
      if (result.__typename !== 'MutationUpsertContactSuccess') throw new Error(JSON.stringify(result));
      return result.data.id;
    };
    const visitor = await upsert({ anonymousId: 'visitor-7' });
    const customer = await upsert({ externalId: 'customer-7', email: 'c7@example.com' });
    const created = dataOf(await shop.secret(Create, { input: {
      name: 'Onboarding', entry: { api: true }, frequencyCapped: false,
      steps: [
        { key: 'pause', wait: { seconds: 2, next: 'mail' } },
        { key: 'mail', send: { channel: 'EMAIL', email: { subject: 'Hi', html: '<p>Hi</p>' } } },
      ],
    } } as never)).createJourney;
    if (created.__typename !== 'MutationCreateJourneySuccess') throw new Error(JSON.stringify(created));
    const journeyId = created.data.id;
    await shop.secret(Publish, { id: journeyId });
    expect(dataOf(await shop.secret(Enter, { journeyId, contactId: visitor })).enterJourney.__typename).toBe('MutationEnterJourneySuccess');
    expect(dataOf(await shop.secret(Enter, { journeyId, contactId: customer })).enterJourney.__typename).toBe('MutationEnterJourneySuccess');

    const identified = dataOf(await shop.secret(Identify, { input: { anonymousId: 'visitor-7', externalId: 'customer-7' } })).identifyContact;
    expect(identified).toMatchObject({ __typename: 'MutationIdentifyContactSuccess', data: { id: customer } });

    // Until the waits are over and the send step ran.
    const deadline = Date.now() + 20_000;
    let journeys = dataOf(await shop.secret(JourneysOf, { externalId: 'customer-7' })).contact!.journeys;
    while (journeys.some((row) => row.status === 'ACTIVE') && Date.now() < deadline) {
      await sleep(200);
      journeys = dataOf(await shop.secret(JourneysOf, { externalId: 'customer-7' })).contact!.journeys;
    }
    // The visitor's enrolment stays in the history, ended where it was when the two became one.
    expect(journeys).toHaveLength(2);
    expect(journeys.filter((row) => row.status === 'COMPLETED')).toHaveLength(1);
    expect(journeys.find((row) => row.status === 'EXITED')!.path).toEqual([{ step: 'pause', outcome: 'merged' }]);
    const [emails] = await h.kit.herald.prisma.$queryRaw<{ n: number }[]>`
      SELECT count(*)::int AS n FROM "Message" m JOIN "Contact" c ON c.id = m."contactId" WHERE c."externalId" = 'customer-7' AND m.channel = 'EMAIL' AND m.status <> 'SUPPRESSED'`;
    expect(emails!.n).toBe(1);
  });
});
