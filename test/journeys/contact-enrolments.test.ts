/**
 * Contact.journeys over a page of contacts: the enrolments, their journeys and their paths are
 * loaded for the whole page at once, so 100 contacts cost the same statements as 10.
 */
import { describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import { dataOf } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';
import { statementsOf } from '../kit/statements.ts';

const Import = graphql(`
  mutation EnrolmentsImport($contacts: [ContactInput!]!) {
    importContacts(input: { contacts: $contacts }) { __typename }
  }
`);
const Create = graphql(`
  mutation EnrolmentsCreate($input: JourneyInput!) {
    createJourney(input: $input) { __typename ... on MutationCreateJourneySuccess { data { id } } }
  }
`);
const Publish = graphql(`mutation EnrolmentsPublish($id: ID!) { publishJourney(input: { id: $id }) { __typename } }`);
const Enter = graphql(`
  mutation EnrolmentsEnter($journeyId: ID!, $contactId: ID!) {
    enterJourney(input: { journeyId: $journeyId, contactId: $contactId }) { __typename }
  }
`);
const Page = graphql(`
  query EnrolmentsPage($first: Int!) {
    contacts(first: $first) { edges { node { id externalId journeys { status step journey { id name } path { step outcome } } } } }
  }
`);

const h = useHerald({}, { push: false });
const shop = h.useWorkspace();

describe("a page of contacts' journeys", () => {
  it('loads the enrolments, their journeys and paths in a constant number of SQL statements', async () => {
    const contacts = Array.from({ length: 100 }, (_, index) => ({ externalId: `enrolled-${index}` }));
    dataOf(await shop.secret(Import, { contacts }));
    const journeys: string[] = [];
    for (const name of ['Welcome', 'Winback']) {
      const created = dataOf(await shop.secret(Create, { input: { name, entry: { api: true }, steps: [{ key: 'pause', wait: { seconds: 3600 } }] } })).createJourney;
      if (created.__typename !== 'MutationCreateJourneySuccess') throw new Error(created.__typename);
      dataOf(await shop.secret(Publish, { id: created.data.id }));
      journeys.push(created.data.id);
    }
    const ids = dataOf(await shop.secret(Page, { first: 100 })).contacts.edges.map(({ node }) => node.id);
    // Even contacts enter Welcome, every third one Winback too: each row must show its own.
    for (let index = 0; index < ids.length; index += 20) {
      await Promise.all(ids.slice(index, index + 20).flatMap((contactId, offset) => [
        ...((index + offset) % 2 === 0 ? [shop.secret(Enter, { journeyId: journeys[0]!, contactId })] : []),
        ...((index + offset) % 3 === 0 ? [shop.secret(Enter, { journeyId: journeys[1]!, contactId })] : []),
      ]));
    }

    const statementsFor = (first: number) =>
      statementsOf(h.kit.url, async () => {
        const page = dataOf(await shop.secret(Page, { first }));
        for (const [index, { node }] of page.contacts.edges.entries()) {
          const expected = [...(index % 2 === 0 ? ['Welcome'] : []), ...(index % 3 === 0 ? ['Winback'] : [])];
          expect(node.journeys.map((enrolment) => enrolment.journey.name).sort()).toEqual(expected);
          expect(node.journeys.every((enrolment) => enrolment.status === 'ACTIVE' && enrolment.path.at(-1)?.step === 'pause')).toBe(true);
        }
      });
    const forTen = await statementsFor(10);
    const forHundred = await statementsFor(100);
    expect(forHundred).toBe(forTen);
  });
});
