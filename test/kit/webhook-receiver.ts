import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { fromRoot, ROOT } from '../../src/paths.ts';
import { createSelfSignedCertificate } from './push-service.ts';

/** One request the receiver accepted: signature verified (unless verification is off) and answered 2xx. */
export interface ReceivedWebhook {
  id: string; // webhook-id
  timestamp: number; // webhook-timestamp (seconds)
  signatures: string[]; // webhook-signature, split on spaces
  method: string;
  path: string; // path and query as requested
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: unknown; // what Webhook.verify parsed
  receivedAt: number;
}

export type WebhookBehaviour =
  | { status: number; delayMs?: number; retryAfterSeconds?: number; location?: string } // answer with this status (2xx accepts)
  | { hang: true } // never answers (until close)
  | { slowBody: true; chunks: number; intervalMs: number; status?: number } // answers status (default 200) at once, then drips its body
  | { hugeBody: number; status?: number } // answers status (default 200) with a body of this many bytes
  | { reset: true } // destroys the socket without answering
  | { raw: string }; // writes these bytes on the connection as its answer (a hostile or broken receiver), then leaves it open

export interface Attempt {
  id: string;
  /** What the receiver answered: a status, or what it did instead. */
  outcome: number | 'hang' | 'reset' | 'raw' | 'unverified';
  reason: string;
  at: number;
}

export interface TestWebhookReceiver {
  origin: string; // https://127.0.0.1:PORT
  url(path?: string): string; // origin + path (default /hook)
  caFile: string; // the self-signed certificate, for HERALD_WEBHOOK_CA
  /** Secrets the receiver verifies with (any may match, as Standard Webhooks allows); none: every request is refused 401. */
  trust(...secrets: string[]): void;
  received(id?: string): ReceivedWebhook[];
  /** Every request in arrival order with what came of it (accepted ones too). */
  attempts(id?: string): Attempt[];
  behave(behaviour: WebhookBehaviour, options?: { times?: number }): void;
  waitFor(predicate: () => boolean, timeoutMs?: number): Promise<void>;
  /** Counts only (what the benchmark process reports): requests, accepted, unique ids, unverified. */
  counts(): { requests: number; accepted: number; unique: number; unverified: number };
  clear(): void;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;

/**
 * A webhook receiver on https://127.0.0.1 as a tenant would write one: it verifies every request's
 * Standard Webhooks signature with the package's own verifier (refusing 401 what fails), records
 * deliveries by webhook-id, and meets faults on demand. `keep: false` (the benchmark's) keeps counts
 * and ids, not bodies.
 */
export async function startWebhookReceiver(options: { keep?: boolean } = {}): Promise<TestWebhookReceiver> {
  const keep = options.keep ?? true;
  const dir = await mkdtemp(path.join(tmpdir(), 'herald-webhook-'));
  const { key, cert, certFile } = await createSelfSignedCertificate(dir);
  let verifiers: Webhook[] = [];
  let accepted: ReceivedWebhook[] = [];
  let attempts: Attempt[] = [];
  let ids = new Set<string>();
  let totals = { requests: 0, accepted: 0, unverified: 0 };
  let rule: { behaviour: WebhookBehaviour; remaining: number | null } | null = null;
  const hanging = new Set<ServerResponse>();

  const nextBehaviour = (): WebhookBehaviour => {
    if (!rule) return { status: 200 };
    const { behaviour } = rule;
    if (rule.remaining !== null && --rule.remaining <= 0) rule = null;
    return behaviour;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    totals.requests++;
    const body = await readBody(req);
    const id = String(req.headers['webhook-id'] ?? '');
    const attempt = (outcome: Attempt['outcome'], reason: string) => keep && attempts.push({ id, outcome, reason, at: Date.now() });
    let json: unknown;
    const verified = verifiers.some((verifier) => {
      try {
        json = verifier.verify(body, req.headers as Record<string, string>);
        return true;
      } catch (error) {
        if (error instanceof WebhookVerificationError || error instanceof SyntaxError) return false;
        throw error;
      }
    });
    if (!verified) {
      totals.unverified++;
      attempt('unverified', 'signature did not verify');
      return void res.writeHead(401, { 'content-type': 'text/plain' }).end('signature did not verify');
    }
    const behaviour = nextBehaviour();
    if ('hang' in behaviour) {
      attempt('hang', 'behaviour: hang');
      hanging.add(res);
      res.once('close', () => hanging.delete(res));
      return;
    }
    if ('reset' in behaviour) {
      attempt('reset', 'behaviour: reset');
      return void req.socket.destroy();
    }
    if ('raw' in behaviour) {
      attempt('raw', `behaviour: raw ${JSON.stringify(behaviour.raw.slice(0, 40))}`);
      hanging.add(res);
      res.once('close', () => hanging.delete(res));
      return void req.socket.write(behaviour.raw);
    }
    const status = 'status' in behaviour && behaviour.status !== undefined ? behaviour.status : 200;
    attempt(status, `behaviour: ${status}`);
    if (status >= 200 && status < 300) {
      totals.accepted++;
      ids.add(id);
      if (keep) {
        const signatures = String(req.headers['webhook-signature'] ?? '').split(' ');
        accepted.push({ id, timestamp: Number(req.headers['webhook-timestamp']), signatures, method: req.method ?? '', path: req.url ?? '', headers: { ...req.headers }, body, json, receivedAt: Date.now() });
      }
    }
    if ('slowBody' in behaviour) {
      res.writeHead(status, { 'content-type': 'text/plain' });
      for (let chunk = 0; chunk < behaviour.chunks && !res.destroyed; chunk++) {
        res.write('.'.repeat(1024));
        await new Promise((resolve) => setTimeout(resolve, behaviour.intervalMs));
      }
      return void res.end();
    }
    if ('hugeBody' in behaviour) return void res.writeHead(status, { 'content-type': 'text/plain' }).end('x'.repeat(behaviour.hugeBody));
    const headers: Record<string, string> = { 'content-type': 'text/plain', 'x-receiver-secret': 'this body must never be stored' };
    if ('retryAfterSeconds' in behaviour && behaviour.retryAfterSeconds !== undefined) headers['retry-after'] = String(behaviour.retryAfterSeconds);
    if ('location' in behaviour && behaviour.location) headers.location = behaviour.location;
    const answer = () => res.writeHead(status, headers).end(`receiver says ${status}: secret-response-body`);
    if ('delayMs' in behaviour && behaviour.delayMs) setTimeout(answer, behaviour.delayMs);
    else answer();
  };

  const server = https.createServer({ key, cert }, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(error));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  let closing: Promise<void> | undefined;
  return {
    origin,
    url: (suffix = '/hook') => `${origin}${suffix}`,
    caFile: certFile,
    trust(...secrets) {
      verifiers = secrets.map((secret) => new Webhook(secret));
    },
    received: (id) => accepted.filter((delivery) => id === undefined || delivery.id === id),
    attempts: (id) => attempts.filter((attempt) => id === undefined || attempt.id === id),
    behave(behaviour, { times } = {}) {
      rule = { behaviour, remaining: times ?? null };
    },
    async waitFor(predicate, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate()) {
        if (Date.now() > deadline) {
          const last = attempts.slice(-5).map((attempt) => `${attempt.outcome} ${attempt.id}: ${attempt.reason}`);
          throw new Error(`webhook receiver: condition not met within ${timeoutMs}ms (${totals.requests} requests, ${totals.accepted} accepted; last: ${last.join(' | ')})`);
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    counts: () => ({ ...totals, unique: ids.size }),
    clear() {
      accepted = [];
      attempts = [];
      ids = new Set();
      totals = { requests: 0, accepted: 0, unverified: 0 };
    },
    close() {
      closing ??= (async () => {
        for (const res of hanging) res.destroy();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await closed;
        await rm(dir, { recursive: true, force: true });
      })();
      return closing;
    },
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length <= MAX_BODY_BYTES) chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export interface WebhookReceiverProcess {
  origin: string;
  caFile: string;
  child: ChildProcess;
  trust(...secrets: string[]): Promise<void>;
  counts(): Promise<ReturnType<TestWebhookReceiver['counts']>>;
  clear(): Promise<void>;
  /** Every answer from now on `ms` late. */
  delay(ms: number): Promise<void>;
  stop(): Promise<void>;
}

/** The receiver in a process of its own (webhook-receiver-process.ts), counting only: what benchmarks send to. */
export async function spawnWebhookReceiver(): Promise<WebhookReceiverProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', fromRoot('test', 'kit', 'webhook-receiver-process.ts')], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  const first = await Promise.race([
    createInterface({ input: child.stdout! })[Symbol.asyncIterator]().next(),
    once(child, 'exit').then(([code]) => Promise.reject(new Error(`webhook receiver process exited with ${code} before listening`))),
  ]);
  const { origin, caFile, controlPort } = JSON.parse(first.value as string) as { origin: string; caFile: string; controlPort: number };
  const control = `http://127.0.0.1:${controlPort}`;
  return {
    origin,
    caFile,
    child,
    async trust(...secrets) {
      await fetch(`${control}/trust`, { method: 'POST', body: secrets.join('\n') });
    },
    async counts() {
      return (await (await fetch(`${control}/counts`)).json()) as ReturnType<TestWebhookReceiver['counts']>;
    },
    async clear() {
      await fetch(`${control}/clear`, { method: 'POST' });
    },
    async delay(ms) {
      await fetch(`${control}/delay?ms=${ms}`, { method: 'POST' });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}
