/**
 * Smoke test of the real-browser rig: real Firefox ESR subscribes through our autopush server,
 * `web-push` sends an encrypted message to the endpoint, Firefox decrypts it and its service worker
 * shows a notification, which reaches our D-Bus notification daemon; a click there reaches the
 * worker's `notificationclick`. No mocks: every box is a real process or server.
 */
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import webpush, { type PushSubscription } from 'web-push';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { type Autopush, startAutopush } from './kit/autopush.ts';
import { type Firefox, launchFirefox } from './kit/firefox.ts';
import { type NotificationBus, startNotificationBus } from './kit/notifications.ts';

const PAGE = `<!doctype html>
<title>rig</title>
<script>
  // Registers the worker and subscribes; rejects with a clear message instead of hanging.
  async function subscribeForPush(applicationServerKey) {
    const registration = await navigator.serviceWorker.register('/sw.js');
    await navigator.serviceWorker.ready;
    const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('pushManager.subscribe took over 15 s')), 15000));
    const subscription = await Promise.race([
      registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey }),
      timeout,
    ]);
    return JSON.stringify(subscription.toJSON());
  }
</script>`;

const WORKER = `
const beacon = (body) => fetch('/beacon', { method: 'POST', body: JSON.stringify(body) });
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
self.addEventListener('push', (event) => {
  const message = event.data.json();
  event.waitUntil(
    self.registration
      .showNotification(message.title, { body: message.body, data: { url: message.url } })
      .then(() => beacon({ event: 'displayed', title: message.title }))
      .catch((error) => beacon({ event: 'error', in: 'push', error: String(error) })),
  );
});
self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = event.notification.data.url;
  event.waitUntil(Promise.all([beacon({ event: 'clicked', action: event.action, url }), self.clients.openWindow(url)]));
});`;

interface Site {
  origin: string;
  beacons: Record<string, unknown>[]; // what the worker POSTed to /beacon
  visits: string[]; // paths requested
  waitForBeacon(event: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

/** The web site under test, on http://127.0.0.1 (a secure context, so service workers and push work). */
async function startSite(): Promise<Site> {
  const beacons: Record<string, unknown>[] = [];
  const visits: string[] = [];
  const server = http.createServer((req, res) => {
    visits.push(req.url ?? '');
    if (req.method === 'POST' && req.url === '/beacon') {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk));
      req.on('end', () => {
        beacons.push(JSON.parse(body) as Record<string, unknown>);
        res.writeHead(204).end();
      });
      return;
    }
    if (req.url === '/sw.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(WORKER);
    if (req.url === '/' || req.url === '/landing') return res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    res.writeHead(404).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    beacons,
    visits,
    async waitForBeacon(event, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const beacon = beacons.find((b) => b.event === event);
        if (beacon) return beacon;
        if (Date.now() > deadline) {
          throw new Error(`the service worker sent no '${event}' beacon within ${timeoutMs} ms (got: ${JSON.stringify(beacons)})`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function waitUntil(what: string, condition: () => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('real Firefox web push', () => {
  const vapid = webpush.generateVAPIDKeys();
  let site: Site;
  let autopush: Autopush;
  let bus: NotificationBus;
  let firefox: Firefox;
  let agent: https.Agent;

  beforeAll(async () => {
    [site, autopush, bus] = await Promise.all([startSite(), startAutopush(), startNotificationBus()]);
    agent = new https.Agent({ ca: autopush.ca });
    firefox = await launchFirefox({ pushServerUrl: autopush.wsUrl, dbusAddress: bus.address });
  });
  afterAll(async () => {
    await firefox?.close();
    agent?.destroy();
    await Promise.all([bus?.close(), autopush?.close(), site?.close()]);
  });

  it('subscribes, receives a push, shows it on the desktop and reports the click', async () => {
    onTestFailed(() => console.log(`Firefox console:\n${firefox.logs().join('\n')}\nFirefox output:\n${firefox.output()}`));

    // Subscribe in the page, as a visitor would after allowing notifications.
    await firefox.grantNotifications(site.origin);
    await firefox.navigate(`${site.origin}/`);
    const json = await firefox.evaluate<string>(`subscribeForPush(${JSON.stringify(vapid.publicKey)})`);
    const subscription = JSON.parse(json) as PushSubscription;
    expect(subscription.endpoint.startsWith(`${autopush.origin}/push/`)).toBe(true);
    expect(autopush.endpoints()).toContain(subscription.endpoint);
    expect(Buffer.from(subscription.keys.p256dh, 'base64url')).toHaveLength(65);
    expect(Buffer.from(subscription.keys.auth, 'base64url')).toHaveLength(16);

    // Send exactly as an application server does: encrypted, VAPID-signed, over HTTPS.
    const message = { title: 'Spring sale', body: 'Everything 20% off until Sunday', url: `${site.origin}/landing` };
    const sent = await webpush.sendNotification(subscription, JSON.stringify(message), {
      vapidDetails: { subject: 'mailto:rig@example.com', publicKey: vapid.publicKey, privateKey: vapid.privateKey },
      TTL: 60,
      agent,
    });
    expect(sent.statusCode).toBe(201);

    // Firefox decrypted it, acked it, and the worker displayed it.
    await expect(site.waitForBeacon('displayed')).resolves.toMatchObject({ title: message.title });
    await waitUntil('an ack with code 100 (delivered) from Firefox', () => autopush.deliveries()[0]?.ack === 100);
    const shown = await bus.waitFor((n) => n.summary === message.title);
    expect(shown.body).toBe(message.body);
    expect(shown.actions).toContain('default');

    // The user clicks it on the desktop: the worker hears it and opens the campaign's page.
    bus.click(shown.id);
    // action '' means the notification itself was clicked, not one of its buttons.
    await expect(site.waitForBeacon('clicked')).resolves.toMatchObject({ action: '', url: message.url });
    await waitUntil('clients.openWindow loading /landing', () => site.visits.includes('/landing'));
  });
});
