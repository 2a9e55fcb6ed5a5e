/**
 * Herald's service worker code, served as /sdk/herald-sw.js. A site hosts a one-line worker:
 *
 *   importScripts('https://herald.example/sdk/herald-sw.js');
 *
 * On `push` it shows the notification (title, body, icon, large image, badge, actions,
 * requireInteraction, tag) and reports DISPLAYED; a click opens the URL (or the action's) and
 * reports CLICKED; closing it unclicked reports CLOSED. Reports go to the payload's `trackUrl`
 * with its signed token. When the browser replaces the subscription it registers the new one
 * (for an identified customer, with the identity the page shared: visitor-identity.ts).
 *
 * Each message is shown once. Herald may send a message again (a crash left it unconfirmed), so a
 * push can arrive twice: the worker remembers the message ids it showed (IndexedDB, the last 500
 * within 30 days) and shows nothing for one it already showed, whether that notification is still
 * on screen, was clicked or was closed. Why nothing, and what browsers make of it: docs/sdk.md.
 */

import { sharedIdentity } from './visitor-identity.ts';

// The parts of the service worker API used here (TypeScript's DOM library does not have them).
interface ExtendableEvent extends Event {
  waitUntil(promise: Promise<unknown>): void;
}
interface PushEvent extends ExtendableEvent {
  data: { json(): unknown; text(): string } | null;
}
interface NotificationEvent extends ExtendableEvent {
  notification: Notification & { data: NotificationData; close(): void };
  action: string;
}
interface PushSubscriptionChangeEvent extends ExtendableEvent {
  oldSubscription: PushSubscription | null;
  newSubscription: PushSubscription | null;
}
interface WindowClient {
  url: string;
  focus(): Promise<WindowClient>;
}
interface ServiceWorkerScope {
  location: Location;
  registration: ServiceWorkerRegistration;
  clients: {
    claim(): Promise<void>;
    matchAll(options: { type: 'window'; includeUncontrolled: boolean }): Promise<WindowClient[]>;
    openWindow(url: string): Promise<WindowClient | null>;
  };
  skipWaiting(): Promise<void>;
  addEventListener(type: 'install' | 'activate', listener: (event: ExtendableEvent) => void): void;
  addEventListener(type: 'push', listener: (event: PushEvent) => void): void;
  addEventListener(type: 'notificationclick' | 'notificationclose', listener: (event: NotificationEvent) => void): void;
  addEventListener(type: 'pushsubscriptionchange', listener: (event: PushSubscriptionChangeEvent) => void): void;
}

/** What Herald puts in a push (see API.md, "Push payload"). */
interface Payload {
  title: string;
  body?: string;
  icon?: string;
  image?: string;
  badge?: string;
  url?: string;
  actions?: { action: string; title: string; url?: string }[];
  requireInteraction?: boolean;
  tag?: string;
  token?: string;
  trackUrl?: string;
}

interface NotificationData {
  id?: string; // the message's ledger id
  url?: string;
  actions: Record<string, string | undefined>;
  token?: string;
  trackUrl?: string;
}

const worker = self as unknown as ServiceWorkerScope;

// A new version of this code takes over at once, in every open tab.
worker.addEventListener('install', (event) => event.waitUntil(worker.skipWaiting()));
worker.addEventListener('activate', (event) => event.waitUntil(worker.clients.claim()));

function readPayload(data: PushEvent['data']): Payload | null {
  if (!data) return null;
  try {
    const payload = data.json() as Payload;
    if (payload && typeof payload.title === 'string') return payload;
  } catch {
    // not JSON: fall through
  }
  // A push that is not Herald's JSON: show its text rather than the browser's generic notice.
  const text = data.text().trim();
  return text ? { title: text.slice(0, 120) } : null;
}

/** Tells Herald what happened, as a simple request (no CORS preflight); never fails the event. */
function report(data: NotificationData, type: 'DISPLAYED' | 'CLICKED' | 'CLOSED'): Promise<void> {
  if (!data.token || !data.trackUrl) return Promise.resolve();
  return fetch(data.trackUrl, { method: 'POST', body: JSON.stringify({ token: data.token, type }), keepalive: true }).then(
    () => undefined,
    () => undefined,
  );
}

/** The ledger id a push is for: the one its token carries (the tag may be the campaign's own). */
function messageIdOf(payload: Payload): string | undefined {
  const head = /^([\w-]{22})\./.exec(payload.token ?? '')?.[1];
  if (!head) return payload.tag;
  const hex = [...atob(head.replace(/-/g, '+').replace(/_/g, '/'))].map((c) => c.charCodeAt(0).toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// Pushes are shown one after another, so a repeat arriving at once sees the first one's record
// (the reports are sent outside this queue: a slow Herald holds up no notification).
let showing: Promise<unknown> = Promise.resolve();

worker.addEventListener('push', (event) => {
  const payload = readPayload(event.data);
  if (!payload) return;
  const shown = showing.then(() => show(payload));
  showing = shown.catch(() => undefined);
  event.waitUntil(shown.then((data) => data && report(data, 'DISPLAYED')));
});

/** Shows the push's notification and resolves with its data, or with null when it was shown before. */
async function show(payload: Payload): Promise<NotificationData | null> {
  const id = messageIdOf(payload);
  const tag = payload.tag ?? id;
  if (id && (await shownBefore(id, tag))) return null; // on screen already, or clicked or closed: nothing new
  const data: NotificationData = {
    id,
    url: payload.url,
    actions: Object.fromEntries((payload.actions ?? []).map((action) => [action.action, action.url])),
    token: payload.token,
    trackUrl: payload.trackUrl,
  };
  const options = {
    body: payload.body,
    icon: payload.icon,
    image: payload.image,
    badge: payload.badge,
    tag,
    requireInteraction: payload.requireInteraction ?? false,
    actions: (payload.actions ?? []).map(({ action, title }) => ({ action, title })),
    data,
  } as NotificationOptions;
  await worker.registration.showNotification(payload.title, options);
  if (id) await remember(id, 'shown');
  return data;
}

/**
 * Whether message `id` was shown before: its record says so, or (the record was never written:
 * the browser stopped in between, or IndexedDB is unavailable) its notification is still visible.
 */
async function shownBefore(id: string, tag: string | undefined): Promise<boolean> {
  if (await recall(id)) return true;
  const visible = await worker.registration.getNotifications({ tag }).catch(() => []);
  if (!visible.some((notification) => (notification.data as NotificationData | null)?.id === id)) return false;
  await remember(id, 'shown');
  return true;
}

/** A push that asks a question names each answer button `answer:<answer>` (src/feedback/push.ts). */
const ANSWER_ACTION = 'answer:';

/** Posts the answer of a clicked answer button; Herald counts it as the click too. */
function reportAnswer(data: NotificationData, answer: string): Promise<void> {
  if (!data.token || !data.trackUrl) return Promise.resolve();
  return fetch(data.trackUrl, { method: 'POST', body: JSON.stringify({ token: data.token, answer }), keepalive: true }).then(
    () => undefined,
    () => undefined,
  );
}

/**
 * The data of a notification this worker showed (every one carries `actions`), else null: the
 * site's own worker code may show notifications too, and opens and closes them itself.
 */
function heraldData(notification: { data: unknown }): NotificationData | null {
  const data = notification.data as Partial<NotificationData> | null;
  return data !== null && typeof data === 'object' && typeof data.actions === 'object' ? (data as NotificationData) : null;
}

worker.addEventListener('notificationclick', (event) => {
  const data = heraldData(event.notification);
  if (!data) return;
  event.notification.close();
  if (event.action.startsWith(ANSWER_ACTION)) {
    // An answer is the whole interaction: nothing opens.
    const remembered = data.id ? remember(data.id, 'clicked') : Promise.resolve();
    return event.waitUntil(Promise.all([remembered, reportAnswer(data, event.action.slice(ANSWER_ACTION.length))]));
  }
  const url = (event.action && data.actions[event.action]) || data.url;
  const remembered = data.id ? remember(data.id, 'clicked') : Promise.resolve();
  event.waitUntil(Promise.all([remembered, report(data, 'CLICKED'), url ? openOrFocus(url) : Promise.resolve()]));
});

worker.addEventListener('notificationclose', (event) => {
  const data = heraldData(event.notification);
  if (!data) return;
  // Some desktops close a notification after each click (GNOME, Firefox's D-Bus path): that close
  // is not a dismissal. The click's record is written first (events come in order), so it is seen.
  const dismissed = async () => {
    if (data.id && (await recall(data.id))?.state === 'clicked') return;
    await Promise.all([data.id ? remember(data.id, 'closed') : Promise.resolve(), report(data, 'CLOSED')]);
  };
  event.waitUntil(dismissed());
});

/** The messages shown lately, by ledger id: what became of each, and when. */
interface ShownMessage {
  id: string;
  state: 'shown' | 'clicked' | 'closed';
  at: number;
}
const KEEP_MESSAGES = 500;
const KEEP_MS = 30 * 24 * 3600 * 1000;

let database: Promise<IDBDatabase> | undefined;
function shownMessages(mode: IDBTransactionMode): Promise<IDBObjectStore> {
  database ??= new Promise<IDBDatabase>((resolve, reject) => {
    const request = indexedDB.open('herald-sw', 1);
    request.onupgradeneeded = () => request.result.createObjectStore('shown', { keyPath: 'id' }).createIndex('at', 'at');
    request.onsuccess = () => {
      request.result.onclose = () => (database = undefined); // the browser closed it: open again
      resolve(request.result);
    };
    request.onerror = () => reject(request.error);
  });
  database.catch(() => (database = undefined)); // tried again next time
  return database.then((db) => db.transaction('shown', mode).objectStore('shown'));
}

/** The record of message `id`; none when IndexedDB fails (then a repeat may show again, never be lost). */
async function recall(id: string): Promise<ShownMessage | undefined> {
  try {
    const request = (await shownMessages('readonly')).get(id);
    return await new Promise((resolve, reject) => {
      request.onsuccess = () => resolve(request.result as ShownMessage | undefined);
      request.onerror = () => reject(request.error);
    });
  } catch {
    return undefined;
  }
}

/** Records what became of message `id` (a click stays), and forgets the oldest past 500 messages or 30 days. */
async function remember(id: string, state: ShownMessage['state']): Promise<void> {
  try {
    const store = await shownMessages('readwrite');
    const before = store.get(id);
    before.onsuccess = () => {
      // A click is what became of it: the close that follows (some desktops send one) does not undo it.
      if ((before.result as ShownMessage | undefined)?.state === 'clicked') return;
      const now = Date.now();
      store.put({ id, state, at: now } satisfies ShownMessage);
      const count = store.count();
      count.onsuccess = () => {
        let excess = count.result - KEEP_MESSAGES;
        const oldest = store.index('at').openCursor();
        oldest.onsuccess = () => {
          const cursor = oldest.result;
          if (!cursor || (excess <= 0 && (cursor.value as ShownMessage).at >= now - KEEP_MS)) return;
          cursor.delete();
          excess--;
          cursor.continue();
        };
      };
    };
    await new Promise<void>((resolve, reject) => {
      store.transaction.oncomplete = () => resolve();
      store.transaction.onerror = store.transaction.onabort = () => reject(store.transaction.error);
    });
  } catch {
    // Nothing remembered: a repeat of this message is shown again rather than lost.
  }
}

async function openOrFocus(url: string): Promise<void> {
  const windows = await worker.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const open = windows.find((client) => client.url === url);
  if (open) await open.focus();
  else await worker.clients.openWindow(url);
}

/**
 * The browser replaced the subscription (keys rotated, expired): subscribe again and tell Herald,
 * for the customer the page identified (their externalId and token, from IndexedDB), else for the
 * anonymous visitor of the worker's URL.
 */
worker.addEventListener('pushsubscriptionchange', (event) => {
  const params = new URL(worker.location.href).searchParams;
  const apiUrl = params.get('herald');
  const key = params.get('key');
  const anonymousId = params.get('anonymousId');
  if (!apiUrl || !key || !anonymousId) return;
  event.waitUntil(
    (async () => {
      const graphql = async (query: string, variables: Record<string, unknown> = {}) => {
        const response = await fetch(`${apiUrl}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: JSON.stringify({ query, variables }),
        });
        return ((await response.json()) as { data: any }).data;
      };
      // Browsers do not always say which key the old subscription had: ask Herald.
      const applicationServerKey =
        event.oldSubscription?.options.applicationServerKey ?? (await graphql('query { publicConfig { vapidPublicKey } }')).publicConfig.vapidPublicKey;
      const subscription = event.newSubscription ?? (await worker.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey }));
      // A customer is named as the page names them: an identified visitor's anonymousId is refused (identity verification).
      const customer = await sharedIdentity();
      const visitor = customer ? { externalId: customer.externalId, identityToken: customer.identityToken } : { anonymousId };
      await graphql('mutation($input: MutationRegisterPushSubscriptionInput!) { registerPushSubscription(input: $input) { __typename } }', {
        input: { ...visitor, subscription: subscription.toJSON(), userAgent: navigator.userAgent },
      });
    })(),
  );
});
export {};
