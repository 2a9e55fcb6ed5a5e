/**
 * PushClient's encryption, on the main thread (HERALD_ENCRYPT_THREADS=0) and on worker threads:
 * what it sends, the test push service decrypts (RFC 8291), in the order asked; a broken
 * subscription key fails its batch with a clear error, and the thread keeps working after.
 */
import webpush from 'web-push';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PushClient } from '../src/delivery/web-push/push-client.ts';
import { startPushService, type TestPushService } from './kit/push-service.ts';

const vapid = webpush.generateVAPIDKeys();
let service: TestPushService;

beforeAll(async () => {
  service = await startPushService({ vapidPublicKey: vapid.publicKey });
});
afterAll(() => service?.close());

describe.each([0, 1, 2])('with HERALD_ENCRYPT_THREADS=%i', (threads) => {
  it('encrypts batches the push service decrypts, each for its browser, in order', async () => {
    const client = new PushClient({
      HERALD_PUSH_CA: service.caFile,
      HERALD_PUSH_ALLOWED_HOSTS: '127.0.0.1',
      HERALD_PUSH_CONCURRENCY: 16,
      HERALD_PUSH_TIMEOUT_MS: 5_000,
      HERALD_VAPID_SUBJECT: 'mailto:test@example.com',
      HERALD_ENCRYPT_THREADS: threads,
    });
    try {
      const browsers = Array.from({ length: 6 }, () => service.subscribe());
      const jobs = browsers.map((browser, index) => ({ ...browser.json.keys, payload: JSON.stringify({ title: `push ${index}`, threads }) }));
      // Two batches at once, so with two threads both work at the same time.
      const [first, second] = await Promise.all([client.encrypt(jobs.slice(0, 3)), client.encrypt(jobs.slice(3))]);
      const bodies = [...first!, ...second!];
      expect(bodies).toHaveLength(6);
      const outcomes = await Promise.all(
        browsers.map((browser, index) =>
          client.send({ endpoint: browser.json.endpoint, body: bodies[index]!, ttlSeconds: 60, authorization: client.authorization(browser.json.endpoint, vapid) }),
        ),
      );
      expect(outcomes.every((outcome) => outcome.kind === 'sent')).toBe(true);
      browsers.forEach((browser, index) => expect(service.received(browser.id).map((push) => push.json)).toEqual([{ title: `push ${index}`, threads }]));

      // A key that is not a P-256 point fails the batch, clearly; the next batch works.
      await expect(client.encrypt([{ ...jobs[0]!, p256dh: 'not-a-key' }])).rejects.toThrow(/p256dh/);
      expect(await client.encrypt(jobs.slice(0, 1))).toHaveLength(1);
    } finally {
      client.close();
    }
  });
});
