import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import { dataOf } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';

/**
 * A page's idempotency keys belong to its contact; when the visitor merges into a customer, the
 * page names the customer from then on, and a retry of an event sent before login (an SDK's
 * offline queue) must still find the event stored the first time.
 */

const Upsert = graphql(`
  mutation IdempotencyMergeUpsert($input: ContactInput!) {
    upsertContact(input: $input) { __typename ... on MutationUpsertContactSuccess { data { id } } ... on Error { message } }
  }
`);
const Track = graphql(`
  mutation IdempotencyMergeTrack($input: EventInput!) {
    trackEvent(input: $input) { __typename ... on MutationTrackEventSuccess { data { id } } ... on Error { message } }
  }
`);
const Secret = graphql(`query IdempotencyMergeSecret { viewer { identitySecret } }`);
const Identify = graphql(`
  mutation IdempotencyMergeIdentify($input: MutationIdentifyContactInput!) {
    identifyContact(input: $input) { __typename ... on MutationIdentifyContactSuccess { data { id } } ... on Error { code message } }
  }
`);

describe("a page's idempotency key across identify", () => {
  const h = useHerald({}, { push: false });
  const shop = h.useWorkspace();

  it('a retried browser event is stored once, before and after the visitor merged into a customer', async () => {
    await shop.secret(Upsert, { input: { externalId: 'cust-1' } });
    const event = { anonymousId: 'browser-1', name: 'purchase', properties: { value: 120 }, idempotencyKey: 'order-981' };
    const first = dataOf(await shop.publishable(Track, { input: event })).trackEvent;
    expect(first.__typename).toBe('MutationTrackEventSuccess');
    expect(dataOf(await shop.publishable(Track, { input: event })).trackEvent).toEqual(first);
    expect(dataOf(await shop.secret(Identify, { input: { anonymousId: 'browser-1', externalId: 'cust-1' } })).identifyContact.__typename).toBe('MutationIdentifyContactSuccess');

    // The page names the customer from now on (its anonymousId alone is refused), and its retry finds the event.
    expect(dataOf(await shop.publishable(Track, { input: event })).trackEvent).toMatchObject({ __typename: 'ValidationError' });
    const secret = dataOf(await shop.secret(Secret)).viewer.identitySecret!;
    const identityToken = createHmac('sha256', secret).update('cust-1').digest('hex');
    const { anonymousId: _, ...named } = event;
    expect(dataOf(await shop.publishable(Track, { input: { ...named, externalId: 'cust-1', identityToken } })).trackEvent).toEqual(first);
    const [row] = await h.kit.herald.prisma.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM "Event" WHERE name = 'purchase'`;
    expect(row!.n).toBe(1);
  });
});
