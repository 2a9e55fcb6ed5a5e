import { describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import { createCampaign, SendNow, waitForStatus } from '../kit/campaigns.ts';
import { dataOf } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';
import { configureMobilePush, deviceToken, registerDevice, useMobilePush } from '../kit/mobile.ts';

const Messages = graphql(`
  query MobileSendMessages($id: ID!) {
    campaign(id: $id) {
      status
      stats { targeted sent failed suppressed opened displayed suppressedBy { reason count } }
      messages(first: 50) { edges { node { id status reason error attempts channel contact { externalId } } } }
    }
  }
`);

const Devices = graphql(`
  query MobileSendDevices($externalId: String!) {
    contact(externalId: $externalId) { devices { token status platform } }
  }
`);

const Opened = graphql(`
  mutation MobileSendOpened($token: String!) {
    recordMessageEvent(input: { token: $token, type: OPENED }) {
      __typename
      ... on MutationRecordMessageEventSuccess { data { status openedAt displayedAt } }
      ... on Error { code message }
    }
  }
`);

const mobilePush = {
  title: 'Hi {{ contact.firstName | default: "there" }}',
  body: 'Your cart misses you',
  imageUrl: 'https://cdn.shop.example/cart.png',
  url: 'myshop://cart?from={{ contact.externalId }}',
  data: { screen: 'cart', promo: 10, vip: true },
  badge: 3,
  sound: 'chime.caf',
  category: 'CART',
  ttlSeconds: 3600,
};

describe('MOBILE_PUSH campaigns through the local APNs and FCM', () => {
  const m = useMobilePush();
  const h = useHerald(m.env, { push: false });
  const shop = h.useWorkspace();

  async function broadcast(name: string, externalIds: string[], content: Record<string, unknown> = mobilePush) {
    const id = await createCampaign(shop.secret, {
      name,
      kind: 'BROADCAST',
      channel: 'MOBILE_PUSH',
      mobilePush: content,
      audience: { rule: { attribute: { path: 'externalId', op: 'IN', value: externalIds } } },
    });
    expect(dataOf(await shop.secret(SendNow, { id })).sendCampaignNow.__typename).toBe('MutationSendCampaignNowSuccess');
    await waitForStatus(shop.secret, id, 'SENT');
    return { id, ...dataOf(await shop.secret(Messages, { id })).campaign! };
  }

  /** Polls the campaign until `opened` reaches `count` (opens are counted as they are reported). */
  async function waitForOpened(id: string, count: number) {
    for (let tries = 0; ; tries++) {
      const state = dataOf(await shop.secret(Messages, { id })).campaign!;
      if (state.stats.opened >= count || tries > 50) return state;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it('reaches an iPhone and an Android phone with payloads rendered for each, and the app reports OPENED', async () => {
    await configureMobilePush(shop.secret, m);
    const iphone = await registerDevice(shop.secret, { platform: 'IOS', externalId: 'ada' });
    const pixel = await registerDevice(shop.secret, { platform: 'ANDROID', externalId: 'ada' });
    const campaign = await broadcast('Cart reminder', ['ada']);
    expect(campaign.stats).toMatchObject({ targeted: 2, sent: 2, failed: 0 });

    const [apple] = m.apns.received(iphone.token);
    expect(apple!.payload.aps).toEqual({ alert: { title: 'Hi there', body: 'Your cart misses you' }, badge: 3, sound: 'chime.caf', category: 'CART', 'mutable-content': 1 });
    expect(apple!.payload).toMatchObject({ screen: 'cart', promo: 10, vip: true, herald: { url: 'myshop://cart?from=ada', imageUrl: 'https://cdn.shop.example/cart.png' } });
    expect(apple!.headers).toMatchObject({ pushType: 'alert', priority: '10', topic: 'com.shop.app', collapseId: apple!.payload.herald!.messageId, id: apple!.payload.herald!.messageId });
    expect(apple!.headers.expiration).toBeGreaterThan(Date.now() / 1000 + 3500);
    expect(apple!.headers.expiration).toBeLessThanOrEqual(Date.now() / 1000 + 3600);

    const [google] = m.fcm.received(pixel.token);
    expect(google!.message.notification).toEqual({ title: 'Hi there', body: 'Your cart misses you', image: 'https://cdn.shop.example/cart.png' });
    expect(google!.message.android).toMatchObject({ priority: 'HIGH', ttl: expect.stringMatching(/^(3600|359\d)s$/), notification: { sound: 'chime.caf', click_action: 'CART', notification_count: 3 } });
    expect(google!.message.data).toMatchObject({ screen: 'cart', promo: '10', vip: 'true' });
    const herald = JSON.parse(google!.message.data!.herald!) as { messageId: string; token: string; url: string };
    expect(herald.url).toBe('myshop://cart?from=ada');
    expect(google!.message.android!.notification!.tag).toBe(herald.messageId);

    // The app reports the tap with the token it received; a second report counts once.
    for (const token of [apple!.payload.herald!.token, herald.token, herald.token]) {
      const opened = dataOf(await shop.publishable(Opened, { token })).recordMessageEvent;
      expect(opened).toMatchObject({ __typename: 'MutationRecordMessageEventSuccess', data: { status: 'SENT', openedAt: expect.any(String), displayedAt: expect.any(String) } });
    }
    const after = await waitForOpened(campaign.id, 2);
    expect(after.stats).toMatchObject({ opened: 2, displayed: 2 });
  });

  it('prunes tokens APNs and FCM call dead: 410 Unregistered, 400 BadDeviceToken and UNREGISTERED mark the devices EXPIRED', async () => {
    const uninstalled = await registerDevice(shop.secret, { platform: 'IOS', externalId: 'bob' });
    const bad = await registerDevice(shop.secret, { platform: 'IOS', externalId: 'bob' });
    const android = await registerDevice(shop.secret, { platform: 'ANDROID', externalId: 'bob' });
    const live = await registerDevice(shop.secret, { platform: 'ANDROID', externalId: 'bob' });
    m.apns.unregister(uninstalled.token);
    m.apns.behave({ status: 400, reason: 'BadDeviceToken' }, { token: bad.token });
    m.fcm.unregister(android.token);
    const campaign = await broadcast('Pruning', ['bob']);
    expect(campaign.stats).toMatchObject({ targeted: 4, sent: 1, failed: 3 });
    const failed = campaign.messages.edges.map((edge) => edge.node).filter((node) => node.status === 'FAILED');
    expect(failed.map((node) => node.reason)).toEqual(['SUBSCRIPTION_GONE', 'SUBSCRIPTION_GONE', 'SUBSCRIPTION_GONE']);
    expect(failed.map((node) => node.error).sort()).toEqual(['APNs answered 400 (BadDeviceToken)', 'APNs answered 410 (Unregistered)', 'FCM answered 404 (UNREGISTERED)']);
    const devices = dataOf(await shop.secret(Devices, { externalId: 'bob' })).contact!.devices;
    expect(Object.fromEntries(devices.map((device) => [device.token, device.status]))).toEqual({
      [uninstalled.token]: 'EXPIRED',
      [bad.token]: 'EXPIRED',
      [android.token]: 'EXPIRED',
      [live.token]: 'ACTIVE',
    });
    // The next campaign writes no row for the expired devices.
    const next = await broadcast('After pruning', ['bob']);
    expect(next.stats).toMatchObject({ targeted: 1, sent: 1 });
  });

  it('keeps a device APNs answers DeviceTokenNotForTopic: the app or bundle id is misconfigured, the token is not dead', async () => {
    // Apple answers it when the push's topic (the workspace's bundleId) is not the token's app: a
    // settings mistake, not an uninstall. Only 410 and BadDeviceToken prune (docs/mobile-push.md).
    await configureMobilePush(shop.secret, m);
    const phone = await registerDevice(shop.secret, { platform: 'IOS', externalId: 'dora' });
    m.apns.behave({ status: 400, reason: 'DeviceTokenNotForTopic' }, { token: phone.token });
    const campaign = await broadcast('Wrong topic', ['dora']);
    expect(campaign.messages.edges.map((edge) => edge.node)).toMatchObject([
      { status: 'FAILED', reason: 'PUSH_SERVICE_REJECTED', error: 'APNs answered 400 (DeviceTokenNotForTopic)' },
    ]);
    expect(dataOf(await shop.secret(Devices, { externalId: 'dora' })).contact!.devices).toEqual([{ token: phone.token, status: 'ACTIVE', platform: 'IOS' }]);
    // Once the settings are right, the phone gets the next campaign.
    const next = await broadcast('Right topic', ['dora']);
    expect(next.stats).toMatchObject({ targeted: 1, sent: 1 });
  });

  it('retries APNs 429 and 503 and FCM RESOURCE_EXHAUSTED and UNAVAILABLE, then delivers', async () => {
    const iphone = await registerDevice(shop.secret, { platform: 'IOS', externalId: 'carol' });
    const pixel = await registerDevice(shop.secret, { platform: 'ANDROID', externalId: 'carol' });
    m.apns.behave({ status: 429 }, { token: iphone.token });
    m.apns.behave({ status: 503 }, { token: iphone.token });
    m.fcm.behave({ status: 429, retryAfterSeconds: 0 }, { token: pixel.token });
    m.fcm.behave({ status: 503 }, { token: pixel.token });
    const campaign = await broadcast('Retried', ['carol']);
    expect(campaign.stats).toMatchObject({ targeted: 2, sent: 2, failed: 0 });
    expect(campaign.messages.edges.map((edge) => edge.node.attempts)).toEqual([3, 3]);
    expect(m.apns.received(iphone.token)).toHaveLength(1);
    expect(m.fcm.received(pixel.token)).toHaveLength(1);
    expect(m.apns.refused().filter((refusal) => refusal.deviceToken === iphone.token).map((refusal) => refusal.status)).toEqual([429, 503]);
  });

  it('a contact without a device gets a SUPPRESSED NO_SUBSCRIPTION row; a revoked device gets none', async () => {
    await registerDevice(shop.secret, { platform: 'IOS', externalId: 'dan', token: deviceToken('IOS') });
    const revoked = await registerDevice(shop.secret, { platform: 'IOS', externalId: 'erin' });
    await shop.secret(graphql(`mutation MobileSendRevoke($token: String!) { revokeDevice(input: { token: $token }) { __typename } }`), { token: revoked.token });
    const campaign = await broadcast('Suppressed', ['dan', 'erin']);
    expect(campaign.stats).toMatchObject({ targeted: 2, sent: 1, suppressed: 1, suppressedBy: [{ reason: 'NO_SUBSCRIPTION', count: 1 }] });
  });

  it('uses one HTTP/2 connection per provider for many sends', async () => {
    const before = { apns: m.apns.connections(), fcm: m.fcm.connections() };
    for (let index = 0; index < 30; index++) await registerDevice(shop.secret, { platform: index % 2 ? 'IOS' : 'ANDROID', externalId: `many-${index}` });
    const campaign = await broadcast('Many', Array.from({ length: 30 }, (_, index) => `many-${index}`));
    expect(campaign.stats).toMatchObject({ targeted: 30, sent: 30 });
    expect(m.apns.connections() - before.apns).toBe(0);
    expect(m.fcm.connections() - before.fcm).toBe(0);
    expect(m.apns.connections()).toBe(1);
    expect(m.fcm.connections()).toBe(1);
  });
});
