/**
 * A phone changes hands (a customer logs out and another signs in, or the phone is sold): its
 * token is registered again for the new contact and moves to them. A message written for the old
 * owner and still waiting (a trigger's delay, a delivery window) is theirs, rendered from their
 * data: it must not reach the phone's new owner.
 */
import { describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import { activateCampaign, createCampaign } from '../kit/campaigns.ts';
import { dataOf, postRaw } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';
import { configureMobilePush, deviceToken, registerDevice, useMobilePush } from '../kit/mobile.ts';

const Messages = graphql(`
  query MovedDeviceMessages($id: ID!) {
    campaign(id: $id) { messages(first: 10) { edges { node { status reason contact { externalId } } } } }
  }
`);

describe('a phone that moved to another contact', { timeout: 60_000 }, () => {
  const m = useMobilePush();
  const h = useHerald(m.env, { push: false });
  const shop = h.useWorkspace();

  it("does not get the previous owner's waiting message", async () => {
    await configureMobilePush(shop.secret, m);
    const token = deviceToken('IOS');
    await registerDevice(shop.secret, { platform: 'IOS', token, externalId: 'alice' });
    const id = await createCampaign(shop.secret, {
      name: 'Shipped',
      kind: 'TRIGGERED',
      channel: 'MOBILE_PUSH',
      mobilePush: { title: 'Hi {{ contact.externalId }}', body: 'Order {{ event.properties.order }} shipped to {{ event.properties.address }}' },
      trigger: { event: 'shipped', delaySeconds: 2 },
    });
    await activateCampaign(shop.secret, id);
    const tracked = await postRaw(h.kit.graphqlUrl, shop.secretKey, `mutation { trackEvent(input: { externalId: "alice", name: "shipped", properties: { order: "A-1001", address: "12 Main St" } }) { __typename } }`);
    expect(tracked.body.data).toEqual({ trackEvent: { __typename: 'MutationTrackEventSuccess' } });
    // While the message waits, Alice's phone is signed in by someone else (the app registers it again).
    await registerDevice(shop.publishable, { platform: 'IOS', token, anonymousId: 'new-owner-install' });

    let message: { status: string; reason: string | null } | undefined;
    for (const deadline = Date.now() + 15_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 200))) {
      message = dataOf(await shop.secret(Messages, { id })).campaign!.messages.edges[0]?.node;
      if (message && message.status !== 'QUEUED' && message.status !== 'SENDING') break;
    }
    expect(m.apns.received(token).map((push) => push.payload.aps)).toEqual([]);
    expect(message).toMatchObject({ status: 'SUPPRESSED', reason: 'NOT_ELIGIBLE', contact: { externalId: 'alice' } });
  });
});
