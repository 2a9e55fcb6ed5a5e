/**
 * The chain in real headless Chromium, within what Chromium can do offline: its
 * `pushManager.subscribe` needs Google's FCM and hangs here, so the browser's subscription is
 * simulated at Herald's side by the strict test push service (real keys, VAPID checked, payload
 * decrypted). Herald sends a rich campaign there; its real plaintext (with the signed token and
 * trackUrl) is handed to Chromium's real service worker with CDP ServiceWorker.deliverPushMessage →
 * Herald's worker shows it (seen on the D-Bus notification daemon) → DISPLAYED is counted → a
 * click on an action button opens that action's page → CLICKED is counted.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createCampaign, SendNow, subscribeBrowser } from '../kit/campaigns.ts';
import { createWorkspace } from '../kit/flow.ts';
import { startTestHerald, type TestHerald } from '../kit/herald.ts';
import { startPushService, type TestPushService } from '../kit/push-service.ts';
import { type Chromium, launchChromium } from './kit/chromium.ts';
import { type NotificationBus, startNotificationBus } from './kit/notifications.ts';
import { eventually, queryAs } from './kit/api.ts';

let push: TestPushService;
let bus: NotificationBus;
let chromium: Chromium;
let kit: TestHerald;

beforeAll(async () => {
  push = await startPushService();
  bus = await startNotificationBus();
  kit = await startTestHerald({ HERALD_PUSH_CA: push.caFile, HERALD_DEMO: '1' }); // the visitor's page is the demo shop
  chromium = await launchChromium({ dbusAddress: bus.address });
});
afterAll(async () => {
  await chromium?.close();
  await kit?.stop();
  await bus?.close();
  await push?.close();
});

const STATS = `query($id: ID!) { campaign(id: $id) { status stats { sent displayed clicked } } }`;

/** What `registration.getNotifications()` tells the page about the notification the worker showed. */
interface PageNotification {
  title: string;
  body: string;
  image: string;
  tag: string;
  actions: { action: string; title: string }[];
  data: { url?: string; actions: Record<string, string>; token?: string; trackUrl?: string };
}

describe('Herald in real Chromium', () => {
  afterEach(() => chromium.closeOtherPages());

  it('push (delivered over CDP) → display → action click, counted', async () => {
    onTestFailed(() => console.log(`Chromium said:\n${chromium.logs().join('\n')}\n${chromium.output()}`));
    const origin = new URL(kit.url).origin;
    const shop = await createWorkspace(kit);
    const query = queryAs(kit.graphqlUrl, shop.secretKey);

    // The visitor opens the demo shop. Only then is the permission granted: with it, Herald.init
    // would subscribe, and Chromium's subscribe hangs offline. The worker is registered without
    // subscribing.
    await chromium.navigate(`${kit.url}/demo/?key=${shop.publishableKey}`);
    await chromium.evaluate('Herald.ready');
    await chromium.grantNotifications(origin);
    expect(await chromium.evaluate('Notification.permission')).toBe('granted');
    const registrationId = await chromium.registerWorker('/demo/herald-sw.js');

    // Herald knows a browser of this visitor, subscribed at the test push service.
    const { browser } = await subscribeBrowser(shop.publishable, push, { anonymousId: 'chromium-visitor' });

    // A rich push goes out; the push service checks VAPID and decrypts it.
    const landing = `${kit.url}/demo/?landed=yes`;
    const opened = `${kit.url}/demo/?action=open`;
    const image = `${kit.url}/demo/shoes.png`;
    const id = await createCampaign(shop.secret, {
      name: 'Chromium test',
      kind: 'BROADCAST',
      content: {
        title: 'Hello from Herald',
        body: 'Your {{ contact.anonymousId }} cart',
        imageUrl: image,
        url: landing,
        actions: [
          { action: 'open', title: 'Open', url: opened },
          { action: 'later', title: 'Later' },
        ],
      },
    });
    await shop.secret(SendNow, { id });
    await push.waitFor(() => push.received(browser.id).length > 0, 20_000);
    const [received] = push.received(browser.id);
    expect(received!.json).toMatchObject({ title: 'Hello from Herald', body: 'Your chromium-visitor cart', image, url: landing });
    const payload = received!.json as { token: string; trackUrl: string };
    expect(payload.token).toBeTruthy();
    expect(payload.trackUrl.startsWith(origin)).toBe(true);

    // Chromium's worker gets Herald's exact plaintext in a real `push` event and shows it.
    await chromium.deliverPush(origin, registrationId, received!.payload);
    const shown = await bus.waitFor((notification) => notification.summary === 'Hello from Herald', 20_000);
    // Chromium's Linux bridge puts the origin above the body, and shows the buttons with keys of
    // its own: D-Bus actions are flat [key, label, ...], e.g. ['0', 'Open', '1', 'Later', 'default', …].
    expect(shown.appName).toBe('Chromium');
    expect(shown.body).toBe(`${new URL(origin).host}\n\nYour chromium-visitor cart`);
    const labels = shown.actions.filter((_, index) => index % 2 === 1);
    expect(labels).toEqual(expect.arrayContaining(['Open', 'Later']));
    const openKey = shown.actions[shown.actions.indexOf('Open') - 1];
    expect(openKey).not.toBe('default');

    // The page sees the notification as the worker made it, including the large image.
    const [inPage] = await chromium.evaluate<PageNotification[]>(`
      navigator.serviceWorker.getRegistration('/demo/')
        .then((registration) => registration.getNotifications())
        .then((list) => list.map(({ title, body, image, tag, actions, data }) => ({ title, body, image, tag, actions, data })))`);
    expect(inPage).toMatchObject({
      title: 'Hello from Herald',
      body: 'Your chromium-visitor cart',
      image,
      actions: [
        { action: 'open', title: 'Open' },
        { action: 'later', title: 'Later' },
      ],
      data: { url: landing, actions: { open: opened }, token: payload.token, trackUrl: payload.trackUrl },
    });

    const displayed = await eventually('DISPLAYED counted', async () => {
      const { campaign } = await query(STATS, { id });
      return campaign.stats.displayed === 1 && campaign;
    });
    expect(displayed.stats).toMatchObject({ sent: 1, displayed: 1, clicked: 0 });

    // The visitor clicks "Open": that action's page opens (not the campaign's url) and the click is counted.
    // (That page is the demo again: with the permission now granted, its Herald.init tries to subscribe,
    // which stays pending offline until the SDK's own 20 s timeout; nothing here waits for it.)
    bus.click(shown.id, openKey!);
    await eventually('the action page opened', async () => (await chromium.targets()).some((target) => target.type === 'page' && target.url === opened));
    expect((await chromium.targets()).some((target) => target.url === landing)).toBe(false);
    const clicked = await eventually('CLICKED counted', async () => {
      const { campaign } = await query(STATS, { id });
      return campaign.stats.clicked === 1 && campaign;
    });
    expect(clicked.stats).toMatchObject({ sent: 1, displayed: 1, clicked: 1 });
  });

  it('the same push twice shows one notification; again after it was dismissed, nothing', async () => {
    onTestFailed(() => console.log(`Chromium said:\n${chromium.logs().join('\n')}\n${chromium.output()}`));
    const origin = new URL(kit.url).origin;
    const shop = await createWorkspace(kit);
    const query = queryAs(kit.graphqlUrl, shop.secretKey);
    // Any page of the origin without the SDK: with the permission granted, the demo's Herald.init
    // would register its own worker URL (an update racing this one) and try to subscribe offline.
    await chromium.grantNotifications(origin);
    await chromium.navigate(`${kit.url}/demo/herald-sw.js`);
    const registrationId = await chromium.registerWorker('/demo/herald-sw.js');
    const { browser } = await subscribeBrowser(shop.publishable, push, { anonymousId: 'chromium-twice' });

    const id = await createCampaign(shop.secret, { name: 'Twice', kind: 'BROADCAST', content: { title: 'Twice over CDP', url: `${kit.url}/demo/` } });
    await shop.secret(SendNow, { id });
    await push.waitFor(() => push.received(browser.id).length > 0, 20_000);
    const [received] = push.received(browser.id);
    const stats = async () => (await query(`query($id: ID!) { campaign(id: $id) { stats { displayed closed } } }`, { id })).campaign.stats;
    const popups = () => bus.calls().filter((call) => call.summary === 'Twice over CDP');
    // Pushes reach the worker in order: once a later one is shown, the worker has handled the one before.
    const thenAnother = async (marker: string) => {
      await chromium.deliverPush(origin, registrationId, marker);
      await bus.waitFor((notification) => notification.summary === marker, 20_000);
    };

    await chromium.deliverPush(origin, registrationId, received!.payload);
    const shown = await bus.waitFor((notification) => notification.summary === 'Twice over CDP', 20_000);
    await chromium.deliverPush(origin, registrationId, received!.payload); // the same message, again
    await thenAnother('after the repeat');
    expect(popups()).toHaveLength(1);
    await eventually('DISPLAYED counted', async () => (await stats()).displayed === 1);

    bus.dismiss(shown.id);
    await eventually('CLOSED counted', async () => (await stats()).closed === 1);
    await chromium.deliverPush(origin, registrationId, received!.payload);
    await thenAnother('after the dismissal');
    expect(popups()).toHaveLength(1);
    expect(await stats()).toEqual({ displayed: 1, closed: 1 });
  });

  it('remembers the last 500 messages within 30 days, no more', async () => {
    onTestFailed(() => console.log(`Chromium said:\n${chromium.logs().join('\n')}\n${chromium.output()}`));
    const origin = new URL(kit.url).origin;
    await chromium.grantNotifications(origin);
    await chromium.navigate(`${kit.url}/demo/herald-sw.js`); // any page of the origin; no SDK here
    const registrationId = await chromium.registerWorker('/demo/herald-sw.js');
    const inDatabase = (script: string) =>
      chromium.evaluate<any>(`new Promise((resolve, reject) => {
        const open = indexedDB.open('herald-sw');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => { const store = open.result.transaction('shown', 'readwrite').objectStore('shown'); const request = ${script};
          request.onsuccess = () => (open.result.close(), resolve(request.result)); };
      })`);
    // A message shown 31 days ago, then 505 new ones (a push naming only a tag is remembered by it).
    await chromium.deliverPush(origin, registrationId, JSON.stringify({ title: 'Bound 0', tag: 'bound-0' }));
    await bus.waitFor((notification) => notification.summary === 'Bound 0');
    await inDatabase(`store.put({ id: 'bound-old', state: 'clicked', at: Date.now() - 31 * 24 * 3600 * 1000 })`);
    for (let index = 1; index <= 505; index++) {
      await chromium.deliverPush(origin, registrationId, JSON.stringify({ title: `Bound ${index}`, tag: `bound-${index}` }));
    }
    await bus.waitFor((notification) => notification.summary === 'Bound 505', 60_000);
    const ids = new Set(await eventually('the last one remembered', async () => {
      const keys = (await inDatabase('store.getAllKeys()')) as string[];
      return keys.includes('bound-505') && keys;
    }));
    expect(ids.size).toBe(500);
    expect(ids.has('bound-old')).toBe(false); // older than 30 days
    expect(ids.has('bound-0')).toBe(false); // the oldest beyond 500
    expect(ids.has('bound-505')).toBe(true);
  });
});
