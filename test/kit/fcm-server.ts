import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { jwtVerify } from 'jose';
import { type KitAnswer, type KitCertificate, type KitRequest, startHttp2Kit, waitUntil } from './http2-kit.ts';

/** What the kit's FCM accepted for one registration token. */
export interface ReceivedFcm {
  deviceToken: string;
  /** The v1 Message resource as posted (`token`, `notification`, `android`, `data`). */
  message: {
    token: string;
    notification?: { title?: string; body?: string; image?: string };
    android?: { priority?: string; ttl?: string; collapse_key?: string; notification?: Record<string, unknown> };
    data?: Record<string, string>;
  };
  /** The access token the request carried. */
  accessToken: string;
  at: number;
}

export type FcmBehaviour = { status: 429; retryAfterSeconds?: number } | { status: 500 | 503 } | { status: 400 } | { hang: true } | { reset: true };

const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';

/**
 * A local FCM HTTP v1 with its OAuth2 token endpoint. `/token` takes the JWT bearer grant and
 * verifies the assertion (RS256 under the service account's key, iss its client_email, aud the
 * token_uri, the messaging scope, at most an hour long) before minting an access token that
 * lasts `tokenLifetimeS`; `messages:send` takes only a live access token of its own minting, for
 * its own project. `unregister` makes a token answer UNREGISTERED; `behave` and `injectFaults`
 * give 429 RESOURCE_EXHAUSTED (with Retry-After), 5xx and other answers.
 */
export async function startFcmServer(certificate: KitCertificate, options: { projectId?: string; tokenLifetimeS?: number; record?: boolean } = {}) {
  const projectId = options.projectId ?? 'herald-shop-test';
  const clientEmail = `herald@${projectId}.iam.gserviceaccount.com`;
  let tokenLifetimeS = options.tokenLifetimeS ?? 3600;
  const record = options.record ?? true;
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const accessTokens = new Map<string, number>(); // token → expires at (ms)
  const received: ReceivedFcm[] = [];
  const refused: { deviceToken: string; status: number; code: string }[] = [];
  const unregistered = new Set<string>();
  const rules: { behaviour: FcmBehaviour; token?: string; remaining: number }[] = [];
  let faults = { rate: 0, behaviours: [] as FcmBehaviour[] };
  let mints = 0;
  let accepted = 0;
  let origin = '';

  const error = (status: number, statusName: string, message: string, errorCode?: string, headers: Record<string, string> = {}): KitAnswer => ({
    status,
    headers,
    body: { error: { code: status, message, status: statusName, ...(errorCode ? { details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode }] } : {}) } },
  });

  async function token(request: KitRequest): Promise<KitAnswer> {
    const form = new URLSearchParams(request.body);
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return { status: 400, body: { error: 'unsupported_grant_type' } };
    try {
      const { payload } = await jwtVerify(form.get('assertion') ?? '', publicKey, { algorithms: ['RS256'], issuer: clientEmail, audience: `${origin}/token` });
      if (payload.scope !== SCOPE) return { status: 400, body: { error: 'invalid_scope' } };
      if (Number(payload.exp) - Number(payload.iat) > 3600) return { status: 400, body: { error: 'invalid_grant', error_description: 'assertion lasts over an hour' } };
    } catch {
      return { status: 400, body: { error: 'invalid_grant' } };
    }
    mints++;
    const accessToken = `ya29.kit-${randomBytes(16).toString('hex')}`;
    accessTokens.set(accessToken, Date.now() + tokenLifetimeS * 1000);
    return { status: 200, body: { access_token: accessToken, expires_in: tokenLifetimeS, token_type: 'Bearer' } };
  }

  function behaviourFor(deviceToken: string): FcmBehaviour | null {
    if (faults.rate > 0 && Math.random() < faults.rate) return faults.behaviours[Math.floor(Math.random() * faults.behaviours.length)]!;
    const rule = rules.find((entry) => !entry.token || entry.token === deviceToken);
    if (!rule) return null;
    if (--rule.remaining <= 0) rules.splice(rules.indexOf(rule), 1);
    return rule.behaviour;
  }

  function send(request: KitRequest): KitAnswer {
    const bearer = /^Bearer (\S+)$/.exec(String(request.headers.authorization ?? ''))?.[1] ?? '';
    const expiresAt = accessTokens.get(bearer);
    if (!expiresAt || expiresAt < Date.now()) return error(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.');
    if (request.path !== `/v1/projects/${projectId}/messages:send`) return error(404, 'NOT_FOUND', 'Requested entity was not found.');
    let message: ReceivedFcm['message'];
    try {
      message = (JSON.parse(request.body) as { message: ReceivedFcm['message'] }).message;
    } catch {
      return error(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.');
    }
    const deviceToken = typeof message?.token === 'string' ? message.token : '';
    const invalid = (what: string) => {
      refused.push({ deviceToken, status: 400, code: 'INVALID_ARGUMENT' });
      return error(400, 'INVALID_ARGUMENT', what, 'INVALID_ARGUMENT');
    };
    if (!deviceToken) return invalid('message.token is required');
    if (message.data && Object.values(message.data).some((value) => typeof value !== 'string')) return invalid('data values must be strings');
    if (message.android?.ttl !== undefined && !/^\d+(\.\d+)?s$/.test(message.android.ttl)) return invalid('android.ttl must be a duration such as 3600s');
    if (Buffer.byteLength(JSON.stringify({ notification: message.notification, data: message.data })) > 4096) return invalid('Message is too big');
    if (unregistered.has(deviceToken)) {
      refused.push({ deviceToken, status: 404, code: 'UNREGISTERED' });
      return error(404, 'NOT_FOUND', 'Requested entity was not found.', 'UNREGISTERED');
    }
    const behaviour = behaviourFor(deviceToken);
    if (behaviour && 'hang' in behaviour) return { status: 0, hang: true };
    if (behaviour && 'reset' in behaviour) return { status: 0, reset: true };
    if (behaviour) {
      refused.push({ deviceToken, status: behaviour.status, code: behaviour.status === 429 ? 'QUOTA_EXCEEDED' : 'UNAVAILABLE' });
      if (behaviour.status === 429) {
        const retry: Record<string, string> = behaviour.retryAfterSeconds === undefined ? {} : { 'retry-after': String(behaviour.retryAfterSeconds) };
        return error(429, 'RESOURCE_EXHAUSTED', 'Quota exceeded.', 'QUOTA_EXCEEDED', retry);
      }
      if (behaviour.status === 400) return error(400, 'INVALID_ARGUMENT', 'Invalid registration token', 'INVALID_ARGUMENT');
      return error(behaviour.status, behaviour.status === 503 ? 'UNAVAILABLE' : 'INTERNAL', 'The service is unavailable.', behaviour.status === 503 ? 'UNAVAILABLE' : 'INTERNAL');
    }
    accepted++;
    if (record) received.push({ deviceToken, message, accessToken: bearer, at: Date.now() });
    return { status: 200, body: { name: `projects/${projectId}/messages/${randomBytes(8).toString('hex')}` } };
  }

  const server = await startHttp2Kit(certificate, (request) => {
    if (request.method === 'POST' && request.path === '/token') return token(request);
    if (request.method === 'POST') return send(request);
    return error(405, 'METHOD_NOT_ALLOWED', 'Only POST');
  });
  origin = server.origin;
  const serviceAccount = JSON.stringify({
    type: 'service_account',
    project_id: projectId,
    private_key_id: randomBytes(20).toString('hex'),
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
    client_email: clientEmail,
    token_uri: `${origin}/token`,
  });
  return {
    origin,
    projectId,
    clientEmail,
    /** The JSON key file of the kit's service account (its token_uri is the kit's /token). */
    serviceAccount,
    /** `fcm` for updateWorkspaceSettings. */
    settings: () => ({ serviceAccount, baseUrl: origin }),
    received: (deviceToken?: string) => (deviceToken ? received.filter((push) => push.deviceToken === deviceToken) : [...received]),
    refused: () => [...refused],
    accepted: () => accepted,
    /** Access tokens minted so far. */
    mints: () => mints,
    connections: server.connections,
    slow: server.slow,
    /** Access tokens minted from now on last `seconds`. */
    setTokenLifetime: (seconds: number) => void (tokenLifetimeS = seconds),
    /** Every access token minted so far stops working (FCM answers 401 until a new one is minted). */
    revokeAccessTokens: () => accessTokens.clear(),
    unregister: (deviceToken: string) => void unregistered.add(deviceToken),
    behave: (behaviour: FcmBehaviour, options: { token?: string; times?: number } = {}) => void rules.push({ behaviour, token: options.token, remaining: options.times ?? 1 }),
    injectFaults: (rate: number, behaviours: FcmBehaviour[]) => void (faults = { rate, behaviours }),
    clear: () => {
      received.length = 0;
      refused.length = 0;
      accepted = 0;
    },
    waitFor: (predicate: () => boolean, what = 'the FCM kit', timeoutMs?: number) => waitUntil(predicate, what, timeoutMs),
    close: server.close,
  };
}
export type TestFcm = Awaited<ReturnType<typeof startFcmServer>>;
