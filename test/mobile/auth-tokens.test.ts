import { createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { APNS_TOKEN_RENEW_MS } from '../../src/delivery/mobile-push/apns.ts';
import { MobilePushClients } from '../../src/delivery/mobile-push/clients.ts';
import type { ApnsCredentials, FcmCredentials } from '../../src/workspaces/mobile-push-settings.ts';
import { deviceToken, useMobilePush } from '../kit/mobile.ts';

/**
 * Herald's APNs and FCM clients against the local APNs and FCM, on a clock the test moves: the
 * provider token and the access token are made once and reused, and made again when they age.
 */
describe('APNs provider tokens and FCM access tokens', () => {
  const m = useMobilePush({ fcm: { tokenLifetimeS: 400 } });
  let now = Date.now();
  const clients = () => new MobilePushClients({ HERALD_PUSH_CA: m.env.HERALD_PUSH_CA, HERALD_PUSH_TIMEOUT_MS: 5000, HERALD_MOBILE_PUSH_ALLOWED_HOSTS: '127.0.0.1' }, () => now);
  const apns = (): ApnsCredentials => ({ ...m.apns.settings() });
  const fcm = (): FcmCredentials => ({ projectId: m.fcm.projectId, clientEmail: m.fcm.clientEmail, tokenUri: `${m.fcm.origin}/token`, baseUrl: m.fcm.origin, privateKey: JSON.parse(m.fcm.serviceAccount).private_key });
  const push = (token: string) => ({ deviceToken: token, body: JSON.stringify({ aps: { alert: 'hi' } }), id: crypto.randomUUID(), expiration: 0, collapseId: 'c' });
  const message = (token: string) => JSON.stringify({ message: { token, notification: { title: 'hi' } } });

  it('signs one APNs provider token, reuses it, and signs another after 50 minutes', async () => {
    const client = clients();
    const token = deviceToken('IOS');
    for (let index = 0; index < 3; index++) expect(await client.apns.send(apns(), push(token))).toEqual({ kind: 'sent' });
    const first = m.apns.received(token).map((received) => received.jwt.raw);
    expect(new Set(first).size).toBe(1);
    now += APNS_TOKEN_RENEW_MS - 1000;
    expect(await client.apns.send(apns(), push(token))).toEqual({ kind: 'sent' });
    now += 2000;
    expect(await client.apns.send(apns(), push(token))).toEqual({ kind: 'sent' });
    const all = m.apns.received(token).map((received) => received.jwt);
    expect(all[3]!.raw).toBe(first[0]);
    expect(all[4]!.raw).not.toBe(first[0]);
    expect(all[4]!.iat - all[0]!.iat).toBeGreaterThanOrEqual(APNS_TOKEN_RENEW_MS / 1000);
    client.close();
  });

  it('a provider token APNs refuses is dropped and the retry signs a fresh one', async () => {
    const client = clients();
    const token = deviceToken('IOS');
    expect(await client.apns.send(apns(), push(token))).toEqual({ kind: 'sent' });
    const { generateKeyPairSync } = await import('node:crypto');
    const wrong = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    m.apns.trustKey(wrong.publicKey);
    expect(await client.apns.send(apns(), push(token))).toMatchObject({ kind: 'retry', error: 'APNs answered 403 (InvalidProviderToken)' });
    // The next send signed again (and is refused again: the kit now trusts another key).
    expect(await client.apns.send(apns(), push(token))).toMatchObject({ kind: 'retry' });
    client.close();
  });

  it('mints one FCM access token, reuses it until 5 minutes before it expires, and mints again after a 401', async () => {
    const client = clients();
    const token = deviceToken('ANDROID');
    const before = m.fcm.mints();
    for (let index = 0; index < 3; index++) expect(await client.fcm.send(fcm(), message(token))).toEqual({ kind: 'sent' });
    expect(m.fcm.mints() - before).toBe(1);
    // 400 s tokens are used for 100 s.
    now += 99_000;
    expect(await client.fcm.send(fcm(), message(token))).toEqual({ kind: 'sent' });
    expect(m.fcm.mints() - before).toBe(1);
    now += 2_000;
    expect(await client.fcm.send(fcm(), message(token))).toEqual({ kind: 'sent' });
    expect(m.fcm.mints() - before).toBe(2);
    m.fcm.revokeAccessTokens();
    expect(await client.fcm.send(fcm(), message(token))).toMatchObject({ kind: 'retry', error: 'FCM answered 401 (UNAUTHENTICATED)' });
    expect(await client.fcm.send(fcm(), message(token))).toEqual({ kind: 'sent' });
    expect(m.fcm.mints() - before).toBe(3);
    client.close();
  });

  it('connects only where the allowlist says: the kit’s 127.0.0.1 is refused without HERALD_MOBILE_PUSH_ALLOWED_HOSTS', async () => {
    const strict = new MobilePushClients({ HERALD_PUSH_CA: m.env.HERALD_PUSH_CA, HERALD_PUSH_TIMEOUT_MS: 5000, HERALD_MOBILE_PUSH_ALLOWED_HOSTS: undefined });
    const requests = m.apns.requests();
    const mints = m.fcm.mints();
    expect(await strict.apns.send(apns(), push(deviceToken('IOS')))).toMatchObject({ kind: 'rejected', error: expect.stringContaining('127.0.0.1 is not an allowed push service') });
    expect(await strict.fcm.send(fcm(), message(deviceToken('ANDROID')))).toMatchObject({ kind: 'retry', error: expect.stringContaining('not an allowed push service') });
    expect(m.apns.requests()).toBe(requests);
    expect(m.fcm.mints()).toBe(mints);
    strict.close();
  });

  it('gives up on a request with no answer after HERALD_PUSH_TIMEOUT_MS (to retry it), while the connection keeps serving others', async () => {
    const client = new MobilePushClients({ HERALD_PUSH_CA: m.env.HERALD_PUSH_CA, HERALD_PUSH_TIMEOUT_MS: 300, HERALD_MOBILE_PUSH_ALLOWED_HOSTS: '127.0.0.1' });
    m.apns.trustKey(createPublicKey(m.apns.privateKey)); // the team's own key again, after the test above
    const hung = deviceToken('IOS');
    m.apns.behave({ hang: true }, { token: hung });
    const started = Date.now();
    const [stuck, answered] = await Promise.all([client.apns.send(apns(), push(hung)), client.apns.send(apns(), push(deviceToken('IOS')))]);
    expect(stuck).toMatchObject({ kind: 'retry', error: 'no answer within 300 ms or the stream was reset' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(answered).toEqual({ kind: 'sent' });
    client.close();
  });
});
