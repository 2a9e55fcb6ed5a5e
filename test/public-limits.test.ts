import { describe, expect, it } from 'vitest';
import { graphql } from './generated/index.ts';
import { dataOf } from './kit/client.ts';
import { useHerald } from './kit/fixture.ts';
import { browserSubscription } from './kit/push-keys.ts';
import { statementsOf } from './kit/statements.ts';

const Register = graphql(`
  mutation LimitsRegister($input: MutationRegisterPushSubscriptionInput!) {
    registerPushSubscription(input: $input) { __typename }
  }
`);
const Import = graphql(`
  mutation LimitsImport($contacts: [ContactInput!]!) {
    importContacts(input: { contacts: $contacts }) { __typename ... on MutationImportContactsSuccess { data { created } } }
  }
`);
const PublicConfig = graphql(`query LimitsPublicConfig { publicConfig { vapidPublicKey } }`);
const Page = graphql(`
  query LimitsPage($first: Int!) {
    contacts(first: $first) { totalCount edges { node { id tags pushSubscriptions { id endpoint } } } }
  }
`);

const h = useHerald({ HERALD_PUBLIC_RATE_LIMIT: '5' }, { push: false });
const shop = h.useWorkspace();


describe('public operations', () => {
  it('rate-limits a publishable key per address with 429 and Retry-After', async () => {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let attempt = 0; attempt < 7; attempt++) {
      const response = await fetch(h.kit.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${shop.publishableKey}` },
        body: JSON.stringify({ query: '{ publicConfig { vapidPublicKey } }' }),
      });
      statuses.push(response.status);
      if (response.status === 429) {
        retryAfter = response.headers.get('retry-after');
        expect(await response.json()).toMatchObject({ errors: [{ extensions: { code: 'RATE_LIMITED' } }] });
      } else {
        await response.body?.cancel();
      }
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    // The secret key of the same workspace is not limited.
    expect(dataOf(await shop.secret(PublicConfig)).publicConfig.vapidPublicKey).toBe(shop.workspace.vapidPublicKey);
  });
});

describe('no N+1', () => {
  it('loads a page of contacts with their subscriptions in a constant number of SQL statements', async () => {
    const contacts = Array.from({ length: 100 }, (_, index) => ({ externalId: `page-${index}`, tags: ['seed'] }));
    expect(dataOf(await shop.secret(Import, { contacts })).importContacts).toMatchObject({ data: { created: 100 } });
    // Subscriptions through the real mutation, with the secret key (the publishable one is rate-limited here).
    for (let index = 0; index < 100; index += 20) {
      await Promise.all(
        contacts.slice(index, index + 20).map((contact) => shop.secret(Register, { input: { externalId: contact.externalId, subscription: browserSubscription() } })),
      );
    }

    const statementsFor = (first: number) =>
      statementsOf(h.kit.url, async () => {
        const result = dataOf(await shop.secret(Page, { first }));
        expect(result.contacts.edges).toHaveLength(first);
        expect(result.contacts.edges.every((edge) => edge.node.pushSubscriptions.length === 1)).toBe(true);
      }, 5);
    const forTen = await statementsFor(10);
    const forHundred = await statementsFor(100);
    expect(forHundred).toBe(forTen);
    expect(forHundred).toBeLessThanOrEqual(5);
  });
});
