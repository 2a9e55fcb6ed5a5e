import { describe, expect, it } from 'vitest';
import { graphql } from './generated/index.ts';
import { dataOf, errorCodes } from './kit/client.ts';
import { useHerald } from './kit/fixture.ts';

const ContactFields = `id externalId anonymousId email phone firstName lastName locale timezone attributes tags identified consentedAt lastSeenAt createdAt`;
const Upsert = graphql(`
  mutation ContactsUpsert($input: ContactInput!) {
    upsertContact(input: $input) {
      __typename
      ... on MutationUpsertContactSuccess { data { id externalId anonymousId email phone firstName lastName locale timezone attributes tags identified consentedAt lastSeenAt createdAt } }
      ... on ValidationError { fieldErrors { path message } }
      ... on Error { code message }
    }
  }
`);
const ByExternalId = graphql(`
  query ContactsByExternalId($externalId: String!) {
    contact(externalId: $externalId) { id email firstName attributes tags identified }
  }
`);
const ByEmail = graphql(`query ContactsByEmail($email: String!) { contact(email: $email) { id externalId } }`);
const ById = graphql(`query ContactsById($id: ID!) { contact(id: $id) { id externalId } }`);
const List = graphql(`
  query ContactsList($first: Int, $after: String) {
    contacts(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id externalId } } }
  }
`);
const Import = graphql(`
  mutation ContactsImport($contacts: [ContactInput!]!) {
    importContacts(input: { contacts: $contacts }) {
      __typename
      ... on MutationImportContactsSuccess { data { created updated failed { index errors { path message } } } }
      ... on ValidationError { fieldErrors { path message } }
    }
  }
`);
const Tag = graphql(`
  mutation ContactsTag($ids: [ID!]!, $tags: [String!]!) {
    tagContacts(input: { ids: $ids, tags: $tags }) { __typename ... on MutationTagContactsSuccess { data { count } } ... on ValidationError { fieldErrors { path } } }
  }
`);
const Untag = graphql(`
  mutation ContactsUntag($ids: [ID!]!, $tags: [String!]!) {
    untagContacts(input: { ids: $ids, tags: $tags }) { __typename ... on MutationUntagContactsSuccess { data { count } } }
  }
`);
const Delete = graphql(`
  mutation ContactsDelete($id: ID!) {
    deleteContact(input: { id: $id }) { __typename ... on MutationDeleteContactSuccess { data { id } } ... on Error { code } }
  }
`);

const h = useHerald({}, { push: false });
const shop = h.useWorkspace('Shop');
const other = h.useWorkspace('Other');


async function upsert(input: Parameters<typeof shop.secret<unknown, { input: Record<string, unknown> }>>[1]['input']) {
  return dataOf(await shop.secret(Upsert, { input })).upsertContact;
}
async function contactCount() {
  return h.kit.herald.prisma.contact.count();
}

describe('upsertContact', () => {
  it('creates an identified contact and reads it back', async () => {
    const result = await upsert({
      externalId: 'u-1', email: 'Ada@Example.com', phone: '+48123456789', firstName: 'Ada', lastName: 'Lovelace',
      locale: 'pl-PL', timezone: 'Europe/Warsaw', attributes: { city: 'Warsaw', interests: ['shoes'] }, tags: ['vip'],
    });
    expect(result).toMatchObject({
      __typename: 'MutationUpsertContactSuccess',
      data: { externalId: 'u-1', email: 'ada@example.com', identified: true, tags: ['vip'], attributes: { city: 'Warsaw', interests: ['shoes'] } },
    });
    expect(dataOf(await shop.secret(ByExternalId, { externalId: 'u-1' })).contact).toMatchObject({ email: 'ada@example.com', firstName: 'Ada' });
    expect(dataOf(await shop.secret(ByEmail, { email: 'ADA@example.com' })).contact).toMatchObject({ externalId: 'u-1' });
  });

  it('matches by externalId, else email, else anonymousId, merging attributes and adding tags', async () => {
    await upsert({ email: 'bob@example.com', attributes: { a: 1, b: 1 }, tags: ['x'] });
    const byEmail = await upsert({ email: 'bob@example.com', externalId: 'u-bob', attributes: { b: 2 }, tags: ['y'] });
    if (byEmail.__typename !== 'MutationUpsertContactSuccess') throw new Error(byEmail.__typename);
    expect(byEmail.data).toMatchObject({ externalId: 'u-bob', attributes: { a: 1, b: 2 } });
    expect([...byEmail.data.tags].sort()).toEqual(['x', 'y']);

    const anonymous = await upsert({ anonymousId: 'anon-1', firstName: 'Visitor' });
    expect(anonymous).toMatchObject({ data: { identified: false, anonymousId: 'anon-1' } });
    const again = await upsert({ anonymousId: 'anon-1', lastName: 'Later' });
    expect(again).toMatchObject({ data: { firstName: 'Visitor', lastName: 'Later' } });
    if (anonymous.__typename !== 'MutationUpsertContactSuccess' || again.__typename !== 'MutationUpsertContactSuccess') throw new Error();
    expect(again.data.id).toBe(anonymous.data.id);
  });

  it('refuses to give one contact a key another contact owns', async () => {
    await upsert({ externalId: 'u-c1', email: 'c1@example.com' });
    await upsert({ externalId: 'u-c2', email: 'c2@example.com' });
    const before = await contactCount();
    const result = await upsert({ externalId: 'u-c1', email: 'c2@example.com' });
    expect(result).toMatchObject({ __typename: 'ConflictError', code: 'contact/key_taken' });
    expect(await contactCount()).toBe(before);
    expect(dataOf(await shop.secret(ByExternalId, { externalId: 'u-c1' })).contact).toBeTruthy();
  });

  it.each([
    ['no key at all', { firstName: 'Nobody' }, ['input', 'externalId']],
    ['a bad email', { externalId: 'bad-1', email: 'not-an-email' }, ['input', 'email']],
    ['an unknown time zone', { externalId: 'bad-2', timezone: 'Europe/Atlantis' }, ['input', 'timezone']],
    ['a bad locale', { externalId: 'bad-3', locale: 'en_US!!' }, ['input', 'locale']],
    ['a bad phone', { externalId: 'bad-4', phone: '123' }, ['input', 'phone']],
    ['non-object attributes', { externalId: 'bad-5', attributes: [1, 2] }, ['input', 'attributes']],
    ['string attributes', { externalId: 'bad-6', attributes: 'city=Warsaw' }, ['input', 'attributes']],
    ['20 KB attributes', { externalId: 'bad-7', attributes: { blob: 'x'.repeat(20 * 1024) } }, ['input', 'attributes']],
    ['a bad tag', { externalId: 'bad-8', tags: ['has space'] }, ['input', 'tags', '0']],
    ['an empty externalId', { externalId: '  ' }, ['input', 'externalId']],
  ])('answers %s with a ValidationError and stores nothing', async (_name, input, path) => {
    const before = await contactCount();
    const result = await upsert(input);
    expect(result.__typename).toBe('ValidationError');
    if (result.__typename !== 'ValidationError') return;
    expect(result.fieldErrors.map((error) => error.path)).toContainEqual(path);
    expect(await contactCount()).toBe(before);
  });
});

describe('contacts and contact', () => {
  it('pages through contacts with totalCount', async () => {
    const total = await h.kit.herald.prisma.contact.count({ where: { workspace: { name: 'Shop' } } });
    const seen: string[] = [];
    let after: string | null | undefined = null;
    for (;;) {
      const page: Awaited<ReturnType<typeof shop.secret<any, any>>> = await shop.secret(List, { first: 2, after });
      const contacts = dataOf(page).contacts as { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: { node: { id: string } }[] };
      expect(contacts.totalCount).toBe(total);
      seen.push(...contacts.edges.map((edge) => edge.node.id));
      if (!contacts.pageInfo.hasNextPage) break;
      after = contacts.pageInfo.endCursor;
    }
    expect(new Set(seen).size).toBe(total);
  });

  it('never shows another workspace’s contacts', async () => {
    const mine = dataOf(await shop.secret(ByExternalId, { externalId: 'u-1' })).contact!;
    expect(dataOf(await other.secret(ByExternalId, { externalId: 'u-1' })).contact).toBeNull();
    expect(dataOf(await other.secret(ById, { id: mine.id })).contact).toBeNull();
    expect(dataOf(await other.secret(List, { first: 10 })).contacts.totalCount).toBe(0);
  });

  it('asks for exactly one lookup key', async () => {
    const result = await shop.secret(graphql(`query ContactsNoKey { contact { id } }`));
    expect(errorCodes(result)).toEqual(['BAD_USER_INPUT']);
  });
});

describe('importContacts', () => {
  it('applies valid rows, reports invalid ones by index, and counts created and updated', async () => {
    const before = await contactCount();
    const result = dataOf(
      await shop.secret(Import, {
        contacts: [
          { externalId: 'imp-1', email: 'imp1@example.com' },
          { externalId: 'imp-2', email: 'broken' },
          { externalId: 'u-1', firstName: 'Ada Updated' },
          { externalId: 'imp-3', attributes: 'nope' },
          { externalId: 'imp-1', lastName: 'Twice' },
        ],
      }),
    ).importContacts;
    expect(result).toEqual({
      __typename: 'MutationImportContactsSuccess',
      data: {
        created: 1,
        updated: 2,
        failed: [
          { index: 1, errors: [{ path: ['email'], message: expect.any(String) }] },
          { index: 3, errors: [{ path: ['attributes'], message: expect.any(String) }] },
        ],
      },
    });
    expect(await contactCount()).toBe(before + 1);
    expect(dataOf(await shop.secret(ByExternalId, { externalId: 'u-1' })).contact?.firstName).toBe('Ada Updated');
  });

  it('refuses more than 10,000 rows and stores nothing', async () => {
    const before = await contactCount();
    const contacts = Array.from({ length: 10_001 }, (_, index) => ({ externalId: `too-many-${index}` }));
    const result = dataOf(await shop.secret(Import, { contacts })).importContacts;
    expect(result).toMatchObject({ __typename: 'ValidationError', fieldErrors: [{ path: ['input', 'contacts'] }] });
    expect(await contactCount()).toBe(before);
  });
});

describe('tags and deletion', () => {
  it('tags and untags many contacts at once', async () => {
    const ids = await Promise.all(['tag-1', 'tag-2', 'tag-3'].map(async (externalId) => {
      const result = await upsert({ externalId });
      if (result.__typename !== 'MutationUpsertContactSuccess') throw new Error();
      return result.data.id;
    }));
    expect(dataOf(await shop.secret(Tag, { ids, tags: ['summer', 'sale'] })).tagContacts).toMatchObject({ data: { count: 3 } });
    expect(dataOf(await shop.secret(Tag, { ids, tags: ['summer'] })).tagContacts).toMatchObject({ data: { count: 0 } });
    expect(dataOf(await shop.secret(Untag, { ids: ids.slice(0, 2), tags: ['sale'] })).untagContacts).toMatchObject({ data: { count: 2 } });
    const third = dataOf(await shop.secret(ByExternalId, { externalId: 'tag-3' })).contact!;
    expect([...third.tags].sort()).toEqual(['sale', 'summer']);
    const first = dataOf(await shop.secret(ByExternalId, { externalId: 'tag-1' })).contact!;
    expect(first.tags).toEqual(['summer']);
    // Another workspace cannot tag them.
    expect(dataOf(await other.secret(Tag, { ids, tags: ['stolen'] })).tagContacts).toMatchObject({ data: { count: 0 } });
    expect(dataOf(await shop.secret(Tag, { ids: ['garbage'], tags: ['x'] })).tagContacts).toMatchObject({
      __typename: 'ValidationError', fieldErrors: [{ path: ['input', 'ids', '0'] }],
    });
  });

  it('erases a contact, and answers NotFoundError for a foreign one', async () => {
    const created = await upsert({ externalId: 'to-delete' });
    if (created.__typename !== 'MutationUpsertContactSuccess') throw new Error();
    expect(dataOf(await other.secret(Delete, { id: created.data.id })).deleteContact).toMatchObject({ __typename: 'NotFoundError' });
    expect(dataOf(await shop.secret(Delete, { id: created.data.id })).deleteContact).toEqual({
      __typename: 'MutationDeleteContactSuccess', data: { id: created.data.id },
    });
    expect(dataOf(await shop.secret(ByExternalId, { externalId: 'to-delete' })).contact).toBeNull();
  });
});

void ContactFields;
