import { describe, expect, it } from 'vitest';
import { graphql } from './generated/index.ts';
import { dataOf, errorCodes, type Result } from './kit/client.ts';
import { useHerald } from './kit/fixture.ts';
import { browserSubscription } from './kit/push-keys.ts';

const Register = graphql(`
  mutation AudienceRegister($input: MutationRegisterPushSubscriptionInput!) {
    registerPushSubscription(input: $input) {
      __typename
      ... on MutationRegisterPushSubscriptionSuccess { data { id endpoint status userAgent timezone createdAt } }
      ... on ValidationError { fieldErrors { path message } }
    }
  }
`);
const Revoke = graphql(`
  mutation AudienceRevoke($endpoint: String!) {
    revokePushSubscription(input: { endpoint: $endpoint }) {
      __typename
      ... on MutationRevokePushSubscriptionSuccess { data { id status } }
      ... on Error { code }
    }
  }
`);
const Identify = graphql(`
  mutation AudienceIdentify($anonymousId: String!, $externalId: String!, $attributes: JSON, $identityToken: String) {
    identifyContact(input: { anonymousId: $anonymousId, externalId: $externalId, attributes: $attributes, identityToken: $identityToken }) {
      __typename
      ... on MutationIdentifyContactSuccess { data { id externalId anonymousId identified } }
      ... on ValidationError { fieldErrors { path } }
    }
  }
`);
const Track = graphql(`
  mutation AudienceTrack($input: EventInput!) {
    trackEvent(input: $input) {
      __typename
      ... on MutationTrackEventSuccess { data { id name properties occurredAt } }
      ... on ValidationError { fieldErrors { path message } }
    }
  }
`);
const TrackMany = graphql(`
  mutation AudienceTrackMany($events: [EventInput!]!) {
    trackEvents(input: { events: $events }) {
      __typename
      ... on MutationTrackEventsSuccess { data { count duplicates } }
      ... on ValidationError { fieldErrors { path message } }
    }
  }
`);
const Person = graphql(`
  query AudiencePerson($externalId: String!) {
    contact(externalId: $externalId) {
      id anonymousId identified tags attributes consentedAt lastSeenAt timezone
      pushSubscriptions { endpoint status }
      events(first: 10) { totalCount edges { node { name occurredAt properties } } }
    }
  }
`);
const Upsert = graphql(`
  mutation AudienceUpsert($input: ContactInput!) { upsertContact(input: $input) { __typename } }
`);

const h = useHerald({}, { push: false });
const shop = h.useWorkspace('Shop');


const counts = async () => ({
  contacts: await h.kit.herald.prisma.contact.count(),
  subscriptions: await h.kit.herald.prisma.pushSubscription.count(),
  events: await h.kit.herald.prisma.event.count(),
});

describe('push subscriptions and consent (publishable key, as a web page)', () => {
  it('creates an anonymous contact, records consent and tags it', async () => {
    const subscription = browserSubscription();
    const result = dataOf(await shop.publishable(Register, {
      input: { anonymousId: 'visitor-1', subscription, userAgent: 'Firefox/128', timezone: 'Europe/Warsaw', locale: 'pl' },
    })).registerPushSubscription;
    expect(result).toMatchObject({ __typename: 'MutationRegisterPushSubscriptionSuccess', data: { endpoint: subscription.endpoint, status: 'ACTIVE' } });
    const contact = await h.kit.herald.prisma.contact.findFirstOrThrow({ where: { anonymousId: 'visitor-1' } });
    expect(contact).toMatchObject({ identified: false, tags: ['consented'], timezone: 'Europe/Warsaw', locale: 'pl' });
    expect(contact.consentedAt).toBeInstanceOf(Date);
  });

  it('moves an endpoint registered again to the new contact, never duplicating it', async () => {
    const subscription = browserSubscription();
    await shop.publishable(Register, { input: { anonymousId: 'visitor-2', subscription } });
    const before = await counts();
    await shop.publishable(Register, { input: { anonymousId: 'visitor-3', subscription } });
    const rows = await h.kit.herald.prisma.pushSubscription.findMany({ where: { endpoint: subscription.endpoint }, include: { contact: true } });
    expect(rows).toHaveLength(1);
    expect(rows[0]!.contact.anonymousId).toBe('visitor-3');
    expect((await counts()).subscriptions).toBe(before.subscriptions);
  });

  it('revokes by endpoint', async () => {
    const subscription = browserSubscription();
    await shop.publishable(Register, { input: { anonymousId: 'visitor-4', subscription } });
    expect(dataOf(await shop.publishable(Revoke, { endpoint: subscription.endpoint })).revokePushSubscription).toMatchObject({ data: { status: 'REVOKED' } });
    expect(dataOf(await shop.publishable(Revoke, { endpoint: 'https://push.example.test/unknown' })).revokePushSubscription).toMatchObject({
      __typename: 'NotFoundError', code: 'push_subscription/not_found',
    });
  });

  const good = browserSubscription();
  it.each([
    ['an http: endpoint', { ...good, endpoint: 'http://push.example.test/x' }, ['input', 'subscription', 'endpoint']],
    ['a malformed p256dh', { ...good, keys: { ...good.keys, p256dh: 'abc' } }, ['input', 'subscription', 'keys', 'p256dh']],
    ['a p256dh that is no curve point', { ...good, keys: { ...good.keys, p256dh: Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 7)]).toString('base64url') } }, ['input', 'subscription', 'keys', 'p256dh']],
    ['a short auth secret', { ...good, keys: { ...good.keys, auth: Buffer.alloc(8).toString('base64url') } }, ['input', 'subscription', 'keys', 'auth']],
  ])('answers %s with a ValidationError and stores nothing', async (_name, subscription, path) => {
    const before = await counts();
    const result = dataOf(await shop.publishable(Register, { input: { anonymousId: 'visitor-bad', subscription } })).registerPushSubscription;
    expect(result.__typename).toBe('ValidationError');
    if (result.__typename === 'ValidationError') expect(result.fieldErrors.map((error) => error.path)).toContainEqual(path);
    expect(await counts()).toEqual(before);
  });

  it('answers a bad time zone and a missing contact reference', async () => {
    const before = await counts();
    const badZone = dataOf(await shop.publishable(Register, { input: { anonymousId: 'v', subscription: browserSubscription(), timezone: 'Nowhere/Land' } }));
    expect(badZone.registerPushSubscription).toMatchObject({ fieldErrors: [{ path: ['input', 'timezone'] }] });
    const noContact = dataOf(await shop.publishable(Register, { input: { subscription: browserSubscription() } }));
    expect(noContact.registerPushSubscription).toMatchObject({ fieldErrors: [{ path: ['input', 'contactId'] }] });
    expect(await counts()).toEqual(before);
  });
});

describe('identifyContact', () => {
  it('merges the anonymous visitor into the known customer, once', async () => {
    const subscription = browserSubscription();
    await shop.publishable(Register, { input: { anonymousId: 'merge-anon', subscription } });
    await shop.publishable(Track, { input: { anonymousId: 'merge-anon', name: 'viewed_product', properties: { sku: 'A1' } } });
    await shop.secret(Upsert, { input: { externalId: 'merge-user', attributes: { plan: 'gold', city: 'Kraków' }, tags: ['customer'] } });
    await h.kit.herald.prisma.contact.update({ where: { workspaceId_anonymousId: { workspaceId: (await workspaceId()), anonymousId: 'merge-anon' } }, data: { attributes: { city: 'Warsaw', referrer: 'ads' } } });

    const first = dataOf(await shop.publishable(Identify, { anonymousId: 'merge-anon', externalId: 'merge-user', attributes: { lastLogin: 'today' }, identityToken: shop.publishable.identityTokenFor('merge-user') })).identifyContact;
    expect(first).toMatchObject({ data: { externalId: 'merge-user', identified: true, anonymousId: 'merge-anon' } });
    const person = dataOf(await shop.secret(Person, { externalId: 'merge-user' })).contact!;
    expect(person.attributes).toEqual({ plan: 'gold', city: 'Kraków', referrer: 'ads', lastLogin: 'today' });
    expect([...person.tags].sort()).toEqual(['consented', 'customer']);
    expect(person.pushSubscriptions).toEqual([{ endpoint: subscription.endpoint, status: 'ACTIVE' }]);
    expect(person.events.edges.map((edge) => edge.node.name)).toEqual(['viewed_product']);
    expect(person.consentedAt).toBeTruthy();
    expect(await h.kit.herald.prisma.contact.count({ where: { externalId: null, anonymousId: 'merge-anon' } })).toBe(0);

    const snapshot = await counts();
    const second = dataOf(await shop.publishable(Identify, { anonymousId: 'merge-anon', externalId: 'merge-user', attributes: { lastLogin: 'today' }, identityToken: shop.publishable.identityTokenFor('merge-user') })).identifyContact;
    expect(second).toMatchObject({ data: { id: person.id } });
    expect(await counts()).toEqual(snapshot);
    const again = dataOf(await shop.secret(Person, { externalId: 'merge-user' })).contact!;
    expect({ ...again, lastSeenAt: null }).toEqual({ ...person, lastSeenAt: null });
  });

  it('identifies an anonymous visitor in place when the customer is new', async () => {
    await shop.publishable(Register, { input: { anonymousId: 'fresh-anon', subscription: browserSubscription() } });
    const anonymous = await h.kit.herald.prisma.contact.findFirstOrThrow({ where: { anonymousId: 'fresh-anon' } });
    const result = dataOf(await shop.publishable(Identify, { anonymousId: 'fresh-anon', externalId: 'fresh-user', identityToken: shop.publishable.identityTokenFor('fresh-user') })).identifyContact;
    expect(result).toMatchObject({ data: { identified: true, externalId: 'fresh-user' } });
    const identified = await h.kit.herald.prisma.contact.findFirstOrThrow({ where: { externalId: 'fresh-user' } });
    expect(identified.id).toBe(anonymous.id);
  });

  it('lets a publishable key identify but not read private fields', async () => {
    const result = await shop.publishable(Person, { externalId: 'merge-user' });
    expect(errorCodes(result)).toContain('FORBIDDEN');
  });
});

describe('events', () => {
  it('stores an event, updates lastSeenAt, and honours the idempotency key', async () => {
    await shop.secret(Upsert, { input: { externalId: 'buyer' } });
    const occurredAt = new Date(Date.now() - 60_000).toISOString();
    const first = dataOf(await shop.secret(Track, { input: { externalId: 'buyer', name: 'purchase', properties: { value: 120 }, occurredAt, idempotencyKey: 'order-1' } })).trackEvent;
    expect(first).toMatchObject({ __typename: 'MutationTrackEventSuccess', data: { name: 'purchase', properties: { value: 120 }, occurredAt } });
    const before = await counts();
    const repeat = dataOf(await shop.secret(Track, { input: { externalId: 'buyer', name: 'purchase', properties: { value: 999 }, idempotencyKey: 'order-1' } })).trackEvent;
    expect(repeat).toEqual(first);
    expect(await counts()).toEqual(before);
    const buyer = dataOf(await shop.secret(Person, { externalId: 'buyer' })).contact!;
    expect(buyer.lastSeenAt).toBe(occurredAt);
  });

  it('moves lastSeenAt to the newest event to the minute: events seconds apart, or older, leave it', async () => {
    await shop.secret(Upsert, { input: { externalId: 'regular' } });
    const start = Date.now() - 600_000;
    const seenAfter = async (offsetMs: number) => {
      const occurredAt = new Date(start + offsetMs).toISOString();
      expect(dataOf(await shop.secret(Track, { input: { externalId: 'regular', name: 'page_viewed', occurredAt } })).trackEvent.__typename).toBe('MutationTrackEventSuccess');
      return dataOf(await shop.secret(Person, { externalId: 'regular' })).contact!.lastSeenAt;
    };
    const at = (offsetMs: number) => new Date(start + offsetMs).toISOString();
    expect(await seenAfter(0)).toBe(at(0));
    expect(await seenAfter(20_000)).toBe(at(0));
    expect(await seenAfter(59_000)).toBe(at(0));
    expect(await seenAfter(180_000)).toBe(at(180_000));
    expect(await seenAfter(-3_600_000)).toBe(at(180_000));
  });

  it('lists a contact’s events newest first', async () => {
    const events = [3, 1, 2].map((hoursAgo) => ({ externalId: 'timeline', name: `e${hoursAgo}`, occurredAt: new Date(Date.now() - hoursAgo * 3600_000).toISOString() }));
    expect(dataOf(await shop.secret(TrackMany, { events })).trackEvents).toEqual({ __typename: 'MutationTrackEventsSuccess', data: { count: 3, duplicates: 0 } });
    const person = dataOf(await shop.secret(Person, { externalId: 'timeline' })).contact!;
    expect(person.events.edges.map((edge) => edge.node.name)).toEqual(['e1', 'e2', 'e3']);
    expect(person.events.totalCount).toBe(3);
    expect(person.identified).toBe(true);
  });

  it('stores concurrent batches sharing contacts without a deadlock', async () => {
    // Batches over overlapping random subsets of 100 known visitors, 16 at a time: every event stored.
    const visitors = Array.from({ length: 100 }, (_, index) => `crowd-${index}`);
    await shop.secret(TrackMany, { events: visitors.map((anonymousId) => ({ anonymousId, name: 'arrived' })) });
    for (let round = 0; round < 3; round++) {
      const batches = Array.from({ length: 16 }, () =>
        visitors.filter(() => Math.random() < 0.6).map((anonymousId) => ({ anonymousId, name: 'page_view' })),
      );
      const results = await Promise.all(batches.map((events) => shop.secret(TrackMany, { events })));
      expect(results.map((result) => dataOf(result).trackEvents)).toEqual(
        batches.map((events) => ({ __typename: 'MutationTrackEventsSuccess', data: { count: events.length, duplicates: 0 } })),
      );
    }
  });

  it('counts duplicates in a batch', async () => {
    const events = [1, 2, 2, 3].map((n) => ({ anonymousId: 'batcher', name: 'page_view', idempotencyKey: `pv-${n}` }));
    expect(dataOf(await shop.secret(TrackMany, { events })).trackEvents).toMatchObject({ data: { count: 3, duplicates: 1 } });
    expect(dataOf(await shop.secret(TrackMany, { events })).trackEvents).toMatchObject({ data: { count: 0, duplicates: 4 } });
  });

  it.each([
    ['a bad name', { externalId: 'buyer', name: 'has space' }, ['input', 'name']],
    ['a too long name', { externalId: 'buyer', name: 'x'.repeat(101) }, ['input', 'name']],
    ['an event in the future', { externalId: 'buyer', name: 'later', occurredAt: new Date(Date.now() + 25 * 3600_000).toISOString() }, ['input', 'occurredAt']],
    ['non-object properties', { externalId: 'buyer', name: 'p', properties: [1] }, ['input', 'properties']],
    ['properties over 8 KB', { externalId: 'buyer', name: 'p', properties: { blob: 'x'.repeat(9000) } }, ['input', 'properties']],
    ['no contact', { name: 'orphan' }, ['input', 'contactId']],
    ['an unknown contactId', { contactId: Buffer.from('Contact:00000000-0000-7000-8000-000000000000').toString('base64'), name: 'x' }, ['input', 'contactId']],
  ])('answers %s with a ValidationError and stores nothing', async (_name, input, path) => {
    const before = await counts();
    const result = dataOf(await shop.secret(Track, { input })).trackEvent;
    expect(result.__typename).toBe('ValidationError');
    if (result.__typename === 'ValidationError') expect(result.fieldErrors.map((error) => error.path)).toContainEqual(path);
    expect(await counts()).toEqual(before);
  });

  it('rejects a batch with one bad event, or over 10,000 events, storing nothing', async () => {
    const before = await counts();
    const batch = [{ externalId: 'buyer', name: 'ok' }, { externalId: 'buyer', name: 'bad name' }];
    expect(dataOf(await shop.secret(TrackMany, { events: batch })).trackEvents).toMatchObject({ fieldErrors: [{ path: ['input', 'events', '1', 'name'] }] });
    const tooMany = Array.from({ length: 10_001 }, () => ({ externalId: 'buyer', name: 'flood' }));
    expect(dataOf(await shop.secret(TrackMany, { events: tooMany })).trackEvents).toMatchObject({ fieldErrors: [{ path: ['input', 'events'] }] });
    expect(await counts()).toEqual(before);
  });

  it('keeps trackEvents to the secret key', async () => {
    expect(errorCodes(await shop.publishable(TrackMany, { events: [] }))).toEqual(['FORBIDDEN']);
  });
});

describe('what a publishable key may not do', () => {
  it.each([
    ['upsertContact', graphql(`mutation PkUpsert { upsertContact(input: { externalId: "x" }) { __typename } }`)],
    ['importContacts', graphql(`mutation PkImport { importContacts(input: { contacts: [] }) { __typename } }`)],
    ['deleteContact', graphql(`mutation PkDelete { deleteContact(input: { id: "x" }) { __typename } }`)],
    ['tagContacts', graphql(`mutation PkTag { tagContacts(input: { ids: [], tags: ["x"] }) { __typename } }`)],
    ['untagContacts', graphql(`mutation PkUntag { untagContacts(input: { ids: [], tags: ["x"] }) { __typename } }`)],
    ['contacts', graphql(`query PkContacts { contacts(first: 1) { totalCount } }`)],
    ['contact', graphql(`query PkContact { contact(externalId: "x") { id } }`)],
  ])('refuses %s as FORBIDDEN and changes nothing', async (_name, document) => {
    const before = await counts();
    expect(errorCodes(await (shop.publishable as (doc: unknown) => Promise<Result<unknown>>)(document))).toEqual(['FORBIDDEN']);
    expect(await counts()).toEqual(before);
  });
});

async function workspaceId(): Promise<string> {
  return Buffer.from(shop.workspace.id, 'base64').toString().split(':')[1]!;
}
