import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { graphql } from '../generated/index.ts';
import { activateCampaign, createCampaign } from '../kit/campaigns.ts';
import { dataOf } from '../kit/client.ts';
import { useHeraldProcesses } from '../kit/fixture.ts';
import { createWorkspace } from '../kit/flow.ts';

const TrackMany = graphql(`
  mutation SlowReaderTrackMany($events: [EventInput!]!) {
    trackEvents(input: { events: $events }) { __typename ... on MutationTrackEventsSuccess { data { count } } ... on Error { message } }
  }
`);

const processes = useHeraldProcesses('slow-reader', () => ({ LOG_LEVEL: 'warn' }));

/** A socket subscribed `count` times to the workspace's delivery events, then no longer reading. */
async function stalledFeed(wsUrl: string, key: string, count: number): Promise<WebSocket> {
  const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
  await new Promise<void>((resolve, reject) => {
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${key}` } })));
    socket.on('message', (data) => {
      if (JSON.parse(String(data)).type === 'connection_ack') resolve();
    });
    socket.on('error', reject);
  });
  for (let id = 0; id < count; id++) {
    socket.send(JSON.stringify({ id: String(id), type: 'subscribe', payload: { query: 'subscription { deliveryEvents { type messageId campaignId contactId at } }' } }));
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  socket.pause();
  return socket;
}

describe('a live feed whose reader stops reading', () => {
  it('does not end the server while deliveries go on (more than 1,024 batches it does not take)', async () => {
    const herald = await processes.start();
    const shop = await createWorkspace(herald);
    const campaign = await createCampaign(shop.secret, {
      name: 'Welcome',
      kind: 'TRIGGERED',
      content: { title: 'Hi', url: 'https://shop.example/' },
      trigger: { event: 'visit' },
      frequencyCapped: false,
    });
    await activateCampaign(shop.secret, campaign);
    const socket = await stalledFeed(herald.graphqlUrl.replace(/^http/, 'ws'), shop.secretKey, 20);
    try {
      // One large batch fills the socket's buffers (each visitor without a browser: a SUPPRESSED row)...
      const crowd = Array.from({ length: 3000 }, (_, index) => ({ anonymousId: `crowd-${index}`, name: 'visit' }));
      expect(dataOf(await shop.secret(TrackMany, { events: crowd })).trackEvents.__typename).toBe('MutationTrackEventsSuccess');
      // ...then each of these is one more batch for every subscription the reader does not take.
      let tracked = 0;
      while (tracked < 1200 && herald.child.exitCode === null) {
        const result = await shop.secret(TrackMany, { events: [{ anonymousId: 'regular', name: 'visit' }] }).catch((error: Error) => ({ errors: [error] }));
        if (result.errors?.length) break;
        tracked++;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(herald.child.exitCode, herald.output().slice(-600)).toBeNull();
      expect(herald.output()).not.toMatch(/pending calls to push/);
      expect(tracked).toBe(1200);
      expect((await fetch(`${herald.url}/healthz`)).status).toBe(200);
    } finally {
      socket.terminate();
    }
  }, 180_000);
});
