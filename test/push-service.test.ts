import { existsSync } from 'node:fs';
import https from 'node:https';
import webpush, { type RequestOptions, WebPushError } from 'web-push';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PushServiceSubscription, startPushService, type TestPushService } from './kit/push-service.ts';

const vapid = webpush.generateVAPIDKeys();
const stranger = webpush.generateVAPIDKeys();
const subject = 'mailto:test@example.com';

let service: TestPushService;
let agent: https.Agent;

beforeAll(async () => {
  service = await startPushService({ vapidPublicKey: vapid.publicKey });
  agent = new https.Agent({ ca: service.ca, keepAlive: true });
});
afterAll(async () => {
  agent?.destroy();
  await service?.close();
});

function send(subscription: PushServiceSubscription['json'], payload: string, options: RequestOptions = {}) {
  return webpush.sendNotification(subscription, payload, {
    vapidDetails: { subject, publicKey: vapid.publicKey, privateKey: vapid.privateKey },
    TTL: 60,
    urgency: 'high',
    topic: 'abc',
    agent,
    ...options,
  });
}

/** The status web-push saw, whether it resolved or threw a WebPushError. */
async function statusOf(sending: Promise<webpush.SendResult>) {
  try {
    return (await sending).statusCode;
  } catch (error) {
    if (error instanceof WebPushError) return error.statusCode;
    throw error;
  }
}

/** Posts web-push's own request with a header removed or the body replaced, which sendNotification cannot do. */
function rawPost(subscription: PushServiceSubscription['json'], change: (headers: Record<string, unknown>) => Buffer | null) {
  const details = webpush.generateRequestDetails(subscription, 'hi', {
    vapidDetails: { subject, publicKey: vapid.publicKey, privateKey: vapid.privateKey },
    TTL: 60,
  });
  const headers: Record<string, unknown> = { ...details.headers };
  const body = change(headers) ?? details.body;
  return new Promise<number>((resolve, reject) => {
    const request = https.request(details.endpoint, { method: 'POST', headers: headers as never, agent }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode!));
    });
    request.on('error', reject);
    request.end(body);
  });
}

describe('test push service', () => {
  it('accepts a VAPID-signed message and decrypts it', async () => {
    const sub = service.subscribe();
    expect(sub.json).toEqual({ endpoint: `${service.origin}/push/${sub.id}`, keys: expect.any(Object), expirationTime: null });
    expect(Buffer.from(sub.json.keys.p256dh, 'base64url')).toHaveLength(65);
    expect(Buffer.from(sub.json.keys.auth, 'base64url')).toHaveLength(16);

    const result = await send(sub.json, JSON.stringify({ title: 'Hello', body: 'héllo ✓' }));
    expect(result.statusCode).toBe(201);
    expect(result.headers.location).toMatch(/^\/message\/\d+$/);

    const [push, ...more] = service.received(sub.id);
    expect(more).toEqual([]);
    expect(push).toMatchObject({
      subscriptionId: sub.id,
      payload: '{"title":"Hello","body":"héllo ✓"}',
      json: { title: 'Hello', body: 'héllo ✓' },
      ttl: 60,
      urgency: 'high',
      topic: 'abc',
      vapid: { aud: service.origin, sub: subject, publicKey: vapid.publicKey },
    });
    expect(push!.vapid.exp).toBeGreaterThan(Date.now() / 1000);
    expect(push!.vapid.exp).toBeLessThanOrEqual(Date.now() / 1000 + 24 * 3600);
  });

  it('refuses a JWT not signed by the advertised key (401) and a key other than the application server key (403)', async () => {
    const sub = service.subscribe();
    const forged = { subject, publicKey: vapid.publicKey, privateKey: stranger.privateKey };
    expect(await statusOf(send(sub.json, 'x', { vapidDetails: forged }))).toBe(401);
    expect(await statusOf(send(sub.json, 'x', { vapidDetails: { subject, ...stranger } }))).toBe(403);
    expect(service.received(sub.id)).toEqual([]);
    expect(service.rejected().filter((r) => r.subscriptionId === sub.id)).toEqual([
      { subscriptionId: sub.id, status: 401, reason: expect.stringMatching(/signature/), at: expect.any(Number) },
      { subscriptionId: sub.id, status: 403, reason: expect.stringMatching(/application server key/), at: expect.any(Number) },
    ]);
  });

  it('takes an encrypted body of exactly 4096 bytes and refuses one byte more with 413', async () => {
    const sub = service.subscribe();
    // aes128gcm adds an 86-byte header, a 1-byte delimiter and a 16-byte tag.
    expect(await statusOf(send(sub.json, 'x'.repeat(4096 - 103)))).toBe(201);
    expect(await statusOf(send(sub.json, 'x'.repeat(4096 - 102)))).toBe(413);
    expect(service.received(sub.id).map((push) => push.payload.length)).toEqual([3993]);
    expect(service.rejected().at(-1)).toMatchObject({ subscriptionId: sub.id, status: 413 });
  });

  it('refuses a missing TTL, a wrong Content-Encoding, a chunked oversize body and an undecryptable one with 400/413', async () => {
    const sub = service.subscribe();
    expect(await rawPost(sub.json, (headers) => (delete headers.TTL, null))).toBe(400);
    expect(await rawPost(sub.json, (headers) => ((headers['Content-Encoding'] = 'aesgcm'), null))).toBe(400);
    expect(await rawPost(sub.json, (headers) => (delete headers['Content-Length'], Buffer.alloc(5000)))).toBe(413);
    expect(await rawPost(sub.json, (headers) => ((headers['Content-Length'] = 200), Buffer.alloc(200, 1)))).toBe(400);
    expect(service.rejected().filter((r) => r.subscriptionId === sub.id).map((r) => r.reason)).toEqual([
      expect.stringMatching(/TTL/),
      expect.stringMatching(/Content-Encoding/),
      expect.stringMatching(/over 4096/),
      expect.stringMatching(/decrypt/),
    ]);
    expect(service.received(sub.id)).toEqual([]);
  });

  it('answers 404 for an unknown subscription', async () => {
    const { json } = service.subscribe();
    expect(await statusOf(send({ ...json, endpoint: `${service.origin}/push/nope` }, 'x'))).toBe(404);
    expect(service.rejected().at(-1)).toMatchObject({ subscriptionId: 'nope', status: 404 });
  });

  it.each([404, 410, 500] as const)('answers %i as told, then 201 once `times` is spent', async (status) => {
    const sub = service.subscribe();
    service.behave({ status }, { subscriptionId: sub.id, times: 2 });
    expect(await statusOf(send(sub.json, '1'))).toBe(status);
    expect(await statusOf(send(sub.json, '2'))).toBe(status);
    expect(await statusOf(send(sub.json, '3'))).toBe(201);
    expect(service.received(sub.id).map((push) => push.payload)).toEqual(['3']);
  });

  it('answers 429 with Retry-After', async () => {
    const sub = service.subscribe();
    service.behave({ status: 429, retryAfterSeconds: 7 }, { subscriptionId: sub.id, times: 1 });
    const error = await send(sub.json, 'x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WebPushError);
    expect((error as WebPushError).statusCode).toBe(429);
    expect((error as WebPushError).headers['retry-after']).toBe('7');
    expect(await statusOf(send(sub.json, 'x'))).toBe(201);
  });

  it('resets the connection, then accepts again', async () => {
    const sub = service.subscribe();
    service.behave({ reset: true }, { subscriptionId: sub.id, times: 1 });
    await expect(send(sub.json, 'x')).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(await statusOf(send(sub.json, 'x'))).toBe(201);
    expect(service.rejected().filter((r) => r.subscriptionId === sub.id).map((r) => r.status)).toEqual(['reset']);
  });

  it('hangs until the client gives up, then accepts again', async () => {
    const sub = service.subscribe();
    service.behave({ hang: true }, { subscriptionId: sub.id, times: 1 });
    await expect(send(sub.json, 'x', { timeout: 200 })).rejects.toThrow(/Socket timeout/);
    expect(await statusOf(send(sub.json, 'x'))).toBe(201);
    expect(service.rejected().filter((r) => r.subscriptionId === sub.id).map((r) => r.status)).toEqual(['hang']);
  });

  it('hangs for forMs, then drops the connection unanswered', async () => {
    const sub = service.subscribe();
    service.behave({ hang: true, forMs: 300 }, { subscriptionId: sub.id, times: 1 });
    const started = Date.now();
    await expect(send(sub.json, 'x', { timeout: 5_000 })).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(service.received(sub.id)).toEqual([]);
  });

  it('applies a global behaviour when a subscription has none of its own', async () => {
    const [a, b] = [service.subscribe(), service.subscribe()];
    service.behave({ status: 201 }, { subscriptionId: b.id });
    service.behave({ status: 503 }, { times: 2 });
    expect(await statusOf(send(a.json, 'x'))).toBe(503);
    expect(await statusOf(send(b.json, 'x'))).toBe(201);
    expect(await statusOf(send(a.json, 'x'))).toBe(503);
    expect(await statusOf(send(a.json, 'x'))).toBe(201);
  });

  it('waitFor resolves on the condition and times out with a clear message', async () => {
    const sub = service.subscribe();
    void send(sub.json, 'later');
    await service.waitFor(() => service.received(sub.id).length === 1);
    await expect(service.waitFor(() => false, 50)).rejects.toThrow(/not met within 50ms/);
  });
});

it('close() ends hanging requests and removes its files', async () => {
  const own = await startPushService();
  const ownAgent = new https.Agent({ ca: own.ca });
  const sub = own.subscribe();
  own.behave({ hang: true });
  const sending = send(sub.json, 'x', { agent: ownAgent }).catch((error: unknown) => error);
  await own.waitFor(() => own.rejected().length === 1);
  expect(existsSync(own.caFile)).toBe(true);
  await own.close();
  expect(await sending).toBeInstanceOf(Error);
  expect(existsSync(own.caFile)).toBe(false);
  ownAgent.destroy();
});
