/**
 * The kit's Twilio with `keep: false` in a process of its own, for benchmarks: it checks Basic auth
 * and the form of every request and counts them without keeping bodies.
 *
 *   node --import tsx test/kit/twilio-process.ts
 *
 * Prints one line, {"origin","caFile","accountSid","authToken","controlPort"}, once listening. A
 * plain HTTP endpoint on 127.0.0.1:controlPort answers `GET /counts` → {"requests","accepted","distinctTo"}
 * `POST /delay?ms=N` (every accepted message answered N ms late, as a distant API answers) and
 * `POST /clear` (204; also ends the delay). Exits on SIGTERM/SIGINT or when its stdin closes (the parent is gone).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTwilio } from './twilio-server.ts';

const twilio = await startTwilio({ keep: false });

const control = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/counts') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(twilio.counts()));
  const delay = /^\/delay\?ms=(\d+)$/.exec(req.url ?? '');
  if (req.method === 'POST' && delay) {
    twilio.delay(Number(delay[1]));
    return void res.writeHead(204).end();
  }
  if (req.method === 'POST' && req.url === '/clear') {
    twilio.clear();
    return void res.writeHead(204).end();
  }
  res.writeHead(404).end();
});
await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
const { origin, caFile, accountSid, authToken } = twilio;
process.stdout.write(`${JSON.stringify({ origin, caFile, accountSid, authToken, controlPort: (control.address() as AddressInfo).port })}\n`);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  control.closeAllConnections();
  control.close();
  void twilio.close().then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
process.stdin.on('end', stop).on('close', stop).resume();
