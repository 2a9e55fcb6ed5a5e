/**
 * The browsers' workload bench/public-path.ts and bench/batch-cost.ts share: the campaigns that
 * listen to it and the events it sends.
 */

/** Visitors above this one are public-path's latency probe's: the load never names them. */
export const PROBE_FROM = 18_500;
const CATEGORIES = 40;

/** What every campaign here sends. */
export const content = { title: 'Hi {{ contact.firstName }}', body: 'Hello', url: 'https://shop.example/' };

type Secret = (query: string, variables?: unknown) => Promise<any>;

/** A TRIGGERED campaign from `input`, activated. */
async function triggered(secret: Secret, input: Record<string, unknown>): Promise<void> {
  const created = await secret('mutation($input: CampaignInput!) { createCampaign(input: $input) { ... on MutationCreateCampaignSuccess { data { id } } ... on Error { message } } }', {
    input: { kind: 'TRIGGERED', content, ...input },
  });
  await secret('mutation($id: ID!) { activateCampaign(input: { id: $id }) { __typename } }', { id: created.createCampaign.data.id });
}

/**
 * "Welcome" on `signup` with no delay (the probe's), and 20 campaigns on `product_viewed`, each
 * for one category (`cat-0`…`cat-19`) an hour later. `unmatched`: their filters name categories
 * no event has, so they listen and write nothing.
 */
export async function listeningCampaigns(secret: Secret, { unmatched = false } = {}): Promise<void> {
  await triggered(secret, { name: 'Welcome', trigger: { event: 'signup' } });
  for (let i = 0; i < 20; i++) {
    const value = unmatched ? `none-${i}` : `cat-${i}`;
    await triggered(secret, { name: `Category ${i}`, trigger: { event: 'product_viewed', where: [{ path: 'category', op: 'EQ', value }], delaySeconds: 3600, reEligibleAfterSeconds: 0 } });
  }
}

let sequence = 0;
/**
 * A visitor's event: 80% product views over 40 categories (20 listened to), 20% page views. Its
 * idempotency key (unless `keyed` is false) makes a resent request store nothing twice.
 */
export function randomEvent(keyed = true) {
  const anonymousId = `visitor-${1 + Math.floor(Math.random() * PROBE_FROM)}`;
  const idempotencyKey = keyed ? `bench-${++sequence}` : undefined;
  return Math.random() < 0.8
    ? { anonymousId, name: 'product_viewed', properties: { category: `cat-${Math.floor(Math.random() * CATEGORIES)}`, price: Math.round(Math.random() * 200) }, idempotencyKey }
    : { anonymousId, name: 'page_viewed', properties: { path: '/home' }, idempotencyKey };
}

export const TRACK_MANY = 'mutation($events: [EventInput!]!) { trackEvents(input: { events: $events }) { __typename ... on Error { message } } }';
