/**
 * The kit's APNs and FCM in a process of their own, for benchmarks: they count what they accept
 * without keeping it, so the numbers measure Herald's sending.
 *
 *   node --import tsx test/kit/mobile-push-process.ts
 *
 * Prints one line once listening: {"caFile","apns":{…settings},"fcm":{serviceAccount,baseUrl},"controlPort"}.
 * A plain HTTP endpoint on 127.0.0.1:controlPort answers `GET /counts` →
 * {"apns","fcm","apnsConnections","fcmConnections","refused"}; `POST /delay?ms=N` makes both answer N ms
 * late (a provider across the internet, not on loopback). Exits on SIGTERM/SIGINT or when its stdin closes.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startApnsServer } from './apns-server.ts';
import { startFcmServer } from './fcm-server.ts';
import { kitCertificate } from './http2-kit.ts';

const certificate = await kitCertificate();
const [apns, fcm] = await Promise.all([startApnsServer(certificate, { record: false }), startFcmServer(certificate, { record: false })]);

const control = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/counts') {
    const counts = { apns: apns.accepted(), fcm: fcm.accepted(), apnsConnections: apns.connections(), fcmConnections: fcm.connections(), refused: apns.refused().length + fcm.refused().length };
    return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(counts));
  }
  const delay = req.method === 'POST' && /^\/delay\?ms=(\d+)$/.exec(req.url ?? '');
  if (delay) {
    apns.slow(Number(delay[1]));
    fcm.slow(Number(delay[1]));
    return void res.writeHead(204).end();
  }
  res.writeHead(404).end();
});
await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
const controlPort = (control.address() as AddressInfo).port;
process.stdout.write(`${JSON.stringify({ caFile: certificate.caFile, apns: apns.settings(), fcm: fcm.settings(), controlPort })}\n`);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  control.close();
  void Promise.all([apns.close(), fcm.close()])
    .then(() => certificate.remove())
    .then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
process.stdin.on('end', stop).on('close', stop).resume();
