/**
 * A push endpoint for benchmarks that costs as little as possible: it answers 201 to any
 * `POST /push/<id>` carrying an Authorization header, without decrypting or verifying VAPID, so
 * the numbers measure Herald rather than the receiver. Run: npx tsx bench/push-sink.ts
 * It prints {"origin","caFile"} on one line; GET /stats answers {"received","bytes"}. With
 * `--arrivals` it also keeps when each push arrived (ms since the epoch, sub-millisecond precise):
 * GET /arrivals answers {"<id>": [t, …]}, for latency benchmarks.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSelfSignedCertificate } from '../test/kit/push-service.ts';

const dir = await mkdtemp(path.join(tmpdir(), 'herald-push-sink-'));
const { key, cert, certFile } = await createSelfSignedCertificate(dir);
let received = 0;
let bytes = 0;
const arrivals = process.argv.includes('--arrivals') ? new Map<string, number[]>() : undefined;

const server = https.createServer({ key, cert }, (req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ received, bytes }));
    return;
  }
  if (req.method === 'GET' && req.url === '/arrivals') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(Object.fromEntries(arrivals ?? [])));
    return;
  }
  const push = req.method === 'POST' && req.url?.startsWith('/push/');
  const status = !push ? 404 : req.headers.authorization ? 201 : 401;
  // Count bytes as they stream by instead of buffering the body.
  let length = 0;
  req.on('data', (chunk: Buffer) => (length += chunk.length));
  req.on('end', () => {
    if (status === 201) {
      received++;
      bytes += length;
      if (arrivals) {
        const id = req.url!.slice('/push/'.length);
        arrivals.set(id, [...(arrivals.get(id) ?? []), performance.timeOrigin + performance.now()]);
      }
    }
    res.writeHead(status, { 'content-length': '0' }).end();
  });
});
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ origin: `https://127.0.0.1:${port}`, caFile: certFile })}\n`);
});

const stop = () => {
  server.close(() => void rm(dir, { recursive: true, force: true }).then(() => process.exit(0)));
  server.closeAllConnections();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
