import { readFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import webpush from 'web-push';
import type { Config } from '../../config.ts';
import type { DeliveryOutcome } from '../channel.ts';
import { type EndpointPolicy, endpointPolicy } from '../../net/allowed-hosts.ts';
import { checkedLookup, isAddressRefused } from '../../net/lookup.ts';
import { type EncryptJob, Encryptor } from './encryption.ts';

/** What a push service said: 404/410 are `gone`, 429 and 5xx `retry`, other 4xx `rejected`. */
export type PushOutcome = DeliveryOutcome;

export interface PushRequest {
  endpoint: string;
  body: Buffer;
  ttlSeconds: number;
  urgency?: string | null;
  topic?: string | null;
  authorization: string;
}

export interface OpenPush {
  /** Writes the request, headers and body in one go: from here on the push service may deliver the message. */
  send(body: Buffer): Promise<PushOutcome>;
  /** Gives the request up before anything was written; the push service delivers nothing. */
  abort(): void;
}

export interface Vapid {
  publicKey: string;
  privateKey: string;
}

/** A VAPID JWT is valid up to 24 h; Herald signs one per origin for 12 h and renews it an hour early. */
const VAPID_LIFETIME_S = 12 * 3600;
const VAPID_RENEW_S = 3600;

/**
 * Sends encrypted pushes over one keep-alive HTTPS agent per push-service origin, reusing the
 * signed VAPID header per (key, origin) for hours: signing per message is the naive loop's cost.
 */
export class PushClient {
  private readonly agents = new Map<string, https.Agent>();
  private readonly vapidHeaders = new Map<string, { header: string; renewAt: number }>();
  /** One TLS context for every connection: building one per socket (or hashing a CA list into every request's agent key) cost a third of the CPU. */
  private readonly secureContext: tls.SecureContext | undefined;
  private readonly encryptor: Encryptor;
  /** HERALD_PUSH_ALLOWED_HOSTS: checked on every endpoint (rows stored before a change too) and on every address connected to. */
  private readonly endpoints: EndpointPolicy;
  private readonly lookup: ReturnType<typeof checkedLookup>;

  constructor(
    private readonly config: Pick<
      Config,
      'HERALD_PUSH_CA' | 'HERALD_PUSH_CONCURRENCY' | 'HERALD_PUSH_TIMEOUT_MS' | 'HERALD_VAPID_SUBJECT' | 'HERALD_ENCRYPT_THREADS' | 'HERALD_PUSH_ALLOWED_HOSTS'
    >,
  ) {
    this.encryptor = new Encryptor(config.HERALD_ENCRYPT_THREADS);
    this.endpoints = endpointPolicy(config);
    this.lookup = checkedLookup(this.endpoints);
    // Node's own roots stay trusted next to the extra CA, so public push services keep working.
    this.secureContext = config.HERALD_PUSH_CA
      ? tls.createSecureContext({ ca: [...tls.rootCertificates, readFileSync(config.HERALD_PUSH_CA, 'utf8')] })
      : undefined;
  }

  /** aes128gcm-encrypts payloads, each for its browser (RFC 8291), in order; off the main thread unless HERALD_ENCRYPT_THREADS=0. */
  encrypt(jobs: EncryptJob[]): Promise<Buffer[]> {
    return this.encryptor.encrypt(jobs);
  }

  authorization(endpoint: string, vapid: Vapid): string {
    const origin = new URL(endpoint).origin;
    const key = `${vapid.publicKey}|${origin}`;
    const now = Date.now() / 1000;
    const cached = this.vapidHeaders.get(key);
    if (cached && cached.renewAt > now) return cached.header;
    const expiration = Math.floor(now) + VAPID_LIFETIME_S;
    const { Authorization } = webpush.getVapidHeaders(origin, this.config.HERALD_VAPID_SUBJECT, vapid.publicKey, vapid.privateKey, 'aes128gcm', expiration) as {
      Authorization: string;
    };
    this.vapidHeaders.set(key, { header: Authorization, renewAt: expiration - VAPID_RENEW_S });
    return Authorization;
  }

  /**
   * Opens a push request on a connected socket but writes nothing until `send`: the caller records
   * the message as being sent in between, and `send` then costs one write. A process that dies
   * before `send` has sent the push service nothing, so the message can safely go again.
   */
  async open(request: Omit<PushRequest, 'body'>): Promise<OpenPush> {
    const refusal = this.endpoints.endpointRefusal(request.endpoint);
    if (refusal) return refused(`endpoint refused: ${refusal}`);
    const url = new URL(request.endpoint);
    const headers: Record<string, string | number> = {
      'content-type': 'application/octet-stream',
      'content-encoding': 'aes128gcm',
      ttl: request.ttlSeconds,
      authorization: request.authorization,
    };
    if (request.urgency) headers.urgency = request.urgency;
    if (request.topic) headers.topic = request.topic;
    const req = https.request(url, { method: 'POST', agent: this.agentFor(url.origin), headers, timeout: this.config.HERALD_PUSH_TIMEOUT_MS });
    const outcome = new Promise<PushOutcome>((resolve) => {
      let settled = false;
      const done = (result: PushOutcome) => {
        if (!settled) resolve(result);
        settled = true;
      };
      req.on('response', (res) => {
        // The body is read to keep the connection but never kept: an endpoint's answer is not Herald's to show.
        res.resume();
        res.on('error', (error) => done({ kind: 'retry', error: `response: ${error.message}` }));
        res.on('end', () => done(classify(res.statusCode ?? 0, res.headers['retry-after'])));
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.config.HERALD_PUSH_TIMEOUT_MS} ms`)));
      req.on('error', (error) => done(isAddressRefused(error) ? { kind: 'rejected', error: error.message, tooLarge: false } : { kind: 'retry', error: error.message }));
    });
    // Ready once the request has its connection, TLS handshake done (or the request failed).
    await new Promise<void>((resolve) => {
      req.once('error', () => resolve());
      req.once('socket', (socket) => {
        // A push is one small write that waits for its answer: with Nagle's algorithm a write
        // behind an unacknowledged one would wait for the delayed ACK, 40 ms on Linux.
        socket.setNoDelay(true);
        const connected = () => setImmediate(resolve);
        // A new socket is usable only after its TLS handshake; a reused keep-alive one already is.
        if ((socket as { _secureEstablished?: boolean })._secureEstablished) connected();
        else socket.once('secureConnect', connected);
      });
    });
    return {
      send: (body) => {
        if (!req.destroyed) {
          req.setHeader('content-length', body.length);
          req.end(body);
        }
        return outcome;
      },
      abort: () => req.destroy(),
    };
  }

  /** Opens and sends at once, for callers with nothing to record in between. */
  async send(request: PushRequest): Promise<PushOutcome> {
    const { body, ...rest } = request;
    return (await this.open(rest)).send(body);
  }

  close(): void {
    this.encryptor.close();
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }

  private agentFor(origin: string): https.Agent {
    let agent = this.agents.get(origin);
    if (!agent) {
      agent = new https.Agent({ keepAlive: true, maxSockets: this.config.HERALD_PUSH_CONCURRENCY, secureContext: this.secureContext, lookup: this.lookup });
      this.agents.set(origin, agent);
    }
    return agent;
  }
}

/** A push that never leaves: the endpoint is not one Herald may send to. */
function refused(error: string): OpenPush {
  return { send: async () => ({ kind: 'rejected', error, tooLarge: false }), abort: () => {} };
}

/** What the well-known answers of push services mean (RFC 8030, RFC 8292); others get HTTP's own phrase. */
const MEANINGS: Record<number, string> = {
  400: 'malformed request',
  401: 'VAPID token refused',
  403: 'VAPID key does not match the subscription',
  404: 'subscription not found',
  410: 'subscription gone',
  413: 'payload too large',
  429: 'too many requests',
};

function classify(status: number, retryAfter: string | undefined): PushOutcome {
  if (status >= 200 && status < 300) return { kind: 'sent' };
  const error = `push service answered ${status} (${MEANINGS[status] ?? STATUS_CODES[status]?.toLowerCase() ?? 'unknown status'})`;
  if (status === 404 || status === 410) return { kind: 'gone', error };
  if (status === 429) return { kind: 'retry', error, retryAfterMs: retryAfterMs(retryAfter) };
  if (status >= 500 || status === 408) return { kind: 'retry', error, retryAfterMs: retryAfterMs(retryAfter) };
  return { kind: 'rejected', error, tooLarge: status === 413 };
}

/** Retry-After is seconds or an HTTP date (RFC 9110). */
export function retryAfterMs(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
