import { type DocumentNode, print } from 'graphql';
import { describe, expect, it } from 'vitest';
import { graphql } from './generated/index.ts';
import { createCampaign, forgeToken, seedBrowsers, SendNow, subscribeBrowser, waitForStatus } from './kit/campaigns.ts';
import { dataOf, take, wsClient } from './kit/client.ts';
import { useHerald } from './kit/fixture.ts';
import { startTestHerald } from './kit/herald.ts';

const Record = graphql(`
  mutation TrackRecord($token: String!, $type: MessageEventType!) {
    recordMessageEvent(input: { token: $token, type: $type }) {
      __typename
      ... on MutationRecordMessageEventSuccess { data { status displayedAt clickedAt closedAt } }
      ... on Error { code message }
    }
  }
`);
const Stats = graphql(`
  query TrackStats($id: ID!) {
    campaign(id: $id) {
      stats { targeted sent displayed clicked closed conversions clickRate conversionRate }
      all: messages(first: 1) { totalCount }
      sent: messages(first: 1, status: SENT) { totalCount }
      messages(first: 10) { edges { node { displayedAt clickedAt closedAt convertedAt contact { externalId } } } }
    }
  }
`);
const Track = graphql(`
  mutation TrackPurchase($externalId: String!, $occurredAt: DateTime) {
    trackEvent(input: { externalId: $externalId, name: "purchase", occurredAt: $occurredAt }) { __typename }
  }
`);
const Analytics = graphql(`
  query TrackAnalytics($from: DateTime!, $to: DateTime!) {
    analytics(from: $from, to: $to, interval: HOUR) { timezone buckets { start sent } totals { sent displayed clicked conversions } }
  }
`);
const Buckets = graphql(`
  query TrackBuckets($from: DateTime!, $to: DateTime!, $interval: Interval!) {
    analytics(from: $from, to: $to, interval: $interval) { timezone buckets { start sent } }
  }
`);
const ContactId = graphql(`
  query TrackContactId($externalId: String!) { contact(externalId: $externalId) { id } }
`);
const TestPush = graphql(`
  mutation TrackTestPush($campaignId: ID!, $contactId: ID!) {
    sendTestPush(input: { campaignId: $campaignId, contactId: $contactId }) { __typename ... on MutationSendTestPushSuccess { data { id } } }
  }
`);
const DeleteContact = graphql(`
  mutation TrackDeleteContact($id: ID!) { deleteContact(input: { id: $id }) { __typename } }
`);
const Cancel = graphql(`
  mutation TrackCancel($id: ID!) { cancelCampaign(input: { id: $id }) { __typename } }
`);
const Waiting = graphql(`
  query TrackWaiting($id: ID!) { campaign(id: $id) { stats { targeted queued sent } messages(first: 10, status: QUEUED) { totalCount } } }
`);
const LiveStats = graphql(`
  subscription TrackLiveStats($id: ID!) { campaignStats(campaignId: $id) { sent queued targeted displayed } }
`);
const LiveEvents = graphql(`
  subscription TrackLiveEvents($id: ID!) { deliveryEvents(campaignId: $id) { type messageId reason } }
`);

const h = useHerald();


const content = { title: 'Sale', url: 'https://shop.example/' };
const payloadOf = (browserId: string) => h.push.received(browserId)[0]!.json as { token: string; trackUrl: string };

function beacon(url: string, body: string, contentType = 'text/plain;charset=UTF-8') {
  return fetch(url, { method: 'POST', headers: { origin: 'https://shop.example', 'content-type': contentType }, body });
}

describe('tracking and conversions', () => {
  it('credits a conversion to a campaign made after events of its name were read without one', async () => {
    const { secret, publishable } = await h.workspace();
    await subscribeBrowser(publishable, h.push, { externalId: 'ada' });
    // This workspace's listeners are read, and kept by this process, with no conversion among them.
    await secret(Track, { externalId: 'ada' });
    const id = await createCampaign(secret, { name: 'Sale', kind: 'BROADCAST', content, conversion: { event: 'purchase', withinSeconds: 3600 } });
    await secret(SendNow, { id });
    await waitForStatus(secret, id);
    await secret(Track, { externalId: 'ada' });
    expect(dataOf(await secret(Stats, { id })).campaign!.stats).toMatchObject({ sent: 1, conversions: 1 });
  });

  it('counts beacons from any origin and the mutation once per message, refuses forged tokens, credits conversions in the window', async () => {
    const { secret, publishable } = await h.workspace();
    const ada = await subscribeBrowser(publishable, h.push, { externalId: 'ada' });
    const bob = await subscribeBrowser(publishable, h.push, { externalId: 'bob' });
    const id = await createCampaign(secret, { name: 'Sale', kind: 'BROADCAST', content, conversion: { event: 'purchase', withinSeconds: 3600 } });
    await secret(SendNow, { id });
    await waitForStatus(secret, id);
    const toAda = payloadOf(ada.browser.id);
    const toBob = payloadOf(bob.browser.id);
    expect(toAda.trackUrl).toBe(`${h.kit.url}/track`);

    // The service worker's path: CORS preflight, then beacons (sendBeacon posts text/plain).
    const preflight = await fetch(toAda.trackUrl, { method: 'OPTIONS', headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    const shown = await beacon(toAda.trackUrl, JSON.stringify({ token: toAda.token, type: 'DISPLAYED' }));
    expect(shown.status).toBe(204);
    expect(shown.headers.get('access-control-allow-origin')).toBe('*');
    expect((await beacon(toAda.trackUrl, JSON.stringify({ token: toAda.token, type: 'DISPLAYED' }), 'application/json')).status).toBe(204);
    // A click without a display beacon counts as displayed too; the mutation works like the beacon.
    expect(dataOf(await publishable(Record, { token: toBob.token, type: 'CLICKED' })).recordMessageEvent).toMatchObject({
      data: { status: 'SENT', displayedAt: expect.any(String), clickedAt: expect.any(String) },
    });
    expect(dataOf(await publishable(Record, { token: toBob.token, type: 'CLICKED' })).recordMessageEvent.__typename).toBe('MutationRecordMessageEventSuccess');
    // The close some desktops send after a click is not a dismissal: as a beacon or the mutation, it changes nothing.
    expect((await beacon(toBob.trackUrl, JSON.stringify({ token: toBob.token, type: 'CLOSED' }))).status).toBe(204);
    expect(dataOf(await publishable(Record, { token: toBob.token, type: 'CLOSED' })).recordMessageEvent).toMatchObject({
      data: { clickedAt: expect.any(String), closedAt: null },
    });
    expect(dataOf(await secret(Record, { token: toAda.token, type: 'CLOSED' })).recordMessageEvent).toMatchObject({ data: { closedAt: expect.any(String) } });

    // Forged, malformed and foreign tokens change nothing.
    const forged = forgeToken(toAda.token);
    expect((await beacon(toAda.trackUrl, JSON.stringify({ token: forged, type: 'CLICKED' }))).status).toBe(404);
    expect((await beacon(toAda.trackUrl, '{"token":')).status).toBe(400);
    expect((await beacon(toAda.trackUrl, JSON.stringify({ token: toAda.token, type: 'BOUGHT' }))).status).toBe(400);
    expect(dataOf(await publishable(Record, { token: 'nonsense', type: 'CLICKED' })).recordMessageEvent).toMatchObject({ __typename: 'NotFoundError' });
    const other = await h.workspace('Other shop');
    expect(dataOf(await other.publishable(Record, { token: toAda.token, type: 'CLICKED' })).recordMessageEvent).toMatchObject({ __typename: 'NotFoundError' });

    // Conversions: a purchase in the window converts the most recent message, once; later or earlier ones do not.
    await secret(Track, { externalId: 'ada' });
    await secret(Track, { externalId: 'ada' });
    await secret(Track, { externalId: 'bob', occurredAt: new Date(Date.now() + 2 * 3600_000).toISOString() });
    await secret(Track, { externalId: 'bob', occurredAt: new Date(Date.now() - 3600_000).toISOString() });

    const campaign = dataOf(await secret(Stats, { id })).campaign!;
    expect(campaign.stats).toEqual({ targeted: 2, sent: 2, displayed: 2, clicked: 1, closed: 1, conversions: 1, clickRate: 0.5, conversionRate: 0.5 });
    // The counters are what the ledger says.
    const rows = campaign.messages.edges.map(({ node }) => node);
    expect(campaign.sent.totalCount).toBe(campaign.stats.sent);
    expect(rows.filter((row) => row.displayedAt).length).toBe(campaign.stats.displayed);
    expect(rows.filter((row) => row.clickedAt).length).toBe(campaign.stats.clicked);
    expect(rows.filter((row) => row.closedAt).length).toBe(campaign.stats.closed);
    expect(rows.filter((row) => row.convertedAt).map((row) => row.contact.externalId)).toEqual(['ada']);

    const now = Date.now();
    const analytics = dataOf(await secret(Analytics, { from: new Date(now - 3600_000).toISOString(), to: new Date(now + 3600_000).toISOString() })).analytics;
    expect(analytics.totals).toEqual({ sent: 2, displayed: 2, clicked: 1, conversions: 1 });
    expect(analytics.buckets.length).toBeGreaterThanOrEqual(2);
    expect(analytics.timezone).toBe('UTC');
  });
});

describe('analytics buckets', () => {
  it('buckets a conversion at the time of its event, as the message shows it', async () => {
    const { secret, publishable, workspace } = await h.workspace();
    await subscribeBrowser(publishable, h.push, { externalId: 'ada' });
    const id = await createCampaign(secret, { name: 'Sale', kind: 'BROADCAST', content, conversion: { event: 'purchase', withinSeconds: 3 * 3600 } });
    await secret(SendNow, { id });
    await waitForStatus(secret, id);
    const workspaceId = Buffer.from(workspace.id, 'base64').toString().split(':')[1]!;
    const hour = 3600_000;
    const start = Math.floor(Date.now() / hour) * hour;
    // Sent two hours before this hour began; the purchase, tracked only now, was made in the hour before this one.
    await h.kit.herald.prisma.$executeRaw`UPDATE "Message" SET "sentAt" = ${new Date(start - 2 * hour)} WHERE "workspaceId" = ${workspaceId}::uuid`;
    const purchasedAt = new Date(start - hour / 2);
    await secret(Track, { externalId: 'ada', occurredAt: purchasedAt.toISOString() });

    const message = dataOf(await secret(Stats, { id })).campaign!.messages.edges[0]!.node;
    expect(new Date(message.convertedAt!).toISOString()).toBe(purchasedAt.toISOString());
    const buckets = dataOf(await secret(Analytics, { from: new Date(start - 3 * hour).toISOString(), to: new Date(start + hour).toISOString() })).analytics.buckets;
    expect(buckets.map((bucket) => [new Date(bucket.start).getTime() - start, bucket.sent])).toEqual([
      [-3 * hour, 0],
      [-2 * hour, 1],
      [-hour, 0],
      [0, 0],
    ]);
    expect(dataOf(await secret(Analytics, { from: new Date(start - hour).toISOString(), to: new Date(start).toISOString() })).analytics.totals.conversions).toBe(1);
  });

  it('buckets each real hour once on the days the clocks change, in the workspace zone', async () => {
    const { secret, publishable, workspace } = await h.workspace();
    for (const anonymousId of ['a', 'b', 'c', 'd']) await subscribeBrowser(publishable, h.push, { anonymousId });
    const id = await createCampaign(secret, { name: 'Night', kind: 'BROADCAST', content });
    await secret(SendNow, { id });
    await waitForStatus(secret, id);
    const workspaceId = Buffer.from(workspace.id, 'base64').toString().split(':')[1]!;
    await h.kit.herald.prisma.$executeRaw`UPDATE "Workspace" SET timezone = 'Europe/Berlin' WHERE id = ${workspaceId}::uuid`;
    // Berlin: 2026-03-29 02:00 CET jumps to 03:00 CEST (01:00Z); 2026-10-25 03:00 CEST goes back to 02:00 CET (01:00Z).
    const sentAt = ['2026-03-29T00:30:00Z', '2026-03-29T01:30:00Z', '2026-10-25T00:30:00Z', '2026-10-25T01:30:00Z'];
    await h.kit.herald.prisma.$executeRaw`
      UPDATE "Message" m SET "sentAt" = t.at::timestamptz
      FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM "Message" WHERE "workspaceId" = ${workspaceId}::uuid) r
      JOIN unnest(${sentAt}::text[]) WITH ORDINALITY AS t(at, n) ON t.n = r.n
      WHERE m.id = r.id`;
    const buckets = async (from: string, to: string, interval: 'HOUR' | 'DAY') =>
      dataOf(await secret(Buckets, { from, to, interval })).analytics.buckets.map(({ start, sent }) => [new Date(start).toISOString(), sent]);

    expect(await buckets('2026-03-28T23:00:00Z', '2026-03-29T03:00:00Z', 'HOUR')).toEqual([
      ['2026-03-28T23:00:00.000Z', 0],
      ['2026-03-29T00:00:00.000Z', 1],
      ['2026-03-29T01:00:00.000Z', 1],
      ['2026-03-29T02:00:00.000Z', 0],
    ]);
    expect(await buckets('2026-10-24T23:00:00Z', '2026-10-25T03:00:00Z', 'HOUR')).toEqual([
      ['2026-10-24T23:00:00.000Z', 0],
      ['2026-10-25T00:00:00.000Z', 1],
      ['2026-10-25T01:00:00.000Z', 1],
      ['2026-10-25T02:00:00.000Z', 0],
    ]);
    // Days start at local midnight, whatever their length.
    expect(await buckets('2026-10-24T22:00:00Z', '2026-10-26T23:00:00Z', 'DAY')).toEqual([
      ['2026-10-24T22:00:00.000Z', 2],
      ['2026-10-25T23:00:00.000Z', 0],
    ]);
  });
});

describe('campaign counters', () => {
  it('stop counting a waiting message as queued once its contact is deleted', async () => {
    const { secret, publishable } = await h.workspace();
    await subscribeBrowser(publishable, h.push, { externalId: 'ada' });
    await subscribeBrowser(publishable, h.push, { externalId: 'bob' });
    // A window that opens in three hours: both messages wait, QUEUED.
    const hhmm = (at: number) => new Date(at).toISOString().slice(11, 16);
    const deliveryWindow = { start: hhmm(Date.now() + 3 * 3600_000), end: hhmm(Date.now() + 4 * 3600_000) };
    const id = await createCampaign(secret, { name: 'Later', kind: 'BROADCAST', content, deliveryWindow });
    await secret(SendNow, { id });
    for (let waited = 0; dataOf(await secret(Waiting, { id })).campaign!.stats.queued < 2; waited += 100) {
      if (waited > 20_000) throw new Error('the messages never waited');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const contactId = dataOf(await secret(ContactId, { externalId: 'ada' })).contact!.id;
    expect(dataOf(await secret(DeleteContact, { id: contactId })).deleteContact.__typename).toBe('MutationDeleteContactSuccess');
    const afterDelete = dataOf(await secret(Waiting, { id })).campaign!;
    expect(afterDelete.stats.queued).toBe(afterDelete.messages.totalCount);
    expect(afterDelete.stats.queued).toBe(1);
    await secret(Cancel, { id });
    expect(dataOf(await secret(Waiting, { id })).campaign!.stats).toMatchObject({ queued: 0, sent: 0 });
  });
});

describe('live stats', () => {
  it('streams the snapshot and then the final counts of a 1,000-recipient send over graphql-ws and SSE', async () => {
    const { secret, secretKey, workspace } = await h.workspace();
    const browsers = await seedBrowsers(h.kit.databaseUrl, workspace.id, h.push, 1_000);
    const id = await createCampaign(secret, { name: 'Live', kind: 'BROADCAST', content });

    const client = wsClient(h.kit.wsUrl, secretKey);
    const snapshots: { sent: number; queued: number; targeted: number }[] = [];
    const sentEvents: string[] = [];
    let started!: () => void;
    const subscribed = new Promise<void>((resolve) => (started = resolve));
    const wsDone = (async () => {
      for await (const result of client.iterate({ query: printDoc(LiveStats), variables: { id } })) {
        const stats = (result.data as { campaignStats: (typeof snapshots)[number] }).campaignStats;
        snapshots.push(stats);
        if (snapshots.length === 1) started();
        if (stats.sent === 1_000) break;
      }
    })();
    const eventsDone = (async () => {
      for await (const result of client.iterate({ query: printDoc(LiveEvents), variables: { id } })) {
        const event = (result.data as { deliveryEvents: { type: string; messageId: string } }).deliveryEvents;
        if (event.type === 'SENT') sentEvents.push(event.messageId);
        if (sentEvents.length === 1_000) break;
      }
    })();
    const sse = sseStats(`${h.kit.graphqlUrl}`, secretKey, id);
    await subscribed;
    await sse.first;
    await new Promise((resolve) => setTimeout(resolve, 200)); // let the deliveryEvents subscription settle

    await secret(SendNow, { id });
    await Promise.all([wsDone, eventsDone, sse.done]);
    await client.dispose();

    expect(snapshots[0]).toEqual({ sent: 0, queued: 0, targeted: 0, displayed: 0 });
    expect(snapshots.at(-1)).toMatchObject({ sent: 1_000, queued: 0, targeted: 1_000 });
    // Coalesced: far fewer updates than messages.
    expect(snapshots.length).toBeLessThan(200);
    expect(new Set(sentEvents).size).toBe(1_000);
    expect(sse.snapshots[0]).toMatchObject({ sent: 0 });
    expect(sse.snapshots.at(-1)).toMatchObject({ sent: 1_000 });
    for (const browser of browsers) expect(h.push.received(browser.id)).toHaveLength(1);
  }, 60_000);

  it('leaves what is done with a test push out of the live feed, as out of the stats', async () => {
    const { secret, secretKey, publishable } = await h.workspace();
    const ada = await subscribeBrowser(publishable, h.push, { externalId: 'ada' });
    const bob = await subscribeBrowser(publishable, h.push, { externalId: 'bob' });
    const id = await createCampaign(secret, { name: 'Sale', kind: 'BROADCAST', content });
    await secret(SendNow, { id });
    await waitForStatus(secret, id);
    const contactId = dataOf(await secret(ContactId, { externalId: 'ada' })).contact!.id;
    const sent = dataOf(await secret(TestPush, { campaignId: id, contactId })).sendTestPush;
    if (sent.__typename !== 'MutationSendTestPushSuccess') throw new Error(`sendTestPush failed: ${JSON.stringify(sent)}`);
    const testToken = (h.push.received(ada.browser.id)[1]!.json as { token: string }).token;

    const client = wsClient(h.kit.wsUrl, secretKey);
    const seen: { type: string; messageId: string }[] = [];
    const feed = (async () => {
      for await (const result of client.iterate({ query: printDoc(LiveEvents), variables: { id } })) {
        seen.push((result.data as { deliveryEvents: (typeof seen)[number] }).deliveryEvents);
        if (seen.length === 3) break;
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 300)); // let the subscription settle
    await secret(Record, { token: testToken, type: 'CLICKED' });
    await secret(Record, { token: payloadOf(bob.browser.id).token, type: 'CLICKED' });
    await secret(Record, { token: payloadOf(ada.browser.id).token, type: 'DISPLAYED' });
    await feed;
    await client.dispose();

    expect(seen.map((event) => event.messageId)).not.toContain(sent.data.id);
    expect(dataOf(await secret(Stats, { id })).campaign!.stats).toMatchObject({ displayed: 2, clicked: 1 });
  });

  it("refuses another workspace's campaign", async () => {
    const { secret } = await h.workspace();
    const id = await createCampaign(secret, { name: 'Mine', kind: 'BROADCAST', content });
    const other = await h.workspace('Other');
    const [result] = await take(wsClient(h.kit.wsUrl, other.secretKey), LiveStats, { id }, 1);
    expect(result!.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });
});

const printDoc = (document: unknown) => print(document as DocumentNode);

/** A GraphQL-over-SSE client reading campaignStats until sent reaches 1,000. */
function sseStats(url: string, key: string, id: string) {
  const snapshots: { sent: number }[] = [];
  let gotFirst!: () => void;
  const first = new Promise<void>((resolve) => (gotFirst = resolve));
  const done = (async () => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query: printDoc(LiveStats), variables: { id } }),
    });
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done: ended } = await reader.read();
      if (ended) break;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const chunk = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = chunk.split('\n').find((line) => line.startsWith('data:'));
        if (!data || data === 'data:') continue;
        const stats = (JSON.parse(data.slice(5)) as { data: { campaignStats: { sent: number } } }).data.campaignStats;
        snapshots.push(stats);
        if (snapshots.length === 1) gotFirst();
        if (stats.sent === 1_000) return void (await reader.cancel());
      }
    }
  })();
  return { snapshots, first, done };
}

describe('the beacon endpoint', () => {
  it('limits beacons per address and says when to come back', async () => {
    const limited = await startTestHerald({ HERALD_PUBLIC_RATE_LIMIT: '3' });
    try {
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      for (let index = 0; index < 5; index++) {
        const response = await beacon(`${limited.url}/track`, JSON.stringify({ token: 'nonsense', type: 'DISPLAYED' }));
        statuses.push(response.status);
        retryAfter ??= response.headers.get('retry-after');
      }
      // Three bad beacons are answered (and change nothing); after that the address waits.
      expect(statuses).toEqual([404, 404, 404, 429, 429]);
      expect(Number(retryAfter)).toBeGreaterThan(0);
    } finally {
      await limited.stop();
    }
  });
});
