import { createECDH, randomBytes } from 'node:crypto';

/** A browser-like PushSubscription JSON with real P-256 keys, as pushManager.subscribe returns. */
export function browserSubscription(endpoint = `https://push.example.test/send/${randomBytes(8).toString('hex')}`) {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return {
    endpoint,
    keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') },
  };
}
