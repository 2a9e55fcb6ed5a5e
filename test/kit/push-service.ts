import { execFile } from 'node:child_process';
import { type ECDH, createECDH, createPublicKey, randomBytes, verify } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

// http_ece ships no types; this is the one call we make (see web-push's encryption-helper.js).
const ece = createRequire(import.meta.url)('http_ece') as {
  decrypt(body: Buffer, params: { version: 'aes128gcm'; privateKey: ECDH; authSecret: Buffer }): Buffer;
};

export interface ReceivedPush {
  subscriptionId: string; // the id in the endpoint path
  payload: string; // decrypted plaintext (utf8)
  json: unknown; // JSON.parse(payload) or undefined if not JSON
  ttl: number | null; // TTL header
  urgency: string | null; // Urgency header
  topic: string | null; // Topic header
  vapid: { aud: string; exp: number; sub: string; publicKey: string }; // verified JWT claims + k= key
  receivedAt: number; // Date.now()
}
export type PushBehaviour =
  | { status: 201; delayMs?: number } // default: accept (the answer may come delayMs later: a slow service)
  | { status: 404 | 410 | 413 | 400 | 401 | 403 | 500 | 502 | 503; body?: string } // body: what the answer says (default `behaviour: <status>`)
  | { status: 429; retryAfterSeconds: number }
  | { hang: true; forMs?: number } // never answers: until close, or resets the connection after forMs
  | { reset: true }; // destroys the socket without answering
export interface PushServiceSubscription {
  id: string;
  /** exactly what a browser's PushSubscription.toJSON() gives: { endpoint, keys: { p256dh, auth }, expirationTime: null } */
  json: { endpoint: string; keys: { p256dh: string; auth: string }; expirationTime: null };
}
export interface TestPushService {
  origin: string; // e.g. https://127.0.0.1:PORT
  ca: string; // PEM of the self-signed certificate (clients trust it)
  caFile: string; // path to a file holding that PEM (for NODE_EXTRA_CA_CERTS / HERALD_PUSH_CA)
  subscribe(): PushServiceSubscription; // new subscription with a real P-256 key pair + 16-byte auth secret
  received(subscriptionId?: string): ReceivedPush[]; // accepted (201) messages, all or for one subscription
  rejected(): { subscriptionId: string; status: number | 'hang' | 'reset' | 'aborted'; reason: string; at: number }[]; // every non-201 outcome incl. verification failures; at = Date.now()
  requests(): number; // total requests seen
  /** behaviour for one subscription (or all, when id omitted); `times` = only the next N requests, then back to 201 */
  behave(behaviour: PushBehaviour, options?: { subscriptionId?: string; times?: number }): void;
  /** a random `rate` of all requests (0..1) meet one of `behaviours`, picked at random; 0 turns it off */
  injectFaults(rate: number, behaviours: PushBehaviour[]): void;
  waitFor(predicate: () => boolean, timeoutMs?: number): Promise<void>; // polls every 10ms, rejects with a clear message on timeout (default 10_000)
  close(): Promise<void>; // closes server, ends hanging requests, removes temp files
}

/** RFC 8030 services cap the encrypted body at 4096 bytes. */
export const MAX_PUSH_BODY_BYTES = 4096;
const MAX_VAPID_LIFETIME_SECONDS = 24 * 60 * 60;
const URGENCIES = new Set(['very-low', 'low', 'normal', 'high']);

const idOf = (req: IncomingMessage) => /^\/push\/([^/?#]+)$/.exec(req.url ?? '')?.[1] ?? '';

/** A fresh self-signed P-256 certificate for 127.0.0.1/localhost, written as key.pem and cert.pem into dir. */
export async function createSelfSignedCertificate(dir: string) {
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout', keyFile, '-out', certFile,
  ]);
  return { key: await readFile(keyFile, 'utf8'), cert: await readFile(certFile, 'utf8'), certFile };
}

/** Thrown while checking a request; becomes the answer's status and the rejected() reason. */
class Refusal extends Error {
  constructor(readonly status: number, reason: string) {
    super(reason);
  }
}

interface Subscription {
  ecdh: ECDH;
  auth: Buffer;
}
interface Rule {
  behaviour: PushBehaviour;
  remaining: number | null; // null: until changed
}
type Rejection = ReturnType<TestPushService['rejected']>[number];

/**
 * A Web Push service (RFC 8030/8291/8292) on https://127.0.0.1 that checks requests as strictly as
 * a real one and decrypts what it accepts. Checks run in the order a push service would: unknown
 * subscription (404), size (413), VAPID (401/403), headers and decryption (400); only a request that
 * passes them all meets the configured behaviour (and counts towards its `times`).
 */
export async function startPushService(options: { vapidPublicKey?: string } = {}): Promise<TestPushService> {
  const dir = await mkdtemp(path.join(tmpdir(), 'herald-push-'));
  const { key, cert, certFile } = await createSelfSignedCertificate(dir);

  const subscriptions = new Map<string, Subscription>();
  const accepted: ReceivedPush[] = [];
  const refused: Rejection[] = [];
  const rules = new Map<string, Rule>();
  let globalRule: Rule | null = null;
  const hanging = new Set<ServerResponse>();
  let requestCount = 0;
  let origin = '';

  // The per-subscription rule wins; `times` counts down only on the rule that was used.
  let faults: { rate: number; behaviours: PushBehaviour[] } = { rate: 0, behaviours: [] };
  const nextBehaviour = (id: string): PushBehaviour => {
    if (faults.rate > 0 && Math.random() < faults.rate) return faults.behaviours[Math.floor(Math.random() * faults.behaviours.length)]!;
    const rule = rules.get(id) ?? globalRule;
    if (!rule) return { status: 201 };
    if (rule.remaining !== null && --rule.remaining <= 0) {
      if (rule === globalRule) globalRule = null;
      else rules.delete(id);
    }
    return rule.behaviour;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    requestCount++;
    const id = idOf(req);
    const body = await readBody(req);
    const reject = (status: number, reason: string, headers: Record<string, string> = {}) => {
      refused.push({ subscriptionId: id, status, reason, at: Date.now() });
      res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(reason);
    };

    const subscription = subscriptions.get(id);
    if (req.method !== 'POST' || !subscription) return reject(404, `no subscription at ${req.method} ${req.url}`);
    let push: Omit<ReceivedPush, 'receivedAt'>;
    try {
      push = check(req, body, id, subscription, origin, options.vapidPublicKey);
    } catch (error) {
      if (error instanceof Refusal) return reject(error.status, error.message);
      throw error;
    }

    const behaviour = nextBehaviour(id);
    if ('hang' in behaviour) {
      refused.push({ subscriptionId: id, status: 'hang', reason: 'behaviour: hang', at: Date.now() });
      hanging.add(res);
      const timer = behaviour.forMs === undefined ? undefined : setTimeout(() => req.socket.destroy(), behaviour.forMs);
      res.once('close', () => {
        clearTimeout(timer);
        hanging.delete(res);
      });
    } else if ('reset' in behaviour) {
      refused.push({ subscriptionId: id, status: 'reset', reason: 'behaviour: reset', at: Date.now() });
      req.socket.destroy();
    } else if (behaviour.status !== 201) {
      const retryAfter = 'retryAfterSeconds' in behaviour ? { 'retry-after': String(behaviour.retryAfterSeconds) } : undefined;
      reject(behaviour.status, ('body' in behaviour && behaviour.body) || `behaviour: ${behaviour.status}`, retryAfter);
    } else {
      accepted.push({ ...push, receivedAt: Date.now() });
      const answer = () => res.writeHead(201, { location: `/message/${accepted.length}`, 'content-length': '0' }).end();
      if ('delayMs' in behaviour && behaviour.delayMs) setTimeout(answer, behaviour.delayMs);
      else answer();
    }
  };

  const server = https.createServer({ key, cert }, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      // The client went away mid-body: nothing is delivered, but the attempt is on record.
      if (!req.complete) return void refused.push({ subscriptionId: idOf(req), status: 'aborted', reason: 'request ended before its body', at: Date.now() });
      // A bug here should be loud in the test that hit it, not a hung request.
      refused.push({ subscriptionId: '', status: 500, reason: `push service error: ${String(error)}`, at: Date.now() });
      if (!res.headersSent) res.writeHead(500).end(String(error));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  let closing: Promise<void> | undefined;
  return {
    origin,
    ca: cert,
    caFile: certFile,
    subscribe() {
      const id = randomBytes(12).toString('base64url');
      const ecdh = createECDH('prime256v1');
      ecdh.generateKeys();
      const auth = randomBytes(16);
      subscriptions.set(id, { ecdh, auth });
      return {
        id,
        json: {
          endpoint: `${origin}/push/${id}`,
          keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') },
          expirationTime: null,
        },
      };
    },
    received: (subscriptionId) =>
      accepted.filter((push) => subscriptionId === undefined || push.subscriptionId === subscriptionId).map((push) => structuredClone(push)),
    rejected: () => refused.map((rejection) => ({ ...rejection })),
    requests: () => requestCount,
    behave(behaviour, { subscriptionId, times } = {}) {
      if (times !== undefined && times < 1) throw new Error(`behave: times must be at least 1, got ${times}`);
      const rule = { behaviour, remaining: times ?? null };
      if (subscriptionId === undefined) globalRule = rule;
      else rules.set(subscriptionId, rule);
    },
    injectFaults(rate, behaviours) {
      if (rate < 0 || rate > 1 || (rate > 0 && behaviours.length === 0)) throw new Error(`injectFaults: rate must be 0..1 with behaviours, got ${rate}`);
      faults = { rate, behaviours };
    },
    async waitFor(predicate, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate()) {
        if (Date.now() > deadline) {
          const last = refused.slice(-5).map((r) => `${r.status} ${r.subscriptionId}: ${r.reason}`);
          throw new Error(
            `push service: condition not met within ${timeoutMs}ms (${requestCount} requests, ${accepted.length} received, ` +
              `${refused.length} rejected${last.length ? `; last rejections: ${last.join(' | ')}` : ''})`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    close() {
      closing ??= (async () => {
        for (const res of hanging) res.destroy();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        // Idle keep-alive sockets would otherwise hold close() open for keepAliveTimeout.
        server.closeAllConnections();
        await closed;
        await rm(dir, { recursive: true, force: true });
      })();
      return closing;
    },
  };
}

/** Reads the whole body (so the client can finish writing and keep its connection) but keeps at most one byte over the cap. */
async function readBody(req: IncomingMessage) {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    if (length <= MAX_PUSH_BODY_BYTES) chunks.push(chunk);
    length += chunk.length;
  }
  return { bytes: Buffer.concat(chunks), length };
}

function check(
  req: IncomingMessage,
  body: { bytes: Buffer; length: number },
  subscriptionId: string,
  subscription: Subscription,
  origin: string,
  expectedKey: string | undefined,
): Omit<ReceivedPush, 'receivedAt'> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_PUSH_BODY_BYTES || body.length > MAX_PUSH_BODY_BYTES) {
    throw new Refusal(413, `body of ${Math.max(declared, body.length)} bytes is over ${MAX_PUSH_BODY_BYTES}`);
  }
  const vapid = verifyVapid(req.headers.authorization, origin, expectedKey);

  const ttlHeader = header(req, 'ttl');
  if (ttlHeader === null) throw new Refusal(400, 'missing TTL header');
  if (!/^\d+$/.test(ttlHeader)) throw new Refusal(400, `bad TTL header: ${ttlHeader}`);
  const urgency = header(req, 'urgency');
  if (urgency !== null && !URGENCIES.has(urgency)) throw new Refusal(400, `bad Urgency header: ${urgency}`);
  const topic = header(req, 'topic');
  if (topic !== null && !/^[A-Za-z0-9_-]{1,32}$/.test(topic)) throw new Refusal(400, `bad Topic header: ${topic}`);

  // A push without a payload is legal (RFC 8030 §5); it carries no encryption.
  let payload = '';
  if (body.length > 0) {
    const encoding = header(req, 'content-encoding');
    if (encoding !== 'aes128gcm') throw new Refusal(400, `Content-Encoding must be aes128gcm, got ${encoding ?? 'none'}`);
    try {
      // aes128gcm carries the sender's public key as the header's keyid, so no `dh` is passed.
      payload = ece.decrypt(body.bytes, { version: 'aes128gcm', privateKey: subscription.ecdh, authSecret: subscription.auth }).toString('utf8');
    } catch (error) {
      throw new Refusal(400, `cannot decrypt payload: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return { subscriptionId, payload, json: parseJson(payload), ttl: Number(ttlHeader), urgency, topic, vapid };
}

/** RFC 8292: `vapid t=<ES256 JWT>, k=<uncompressed P-256 point>`, signed by k, for this origin, short-lived. */
function verifyVapid(authorization: string | undefined, origin: string, expectedKey: string | undefined): ReceivedPush['vapid'] {
  const match = /^vapid\s+(.*)$/i.exec(authorization ?? '');
  if (!match) throw new Refusal(401, `Authorization is not a vapid scheme: ${authorization ?? 'missing'}`);
  const params = new Map(
    match[1]!.split(',').map((part) => {
      const at = part.indexOf('=');
      return [part.slice(0, at).trim(), part.slice(at + 1).trim()] as const;
    }),
  );
  const token = params.get('t');
  const publicKey = params.get('k');
  if (!token || !publicKey) throw new Refusal(401, 'vapid Authorization needs t= and k=');

  const point = Buffer.from(publicKey, 'base64url');
  if (point.length !== 65 || point[0] !== 4) throw new Refusal(401, 'k= is not an uncompressed P-256 public key');
  const [head, body, signature] = token.split('.');
  if (!head || !body || !signature) throw new Refusal(401, 'vapid t= is not a JWS compact token');
  const header = parseJson(Buffer.from(head, 'base64url').toString()) as { alg?: unknown } | undefined;
  if (header?.alg !== 'ES256') throw new Refusal(401, `JWT alg must be ES256, got ${String(header?.alg)}`);

  let signed: boolean;
  try {
    const jwk = { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') };
    const key = createPublicKey({ key: jwk, format: 'jwk' });
    // JWS carries ES256 signatures as raw r||s, not DER.
    signed = verify('sha256', Buffer.from(`${head}.${body}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'));
  } catch (error) {
    throw new Refusal(401, `cannot check the JWT signature: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!signed) throw new Refusal(401, 'JWT signature does not match k=');

  const claims = parseJson(Buffer.from(body, 'base64url').toString()) as Record<string, unknown> | undefined;
  const { aud, exp, sub } = claims ?? {};
  const now = Date.now() / 1000;
  if (aud !== origin) throw new Refusal(401, `JWT aud ${String(aud)} is not ${origin}`);
  if (typeof exp !== 'number' || exp <= now) throw new Refusal(401, `JWT exp ${String(exp)} is not in the future`);
  if (exp > now + MAX_VAPID_LIFETIME_SECONDS) throw new Refusal(401, `JWT exp ${exp} is more than 24h ahead`);
  if (typeof sub !== 'string' || !/^(mailto:|https:)/.test(sub)) throw new Refusal(401, `JWT sub ${String(sub)} is not mailto: or https:`);

  if (expectedKey !== undefined && publicKey !== expectedKey) throw new Refusal(403, `k= ${publicKey} is not the application server key`);
  return { aud, exp, sub, publicKey };
}

function header(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  return typeof value === 'string' ? value : null;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
