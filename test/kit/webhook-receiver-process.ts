/**
 * The kit's webhook receiver with `keep: false` in a process of its own, for benchmarks: it
 * verifies every signature and counts requests and webhook-ids without keeping bodies.
 *
 *   node --import tsx test/kit/webhook-receiver-process.ts
 *
 * Prints one line, {"origin","caFile","controlPort"}, once listening. A plain HTTP endpoint on
 * 127.0.0.1:controlPort answers `GET /counts` → {"requests","accepted","unique","unverified"},
 * `POST /trust` (the body: secrets, one per line), `POST /clear` (204) and `POST /delay?ms=N` (every
 * answer from then on N ms late: a receiver across the internet, not on loopback).
 * Exits on SIGTERM/SIGINT or when its stdin closes (the parent is gone).
 * From TypeScript, `spawnWebhookReceiver()` in webhook-receiver.ts runs and talks to it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startWebhookReceiver } from './webhook-receiver.ts';

const receiver = await startWebhookReceiver({ keep: false });

const control = http.createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://control');
  if (req.method === 'GET' && url.pathname === '/counts') {
    return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(receiver.counts()));
  }
  if (req.method === 'POST' && url.pathname === '/trust') {
    let body = '';
    for await (const chunk of req) body += String(chunk);
    receiver.trust(...body.split('\n').filter(Boolean));
    return void res.writeHead(204).end();
  }
  if (req.method === 'POST' && url.pathname === '/delay') {
    receiver.behave({ status: 200, delayMs: Number(url.searchParams.get('ms') ?? 0) });
    return void res.writeHead(204).end();
  }
  if (req.method === 'POST' && url.pathname === '/clear') {
    receiver.clear();
    return void res.writeHead(204).end();
  }
  res.writeHead(404).end();
});
await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
const controlPort = (control.address() as AddressInfo).port;
process.stdout.write(`${JSON.stringify({ origin: receiver.origin, caFile: receiver.caFile, controlPort })}\n`);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  control.closeAllConnections();
  control.close();
  void receiver.close().then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
process.stdin.on('end', stop).on('close', stop).resume();
