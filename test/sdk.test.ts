import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

/**
 * The browser SDK (src/sdk/herald.ts) in Node, with the browser's parts it touches stubbed: what
 * it does when the page's storage is blocked (cookies blocked for the site, some private modes),
 * where reading or writing local storage throws.
 */

const blocked = () => {
  throw new DOMException('The operation is insecure.', 'SecurityError');
};

describe('the SDK with storage blocked', () => {
  beforeEach(() => {
    Object.defineProperty(globalThis, 'localStorage', { get: blocked, configurable: true });
    Object.defineProperty(globalThis, 'sessionStorage', { get: blocked, configurable: true });
  });
  afterEach(() => {
    delete (globalThis as { localStorage?: unknown }).localStorage;
    delete (globalThis as { sessionStorage?: unknown }).sessionStorage;
    vi.unstubAllGlobals();
    vi.resetModules();
  });

  it('keeps one anonymous id for the page and tracks with it', async () => {
    const requests: { variables: Record<string, Record<string, unknown>> }[] = [];
    vi.stubGlobal('fetch', async (_url: string, init: { body: string }) => {
      requests.push(JSON.parse(init.body));
      return new Response(JSON.stringify({ data: { e0: { __typename: 'MutationTrackEventSuccess' } } }));
    });
    const { Herald } = await import('../src/sdk/herald.ts');

    const id = Herald.anonymousId();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Herald.anonymousId()).toBe(id);

    await Herald.init({ publishableKey: 'pk_test', apiUrl: 'https://herald.example', inApp: false });
    await Herald.track('viewed_item');
    expect(requests).toHaveLength(1);
    expect(requests[0]!.variables.e0).toMatchObject({ anonymousId: id, name: 'viewed_item' });
  });

  it('names the customer after identify, with their identity token', async () => {
    const requests: { query: string; variables: Record<string, Record<string, unknown>> }[] = [];
    vi.stubGlobal('fetch', async (_url: string, init: { body: string }) => {
      const request = JSON.parse(init.body) as (typeof requests)[number];
      requests.push(request);
      const field = request.query.includes('identifyContact') ? 'identifyContact' : 'e0';
      return new Response(JSON.stringify({ data: { [field]: { __typename: 'Success' } } }));
    });
    const { Herald } = await import('../src/sdk/herald.ts');
    await Herald.init({ publishableKey: 'pk_test', apiUrl: 'https://herald.example', inApp: false });

    // With identity verification on (the default), Herald refuses a customer's anonymousId from a page.
    await Herald.identify('customer-1', {}, { identityToken: 'proof-1' });
    await Herald.track('viewed_item');
    expect(requests.at(-1)!.variables.e0).toEqual({ externalId: 'customer-1', identityToken: 'proof-1', name: 'viewed_item' });

    // Signed out: the page is a new anonymous visitor, the customer and their token forgotten.
    const before = Herald.anonymousId();
    await Herald.logout();
    await Herald.track('browsed');
    const after = requests.at(-1)!.variables.e0!;
    expect(after).toEqual({ anonymousId: Herald.anonymousId(), name: 'browsed' });
    expect(after.anonymousId).not.toBe(before);
  });
});

/** Just enough of a page for the soft prompt: elements that record what is appended where. */
class FakeElement {
  style: Record<string, string> = {};
  dataset: Record<string, string> = {};
  textContent = '';
  onclick: (() => void) | null = null;
  children: FakeElement[] = [];
  constructor(private readonly page: FakeElement[]) {}
  get isConnected() {
    return this.page.includes(this);
  }
  setAttribute() {}
  append(...children: FakeElement[]) {
    this.children.push(...children);
  }
  remove() {
    this.page.splice(this.page.indexOf(this), 1);
  }
}

describe('the SDK initialised twice', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.resetModules();
  });

  it('shows one soft prompt', async () => {
    const page: FakeElement[] = [];
    const storage = new Map<string, string>();
    vi.stubGlobal('localStorage', { getItem: (key: string) => storage.get(key) ?? null, setItem: (key: string, value: string) => storage.set(key, value) });
    vi.stubGlobal('window', { PushManager: {}, Notification: {} });
    vi.stubGlobal('navigator', { serviceWorker: {} });
    vi.stubGlobal('Notification', { permission: 'default' });
    vi.stubGlobal('document', {
      createElement: () => new FakeElement(page),
      body: { append: (element: FakeElement) => page.push(element) },
    });
    const { Herald } = await import('../src/sdk/herald.ts');

    const options = { publishableKey: 'pk_test', apiUrl: 'https://herald.example', inApp: false, softPrompt: { title: 'Get notified?' } };
    await Herald.init(options);
    await Herald.init(options); // a site that runs its snippet twice, or re-mounts it
    expect(page.filter((element) => element.dataset.herald === 'soft-prompt')).toHaveLength(1);
  });
});

describe('the service worker', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.resetModules();
  });

  it("leaves the notifications the site's own worker code shows to it", async () => {
    const listeners = new Map<string, (event: unknown) => void>();
    const opened: string[] = [];
    const beacons: unknown[] = [];
    vi.stubGlobal('self', {
      addEventListener: (type: string, listener: (event: unknown) => void) => listeners.set(type, listener),
      location: { href: 'https://shop.example/herald-sw.js' },
      clients: { matchAll: async () => [], openWindow: async (url: string) => void opened.push(url) },
    });
    vi.stubGlobal('fetch', async (_url: string, init: { body: string }) => {
      beacons.push(JSON.parse(init.body));
      return new Response(null, { status: 204 });
    });
    await import('../src/sdk/herald-sw.ts');
    let closes = 0;
    const dispatch = async (type: 'notificationclick' | 'notificationclose', data: unknown) => {
      const waits: Promise<unknown>[] = [];
      listeners.get(type)!({ action: '', notification: { data, close: () => closes++ }, waitUntil: (promise: Promise<unknown>) => waits.push(promise) });
      await Promise.all(waits);
    };

    // The site's own notifications (its worker shows them and opens their pages itself).
    for (const data of [{ url: 'https://shop.example/orders/1' }, null]) {
      await dispatch('notificationclick', data);
      await dispatch('notificationclose', data);
    }
    expect({ opened, beacons, closes }).toEqual({ opened: [], beacons: [], closes: 0 });

    // Herald's own: the click opens its URL and is reported.
    await dispatch('notificationclick', { url: 'https://shop.example/sale', actions: {}, token: 'a-token', trackUrl: 'https://herald.example/track' });
    expect({ opened, beacons, closes }).toEqual({ opened: ['https://shop.example/sale'], beacons: [{ token: 'a-token', type: 'CLICKED' }], closes: 1 });
  });
});

describe('Herald.unsubscribe', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.resetModules();
  });

  it('stays unsubscribed on the next page load', async () => {
    const storage = new Map<string, string>();
    let current: { endpoint: string; toJSON(): unknown; unsubscribe(): Promise<boolean> } | null = null;
    let subscribed = 0;
    const pushManager = {
      getSubscription: async () => current,
      subscribe: async () => {
        subscribed++;
        const endpoint = `https://push.example/${subscribed}`;
        current = { endpoint, toJSON: () => ({ endpoint, keys: { p256dh: 'p', auth: 'a' } }), unsubscribe: async () => ((current = null), true) };
        return current;
      },
    };
    const registration = { active: {}, pushManager };
    vi.stubGlobal('localStorage', { getItem: (key: string) => storage.get(key) ?? null, setItem: (key: string, value: string) => storage.set(key, value), removeItem: (key: string) => storage.delete(key) });
    vi.stubGlobal('location', new URL('https://shop.example/'));
    vi.stubGlobal('window', { PushManager: {}, Notification: {} });
    vi.stubGlobal('navigator', { language: 'en', userAgent: 'Test', serviceWorker: { register: async () => registration, getRegistration: async () => registration } });
    vi.stubGlobal('Notification', { permission: 'granted' });
    vi.stubGlobal('fetch', async (_url: string, init: { body: string }) => {
      const { query } = JSON.parse(init.body) as { query: string };
      const field = ['publicConfig', 'registerPushSubscription', 'revokePushSubscription'].find((name) => query.includes(name))!;
      const answer = field === 'publicConfig' ? { vapidPublicKey: 'AAAA' } : { __typename: 'Success' };
      return new Response(JSON.stringify({ data: { [field]: answer } }));
    });
    const options = { publishableKey: 'pk_test', apiUrl: 'https://herald.example', inApp: false };

    const firstPage = (await import('../src/sdk/herald.ts')).Herald;
    await firstPage.init(options);
    await firstPage.subscribe();
    expect(subscribed).toBe(1);
    await firstPage.unsubscribe(); // "turn off notifications" on the site
    expect(current).toBeNull();

    vi.resetModules();
    const nextPage = (await import('../src/sdk/herald.ts')).Herald;
    await nextPage.init(options);
    expect({ subscribed, current }).toEqual({ subscribed: 1, current: null });

    await nextPage.subscribe(); // the visitor turns them on again
    expect(subscribed).toBe(2);
  });
});
