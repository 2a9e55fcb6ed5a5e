import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type WebSocket, WebSocketServer } from 'ws';
import { createSelfSignedCertificate } from '../../kit/push-service.ts';

/** One message that a push POST handed to a browser, and what the browser answered. */
export interface AutopushDelivery {
  channelID: string;
  version: string; // the message id Firefox echoes in its ack
  ttl: number;
  bytes: number; // encrypted body size (0: a push without payload)
  ack: number | null; // Firefox's ack code: 100 delivered, 101 decryption error, 102 not delivered
}

export interface Autopush {
  wsUrl: string; // value for Firefox's dom.push.serverURL
  origin: string; // https://127.0.0.1:PORT, where push endpoints live
  ca: string; // PEM of the endpoint's self-signed certificate
  caFile: string; // the same PEM as a file
  endpoints(): string[]; // push endpoints of the channels registered now
  deliveries(): AutopushDelivery[];
  /**
   * Forgets every browser and drops their connections, as a push service that lost its state
   * would: a browser reconnecting gets a new uaid, drops its subscriptions and fires
   * `pushsubscriptionchange` in their service workers.
   */
  forgetBrowsers(): void;
  /**
   * Hands the browser the last message POSTed to `endpoint` again, byte for byte, as a new message
   * (a new version): what the browser sees when the application server sends the same push twice.
   * Returns the new delivery's version.
   */
  replay(endpoint: string): string;
  close(): Promise<void>;
}

/** RFC 8030 services cap the encrypted body at 4096 bytes. */
const MAX_BODY_BYTES = 4096;

interface Channel {
  uaid: string;
  endpoint: string;
}
/** What Firefox sends (PushServiceWebSocket.sys.mjs); every field is optional on the wire. */
interface ClientMessage {
  messageType?: string;
  uaid?: string;
  channelID?: string;
  updates?: { channelID?: string; version?: string; code?: number }[];
  version?: string;
  code?: number;
}

/**
 * A local push service speaking Mozilla's autopush WebSocket protocol, as Firefox's
 * PushServiceWebSocket does: the browser connects to `wsUrl` (subprotocol "push-notification"),
 * says `hello` (we answer a uaid and `use_webpush: true`, which turns on payloads), `register`s one
 * channelID per subscription (we answer a pushEndpoint on our HTTPS origin), may `unregister`, and
 * `ack`s each `notification`. An application server (e.g. `web-push`) POSTs aes128gcm bodies to
 * `/push/<channelID>`; we forward them as `{ messageType: 'notification', channelID, version, data
 * (base64url), headers: { encoding: 'aes128gcm' } }` and answer 201. Messages for a browser that is
 * not connected wait until it says hello again with its uaid. No VAPID check here: see
 * test/kit/push-service.ts for a strict service.
 */
export async function startAutopush(): Promise<Autopush> {
  const dir = await mkdtemp(path.join(tmpdir(), 'herald-autopush-'));
  const { key, cert, certFile } = await createSelfSignedCertificate(dir);

  const channels = new Map<string, Channel>();
  const sockets = new Map<string, WebSocket>(); // uaid -> its live connection
  const queued = new Map<string, object[]>(); // uaid -> notifications waiting for a connection
  const delivered: AutopushDelivery[] = [];
  const lastPosted = new Map<string, { body: Buffer; ttl: number }>(); // channelID -> its last POST
  let origin = '';

  const deliver = (uaid: string, message: object) => {
    const socket = sockets.get(uaid);
    if (socket && socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
    else queued.set(uaid, [...(queued.get(uaid) ?? []), message]);
  };

  /** Hands one message to the channel's browser (now, or when it next says hello); returns its version. */
  const forward = (channelID: string, channel: Channel, body: Buffer, ttl: number) => {
    const version = randomUUID();
    const notification = body.length > 0
      ? { messageType: 'notification', channelID, version, data: body.toString('base64url'), headers: { encoding: 'aes128gcm' } }
      : { messageType: 'notification', channelID, version };
    delivered.push({ channelID, version, ttl, bytes: body.length, ack: null });
    deliver(channel.uaid, notification);
    return version;
  };

  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  wss.on('connection', (socket) => {
    let uaid = '';
    const reply = (message: object) => socket.send(JSON.stringify(message));
    socket.on('close', () => {
      if (sockets.get(uaid) === socket) sockets.delete(uaid);
    });
    socket.on('message', (raw) => {
      let message: ClientMessage;
      try {
        message = JSON.parse(String(raw)) as ClientMessage;
      } catch {
        return;
      }
      switch (message.messageType) {
        case undefined: // '{}' is a ping; the answer is '{}' too
          reply({});
          return;
        case 'hello': {
          // Firefox sends its uaid only when it still holds subscriptions; a new uaid drops them all.
          const known = [...channels.values()].some((c) => c.uaid === message.uaid);
          uaid = message.uaid && known ? message.uaid : randomUUID().replaceAll('-', '');
          sockets.get(uaid)?.close();
          sockets.set(uaid, socket);
          reply({ messageType: 'hello', status: 200, uaid, use_webpush: true, broadcasts: {} });
          for (const pending of queued.get(uaid) ?? []) reply(pending);
          queued.delete(uaid);
          return;
        }
        case 'register': {
          const channelID = message.channelID ?? '';
          const endpoint = `${origin}/push/${channelID}`;
          channels.set(channelID, { uaid, endpoint });
          reply({ messageType: 'register', status: 200, channelID, pushEndpoint: endpoint });
          return;
        }
        case 'unregister':
          channels.delete(message.channelID ?? '');
          reply({ messageType: 'unregister', status: 200, channelID: message.channelID });
          return;
        case 'ack':
          for (const update of message.updates ?? []) {
            const delivery = delivered.find((d) => d.version === update.version && d.channelID === update.channelID);
            if (delivery) delivery.ack = update.code ?? 100;
          }
          return;
        case 'nack': {
          const delivery = delivered.find((d) => d.version === message.version);
          if (delivery) delivery.ack = message.code ?? 0;
          return;
        }
        default: // broadcast_subscribe and anything newer: nothing to do here
          return;
      }
    });
  });
  await once(wss, 'listening');

  const server = https.createServer({ key, cert }, (req, res) => {
    const answer = (status: number, reason = '') => res.writeHead(status, { 'content-type': 'text/plain' }).end(reason);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const channelID = /^\/push\/([^/?#]+)$/.exec(req.url ?? '')?.[1] ?? '';
      const channel = channels.get(channelID);
      if (req.method !== 'POST') return answer(405, 'POST only');
      if (!channel) return answer(410, 'no such subscription');
      const body = Buffer.concat(chunks);
      if (body.length > MAX_BODY_BYTES) return answer(413, 'body over 4096 bytes');
      const ttl = Number(req.headers.ttl);
      if (req.headers.ttl === undefined || !Number.isInteger(ttl) || ttl < 0) return answer(400, 'TTL header missing or invalid');
      if (body.length > 0 && req.headers['content-encoding'] !== 'aes128gcm') return answer(415, 'content-encoding must be aes128gcm');

      lastPosted.set(channelID, { body, ttl });
      const version = forward(channelID, channel, body, ttl);
      res.writeHead(201, { location: `${origin}/m/${version}`, ttl: String(ttl) }).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    wsUrl: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`,
    origin,
    ca: cert,
    caFile: certFile,
    endpoints: () => [...channels.values()].map((c) => c.endpoint),
    deliveries: () => delivered.map((d) => ({ ...d })),
    replay(endpoint) {
      const entry = [...channels.entries()].find(([, channel]) => channel.endpoint === endpoint);
      const posted = entry && lastPosted.get(entry[0]);
      if (!entry || !posted) throw new Error(`nothing was posted to ${endpoint}`);
      return forward(entry[0], entry[1], posted.body, posted.ttl);
    },
    forgetBrowsers() {
      channels.clear();
      queued.clear();
      for (const socket of wss.clients) socket.terminate();
    },
    async close() {
      for (const socket of wss.clients) socket.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
