/**
 * Herald's service worker code, served as /sdk/herald-sw.js. A site hosts a one-line worker:
 *
 *   importScripts('https://herald.example/sdk/herald-sw.js');
 *
 * On `push` it shows the notification (title, body, icon, large image, badge, actions,
 * requireInteraction, tag) and reports DISPLAYED; a click opens the URL (or the action's) and
 * reports CLICKED; closing reports CLOSED. Reports go to the payload's `trackUrl` with its signed
 * token. When the browser replaces the subscription it registers the new one with Herald.
 */

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

worker.addEventListener('push', (event) => {
  const payload = readPayload(event.data);
  if (!payload) return;
  const data: NotificationData = {
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
    tag: payload.tag,
    requireInteraction: payload.requireInteraction ?? false,
    actions: (payload.actions ?? []).map(({ action, title }) => ({ action, title })),
    data,
  } as NotificationOptions;
  event.waitUntil(worker.registration.showNotification(payload.title, options).then(() => report(data, 'DISPLAYED')));
});

worker.addEventListener('notificationclick', (event) => {
  const data = event.notification.data;
  event.notification.close();
  const url = (event.action && data.actions[event.action]) || data.url;
  event.waitUntil(Promise.all([report(data, 'CLICKED'), url ? openOrFocus(url) : Promise.resolve()]));
});

worker.addEventListener('notificationclose', (event) => {
  event.waitUntil(report(event.notification.data, 'CLOSED'));
});

async function openOrFocus(url: string): Promise<void> {
  const windows = await worker.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const open = windows.find((client) => client.url === url);
  if (open) await open.focus();
  else await worker.clients.openWindow(url);
}

/** The browser replaced the subscription (keys rotated, expired): subscribe again and tell Herald. */
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
      await graphql('mutation($input: MutationRegisterPushSubscriptionInput!) { registerPushSubscription(input: $input) { __typename } }', {
        input: { anonymousId, subscription: subscription.toJSON(), userAgent: navigator.userAgent },
      });
    })(),
  );
});
export {};
