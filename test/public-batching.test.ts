import { describe, expect, it, vi } from 'vitest';
import { graphql } from './generated/index.ts';
import { createCampaign, forgeToken, SendNow, subscribeBrowser, waitForStatus } from './kit/campaigns.ts';
import { dataOf } from './kit/client.ts';
import { useHerald } from './kit/fixture.ts';
import { trackEvent } from '../src/tracking/events.ts';

/**
 * Group commit on the browser's path (HERALD_PUBLIC_BATCH_MS): concurrent single calls over real
 * HTTP are written as one transaction each window. Rows written by one transaction share their
 * `xmin`, so the number of distinct xmins is the number of transactions that wrote them.
 */
const Track = graphql(`
  mutation GatherTrack($input: EventInput!) {
    trackEvent(input: $input) {
      __typename
      ... on MutationTrackEventSuccess { data { id name occurredAt } }
      ... on ValidationError { code fieldErrors { path message } }
      ... on Error { code message }
    }
  }
`);
const Record = graphql(`
  mutation GatherRecord($token: String!, $type: MessageEventType!) {
    recordMessageEvent(input: { token: $token, type: $type }) {
      __typename
      ... on MutationRecordMessageEventSuccess { data { displayedAt clickedAt } }
      ... on Error { code }
    }
  }
`);
const Register = graphql(`
  mutation GatherRegister($input: MutationRegisterPushSubscriptionInput!) {
    registerPushSubscription(input: $input) {
      __typename
      ... on MutationRegisterPushSubscriptionSuccess { data { id endpoint } }
      ... on ValidationError { fieldErrors { path message } }
      ... on Error { code }
    }
  }
`);
const Identify = graphql(`
  mutation GatherIdentify($input: MutationIdentifyContactInput!) {
    identifyContact(input: $input) {
      __typename
      ... on MutationIdentifyContactSuccess { data { id externalId anonymousId email } }
      ... on Error { code }
    }
  }
`);
const Activate = graphql(`mutation GatherActivate($id: ID!) { activateCampaign(input: { id: $id }) { __typename } }`);
const Stats = graphql(`query GatherStats($id: ID!) { campaign(id: $id) { stats { sent displayed clicked } } }`);

const WINDOW_MS = 150;
const h = useHerald({ HERALD_PUBLIC_BATCH_MS: String(WINDOW_MS) });

type Client = Awaited<ReturnType<typeof h.workspace>>['publishable'];
const trackAll = (client: Client, inputs: object[]) => Promise.all(inputs.map((input) => client(Track, { input } as never).then((result) => dataOf(result).trackEvent)));

async function transactionsOf(where: string, values: unknown[]): Promise<number> {
  const [row] = await h.kit.herald.prisma.$queryRawUnsafe<{ count: number }[]>(`SELECT count(DISTINCT xmin::text)::int AS count FROM "Event" WHERE ${where}`, ...values);
  return row!.count;
}

describe('group commit of single trackEvent calls', () => {
  it('writes concurrent calls as one transaction and answers each caller with its own result or error', async () => {
    const { publishable } = await h.workspace();
    await trackAll(publishable, [{ anonymousId: 'gather-warm-up', name: 'viewed' }]); // the key is known: no call waits for its lookup
    const valid = Array.from({ length: 12 }, (_, n) => ({ anonymousId: `gather-${n}`, name: 'viewed', properties: { n } }));
    const results = await trackAll(publishable, [
      ...valid,
      { anonymousId: 'gather-bad', name: 'not a name!' },
      { contactId: '00000000-0000-7000-8000-000000000000', name: 'viewed' },
      { externalId: 'customer-without-proof', name: 'viewed' },
    ]);
    expect(results.slice(0, 12).map((result) => result.__typename)).toEqual(Array(12).fill('MutationTrackEventSuccess'));
    expect(results.slice(0, 12).map((result) => result.__typename === 'MutationTrackEventSuccess' && result.data.name)).toEqual(Array(12).fill('viewed'));
    expect(results[12]).toMatchObject({ __typename: 'ValidationError', fieldErrors: [{ path: ['input', 'name'] }] });
    expect(results[13]).toMatchObject({ __typename: 'ValidationError', fieldErrors: [{ path: ['input', 'contactId'], message: 'no contact with this id' }] });
    expect(results[14]).toMatchObject({ __typename: 'ValidationError', code: 'identity/verification_required' });

    const ids = results.slice(0, 12).map((result) => (result.__typename === 'MutationTrackEventSuccess' ? result.data.id : ''));
    const localIds = ids.map((id) => Buffer.from(id, 'base64').toString().split(':')[1]!);
    expect(await h.kit.herald.prisma.event.count({ where: { id: { in: localIds } } })).toBe(12);
    // Gathered: fewer transactions than calls (on a loaded machine the calls may straddle windows).
    expect(await transactionsOf(`id = ANY($1::uuid[])`, [localIds])).toBeLessThan(12);
  });

  it('stores an idempotency key replayed inside one window once, and answers every replay with that event', async () => {
    const { publishable, workspace } = await h.workspace();
    const results = await trackAll(publishable, [
      ...Array.from({ length: 6 }, () => ({ anonymousId: 'replayer', name: 'paid', idempotencyKey: 'order-1' })),
      // Another visitor's same key is its own (a page's keys live in its contact's namespace).
      { anonymousId: 'someone-else', name: 'paid', idempotencyKey: 'order-1' },
    ]);
    const ids = results.map((result) => (result.__typename === 'MutationTrackEventSuccess' ? result.data.id : result.__typename));
    expect(new Set(ids.slice(0, 6)).size).toBe(1);
    expect(ids[6]).not.toBe(ids[0]);
    const workspaceId = Buffer.from(workspace.id, 'base64').toString().split(':')[1];
    expect(await h.kit.herald.prisma.event.count({ where: { workspaceId, name: 'paid' } })).toBe(2);
  });

  // A fault injected into the one read that follows a batch's COMMIT (the replayed keys' events):
  // the batch must not be written again, or its keyless events would be stored twice.
  it('stores a batch once when reading back its replayed keys fails after the commit', async () => {
    const { workspace } = await h.workspace();
    const workspaceId = Buffer.from(workspace.id, 'base64').toString().split(':')[1]!;
    const first = await trackEvent(h.kit.herald, workspaceId, { anonymousId: 'reader', name: 'paid', idempotencyKey: 'order-9' }, 'page');
    const events = h.kit.herald.prisma.event;
    const findMany = vi.spyOn(events, 'findMany').mockRejectedValueOnce(new Error('connection lost after commit'));
    try {
      const results = await Promise.allSettled([
        ...Array.from({ length: 5 }, (_, n) => trackEvent(h.kit.herald, workspaceId, { anonymousId: `plain-${n}`, name: 'viewed' }, 'page')),
        trackEvent(h.kit.herald, workspaceId, { anonymousId: 'reader', name: 'paid', idempotencyKey: 'order-9' }, 'page'),
      ]);
      expect(findMany).toHaveBeenCalledTimes(1);
      expect(results.slice(0, 5).map((result) => result.status)).toEqual(Array(5).fill('fulfilled'));
      expect(results[5]).toMatchObject({ status: 'rejected', reason: { message: expect.stringContaining('retry with the same key') } });
    } finally {
      findMany.mockRestore();
    }
    expect(await events.count({ where: { workspaceId, name: 'viewed' } })).toBe(5);
    expect(await events.count({ where: { workspaceId, name: 'paid' } })).toBe(1);
    // The retry the error asks for answers the event first stored.
    expect((await trackEvent(h.kit.herald, workspaceId, { anonymousId: 'reader', name: 'paid', idempotencyKey: 'order-9' }, 'page')).id).toBe(first.id);
  });

  // In-process calls to the domain service, as concurrent HTTP requests may reach the server in
  // another order than they were sent: here the order of arrival is known.
  it("keeps one contact's order across batches", async () => {
    const { workspace } = await h.workspace();
    const workspaceId = Buffer.from(workspace.id, 'base64').toString().split(':')[1]!;
    const calls: Promise<unknown>[] = [];
    for (let step = 0; step < 24; step++) {
      calls.push(trackEvent(h.kit.herald, workspaceId, { anonymousId: 'orderly', name: `step-${step}` }, 'page'));
      calls.push(trackEvent(h.kit.herald, workspaceId, { anonymousId: `noise-${step}`, name: 'noise' }, 'page'));
      // Later steps come while earlier batches are being written.
      if (step % 6 === 5) await new Promise((resolve) => setTimeout(resolve, WINDOW_MS + 20));
    }
    await Promise.all(calls);
    const contact = await h.kit.herald.prisma.contact.findFirstOrThrow({ where: { workspaceId, anonymousId: 'orderly' } });
    const events = await h.kit.herald.prisma.event.findMany({ where: { contactId: contact.id, name: { startsWith: 'step-' } }, orderBy: [{ occurredAt: 'asc' }, { id: 'asc' }] });
    const steps = Array.from({ length: 24 }, (_, step) => `step-${step}`);
    expect(events.map((event) => event.name)).toEqual(steps);
    // Written in that order too: a later step's transaction never began before an earlier one's.
    const written = [...events].sort((a, b) => a.receivedAt.getTime() - b.receivedAt.getTime());
    expect(written.map((event) => event.name)).toEqual(steps);
    // They went in several batches, so the order held between batches too.
    expect(await transactionsOf(`"contactId" = $1::uuid AND name LIKE 'step-%'`, [contact.id])).toBeGreaterThan(1);
    // lastSeenAt follows the newest event to the minute: it is never past it, nor a minute behind.
    const newest = events.at(-1)!.occurredAt.getTime();
    expect(contact.lastSeenAt!.getTime()).toBeLessThanOrEqual(newest);
    expect(contact.lastSeenAt!.getTime()).toBeGreaterThan(newest - 60_000);
  });

  it('enters a triggered campaign once per contact for triggers gathered into one batch', async () => {
    const { secret, publishable } = await h.workspace();
    const visitors = Array.from({ length: 4 }, (_, n) => `trigger-${n}`);
    const browsers = await Promise.all(visitors.map((anonymousId) => subscribeBrowser(publishable, h.push, { anonymousId })));
    const id = await createCampaign(secret, { name: 'Welcome', kind: 'TRIGGERED', content: { title: 'Welcome', url: 'https://shop.example/' }, trigger: { event: 'signup' } });
    expect(dataOf(await secret(Activate, { id })).activateCampaign.__typename).toBe('MutationActivateCampaignSuccess');
    const results = await trackAll(publishable, visitors.flatMap((anonymousId) => [{ anonymousId, name: 'signup' }, { anonymousId, name: 'signup' }]));
    expect(results.every((result) => result.__typename === 'MutationTrackEventSuccess')).toBe(true);
    await h.push.waitFor(() => browsers.every(({ browser }) => h.push.received(browser.id).length > 0), 20_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(browsers.map(({ browser }) => h.push.received(browser.id).length)).toEqual([1, 1, 1, 1]);
  });

  it('gathers beacons: each counts once per message, a forged token fails only its own caller', async () => {
    const { secret, publishable } = await h.workspace();
    const subscribed = await Promise.all(['ada', 'bob', 'cyd'].map((anonymousId) => subscribeBrowser(publishable, h.push, { anonymousId })));
    const id = await createCampaign(secret, { name: 'Sale', kind: 'BROADCAST', content: { title: 'Sale', url: 'https://shop.example/' } });
    await secret(SendNow, { id });
    await waitForStatus(secret, id);
    const payloads = subscribed.map(({ browser }) => h.push.received(browser.id)[0]!.json as { token: string; trackUrl: string });
    const beacon = (token: string, type: string) =>
      fetch(payloads[0]!.trackUrl, { method: 'POST', headers: { 'content-type': 'text/plain;charset=UTF-8' }, body: JSON.stringify({ token, type }) }).then((response) => response.status);
    const forged = forgeToken(payloads[0]!.token);
    const statuses = await Promise.all([
      ...payloads.map(({ token }) => beacon(token, 'DISPLAYED')),
      ...payloads.map(({ token }) => beacon(token, 'DISPLAYED')),
      beacon(payloads[0]!.token, 'CLICKED'),
      beacon(forged, 'CLICKED'),
    ]);
    expect(statuses).toEqual([204, 204, 204, 204, 204, 204, 204, 404]);
    const mutation = await Promise.all([publishable(Record, { token: payloads[1]!.token, type: 'CLICKED' }), publishable(Record, { token: 'nonsense', type: 'CLICKED' })]);
    expect(dataOf(mutation[0]).recordMessageEvent).toMatchObject({ __typename: 'MutationRecordMessageEventSuccess', data: { displayedAt: expect.any(String), clickedAt: expect.any(String) } });
    expect(dataOf(mutation[1]).recordMessageEvent).toMatchObject({ __typename: 'NotFoundError' });
    expect(dataOf(await secret(Stats, { id })).campaign!.stats).toEqual({ sent: 3, displayed: 3, clicked: 2 });
  });
});

describe('group commit of registrations and identify calls', () => {
  const localId = (id: string) => Buffer.from(id, 'base64').toString().split(':')[1]!;
  const transactionsOfTable = async (table: string, ids: string[]) => {
    const [row] = await h.kit.herald.prisma.$queryRawUnsafe<{ count: number }[]>(`SELECT count(DISTINCT xmin::text)::int AS count FROM "${table}" WHERE id = ANY($1::uuid[])`, ids);
    return row!.count;
  };

  it('gathers push subscription registrations: each stored with consent, an unknown contact fails only its own call', async () => {
    const { publishable } = await h.workspace();
    const browsers = Array.from({ length: 10 }, () => h.push.subscribe());
    const register = (input: object) => publishable(Register, { input } as never).then((result) => dataOf(result).registerPushSubscription);
    const results = await Promise.all([
      ...browsers.map((browser, n) => register({ anonymousId: `subscriber-${n}`, timezone: 'Europe/Paris', subscription: browser.json })),
      register({ contactId: '00000000-0000-7000-8000-000000000000', subscription: h.push.subscribe().json }),
    ]);
    expect(results.slice(0, 10).map((result) => result.__typename)).toEqual(Array(10).fill('MutationRegisterPushSubscriptionSuccess'));
    expect(results.slice(0, 10).map((result) => result.__typename === 'MutationRegisterPushSubscriptionSuccess' && result.data.endpoint)).toEqual(
      browsers.map((browser) => browser.json.endpoint),
    );
    expect(results[10]).toMatchObject({ __typename: 'ValidationError', fieldErrors: [{ path: ['input', 'contactId'], message: 'no contact with this id' }] });

    const ids = results.slice(0, 10).map((result) => (result.__typename === 'MutationRegisterPushSubscriptionSuccess' ? localId(result.data.id) : ''));
    const stored = await h.kit.herald.prisma.pushSubscription.findMany({ where: { id: { in: ids } }, include: { contact: true } });
    expect(stored.map((row) => row.status)).toEqual(Array(10).fill('ACTIVE'));
    expect(stored.every((row) => row.contact.consentedAt && row.contact.tags.includes('consented') && row.contact.timezone === 'Europe/Paris')).toBe(true);
    expect(await transactionsOfTable('PushSubscription', ids)).toBeLessThan(10);

    // An endpoint registered again moves to the new contact, as when written alone.
    const moved = await register({ anonymousId: 'subscriber-new-owner', subscription: browsers[0]!.json });
    expect(moved).toMatchObject({ __typename: 'MutationRegisterPushSubscriptionSuccess', data: { id: results[0]!.__typename === 'MutationRegisterPushSubscriptionSuccess' && results[0]!.data.id } });
    const owner = await h.kit.herald.prisma.pushSubscription.findUniqueOrThrow({ where: { id: ids[0] }, include: { contact: true } });
    expect(owner.contact.anonymousId).toBe('subscriber-new-owner');
  });

  it('gathers identify calls: each visitor joins its customer, a taken email fails only its own call', async () => {
    const { secret, publishable } = await h.workspace();
    const visitors = Array.from({ length: 8 }, (_, n) => `visitor-${n}`);
    await trackAll(publishable, visitors.map((anonymousId) => ({ anonymousId, name: 'viewed' })));
    const identify = (input: object) => secret(Identify, { input } as never).then((result) => dataOf(result).identifyContact);
    await identify({ anonymousId: 'owner-visitor', externalId: 'owner', attributes: { email: 'taken@shop.example' } });
    const results = await Promise.all([
      ...visitors.map((anonymousId, n) => identify({ anonymousId, externalId: `customer-${n}`, attributes: { email: `customer-${n}@shop.example` } })),
      identify({ anonymousId: 'thief-visitor', externalId: 'thief', attributes: { email: 'taken@shop.example' } }),
    ]);
    expect(results.slice(0, 8)).toEqual(
      visitors.map((anonymousId, n) => ({
        __typename: 'MutationIdentifyContactSuccess',
        data: { id: expect.any(String), anonymousId, externalId: `customer-${n}`, email: `customer-${n}@shop.example` },
      })),
    );
    expect(results[8]).toMatchObject({ __typename: 'ConflictError' });
    const ids = results.slice(0, 8).map((result) => (result.__typename === 'MutationIdentifyContactSuccess' ? localId(result.data.id) : ''));
    // Each visitor's contact became the customer, its event with it.
    expect(await h.kit.herald.prisma.event.count({ where: { contactId: { in: ids }, name: 'viewed' } })).toBe(8);
    expect(await transactionsOfTable('Contact', ids)).toBeLessThan(8);
  });
});

describe('HERALD_PUBLIC_BATCH_MS=0', () => {
  const alone = useHerald({ HERALD_PUBLIC_BATCH_MS: '0' });

  it('writes each call in its own transaction', async () => {
    const { publishable, workspace } = await alone.workspace();
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, n) => publishable(Track, { input: { anonymousId: `alone-${n}`, name: 'viewed' } }).then((result) => dataOf(result).trackEvent)),
    );
    expect(results.every((result) => result.__typename === 'MutationTrackEventSuccess')).toBe(true);
    const workspaceId = Buffer.from(workspace.id, 'base64').toString().split(':')[1];
    const [row] = await alone.kit.herald.prisma.$queryRaw<{ count: number }[]>`SELECT count(DISTINCT xmin::text)::int AS count FROM "Event" WHERE "workspaceId" = ${workspaceId}::uuid`;
    expect(row!.count).toBe(8);
  });
});
