import { mkdtemp, rm } from 'node:fs/promises';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSelfSignedCertificate } from './push-service.ts';

/** A certificate for 127.0.0.1 that the kit's HTTP/2 servers share (Herald trusts it as HERALD_PUSH_CA). */
export interface KitCertificate {
  key: string;
  cert: string;
  caFile: string;
  remove(): Promise<void>;
}

export async function kitCertificate(): Promise<KitCertificate> {
  const dir = await mkdtemp(path.join(tmpdir(), 'herald-mobile-'));
  const { key, cert, certFile } = await createSelfSignedCertificate(dir);
  return { key, cert, caFile: certFile, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** One request as a kit handler sees it: method, path, headers and the whole body. */
export interface KitRequest {
  method: string;
  path: string;
  headers: http2.IncomingHttpHeaders;
  body: string;
}
export interface KitAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** Never answers (until the server closes): a hung provider. */
  hang?: boolean;
  /** Resets the stream without answering. */
  reset?: boolean;
}

/**
 * An HTTP/2-only TLS server on 127.0.0.1 (APNs and FCM speak HTTP/2) that hands each complete
 * request to `handle` and writes its answer as JSON. Many streams per connection, like the real ones.
 */
export async function startHttp2Kit(certificate: KitCertificate, handle: (request: KitRequest) => KitAnswer | Promise<KitAnswer>) {
  const options: http2.SecureServerOptions & { noDelay: boolean } = { key: certificate.key, cert: certificate.cert, noDelay: true, settings: { maxConcurrentStreams: 1000 } };
  const server = http2.createSecureServer(options);
  const sessions = new Set<http2.ServerHttp2Session>();
  const hanging = new Set<http2.ServerHttp2Stream>();
  let connections = 0;
  let delayMs = 0;
  let jitter = false;
  server.on('session', (session) => {
    connections++;
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', () => {});
    stream.on('end', () => {
      const request = { method: String(headers[':method']), path: String(headers[':path']), headers, body: Buffer.concat(chunks).toString('utf8') };
      const answered = Promise.resolve(handle(request));
      const wait = jitter ? Math.random() * delayMs : delayMs;
      const later = wait > 0 ? answered.then((answer) => new Promise<KitAnswer>((resolve) => setTimeout(() => resolve(answer), wait))) : answered;
      void later.then((answer) => {
        if (stream.destroyed) return;
        if (answer.hang) return void hanging.add(stream);
        if (answer.reset) return void stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
        const body = answer.body === undefined ? '' : typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
        stream.respond({ ':status': answer.status, 'content-type': 'application/json', ...answer.headers });
        stream.end(body);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    /** HTTP/2 connections accepted so far. */
    connections: () => connections,
    /** Every answer from now on comes `ms` later, or with `jitter` anywhere up to `ms` later (a provider far away: sends stay in flight a while). */
    slow: (ms: number, options: { jitter?: boolean } = {}) => {
      delayMs = ms;
      jitter = options.jitter ?? false;
    },
    async close() {
      for (const stream of hanging) stream.close(http2.constants.NGHTTP2_CANCEL);
      for (const session of sessions) session.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Polls `predicate` every 10 ms; rejects with `what` after `timeoutMs`. */
export async function waitUntil(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
