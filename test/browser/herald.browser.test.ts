/**
 * The whole chain in real Firefox ESR: the demo page subscribes through Herald's SDK → the
 * subscription is stored in Herald → a campaign is sent → Firefox receives it from our autopush
 * server, decrypts it, and Herald's service worker shows it (seen on the D-Bus notification
 * daemon) → DISPLAYED is counted → a click opens the landing page → CLICKED is counted.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createCampaign, SendNow } from '../kit/campaigns.ts';
import { createWorkspace } from '../kit/flow.ts';
import { startTestHerald, type TestHerald } from '../kit/herald.ts';
import { type Autopush, startAutopush } from './kit/autopush.ts';
import { type Firefox, launchFirefox } from './kit/firefox.ts';
import { type NotificationBus, startNotificationBus } from './kit/notifications.ts';
import { eventually, queryAs } from './kit/api.ts';

let push: Autopush;
let bus: NotificationBus;
let firefox: Firefox;
let kit: TestHerald;

beforeAll(async () => {
  push = await startAutopush();
  bus = await startNotificationBus();
  kit = await startTestHerald({ HERALD_PUSH_CA: push.caFile, HERALD_DEMO: '1' }); // the visitor's page is the demo shop
  firefox = await launchFirefox({ pushServerUrl: push.wsUrl, dbusAddress: bus.address });
});
afterAll(async () => {
  await firefox?.close();
  await kit?.stop();
  await bus?.close();
  await push?.close();
});

const SUBSCRIPTIONS = `query { contacts(first: 10) { edges { node { anonymousId pushSubscriptions { endpoint status timezone userAgent } } } } }`;
const STATS = `query($id: ID!) { campaign(id: $id) { status stats { sent displayed clicked } } }`;

describe('Herald in real Firefox', () => {
  it('subscribe → send → display → click, counted', async () => {
    onTestFailed(() => console.log(`Firefox said:\n${firefox.logs().join('\n')}\n${firefox.output()}`));
    const shop = await createWorkspace(kit);
    const query = queryAs(kit.graphqlUrl, shop.secretKey);

    // The visitor opens the demo shop and agrees to notifications.
    await firefox.grantNotifications(kit.url);
    await firefox.navigate(`${kit.url}/demo?key=${shop.publishableKey}`);
    await firefox.evaluate('Herald.ready');
    const endpoint = await firefox.evaluate<string>('Herald.subscribe().then((subscription) => subscription && subscription.endpoint)');
    expect(endpoint.startsWith(`${push.origin}/push/`)).toBe(true);
    expect(await firefox.evaluate('Herald.permission')).toBe('granted');

    // Herald stored it, for the page's anonymous visitor.
    const anonymousId = await firefox.evaluate<string>('Herald.anonymousId()');
    const { contacts } = await query(SUBSCRIPTIONS);
    const visitor = contacts.edges.map((edge: any) => edge.node).find((node: any) => node.anonymousId === anonymousId);
    expect(visitor.pushSubscriptions).toMatchObject([{ endpoint, status: 'ACTIVE' }]);
    expect(visitor.pushSubscriptions[0].userAgent).toContain('Firefox');

    // A rich push goes out; Firefox decrypts it and the worker shows it.
    const landing = `${kit.url}/demo/?landed=yes`;
    const id = await createCampaign(shop.secret, {
      name: 'Browser test',
      kind: 'BROADCAST',
      content: { title: 'Hello from Herald', body: 'Your {{ contact.anonymousId | slice: 0, 8 }} cart', imageUrl: `${kit.url}/demo/shoes.png`, url: landing },
    });
    await shop.secret(SendNow, { id });
    const shown = await bus.waitFor((notification) => notification.summary === 'Hello from Herald', 20_000);
    expect(shown.body).toContain(`Your ${anonymousId.slice(0, 8)} cart`);
    expect(push.deliveries().filter((delivery) => delivery.ack === 100)).toHaveLength(1); // decrypted and delivered once

    const displayed = await eventually('DISPLAYED counted', async () => {
      const { campaign } = await query(STATS, { id });
      return campaign.stats.displayed === 1 && campaign;
    });
    expect(displayed.stats).toMatchObject({ sent: 1, displayed: 1, clicked: 0 });

    // The visitor clicks it: the landing page opens and the click is counted.
    bus.click(shown.id);
    await eventually('the landing page opened', async () => {
      const tree = await firefox.bidi.send<{ contexts: { url: string }[] }>('browsingContext.getTree', {});
      return tree.contexts.some((context) => context.url === landing);
    });
    const clicked = await eventually('CLICKED counted', async () => {
      const { campaign } = await query(STATS, { id });
      return campaign.stats.clicked === 1 && campaign;
    });
    expect(clicked.stats).toMatchObject({ sent: 1, displayed: 1, clicked: 1 });
  });

  it('asks again after "not now" only after N visits or days, and never after "block"', async () => {
    onTestFailed(() => console.log(`Firefox said:\n${firefox.logs().join('\n')}`));
    const shop = await createWorkspace(kit);
    const setPermission = (state: 'prompt' | 'denied') =>
      firefox.bidi.send('permissions.setPermission', { descriptor: { name: 'notifications' }, state, origin: kit.url });
    await setPermission('prompt');
    await firefox.navigate(`${kit.url}/demo/?key=${shop.publishableKey}`);
    await firefox.evaluate('localStorage.clear(), sessionStorage.clear()');
    // A new visit (a new browser session) of a page with the soft prompt on.
    const visit = () =>
      firefox.evaluate(`(sessionStorage.clear(), document.querySelectorAll('[data-herald]').forEach((box) => box.remove()),
        Herald.init({ publishableKey: '${shop.publishableKey}', serviceWorkerPath: '/demo/herald-sw.js',
          softPrompt: { title: 'Deals for you?' }, askAgainAfterDays: 7, askAgainAfterVisits: 3 }))`);
    const prompt = () => firefox.evaluate<string | null>(`document.querySelector('[data-herald="soft-prompt"] strong')?.textContent ?? null`);

    await visit();
    expect(await firefox.evaluate('Herald.permission')).toBe('default');
    expect(await prompt()).toBe('Deals for you?');
    await firefox.evaluate(`[...document.querySelectorAll('[data-herald] button')].find((button) => button.textContent === 'Not now').click()`);
    expect(await prompt()).toBeNull();
    expect(await firefox.evaluate('Herald.shouldAsk()')).toBe(false);

    await visit();
    await visit();
    expect(await prompt()).toBeNull(); // two visits since "not now"
    await visit();
    expect(await prompt()).toBe('Deals for you?'); // the third
    await firefox.evaluate(`Herald.notNow(Date.now() - 8 * 86400000)`); // "not now", eight days ago
    expect(await firefox.evaluate('Herald.shouldAsk()')).toBe(true);

    await setPermission('denied'); // the browser's "Block"
    await visit();
    expect(await firefox.evaluate('Herald.permission')).toBe('denied');
    expect(await firefox.evaluate('Herald.shouldAsk()')).toBe(false);
    expect(await prompt()).toBeNull();
  });

  it('subscribes again on the next page load when the browser lost the subscription', async () => {
    onTestFailed(() => console.log(`Firefox said:\n${firefox.logs().join('\n')}`));
    const shop = await createWorkspace(kit);
    const endpoints = async () => {
      const { contacts } = await queryAs(kit.graphqlUrl, shop.secretKey)(SUBSCRIPTIONS);
      return contacts.edges.flatMap((edge: any) => edge.node.pushSubscriptions.map((subscription: any) => subscription.endpoint)) as string[];
    };
    await firefox.grantNotifications(kit.url);
    await firefox.navigate(`${kit.url}/demo/?key=${shop.publishableKey}`);
    await firefox.evaluate('Herald.ready');
    const first = await firefox.evaluate<string>('Herald.subscribe().then((subscription) => subscription.endpoint)');

    // The visitor clears the site's data: the subscription and local storage are gone.
    await firefox.evaluate(`navigator.serviceWorker.getRegistration('/demo/')
      .then((registration) => registration.pushManager.getSubscription()).then((subscription) => subscription.unsubscribe())
      .then(() => localStorage.clear())`);
    await firefox.navigate(`${kit.url}/demo/?key=${shop.publishableKey}&again=1`);
    await firefox.evaluate('Herald.ready');
    const second = await firefox.evaluate<string>(`navigator.serviceWorker.getRegistration('/demo/')
      .then((registration) => registration.pushManager.getSubscription()).then((subscription) => subscription.endpoint)`);
    expect(second).not.toBe(first);
    expect(await endpoints()).toEqual(expect.arrayContaining([first, second]));
  });

  it('identifies the visitor and tracks events through the SDK, and counts a dismissed push as CLOSED', async () => {
    onTestFailed(() => console.log(`Firefox said:\n${firefox.logs().join('\n')}`));
    const shop = await createWorkspace(kit);
    const query = queryAs(kit.graphqlUrl, shop.secretKey);
    await firefox.grantNotifications(kit.url);
    await firefox.navigate(`${kit.url}/demo/?key=${shop.publishableKey}`);
    await firefox.evaluate('localStorage.clear(), Herald.ready');
    await firefox.evaluate('Herald.subscribe()');
    // Without the token its site's server gives it, a page cannot name the customer; with it, as
    // the demo shop's login does (it asks the development-only /demo/identity-token), it can.
    const refused = await firefox.evaluate<string>(`Herald.identify('ada', { plan: 'free' }).then(() => 'identified', (error) => error.message)`);
    expect(refused).toContain('identityToken');
    await firefox.evaluate(`fetch('/demo/identity-token', { method: 'POST', headers: { authorization: 'Bearer ${shop.publishableKey}' }, body: JSON.stringify({ externalId: 'ada' }) })
      .then((response) => response.json())
      .then(({ identityToken }) => Herald.identify('ada', { plan: 'gold' }, { identityToken }))
      .then(() => Herald.track('added_to_cart', { sku: 'shoes', price: 120 }))`);
    const { contact } = await query(
      `query { contact(externalId: "ada") { identified attributes pushSubscriptions { status } events(first: 5) { edges { node { name properties } } } } }`,
    );
    expect(contact).toMatchObject({ identified: true, attributes: { plan: 'gold' }, pushSubscriptions: [{ status: 'ACTIVE' }] });
    expect(contact.events.edges.map((edge: any) => edge.node)).toEqual([{ name: 'added_to_cart', properties: { sku: 'shoes', price: 120 } }]);

    const id = await createCampaign(shop.secret, { name: 'Dismissed', kind: 'BROADCAST', content: { title: 'Dismiss me, {{ contact.externalId }}', url: `${kit.url}/demo/` } });
    await shop.secret(SendNow, { id });
    const shown = await bus.waitFor((notification) => notification.summary === 'Dismiss me, ada', 20_000);
    bus.dismiss(shown.id);
    const closed = await eventually('CLOSED counted', async () => {
      const { campaign } = await query(`query($id: ID!) { campaign(id: $id) { stats { displayed clicked closed } } }`, { id });
      return campaign.stats.closed === 1 && campaign;
    });
    expect(closed.stats).toEqual({ displayed: 1, clicked: 0, closed: 1 });
  });

  it("sends a tick's Herald.track calls as one request, and every event lands with its own answer", async () => {
    onTestFailed(() => console.log(`Firefox said:\n${firefox.logs().join('\n')}`));
    const shop = await createWorkspace(kit);
    await firefox.navigate(`${kit.url}/demo/?key=${shop.publishableKey}`);
    await firefox.evaluate('localStorage.clear(), Herald.ready');
    // The browser's own record of the requests it made (Resource Timing), before and after the burst.
    const outcome = await firefox.evaluate<{ requests: number; answers: string[]; anonymousId: string }>(`(async () => {
      const graphqlRequests = () => performance.getEntriesByType('resource').filter((entry) => entry.name.endsWith('/graphql')).length;
      const before = graphqlRequests();
      const calls = [];
      for (let n = 0; n < 12; n++) calls.push(Herald.track('viewed', { n }));
      calls.push(Herald.track('not a name!'));
      const answers = await Promise.all(calls.map((call) => call.then(() => 'stored', (error) => error.message)));
      await new Promise((resolve) => setTimeout(resolve, 50)); // the entry is added when the response ends
      return { requests: graphqlRequests() - before, answers, anonymousId: Herald.anonymousId() };
    })()`);
    expect(outcome.requests).toBe(1);
    expect(outcome.answers.slice(0, 12)).toEqual(Array(12).fill('stored'));
    expect(outcome.answers[12]).toMatch(/^Herald: /);
    const visitor = await kit.herald.prisma.contact.findFirstOrThrow({ where: { anonymousId: outcome.anonymousId }, include: { events: true } });
    const events = visitor.events.filter((event) => event.name === 'viewed');
    expect(events).toHaveLength(12);
    // In the order the page tracked them.
    const inOrder = events.sort((a, b) => a.occurredAt.getTime() - b.occurredAt.getTime() || a.id.localeCompare(b.id));
    expect(inOrder.map((event) => (event.properties as { n: number }).n)).toEqual(Array.from({ length: 12 }, (_, n) => n));
  });

  it('registers the new subscription when the browser replaces it (pushsubscriptionchange)', async () => {
    onTestFailed(() => console.log(`Firefox said:\n${firefox.logs().join('\n')}`));
    const shop = await createWorkspace(kit);
    const query = queryAs(kit.graphqlUrl, shop.secretKey);
    const endpoints = async () => {
      const { contacts } = await query(SUBSCRIPTIONS);
      return contacts.edges.flatMap((edge: any) => edge.node.pushSubscriptions.map((subscription: any) => subscription.endpoint)) as string[];
    };
    await firefox.grantNotifications(kit.url);
    await firefox.navigate(`${kit.url}/demo/?key=${shop.publishableKey}`);
    await firefox.evaluate('localStorage.clear(), Herald.ready');
    const first = await firefox.evaluate<string>('Herald.subscribe().then((subscription) => subscription.endpoint)');

    // The push service loses its state; Firefox reconnects, drops the subscription and tells the worker.
    push.forgetBrowsers();
    const second = await eventually(
      'a new subscription registered by the worker',
      async () => (await endpoints()).find((endpoint) => endpoint !== first),
      30_000,
    );
    expect(second.startsWith(`${push.origin}/push/`)).toBe(true);
    expect(push.endpoints()).toContain(second);
  });

  it("registers an identified customer's new subscription from the worker, with their identity token", async () => {
    onTestFailed(() => console.log(`Firefox said:\n${firefox.logs().join('\n')}`));
    const shop = await createWorkspace(kit); // identity verification on: the anonymousId alone is refused for a customer
    const query = queryAs(kit.graphqlUrl, shop.secretKey);
    const endpoints = async () => {
      const { contact } = await query(`query { contact(externalId: "grace") { pushSubscriptions { endpoint } } }`);
      return (contact?.pushSubscriptions ?? []).map((subscription: any) => subscription.endpoint) as string[];
    };
    await firefox.grantNotifications(kit.url);
    await firefox.navigate(`${kit.url}/demo/?key=${shop.publishableKey}`);
    await firefox.evaluate('localStorage.clear(), Herald.ready');
    const first = await firefox.evaluate<string>('Herald.subscribe().then((subscription) => subscription.endpoint)');
    await firefox.evaluate(`fetch('/demo/identity-token', { method: 'POST', headers: { authorization: 'Bearer ${shop.publishableKey}' }, body: JSON.stringify({ externalId: 'grace' }) })
      .then((response) => response.json())
      .then(({ identityToken }) => Herald.identify('grace', {}, { identityToken }))`);
    expect(await endpoints()).toEqual([first]);

    // The browser replaces the subscription while no page of the site is open to register it.
    await firefox.navigate('about:blank');
    push.forgetBrowsers();
    const second = await eventually(
      'the worker registered the new subscription for the customer',
      async () => (await endpoints()).find((endpoint) => endpoint !== first),
      30_000,
    );
    expect(push.endpoints()).toContain(second);
  });

  it('logout: the browser becomes a new anonymous visitor; its subscription, what it tracks and what its worker registers are no longer the customer’s', async () => {
    onTestFailed(() => console.log(`Firefox said:\n${firefox.logs().join('\n')}`));
    const shop = await createWorkspace(kit);
    const query = queryAs(kit.graphqlUrl, shop.secretKey);
    const customer = async () =>
      (await query(`query { contact(externalId: "lin") { pushSubscriptions { endpoint status } events(first: 10) { edges { node { name } } } } }`)).contact;
    const visitor = (anonymousId: string) =>
      kit.herald.prisma.contact.findFirstOrThrow({ where: { anonymousId }, include: { pushSubscriptions: true, events: true } });
    await firefox.grantNotifications(kit.url);
    await firefox.navigate(`${kit.url}/demo/?key=${shop.publishableKey}`);
    await firefox.evaluate('localStorage.clear(), Herald.ready');
    const endpoint = await firefox.evaluate<string>('Herald.subscribe().then((subscription) => subscription.endpoint)');
    await firefox.evaluate(`fetch('/demo/identity-token', { method: 'POST', headers: { authorization: 'Bearer ${shop.publishableKey}' }, body: JSON.stringify({ externalId: 'lin' }) })
      .then((response) => response.json())
      .then(({ identityToken }) => Herald.identify('lin', {}, { identityToken }))
      .then(() => Herald.track('signed_in'))`);
    expect((await customer()).pushSubscriptions).toEqual([{ endpoint, status: 'ACTIVE' }]);
    const before = await firefox.evaluate<string>('Herald.anonymousId()');

    await firefox.evaluate('Herald.logout()');
    const after = await firefox.evaluate<string>('Herald.anonymousId()');
    expect(after).not.toBe(before);
    await firefox.evaluate(`Herald.track('browsed_after_logout')`);
    const lin = await customer();
    expect(lin.pushSubscriptions).toEqual([]); // the customer's pushes no longer reach this browser
    expect(lin.events.edges.map((edge: any) => edge.node.name)).toEqual(['signed_in']);
    const anonymous = await visitor(after);
    expect(anonymous.externalId).toBeNull();
    expect(anonymous.pushSubscriptions.map((subscription) => [subscription.endpoint, subscription.status])).toEqual([[endpoint, 'ACTIVE']]);
    expect(anonymous.events.map((event) => event.name)).toEqual(['browsed_after_logout']);

    // The worker forgot the customer too: a subscription the browser replaces with no page open is the visitor's.
    await firefox.navigate('about:blank');
    push.forgetBrowsers();
    const replaced = await eventually(
      'the worker registered the new subscription for the anonymous visitor',
      async () => (await visitor(after)).pushSubscriptions.find((subscription) => subscription.endpoint !== endpoint),
      30_000,
    );
    expect(push.endpoints()).toContain(replaced.endpoint);
    expect((await customer()).pushSubscriptions).toEqual([]);
  });
});


/**
 * A push service may hand the browser the same message twice (Herald sends a claim again when a
 * crash left it unconfirmed). The worker shows each ledger id once.
 */
describe('each message on screen once, however often it arrives (Firefox)', () => {
  /** A new shop's visitor subscribes, and a campaign titled `title` reaches them and is shown. */
  async function shownOnce(title: string) {
    const shop = await createWorkspace(kit);
    const query = queryAs(kit.graphqlUrl, shop.secretKey);
    await firefox.grantNotifications(kit.url);
    await firefox.navigate(`${kit.url}/demo/?key=${shop.publishableKey}`);
    await firefox.evaluate('localStorage.clear(), Herald.ready');
    const endpoint = await firefox.evaluate<string>('Herald.subscribe().then((subscription) => subscription.endpoint)');
    const send = async (name: string) => {
      const id = await createCampaign(shop.secret, { name, kind: 'BROADCAST', content: { title: name, url: `${kit.url}/demo/` } });
      await shop.secret(SendNow, { id });
      return { id, shown: await bus.waitFor((notification) => notification.summary === name, 20_000) };
    };
    const { id, shown } = await send(title);
    const stats = async () => (await query(`query($id: ID!) { campaign(id: $id) { stats { sent displayed clicked closed } } }`, { id })).campaign.stats;
    await eventually('DISPLAYED counted', async () => (await stats()).displayed === 1);
    // The notification is tagged with its message's id, which the worker remembers.
    const inPage = await firefox.evaluate<{ tag: string; id: string }>(`navigator.serviceWorker.getRegistration('/demo/')
      .then((registration) => registration.getNotifications())
      .then((list) => list.filter((notification) => notification.title === ${JSON.stringify(title)}).map(({ tag, data }) => ({ tag, id: data.id }))[0])`);
    expect(inPage.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(inPage.tag).toBe(inPage.id);
    return {
      shown,
      stats,
      /** What the worker's IndexedDB says became of the message: shown, clicked or closed. */
      remembered: () =>
        firefox.evaluate<string | null>(`new Promise((resolve, reject) => {
          const open = indexedDB.open('herald-sw');
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const get = open.result.transaction('shown').objectStore('shown').get('${inPage.id}');
            get.onsuccess = () => (open.result.close(), resolve(get.result ? get.result.state : null));
          };
        })`),
      /**
       * The push service hands Firefox the same encrypted push again; then a new message follows
       * and is shown, so the worker has handled the repeat by the time this resolves.
       */
      async again() {
        const version = push.replay(endpoint);
        await eventually('Firefox took the repeated push', async () => push.deliveries().find((delivery) => delivery.version === version)?.ack === 100);
        await send(`${title} (after)`);
      },
    };
  }
  const popups = (title: string) => bus.calls().filter((call) => call.summary === title);

  it('the same encrypted push twice: one notification, DISPLAYED once', async () => {
    onTestFailed(() => console.log(`Firefox said:\n${firefox.logs().join('\n')}`));
    const message = await shownOnce('Twice on the wire');
    await message.again();
    expect(popups('Twice on the wire')).toHaveLength(1); // not shown again, not replaced
    expect(bus.notifications().filter((notification) => notification.summary === 'Twice on the wire')).toMatchObject([{ closedReason: null }]);
    expect(await message.stats()).toEqual({ sent: 1, displayed: 1, clicked: 0, closed: 0 });
    expect(await message.remembered()).toBe('shown');
  });

  it.each(['clicked', 'dismissed'] as const)('a push repeated after the notification was %s shows nothing', async (how) => {
    onTestFailed(() => console.log(`Firefox said:\n${firefox.logs().join('\n')}`));
    const title = `Again after ${how}`;
    const message = await shownOnce(title);
    if (how === 'clicked') bus.click(message.shown.id);
    else bus.dismiss(message.shown.id);
    const acted = await eventually(`${how} counted`, async () => {
      const stats = await message.stats();
      return (how === 'clicked' ? stats.clicked : stats.closed) === 1 && stats;
    });
    await message.again();
    expect(popups(title)).toHaveLength(1);
    expect(await message.stats()).toEqual(acted);
    expect(await message.remembered()).toBe(how === 'clicked' ? 'clicked' : 'closed');
  });
});
