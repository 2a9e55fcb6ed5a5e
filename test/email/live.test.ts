import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { print } from 'graphql';
import { graphql } from '../generated/index.ts';
import { createCampaign, SendNow, waitForStatus } from '../kit/campaigns.ts';
import { dataOf, wsClient } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';
import { startSmtpServer, type TestSmtpServer } from '../kit/smtp-server.ts';

const Settings = graphql(`
  mutation EmailLiveCountsSettings($input: MutationUpdateWorkspaceSettingsInput!) {
    updateWorkspaceSettings(input: $input) { __typename }
  }
`);
const Upsert = graphql(`
  mutation EmailLiveCountsUpsert($input: ContactInput!) {
    upsertContact(input: $input) { __typename ... on MutationUpsertContactSuccess { data { id } } }
  }
`);
const Messages = graphql(`
  query EmailLiveCountsMessages($id: ID!) {
    campaign(id: $id) { messages(first: 20) { edges { node { id contact { id } } } } }
  }
`);
const Feedback = graphql(`
  mutation EmailLiveCountsFeedback($input: MutationRecordEmailFeedbackInput!) {
    recordEmailFeedback(input: $input) { __typename }
  }
`);
const LiveStats = graphql(`
  subscription EmailLiveCountsStats($id: ID!) {
    campaignStats(campaignId: $id) { sent delivered opened machineOpened clicked unsubscribed bounced complained }
  }
`);
const LiveEvents = graphql(`
  subscription EmailLiveCountsEvents($id: ID!) { deliveryEvents(campaignId: $id) { type contactId } }
`);

type Stats = { sent: number; delivered: number; opened: number; machineOpened: number; clicked: number; unsubscribed: number; bounced: number; complained: number };

const h = useHerald({ HERALD_SMTP_ALLOWED_HOSTS: '127.0.0.1' }, { push: false });
let smtp: TestSmtpServer;
beforeAll(async () => {
  smtp = await startSmtpServer();
});
afterAll(() => smtp?.close());

/** Everything a subscription yields, collected as it comes, until stopped. */
function collect<T>(client: Client, document: unknown, variables: Record<string, unknown>, pick: (data: any) => T) {
  const items: T[] = [];
  const subscription = client.iterate({ query: print(document as Parameters<typeof print>[0]), variables });
  const done = (async () => {
    for await (const result of subscription) {
      if (result.errors) throw new Error(JSON.stringify(result.errors));
      items.push(pick(result.data));
    }
  })();
  return { items, done, stop: () => subscription.return?.() };
}

async function until(what: string, condition: () => boolean, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('an email campaign, live', () => {
  it('moves every counter in campaignStats and streams each email step in deliveryEvents, over a WebSocket', async () => {
    const { secret, secretKey } = await h.workspace();
    expect(dataOf(await secret(Settings, { input: { email: { fromAddress: 'news@shop.example', fromName: 'Shop', smtpUrl: smtp.url } } })).updateWorkspaceSettings.__typename).toBe(
      'MutationUpdateWorkspaceSettingsSuccess',
    );
    const stamp = Date.now();
    const names = ['machine', 'person', 'leaver', 'complainer', 'refused', 'returned'] as const;
    const address = Object.fromEntries(names.map((name) => [name, `${name}-${stamp}@mail.example`])) as Record<(typeof names)[number], string>;
    const contactId: Record<string, string> = {};
    for (const name of names) {
      const upserted = dataOf(await secret(Upsert, { input: { externalId: `${name}-${stamp}`, email: address[name], emailOptIn: true } })).upsertContact;
      if (upserted.__typename !== 'MutationUpsertContactSuccess') throw new Error(`upsertContact: ${upserted.__typename}`);
      contactId[upserted.data.id] = name;
    }
    // The mail server refuses one recipient for good: a hard bounce at send.
    smtp.failRecipient(address.refused, 550, '5.1.1 no such user');
    const id = await createCampaign(secret, {
      name: 'Live news',
      kind: 'BROADCAST',
      channel: 'EMAIL',
      email: { subject: 'News', html: '<p>Read <a href="https://shop.example/news">the news</a> or <a href="{{ unsubscribe_url }}">unsubscribe</a></p>' },
    });

    const client = wsClient(h.kit.wsUrl, secretKey);
    const stats = collect<Stats>(client, LiveStats, { id }, (data) => data.campaignStats);
    const events = collect<string>(client, LiveEvents, { id }, (data) => `${data.deliveryEvents.type} ${contactId[data.deliveryEvents.contactId]}`);
    try {
      await until('the first stats snapshot', () => stats.items.length > 0);
      await new Promise((resolve) => setTimeout(resolve, 200)); // let deliveryEvents subscribe too
      await secret(SendNow, { id });
      await waitForStatus(secret, id);
      await until('a snapshot with the send', () => stats.items.at(-1)!.delivered === 5 && stats.items.at(-1)!.bounced === 1);

      // People's answers come an hour after the send: not a link scanner's seconds.
      await h.kit.herald.prisma.message.updateMany({ where: { campaignId: Buffer.from(id, 'base64').toString().split(':')[1]! }, data: { sentAt: new Date(Date.now() - 3600_000) } });
      const mailTo = (name: (typeof names)[number]) => smtp.to(address[name])[0]!;
      const pixelOf = (name: (typeof names)[number]) => /src="([^"]+\/e\/o\/[^"]+\.gif)"/.exec(mailTo(name).html!)![1]!;
      const person = { 'user-agent': 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)' };
      expect((await fetch(pixelOf('machine'), { headers: { 'user-agent': 'Mozilla/5.0' } })).status).toBe(200); // Apple's privacy proxy
      expect((await fetch(pixelOf('person'), { headers: person })).status).toBe(200);
      const link = /href="([^"]+\/e\/c\/[^"]+)"/.exec(mailTo('person').html!)![1]!.replaceAll('&amp;', '&');
      expect((await fetch(link, { headers: person, redirect: 'manual' })).status).toBe(302);
      // Live snapshots coalesce what lands close together: the open is seen before the unsubscribe is made.
      await until('a snapshot with the open and the click', () => stats.items.at(-1)!.opened === 1 && stats.items.at(-1)!.clicked === 1);
      const unsubscribe = /<(https?:\/\/[^>]+\/e\/u\/[^>]+)>/.exec(mailTo('leaver').headers['list-unsubscribe']!)![1]!;
      const oneClick = await fetch(unsubscribe, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
      expect(oneClick.status).toBe(200);
      const messageOf = Object.fromEntries(
        dataOf(await secret(Messages, { id })).campaign!.messages.edges.map(({ node }) => [contactId[node.contact.id], node.id]),
      ) as Record<string, string>;
      expect(dataOf(await secret(Feedback, { input: { messageId: messageOf.complainer!, type: 'COMPLAINT' } })).recordEmailFeedback.__typename).toBe(
        'MutationRecordEmailFeedbackSuccess',
      );
      expect(dataOf(await secret(Feedback, { input: { messageId: messageOf.returned!, type: 'BOUNCE', permanent: true, diagnostic: '550 5.1.1 gone' } })).recordEmailFeedback.__typename).toBe(
        'MutationRecordEmailFeedbackSuccess',
      );

      const expected = [
        ...names.map((name) => `QUEUED ${name}`),
        ...['machine', 'person', 'leaver', 'complainer', 'returned'].map((name) => `SENT ${name}`),
        'FAILED refused',
        'BOUNCED refused',
        'DISPLAYED machine',
        'DISPLAYED person',
        'OPENED person',
        'CLICKED person',
        'UNSUBSCRIBED leaver',
        'COMPLAINED complainer',
        'FAILED returned',
        'BOUNCED returned',
      ];
      await until('every email step in deliveryEvents', () => expected.every((step) => events.items.includes(step)));
      await until('the last counters in campaignStats', () => stats.items.at(-1)!.complained === 1 && stats.items.at(-1)!.bounced === 2);
      // The returned email left the ledger's SENT for FAILED/BOUNCED: four remain delivered.
      expect(stats.items.at(-1)).toEqual({ sent: 4, delivered: 4, opened: 1, machineOpened: 1, clicked: 1, unsubscribed: 1, bounced: 2, complained: 1 });
      // Each step once: no step counted or announced twice.
      expect([...events.items].sort()).toEqual([...expected].sort());
      // The counters moved one answer at a time, as they came, not only at the end.
      expect(stats.items.some((snapshot) => snapshot.opened === 1 && snapshot.unsubscribed === 0)).toBe(true);
    } finally {
      await stats.stop();
      await events.stop();
      await client.dispose();
      smtp.clearFaults();
    }
  });
});
