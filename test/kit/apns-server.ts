import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { type KitAnswer, type KitCertificate, type KitRequest, startHttp2Kit, waitUntil } from './http2-kit.ts';

/** What the kit's APNs accepted for one device token. */
export interface ReceivedApns {
  deviceToken: string;
  /** The JSON body: `aps` and the app's fields. */
  payload: { aps: Record<string, unknown>; herald?: { messageId: string; token: string; trackUrl: string; url?: string; imageUrl?: string } } & Record<string, unknown>;
  headers: { pushType: string; priority: string; expiration: number; collapseId: string | null; topic: string; id: string | null };
  /** The verified provider token's claims. */
  jwt: { iss: string; iat: number; kid: string; raw: string };
  at: number;
}

export type ApnsBehaviour =
  | { status: 400; reason: 'BadDeviceToken' | 'BadCollapseId' | 'BadTopic' | 'DeviceTokenNotForTopic' }
  | { status: 410; reason?: 'Unregistered' | 'ExpiredToken' }
  | { status: 429 | 500 | 503; reason?: string }
  | { hang: true }
  | { reset: true };

/**
 * A local APNs (HTTP/2 over TLS, the provider API's /3/device/<token>) that checks a request as
 * Apple does: the bearer provider token is an ES256 JWT from the team's key (kid, iss, iat within
 * the hour), apns-topic is the bundle id, the push type, priority, expiration and collapse id are
 * well formed, the body is JSON with `aps` within 4 KB. Accepted pushes are recorded per device
 * token; `unregister` makes a token answer 410, `behave` and `injectFaults` give other answers.
 */
export async function startApnsServer(certificate: KitCertificate, options: { teamId?: string; keyId?: string; bundleId?: string; record?: boolean } = {}) {
  const teamId = options.teamId ?? 'TEAM123456';
  const keyId = options.keyId ?? 'KEY1234567';
  const bundleId = options.bundleId ?? 'com.shop.app';
  const record = options.record ?? true;
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const received: ReceivedApns[] = [];
  const refused: { deviceToken: string; status: number; reason: string }[] = [];
  const unregistered = new Set<string>();
  const rules: { behaviour: ApnsBehaviour; token?: string; remaining: number }[] = [];
  let faults = { rate: 0, behaviours: [] as ApnsBehaviour[] };
  let accepted = 0;
  let requests = 0;
  /** Verified provider tokens (APNs too checks a token once, not per push). */
  const verified = new Map<string, ReceivedApns['jwt']>();
  let verifyKey: KeyObject = publicKey;

  const refuse = (deviceToken: string, status: number, reason: string, extra: Record<string, unknown> = {}): KitAnswer => {
    refused.push({ deviceToken, status, reason });
    return { status, body: { reason, ...extra } };
  };

  async function providerToken(header: string | undefined): Promise<ReceivedApns['jwt'] | string> {
    const raw = /^bearer (\S+)$/.exec(header ?? '')?.[1];
    if (!raw) return 'MissingProviderToken';
    const known = verified.get(raw);
    if (known) return Date.now() / 1000 - known.iat > 3600 ? 'ExpiredProviderToken' : known;
    try {
      const { kid, alg } = decodeProtectedHeader(raw);
      if (alg !== 'ES256' || kid !== keyId) return 'InvalidProviderToken';
      const { payload } = await jwtVerify(raw, verifyKey, { algorithms: ['ES256'], issuer: teamId });
      const iat = Number(payload.iat);
      if (!Number.isFinite(iat) || Date.now() / 1000 - iat > 3600) return 'ExpiredProviderToken';
      const claims = { iss: teamId, iat, kid, raw };
      verified.set(raw, claims);
      return claims;
    } catch {
      return 'InvalidProviderToken';
    }
  }

  function behaviourFor(deviceToken: string): ApnsBehaviour | null {
    if (faults.rate > 0 && Math.random() < faults.rate) return faults.behaviours[Math.floor(Math.random() * faults.behaviours.length)]!;
    const rule = rules.find((entry) => !entry.token || entry.token === deviceToken);
    if (!rule) return null;
    if (--rule.remaining <= 0) rules.splice(rules.indexOf(rule), 1);
    return rule.behaviour;
  }

  async function handle(request: KitRequest): Promise<KitAnswer> {
    requests++;
    const deviceToken = /^\/3\/device\/([^/?]+)$/.exec(request.path)?.[1] ?? '';
    if (request.method !== 'POST' || !deviceToken) return refuse(deviceToken, 405, 'MethodNotAllowed');
    const jwt = await providerToken(request.headers.authorization);
    if (typeof jwt === 'string') return refuse(deviceToken, 403, jwt);
    const header = (name: string) => request.headers[name] as string | undefined;
    if (header('apns-topic') !== bundleId) return refuse(deviceToken, 400, header('apns-topic') ? 'BadTopic' : 'MissingTopic');
    if (!['alert', 'background'].includes(header('apns-push-type') ?? '')) return refuse(deviceToken, 400, 'InvalidPushType');
    if (!['5', '10'].includes(header('apns-priority') ?? '10')) return refuse(deviceToken, 400, 'BadPriority');
    if (!/^\d+$/.test(header('apns-expiration') ?? '0')) return refuse(deviceToken, 400, 'BadExpirationDate');
    const collapseId = header('apns-collapse-id') ?? null;
    if (collapseId !== null && Buffer.byteLength(collapseId) > 64) return refuse(deviceToken, 400, 'BadCollapseId');
    const id = header('apns-id') ?? null;
    if (id !== null && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) return refuse(deviceToken, 400, 'BadMessageId');
    if (!/^[0-9a-f]{64}$/.test(deviceToken)) return refuse(deviceToken, 400, 'BadDeviceToken');
    if (Buffer.byteLength(request.body) > 4096) return refuse(deviceToken, 413, 'PayloadTooLarge');
    let payload: ReceivedApns['payload'];
    try {
      payload = JSON.parse(request.body) as ReceivedApns['payload'];
    } catch {
      return refuse(deviceToken, 400, 'BadPayload');
    }
    if (!payload || typeof payload.aps !== 'object') return refuse(deviceToken, 400, 'PayloadEmpty');
    if (unregistered.has(deviceToken)) return refuse(deviceToken, 410, 'Unregistered', { timestamp: Date.now() });
    const behaviour = behaviourFor(deviceToken);
    if (behaviour && 'hang' in behaviour) return { status: 0, hang: true };
    if (behaviour && 'reset' in behaviour) return { status: 0, reset: true };
    if (behaviour) return refuse(deviceToken, behaviour.status, behaviour.reason ?? (behaviour.status === 429 ? 'TooManyRequests' : behaviour.status === 410 ? 'Unregistered' : 'InternalServerError'));
    accepted++;
    if (record) {
      received.push({
        deviceToken,
        payload,
        headers: { pushType: header('apns-push-type')!, priority: header('apns-priority') ?? '10', expiration: Number(header('apns-expiration') ?? 0), collapseId, topic: bundleId, id },
        jwt,
        at: Date.now(),
      });
    }
    return { status: 200, headers: id ? { 'apns-id': id } : {} };
  }

  const server = await startHttp2Kit(certificate, handle);
  return {
    origin: server.origin,
    teamId,
    keyId,
    bundleId,
    /** The .p8 key Herald's settings take (PKCS#8 PEM). */
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    /** `apns` for updateWorkspaceSettings. */
    settings: (): { teamId: string; keyId: string; privateKey: string; bundleId: string; production: boolean; baseUrl: string } => ({
      teamId,
      keyId,
      privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      bundleId,
      production: true,
      baseUrl: server.origin,
    }),
    received: (deviceToken?: string) => (deviceToken ? received.filter((push) => push.deviceToken === deviceToken) : [...received]),
    refused: () => [...refused],
    accepted: () => accepted,
    requests: () => requests,
    connections: server.connections,
    slow: server.slow,
    /** The token answers 410 Unregistered from now on (the app was uninstalled). */
    unregister: (deviceToken: string) => void unregistered.add(deviceToken),
    /** The next `times` requests (to `token`, or any) meet `behaviour`. */
    behave: (behaviour: ApnsBehaviour, options: { token?: string; times?: number } = {}) => void rules.push({ behaviour, token: options.token, remaining: options.times ?? 1 }),
    /** A random `rate` (0..1) of requests meet one of `behaviours`. */
    injectFaults: (rate: number, behaviours: ApnsBehaviour[]) => void (faults = { rate, behaviours }),
    /** Verifies provider tokens against another key from now on (a rotated or wrong key). */
    trustKey: (key: KeyObject) => {
      verifyKey = key;
      verified.clear();
    },
    clear: () => {
      received.length = 0;
      refused.length = 0;
      accepted = 0;
      requests = 0;
    },
    waitFor: (predicate: () => boolean, what = 'the APNs kit', timeoutMs?: number) => waitUntil(predicate, what, timeoutMs),
    close: server.close,
  };
}
export type TestApns = Awaited<ReturnType<typeof startApnsServer>>;
