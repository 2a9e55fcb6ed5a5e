/**
 * The kit's SMTP server with `parse: false` in a process of its own, for benchmarks: it counts
 * messages, recipients and bytes without parsing, so the numbers measure Herald's sending. With
 * `--lean`, the leaner counting sink of smtp-sink.ts instead (the same counts, no AUTH or SIZE option).
 *
 *   node --import tsx test/kit/smtp-server-process.ts [--auth user:pass] [--size bytes] [--lean]
 *
 * Prints one line, {"port","url","controlPort"}, once listening. A plain HTTP endpoint on
 * 127.0.0.1:controlPort answers `GET /counts` → {"messages","recipients","bytes","dkimSigned"}
 * (`?perAddress=1` adds {"perAddress": {address: messages}}) and `POST /clear` (204).
 * Exits on SIGTERM/SIGINT or when its stdin closes (the parent is gone).
 * From TypeScript, `spawnSmtpServer()` in smtp-server.ts runs and talks to it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { startSmtpServer } from './smtp-server.ts';
import { startSmtpSink } from './smtp-sink.ts';

const { values } = parseArgs({ options: { auth: { type: 'string' }, size: { type: 'string' }, lean: { type: 'boolean' } } });
if (values.lean && (values.auth || values.size)) throw new Error('the lean sink takes no --auth or --size');
const [user, ...rest] = values.auth?.split(':') ?? [];
const smtp = values.lean
  ? await startSmtpSink()
  : await startSmtpServer({
      parse: false,
      ...(user !== undefined ? { auth: { user, pass: rest.join(':') } } : {}),
      ...(values.size ? { size: Number(values.size) } : {}),
    });

const control = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://control');
  if (req.method === 'GET' && url.pathname === '/counts') {
    const { perAddress, ...totals } = smtp.counts();
    const body = url.searchParams.get('perAddress') === '1' ? { ...totals, perAddress } : totals;
    return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }
  if (req.method === 'POST' && url.pathname === '/clear') {
    smtp.clear();
    return void res.writeHead(204).end();
  }
  res.writeHead(404).end();
});
await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
const controlPort = (control.address() as AddressInfo).port;
process.stdout.write(`${JSON.stringify({ port: smtp.port, url: smtp.url, controlPort })}\n`);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  control.closeAllConnections();
  control.close();
  void smtp.close().then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
process.stdin.on('end', stop).on('close', stop).resume();
