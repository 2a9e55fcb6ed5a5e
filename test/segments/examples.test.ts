import { beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import { dataOf, errorCodes } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';
import { browserSubscription } from '../kit/push-keys.ts';

const Import = graphql(`
  mutation SegImport($contacts: [ContactInput!]!) { importContacts(input: { contacts: $contacts }) { __typename } }
`);
const Track = graphql(`
  mutation SegTrack($events: [EventInput!]!) { trackEvents(input: { events: $events }) { __typename ... on MutationTrackEventsSuccess { data { count } } } }
`);
const Register = graphql(`
  mutation SegRegister($anonymousId: String!, $subscription: PushSubscriptionJSONInput!) {
    registerPushSubscription(input: { anonymousId: $anonymousId, subscription: $subscription }) { __typename }
  }
`);
const Preview = graphql(`
  query SegPreview($rule: SegmentRuleInput!, $audience: Audience) {
    previewSegment(rule: $rule, audience: $audience) { count sample(first: 50) { externalId anonymousId } }
  }
`);
const Create = graphql(`
  mutation SegCreate($name: String!, $rule: SegmentRuleInput!, $audience: Audience) {
    createSegment(input: { name: $name, rule: $rule, audience: $audience }) {
      __typename
      ... on MutationCreateSegmentSuccess { data { id name size audience rule } }
      ... on ValidationError { fieldErrors { path message } }
    }
  }
`);
const Update = graphql(`
  mutation SegUpdate($id: ID!, $rule: SegmentRuleInput) {
    updateSegment(input: { id: $id, rule: $rule }) { __typename ... on MutationUpdateSegmentSuccess { data { size } } ... on ValidationError { fieldErrors { path } } }
  }
`);
const Delete = graphql(`
  mutation SegDelete($id: ID!) { deleteSegment(input: { id: $id }) { __typename ... on Error { code } } }
`);
const Members = graphql(`
  query SegMembers($id: ID!, $after: String) {
    segment(id: $id) { size contacts(first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { externalId } } } }
  }
`);
const ContactsOf = graphql(`
  query SegContactsOf($segmentId: ID, $segment: SegmentRuleInput) {
    contacts(first: 100, segmentId: $segmentId, segment: $segment) { totalCount edges { node { externalId } } }
  }
`);

const h = useHerald({}, { push: false });
const shop = h.useWorkspace();
const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();

beforeAll(async () => {
  await shop.secret(Import, {
    contacts: [
      { externalId: 'anna', attributes: { gender: 'female', city: 'Berlin', age: 29 } },
      { externalId: 'berta', attributes: { gender: 'female', city: 'Berlin', age: 41 } },
      { externalId: 'clara', attributes: { gender: 'female', city: 'Munich', age: 30 } },
      { externalId: 'dirk', attributes: { gender: 'male', city: 'Berlin', age: 27 } },
      { externalId: 'emma', attributes: { gender: 'female', city: 'Berlin', age: 25 } },
    ],
  });
  await shop.secret(Track, {
    events: [
      { externalId: 'anna', name: 'added_to_cart', occurredAt: daysAgo(2) },
      { externalId: 'berta', name: 'added_to_cart', occurredAt: daysAgo(3) },
      { externalId: 'berta', name: 'purchase', properties: { value: 60 }, occurredAt: daysAgo(1) },
      { externalId: 'clara', name: 'added_to_cart', occurredAt: daysAgo(20) },
      { externalId: 'clara', name: 'purchase', properties: { value: 70 }, occurredAt: daysAgo(10) },
      { externalId: 'clara', name: 'purchase', properties: { value: 40 }, occurredAt: daysAgo(25) },
      { externalId: 'dirk', name: 'purchase', properties: { value: 500 }, occurredAt: daysAgo(45) },
      { externalId: 'emma', name: 'page_view', occurredAt: daysAgo(20) },
    ],
  });
  for (const anonymousId of ['visitor-a', 'visitor-b']) await shop.publishable(Register, { anonymousId, subscription: browserSubscription() });
  await shop.secret(Import, { contacts: [{ anonymousId: 'visitor-c' }] });
});

async function preview(rule: any, audience?: 'ALL' | 'IDENTIFIED' | 'ANONYMOUS') {
  const { previewSegment } = dataOf(await shop.secret(Preview, { rule, audience }));
  return { count: previewSegment.count, who: previewSegment.sample.map((c) => c.externalId ?? c.anonymousId).sort() };
}

describe('readable segments', () => {
  it('women in Berlin aged 25-34', async () => {
    const rule = { and: [
      { attribute: { path: 'gender', op: 'EQ', value: 'female' } },
      { attribute: { path: 'city', op: 'EQ', value: 'Berlin' } },
      { attribute: { path: 'age', op: 'GTE', value: 25 } },
      { attribute: { path: 'age', op: 'LTE', value: 34 } },
    ] };
    expect(await preview(rule)).toEqual({ count: 2, who: ['anna', 'emma'] });
  });

  it('added_to_cart in the last 7 days but no purchase', async () => {
    const rule = { and: [{ event: { name: 'added_to_cart', withinDays: 7 } }, { not: { event: { name: 'purchase', withinDays: 7 } } }] };
    expect(await preview(rule)).toEqual({ count: 1, who: ['anna'] });
  });

  it('spent ≥ 100 in the last 30 days', async () => {
    const rule = { aggregate: { event: 'purchase', property: 'value', fn: 'SUM', op: 'GTE', value: 100, withinDays: 30 } };
    expect(await preview(rule)).toEqual({ count: 1, who: ['clara'] });
  });

  it('not seen for 14 days', async () => {
    // Seen = the newest event; contacts never seen count as inactive too.
    expect(await preview({ lastSeen: { olderThanDays: 14 } }, 'IDENTIFIED')).toEqual({ count: 2, who: ['dirk', 'emma'] });
  });

  it('anonymous visitors with a push subscription', async () => {
    expect(await preview({ pushSubscribed: true }, 'ANONYMOUS')).toEqual({ count: 2, who: ['visitor-a', 'visitor-b'] });
  });

  it('attributes named like JavaScript object members (constructor, toString) are attributes like any other', async () => {
    await shop.secret(Import, { contacts: [{ externalId: 'proto', attributes: { constructor: 'acme', valueOf: 3 } }] });
    expect(await preview({ attribute: { path: 'constructor', op: 'EQ', value: 'acme' } })).toEqual({ count: 1, who: ['proto'] });
    expect(await preview({ attribute: { path: 'valueOf', op: 'GT', value: 1 } })).toEqual({ count: 1, who: ['proto'] });
    expect((await preview({ attribute: { path: 'toString', op: 'EXISTS' } })).count).toBe(0);
    expect((await preview({ attribute: { path: '__proto__', op: 'EXISTS' } })).count).toBe(0);
  });

  it('EQ and NEQ on a list position counted from the end (scores.-1) split the contacts between them', async () => {
    await shop.secret(Import, { contacts: [{ externalId: 'scorer', attributes: { scores: [3, 7] } }] });
    const everyone = (await preview({ attribute: { path: 'createdAt', op: 'EXISTS' } })).count;
    const equal = await preview({ attribute: { path: 'scores.-1', op: 'EQ', value: 7 } });
    const other = await preview({ attribute: { path: 'scores.-1', op: 'NEQ', value: 7 } });
    expect(equal.count + other.count).toBe(everyone);
    expect(equal).toEqual({ count: 1, who: ['scorer'] });
  });

  it('dates at the ends of the ISO range (year 0000, an instant in year 10000) compare as instants', async () => {
    const everyone = (await preview({ attribute: { path: 'createdAt', op: 'EXISTS' } })).count;
    expect(await preview({ attribute: { path: 'createdAt', op: 'GT', value: '0000-01-01' } })).toMatchObject({ count: everyone });
    expect(await preview({ attribute: { path: 'createdAt', op: 'LT', value: '9999-12-31T23:59:59-23:59' } })).toMatchObject({ count: everyone });
    expect(await preview({ attribute: { path: 'createdAt', op: 'LT', value: '0001-01-01T00:00:00+01:00' } })).toMatchObject({ count: 0 });
  });
});

describe('saved segments', () => {
  it('creates a segment, counts it, pages its members stably, and filters contacts by it', async () => {
    const created = dataOf(await shop.secret(Create, { name: 'Berliners', rule: { attribute: { path: 'city', op: 'EQ', value: 'Berlin' } } })).createSegment;
    if (created.__typename !== 'MutationCreateSegmentSuccess') throw new Error(JSON.stringify(created));
    expect(created.data).toMatchObject({ name: 'Berliners', size: 4, audience: 'ALL' });

    const first = dataOf(await shop.secret(Members, { id: created.data.id })).segment!;
    expect(first.contacts.edges.map((edge) => edge.node.externalId)).toEqual(['anna', 'berta']);
    // A new member arrives between two pages: it lands at the end, nobody is skipped or repeated.
    await shop.secret(Import, { contacts: [{ externalId: 'zoe', attributes: { city: 'Berlin' } }] });
    const seen = [...first.contacts.edges.map((edge) => edge.node.externalId)];
    let after = first.contacts.pageInfo.endCursor;
    for (let more = first.contacts.pageInfo.hasNextPage; more; ) {
      const page = dataOf(await shop.secret(Members, { id: created.data.id, after })).segment!.contacts;
      seen.push(...page.edges.map((edge) => edge.node.externalId));
      after = page.pageInfo.endCursor;
      more = page.pageInfo.hasNextPage;
    }
    expect(seen).toEqual(['anna', 'berta', 'dirk', 'emma', 'zoe']);

    const bySegment = dataOf(await shop.secret(ContactsOf, { segmentId: created.data.id })).contacts;
    expect(bySegment.totalCount).toBe(5);
    const byRule = dataOf(await shop.secret(ContactsOf, { segment: { tag: { has: 'consented' } } })).contacts;
    expect(byRule.edges.map((edge) => edge.node.externalId)).toEqual([null, null]);

    const updated = dataOf(await shop.secret(Update, { id: created.data.id, rule: { attribute: { path: 'city', op: 'EQ', value: 'Munich' } } })).updateSegment;
    expect(updated).toMatchObject({ data: { size: 1 } });
    expect(dataOf(await shop.secret(Delete, { id: created.data.id })).deleteSegment.__typename).toBe('MutationDeleteSegmentSuccess');
    expect(dataOf(await shop.secret(Delete, { id: created.data.id })).deleteSegment).toMatchObject({ __typename: 'NotFoundError', code: 'segment/not_found' });
  });
});

describe('bad rules say where they are wrong', () => {
  const deep = (levels: number): any => (levels === 0 ? { identified: true } : { not: deep(levels - 1) });
  it.each([
    ['too deep', deep(10), ['input', 'rule', ...Array(10).fill('not')]],
    ['too many conditions', { or: Array.from({ length: 101 }, () => ({ identified: true })) }, ['input', 'rule']],
    ['withinDays over 3650', { and: [{ identified: true }, { event: { name: 'purchase', withinDays: 4000 } }] }, ['input', 'rule', 'and', '1', 'event', 'withinDays']],
    ['IN without a list', { attribute: { path: 'city', op: 'IN', value: 'Berlin' } }, ['input', 'rule', 'attribute', 'value']],
    ['a bad path', { attribute: { path: 'a..b', op: 'EXISTS' } }, ['input', 'rule', 'attribute', 'path']],
    ['lastSeen with nothing', { lastSeen: {} }, ['input', 'rule', 'lastSeen']],
  ])('%s', async (_name, rule, path) => {
    const before = await h.kit.herald.prisma.segment.count();
    const result = dataOf(await shop.secret(Create, { name: 'bad', rule: rule as never })).createSegment;
    expect(result.__typename).toBe('ValidationError');
    if (result.__typename === 'ValidationError') expect(result.fieldErrors.map((error) => error.path)).toContainEqual(path);
    expect(await h.kit.herald.prisma.segment.count()).toBe(before);
  });

  it('answers a bad rule in a query with BAD_USER_INPUT and the path', async () => {
    const result = await shop.secret(Preview, { rule: { event: { name: 'purchase', withinDays: 0 } } });
    expect(errorCodes(result)).toEqual(['BAD_USER_INPUT']);
    expect(result.errors?.[0]?.extensions).toMatchObject({ fieldErrors: [{ path: ['rule', 'event', 'withinDays'] }] });
  });

  it('refuses two kinds in one rule level (@oneOf)', async () => {
    const result = await shop.secret(Preview, { rule: { identified: true, pushSubscribed: true } } as unknown as { rule: { identified: boolean } });
    expect(result.errors?.[0]?.message).toMatch(/exactly one key/i);
  });
});
