// RFC 8291 encryption for PushClient, on a thread of its own (see encryption.ts). Plain JavaScript,
// so the thread starts without the TypeScript loader. Each message is a batch: { id, jobs: [{ p256dh,
// auth, payload }] }; the answer is { id, bodies } or { id, error }.
import { parentPort } from 'node:worker_threads';
import webpush from 'web-push';

parentPort.on('message', ({ id, jobs }) => {
  try {
    const bodies = jobs.map(({ p256dh, auth, payload }) => webpush.encrypt(p256dh, auth, payload, 'aes128gcm').cipherText);
    parentPort.postMessage({ id, bodies });
  } catch (error) {
    parentPort.postMessage({ id, error: error instanceof Error ? error.message : String(error) });
  }
});
