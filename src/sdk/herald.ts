/**
 * Herald's browser SDK, served as /sdk/herald.js (an ES module that also sets `window.Herald`)
 * and /sdk/herald.global.js (a classic script). No framework, no dependencies.
 *
 *   Herald.init({ publishableKey: 'pk_…', apiUrl: 'https://herald.example', serviceWorkerPath: '/herald-sw.js' });
 *   await Herald.subscribe();                  // asks for permission, subscribes, registers with Herald
 *   await Herald.identify('customer-42', { plan: 'gold' }, { identityToken }); // token from your server
 *   await Herald.track('added_to_cart', { sku: 'A1', value: 30 });
 *   await Herald.logout();                     // signed out: an anonymous visitor again, pushes included
 *
 * On-site messages (IN_APP campaigns and journey steps) are fetched once per page load (cached
 * for a minute in session storage, see in-app-feed.ts), after identify, and after tracking an event that triggers
 * one; they are shown one at a time (see in-app.ts). `inApp: false` turns them off.
 *
 * Consent: the browser is asked only when `subscribe()` is called (from a button, or by the
 * optional soft prompt). After "not now" the soft prompt waits `askAgainAfterDays` days or
 * `askAgainAfterVisits` visits; after the browser's "block" it never asks again.
 */

export interface SoftPrompt {
  title?: string;
  text?: string;
  allow?: string;
  later?: string;
}

export interface HeraldOptions {
  publishableKey: string;
  /** Where Herald answers, e.g. "https://herald.example" (default: this page's origin). */
  apiUrl?: string;
  /** The site's service worker, which imports /sdk/herald-sw.js (default "/herald-sw.js"). */
  serviceWorkerPath?: string;
  /** Show a soft prompt of Herald's own before the browser's, when it is time to ask. */
  softPrompt?: SoftPrompt | false;
  askAgainAfterDays?: number;
  askAgainAfterVisits?: number;
  /** Show the visitor's on-site messages (default true). */
  inApp?: boolean;
}

interface ConsentState {
  dismissedAt?: number;
  visitsSinceDismissed?: number;
}

const KEYS = {
  anonymousId: 'herald:anonymousId',
  externalId: 'herald:externalId',
  identityToken: 'herald:identityToken',
  endpoint: 'herald:endpoint',
  /** Set by unsubscribe(): no page load subscribes again until subscribe() is called. */
  unsubscribed: 'herald:unsubscribed',
  consent: 'herald:consent',
  visit: 'herald:visit',
} as const;

const DAY_MS = 86_400_000;

let options: Required<Omit<HeraldOptions, 'softPrompt'>> & { softPrompt: SoftPrompt | false };
let ready: Promise<void> | undefined;

/** What this page keeps while local storage is blocked (or full), so Herald still works for the page. */
const unstored = new Map<string, string>();

function store(key: string, value?: string): string | null {
  try {
    if (value !== undefined) localStorage.setItem(key, value);
    const kept = localStorage.getItem(key);
    if (kept !== null) return kept;
  } catch {
    if (value !== undefined) unstored.set(key, value);
  }
  return unstored.get(key) ?? null;
}

function forget(key: string): void {
  unstored.delete(key);
  try {
    localStorage.removeItem(key);
  } catch {
    // storage blocked
  }
}

/** The visitor's anonymous id, made once per browser and kept in local storage (with storage blocked, once per page). */
export function anonymousId(): string {
  return store(KEYS.anonymousId) ?? store(KEYS.anonymousId, crypto.randomUUID())!;
}

/** Who this browser is: the identified customer (with the proof their site's server gave), else the anonymous visitor. */
function contactRef(): { anonymousId: string } | { externalId: string; identityToken?: string } {
  const externalId = store(KEYS.externalId);
  const identityToken = store(KEYS.identityToken) ?? undefined;
  return externalId ? { externalId, identityToken } : { anonymousId: anonymousId() };
}

/** Tells the service worker who this browser is, as the page names it (visitor-identity.ts). */
function shareContact(): Promise<void> {
  const ref = contactRef();
  return shareIdentity('externalId' in ref ? ref : null);
}

import { InAppFeed } from './in-app-feed.ts';
import type { InAppActions, InAppMessage } from './in-app.ts';
import { shareIdentity } from './visitor-identity.ts';

/**
 * Fetch's `keepalive` lets a request outlive the page (as `navigator.sendBeacon` does, which
 * cannot carry the key's Authorization header), up to 64 KB of bodies in flight per page.
 */
const KEEPALIVE_MAX_BYTES = 60_000;

async function graphql<T>(query: string, variables: Record<string, unknown>): Promise<T> {
  const body = JSON.stringify({ query, variables });
  const response = await fetch(`${options.apiUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${options.publishableKey}` },
    body,
    keepalive: body.length <= KEEPALIVE_MAX_BYTES,
  });
  const answer = (await response.json()) as { data?: T; errors?: { message: string }[] };
  if (answer.errors?.length) throw new Error(`Herald: ${answer.errors.map((error) => error.message).join('; ')}`);
  return answer.data as T;
}

/** Mutations answer a union: the Success member has `data`, the others `message`. */
function unwrap(result: { __typename: string; message?: string }): void {
  if (!result.__typename.endsWith('Success')) throw new Error(`Herald: ${result.message ?? result.__typename}`);
}

function pushSupported(): boolean {
  return typeof window !== 'undefined' && 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

/** "granted", "denied" or "default" (not asked yet); "unsupported" where the browser has no web push. */
export function permission(): NotificationPermission | 'unsupported' {
  return pushSupported() ? Notification.permission : 'unsupported';
}

export function init(given: HeraldOptions): Promise<void> {
  if (!given?.publishableKey) throw new Error('Herald.init: publishableKey is required');
  options = {
    apiUrl: (given.apiUrl ?? location.origin).replace(/\/+$/, ''),
    serviceWorkerPath: given.serviceWorkerPath ?? '/herald-sw.js',
    softPrompt: given.softPrompt ?? false,
    askAgainAfterDays: given.askAgainAfterDays ?? 7,
    askAgainAfterVisits: given.askAgainAfterVisits ?? 3,
    inApp: given.inApp ?? true,
    publishableKey: given.publishableKey,
  };
  countVisit();
  if (options.inApp) void loadInApp();
  ready = resync().then(() => {
    if (options.softPrompt && shouldAsk()) showSoftPrompt(options.softPrompt);
  });
  return ready;
}

/** One visit per browser session (not per page view) counts towards asking again. */
function countVisit(): void {
  try {
    if (sessionStorage.getItem(KEYS.visit)) return;
    sessionStorage.setItem(KEYS.visit, '1');
  } catch {
    return;
  }
  const consent = readConsent();
  if (consent.dismissedAt) writeConsent({ ...consent, visitsSinceDismissed: (consent.visitsSinceDismissed ?? 0) + 1 });
}

function readConsent(): ConsentState {
  try {
    return JSON.parse(store(KEYS.consent) ?? '{}') as ConsentState;
  } catch {
    return {};
  }
}

function writeConsent(state: ConsentState): void {
  store(KEYS.consent, JSON.stringify(state));
}

/** Whether it is time to ask: never after "block", and after "not now" only when enough days or visits passed. */
export function shouldAsk(now = Date.now()): boolean {
  if (permission() !== 'default') return false;
  const { dismissedAt, visitsSinceDismissed = 0 } = readConsent();
  if (!dismissedAt) return true;
  return now - dismissedAt >= options.askAgainAfterDays * DAY_MS || visitsSinceDismissed >= options.askAgainAfterVisits;
}

/** The visitor said "not now" (to the soft prompt, or closed the browser's): ask again later. */
export function notNow(now = Date.now()): void {
  writeConsent({ dismissedAt: now, visitsSinceDismissed: 0 });
}

async function registration(): Promise<ServiceWorkerRegistration> {
  const url = new URL(options.serviceWorkerPath, location.href);
  // The worker learns where Herald is from its own URL (it cannot read local storage).
  url.searchParams.set('herald', options.apiUrl);
  url.searchParams.set('key', options.publishableKey);
  url.searchParams.set('anonymousId', anonymousId());
  const registered = await navigator.serviceWorker.register(url.href);
  // Not `navigator.serviceWorker.ready`: it never settles on a page outside the worker's scope.
  const pending = registered.installing ?? registered.waiting;
  if (!registered.active && pending) {
    await new Promise<void>((resolve) => {
      const check = () => pending.state === 'activated' && resolve();
      pending.addEventListener('statechange', check);
      check();
    });
  }
  return registered;
}

/**
 * Asks for permission if needed, subscribes this browser (userVisibleOnly) with the workspace's
 * VAPID key and registers the subscription with Herald. Resolves to null when the visitor does
 * not agree (or the browser cannot).
 */
export async function subscribe(): Promise<PushSubscription | null> {
  if (!pushSupported()) return null;
  if (Notification.permission === 'default') {
    const answer = await Notification.requestPermission();
    if (answer === 'default') notNow(); // closed without answering: like "not now"
    if (answer !== 'granted') return null;
  }
  if (Notification.permission !== 'granted') return null;
  forget(KEYS.unsubscribed);
  const worker = await registration();
  const existing = await worker.pushManager.getSubscription();
  const subscription = existing ?? (await withTimeout(worker.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: await vapidKey() })));
  await register(subscription);
  return subscription;
}

/** A browser that cannot reach its push service may never answer `subscribe`: give up after 20 s. */
function withTimeout<T>(promise: Promise<T>, ms = 20_000): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('Herald: the browser’s push service did not answer')), ms)),
  ]);
}

async function vapidKey(): Promise<Uint8Array<ArrayBuffer>> {
  const { publicConfig } = await graphql<{ publicConfig: { vapidPublicKey: string } }>('query { publicConfig { vapidPublicKey } }', {});
  const base64 = publicConfig.vapidPublicKey.replace(/-/g, '+').replace(/_/g, '/');
  const raw = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(raw, (char) => char.charCodeAt(0));
}

async function register(subscription: PushSubscription): Promise<void> {
  const { registerPushSubscription } = await graphql<{ registerPushSubscription: { __typename: string; message?: string } }>(
    `mutation($input: MutationRegisterPushSubscriptionInput!) {
      registerPushSubscription(input: $input) { __typename ... on Error { message } }
    }`,
    {
      input: {
        ...contactRef(),
        subscription: subscription.toJSON(),
        timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
        locale: navigator.language,
        userAgent: navigator.userAgent,
      },
    },
  );
  unwrap(registerPushSubscription);
  store(KEYS.endpoint, subscription.endpoint);
  await shareContact(); // the worker registers a replaced subscription for the same visitor
}

/**
 * On every page load: if the visitor allowed pushes but the browser's subscription is gone (site
 * data cleared) or changed, subscribe and register again.
 */
async function resync(): Promise<void> {
  if (permission() !== 'granted' || store(KEYS.unsubscribed)) return;
  void shareContact(); // as this page names the visitor now (local storage may have been cleared since)
  const worker = await registration();
  const current = await worker.pushManager.getSubscription();
  if (current && current.endpoint === store(KEYS.endpoint)) return;
  await subscribe();
}

/** Stops pushes to this browser: unsubscribes it and tells Herald; page loads leave it so until subscribe(). */
export async function unsubscribe(): Promise<void> {
  if (!pushSupported()) return;
  store(KEYS.unsubscribed, '1');
  const worker = await navigator.serviceWorker.getRegistration(new URL(options.serviceWorkerPath, location.href).href);
  const subscription = await worker?.pushManager.getSubscription();
  if (!subscription) return;
  await subscription.unsubscribe();
  const { revokePushSubscription } = await graphql<{ revokePushSubscription: { __typename: string; message?: string } }>(
    'mutation($endpoint: String!) { revokePushSubscription(input: { endpoint: $endpoint }) { __typename ... on Error { message } } }',
    { endpoint: subscription.endpoint },
  );
  unwrap(revokePushSubscription);
  forget(KEYS.endpoint);
}

/**
 * The visitor logged in: their anonymous history joins the customer `externalId`. `identityToken`
 * is the hex HMAC-SHA256 of `externalId` under the workspace's identity secret, computed by your
 * server (never in the page); Herald refuses to name a customer without it unless the workspace
 * turned identity verification off. Attributes from the page only fill what Herald lacks;
 * `firstName`, `lastName`, `email`, `phone`, `locale` and `timezone` among them are stored as the
 * contact's own fields. A signup form passes the visitor's choice as `emailOptIn` / `smsOptIn`.
 *
 *   await Herald.identify('customer-42', { firstName: 'Fox', email: 'fox@example.com' }, { identityToken, emailOptIn: true });
 */
export async function identify(
  externalId: string,
  attributes?: Record<string, unknown>,
  options: { identityToken?: string; emailOptIn?: boolean; smsOptIn?: boolean } = {},
): Promise<void> {
  const { identityToken, emailOptIn, smsOptIn } = options;
  const { identifyContact } = await graphql<{ identifyContact: { __typename: string; message?: string } }>(
    'mutation($input: MutationIdentifyContactInput!) { identifyContact(input: $input) { __typename ... on Error { message } } }',
    { input: { anonymousId: anonymousId(), externalId, attributes, identityToken, emailOptIn, smsOptIn } },
  );
  unwrap(identifyContact);
  store(KEYS.externalId, externalId);
  if (identityToken) store(KEYS.identityToken, identityToken);
  await shareContact();
  if (inAppEnabled()) void loadInApp();
}

/**
 * The customer signed out (call it from your logout): this browser becomes a new anonymous
 * visitor, so what it does next joins no one's history, and its push subscription goes with it:
 * the customer's messages, the ones already waiting included, no longer reach this browser (a
 * shared computer, the next person to sign in). The customer keeps their own history; on-site
 * messages read for them are not shown on this page any more. Events tracked before the call are
 * sent first, as the customer's.
 *
 *   await Herald.logout();
 */
export async function logout(): Promise<void> {
  flush();
  for (const key of [KEYS.externalId, KEYS.identityToken, KEYS.anonymousId]) forget(key);
  inAppFeed.forget();
  await shareContact(); // the worker forgets the customer
  if (permission() !== 'granted') return;
  const worker = await registration(); // the worker's URL names the new anonymous visitor
  const subscription = await worker.pushManager.getSubscription();
  if (subscription) await register(subscription);
}

interface Pending {
  input: Record<string, unknown>;
  resolve(): void;
  reject(error: unknown): void;
}

/** Events tracked in this task, sent together when it ends (or at once when the page goes away). */
let pending: Pending[] = [];
let flushTimer: ReturnType<typeof setTimeout> | undefined;
/** Events per request: a burst bigger than this goes in several. */
const MAX_EVENTS_PER_REQUEST = 50;

/**
 * Records what the visitor did (it may trigger campaigns, or count as a conversion). Calls made
 * in one task (one tick of the page's code) go to Herald as one request, in the order they were
 * made; each call resolves, or rejects with its own error, when Herald has stored its event.
 */
export function track(name: string, properties?: Record<string, unknown>): Promise<void> {
  const input = { ...contactRef(), name, properties };
  const tracked = new Promise<void>((resolve, reject) => {
    pending.push({ input, resolve, reject });
    flushTimer ??= setTimeout(flush, 0);
  });
  // An event that triggers an on-site message: ask for it once the event is stored. Which events
  // do is known from the last read, so one tracked while the page's first read is on its way waits for it.
  if (inAppEnabled()) void Promise.all([tracked, inAppRead]).then(() => (inAppFeed.triggers.has(name) ? loadInApp(true) : undefined), () => {});
  return tracked;
}

/**
 * Sends the events waiting: one request of aliased `trackEvent` fields (e0, e1, …), the shape a
 * publishable key may send (`trackEvents` stays the backend's), each event answered on its own.
 */
function flush(): void {
  if (flushTimer !== undefined) clearTimeout(flushTimer);
  flushTimer = undefined;
  while (pending.length) {
    const batch = pending.splice(0, MAX_EVENTS_PER_REQUEST);
    const fields = batch.map((_, n) => `e${n}: trackEvent(input: $e${n}) { __typename ... on Error { message } }`);
    const query = `mutation(${batch.map((_, n) => `$e${n}: EventInput!`).join(', ')}) { ${fields.join(' ')} }`;
    const variables = Object.fromEntries(batch.map(({ input }, n) => [`e${n}`, input]));
    graphql<Record<string, { __typename: string; message?: string }>>(query, variables).then(
      (answers) =>
        batch.forEach(({ resolve, reject }, n) => {
          try {
            unwrap(answers[`e${n}`]!);
            resolve();
          } catch (error) {
            reject(error);
          }
        }),
      (error: unknown) => batch.forEach(({ reject }) => reject(error)),
    );
  }
}

// A page going away sends what it tracked at once: keepalive carries it past the unload.
if (typeof addEventListener === 'function') {
  addEventListener('pagehide', flush);
  addEventListener('visibilitychange', () => typeof document !== 'undefined' && document.visibilityState === 'hidden' && flush());
}

const IN_APP = `query($anonymousId: String, $externalId: String, $identityToken: String) {
  inAppMessages(anonymousId: $anonymousId, externalId: $externalId, identityToken: $identityToken) {
    token layout title body imageUrl buttons { label url } question { kind text choices freeText answers } expiresAt
  }
  inAppTriggers
}`;

/** Reports what the visitor did with an on-site message, as the service worker does for a push; a failed report is dropped. */
function report(message: InAppMessage, type: 'DISPLAYED' | 'CLICKED' | 'CLOSED'): void {
  graphql('mutation($token: String!, $type: MessageEventType!) { recordMessageEvent(input: { token: $token, type: $type }) { __typename } }', { token: message.token, type }).catch(() => {});
}

const inAppFeed = new InAppFeed(
  (visitor) => graphql<{ inAppMessages: InAppMessage[]; inAppTriggers: string[] }>(IN_APP, visitor).then((data) => ({ messages: data.inAppMessages, triggers: data.inAppTriggers })),
  {
    displayed: (message) => report(message, 'DISPLAYED'),
    clicked: (message) => report(message, 'CLICKED'),
    closed: (message) => report(message, 'CLOSED'),
    // An answer Herald refuses (or cannot take now) closes the message instead, so it does not come back.
    answered: (message, answer, text) =>
      graphql<{ answerQuestion: { __typename: string } }>(
        'mutation($token: String!, $answer: String!, $text: String) { answerQuestion(input: { token: $token, answer: $answer, text: $text }) { __typename } }',
        { token: message.token, answer, text },
      ).then((data) => data.answerQuestion.__typename.endsWith('Success'), () => false),
  },
  (message, actions) => inAppRenderer().then((renderer) => renderer.showInApp(message, actions)),
);

/**
 * The on-site message renderer (in-app.ts, /sdk/herald-in-app.js), loaded from Herald the first
 * time there is a message to show: most page views have none, and need not download it.
 */
let renderer: Promise<{ showInApp: (message: InAppMessage, actions: InAppActions) => Promise<void> }> | undefined;
function inAppRenderer(): NonNullable<typeof renderer> {
  renderer ??= import(/* a URL, not bundled */ `${options.apiUrl}/sdk/herald-in-app.js`);
  renderer.catch(() => (renderer = undefined)); // tried again for the next message
  return renderer;
}

const inAppEnabled = () => options?.inApp ?? false;

/** The latest read of the visitor's on-site messages (it never fails). */
let inAppRead: Promise<void> = Promise.resolve();

/** Reads and shows the visitor's on-site messages; Herald out of reach means none this time. */
function loadInApp(fresh = false): Promise<void> {
  inAppRead = inAppFeed.load(contactRef(), fresh).catch(() => {
    // shown on a later page
  });
  return inAppRead;
}

/** The soft prompt on the page: init called again (a snippet run twice) shows no second one. */
let softPromptBox: HTMLElement | undefined;

function showSoftPrompt(prompt: SoftPrompt): void {
  if (softPromptBox?.isConnected) return;
  const box = (softPromptBox = document.createElement('div'));
  box.setAttribute('role', 'dialog');
  box.dataset.herald = 'soft-prompt';
  box.style.cssText =
    'position:fixed;right:16px;bottom:16px;max-width:320px;padding:16px;background:#fff;color:#111;' +
    'border-radius:8px;box-shadow:0 4px 24px rgba(0,0,0,.2);font:14px/1.4 system-ui,sans-serif;z-index:2147483647';
  const title = document.createElement('strong');
  title.textContent = prompt.title ?? 'Get notified?';
  const text = document.createElement('p');
  text.textContent = prompt.text ?? 'We can send you a notification about offers and your orders.';
  const allow = document.createElement('button');
  allow.textContent = prompt.allow ?? 'Allow';
  const later = document.createElement('button');
  later.textContent = prompt.later ?? 'Not now';
  later.style.marginLeft = '8px';
  allow.onclick = () => {
    box.remove();
    void subscribe();
  };
  later.onclick = () => {
    box.remove();
    notNow();
  };
  box.append(title, text, allow, later);
  document.body.append(box);
}

export const Herald = {
  init,
  refreshInApp: () => loadInApp(true),
  subscribe,
  unsubscribe,
  identify,
  logout,
  track,
  shouldAsk,
  notNow,
  anonymousId,
  get permission() {
    return permission();
  },
  /** Resolves when init's checks (re-registration, soft prompt) are done. */
  get ready() {
    return ready ?? Promise.resolve();
  },
};

(globalThis as { Herald?: typeof Herald }).Herald = Herald;
export default Herald;
