import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import tls from 'node:tls';
import type { Config } from '../../config.ts';
import { type EndpointPolicy, mobilePushPolicy } from '../../net/allowed-hosts.ts';
import { checkedLookup, isAddressRefused } from '../../net/lookup.ts';

/** What a provider answered one request: its status, headers and (small) body, or why none came. */
export type Answer =
  | { status: number; headers: http2.IncomingHttpHeaders; body: string }
  | { error: string; refused: boolean };

/** Providers' answers are a few hundred bytes of JSON; more is not read. */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * One HTTP/2 connection per provider origin (APNs, FCM, Google's token endpoint), shared by every
 * send of this process: requests are streams multiplexed over it, so a send of thousands of pushes
 * costs one TLS handshake. A connection that closes or fails is opened again by the next request.
 * Every origin is checked against the mobile push allowlist, and every address connected to.
 */
export class Http2Sessions {
  private readonly sessions = new Map<string, Promise<http2.ClientHttp2Session>>();
  /** Each base URL's origin and the policy's verdict on it, worked out once (a path cannot change either). */
  private readonly targets = new Map<string, { origin: string; refusal: string | null }>();
  /**
   * When each request in flight gives up, in the order they were sent (all wait the same time): one
   * sweep for all of them, as a timer per stream is re-armed on every frame it reads or writes.
   */
  private readonly deadlines = new Map<http2.ClientHttp2Stream, number>();
  private sweeper: NodeJS.Timeout | undefined;
  private readonly policy: EndpointPolicy;
  private readonly lookup: ReturnType<typeof checkedLookup>;
  private readonly ca: string[] | undefined;

  constructor(private readonly config: Pick<Config, 'HERALD_PUSH_CA' | 'HERALD_PUSH_TIMEOUT_MS' | 'HERALD_MOBILE_PUSH_ALLOWED_HOSTS'>) {
    this.policy = mobilePushPolicy(config);
    this.lookup = checkedLookup(this.policy);
    // Node's own roots stay trusted next to the extra CA, so APNs and FCM keep working.
    this.ca = config.HERALD_PUSH_CA ? [...tls.rootCertificates, readFileSync(config.HERALD_PUSH_CA, 'utf8')] : undefined;
  }

  /** Why Herald may not connect to this URL, or null. */
  refusal(url: string): string | null {
    return this.policy.endpointRefusal(url);
  }

  /** Opens (or reuses) the connection to `origin`; rejects when it cannot be opened. */
  connect(origin: string): Promise<http2.ClientHttp2Session> {
    let session = this.sessions.get(origin);
    if (!session) {
      session = this.open(origin);
      this.sessions.set(origin, session);
      session.catch(() => this.sessions.delete(origin));
    }
    return session;
  }

  /** Sends one POST of `path` on the connection to `base`'s origin and reads the answer; never throws. */
  async request(base: string, path: string, headers: http2.OutgoingHttpHeaders, body: string | Buffer): Promise<Answer> {
    const { origin, refusal } = this.target(base);
    if (refusal) return { error: `refused: ${refusal}`, refused: true };
    let session: http2.ClientHttp2Session;
    try {
      session = await this.connect(origin);
    } catch (error) {
      return { error: (error as Error).message, refused: isAddressRefused(error) };
    }
    return new Promise<Answer>((resolve) => {
      let settled = false;
      const done = (answer: Answer) => {
        if (!settled) resolve(answer);
        settled = true;
      };
      let stream: http2.ClientHttp2Stream;
      try {
        stream = session.request({ ':method': 'POST', ':path': path, ...headers });
      } catch (error) {
        // The session closed between connect and request (a GOAWAY): the next request opens another.
        this.forget(origin, session);
        return done({ error: (error as Error).message, refused: false });
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let response: http2.IncomingHttpHeaders = {};
      this.watch(stream);
      stream.on('response', (answer) => (response = answer));
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_ANSWER_BYTES) chunks.push(chunk);
      });
      const unanswered = (): Answer => ({ error: `no answer within ${this.config.HERALD_PUSH_TIMEOUT_MS} ms or the stream was reset`, refused: false });
      // A stream canceled (timed out) or reset before its headers also ends: that is no answer, not status 0.
      stream.on('end', () =>
        done(response[':status'] === undefined ? unanswered() : { status: Number(response[':status']), headers: response, body: chunks.length === 0 ? '' : Buffer.concat(chunks).toString('utf8') }),
      );
      stream.on('close', () => {
        this.deadlines.delete(stream);
        done(unanswered());
      });
      stream.on('error', (error) => done({ error: error.message, refused: false }));
      stream.end(body);
    });
  }

  private target(base: string): { origin: string; refusal: string | null } {
    let target = this.targets.get(base);
    if (!target) {
      let origin = '';
      try {
        origin = new URL(base).origin;
      } catch {
        // endpointRefusal says why
      }
      target = { origin, refusal: this.refusal(base) };
      this.targets.set(base, target);
    }
    return target;
  }

  /** Cancels `stream` if it has no answer within HERALD_PUSH_TIMEOUT_MS (give or take a quarter of it, at most a second). */
  private watch(stream: http2.ClientHttp2Stream): void {
    const timeout = this.config.HERALD_PUSH_TIMEOUT_MS;
    this.deadlines.set(stream, Date.now() + timeout);
    if (this.sweeper) return;
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const [waiting, deadline] of this.deadlines) {
        if (deadline > now) break;
        this.deadlines.delete(waiting);
        waiting.close(http2.constants.NGHTTP2_CANCEL);
      }
    }, Math.min(1000, Math.max(20, timeout / 4)));
    this.sweeper.unref();
  }

  close(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    for (const session of this.sessions.values()) void session.then((open) => open.close(), () => {});
    this.sessions.clear();
  }

  private open(origin: string): Promise<http2.ClientHttp2Session> {
    return new Promise((resolve, reject) => {
      // Pushes are small writes each waiting for an answer: with Nagle's algorithm one would wait
      // behind an unacknowledged other for the delayed ACK (40 ms on Linux).
      const options: http2.SecureClientSessionOptions & { noDelay: boolean } = { ca: this.ca, lookup: this.lookup, noDelay: true, settings: { enablePush: false } };
      const session = http2.connect(origin, options);
      const failed = (error: Error) => {
        this.forget(origin, session);
        reject(error);
      };
      session.once('connect', () => {
        session.off('error', failed);
        // Later errors close the session; the next request opens a new one.
        session.on('error', () => this.forget(origin, session));
        resolve(session);
      });
      session.once('error', failed);
      session.once('close', () => this.forget(origin, session));
      session.once('goaway', () => this.forget(origin, session));
      // An idle connection does not keep the process alive.
      session.unref();
      session.setTimeout(5 * 60_000, () => session.close());
    });
  }

  private forget(origin: string, session: http2.ClientHttp2Session): void {
    const current = this.sessions.get(origin);
    if (current) void current.then((open) => open === session && this.sessions.get(origin) === current && this.sessions.delete(origin), () => {});
  }
}
