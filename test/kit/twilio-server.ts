import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSelfSignedCertificate } from './push-service.ts';

/** One message the kit accepted (201), as Twilio's Messages API would have queued it. */
export interface KitSms {
  sid: string; // SM…
  accountSid: string;
  to: string;
  from: string | null;
  messagingServiceSid: string | null;
  body: string;
  statusCallback: string | null;
  receivedAt: number;
}

/** A fault on demand: answer `status` (with Twilio's JSON error `code`), optionally only for one recipient. */
export interface SmsFault {
  status: number;
  code?: number;
  retryAfterSeconds?: number;
  /** Only requests to this number. */
  to?: string;
  /** How many requests meet it (default: all until cleared). */
  times?: number;
}

/** A status callback the kit posted, and what Herald answered. */
export interface KitCallback {
  sid: string;
  to: string;
  status: string;
  answered: number;
}

export type ReportFor = (message: KitSms) => { status: 'delivered' | 'undelivered' | 'failed'; errorCode?: string } | null;

export interface TestTwilio {
  origin: string; // https://127.0.0.1:PORT, the workspace's sms.baseUrl
  caFile: string; // for HERALD_PUSH_CA
  accountSid: string;
  authToken: string;
  messages(to?: string): KitSms[];
  /** Every Messages request in arrival order, with the status answered. */
  requests(): { to: string; status: number }[];
  fault(fault: SmsFault): void;
  /** Answers every accepted message this much later (a provider taking its time): answers stay pending. */
  delay(ms: number): void;
  /** Which status callback each accepted message gets (default: none). */
  report(reportFor: ReportFor | null): void;
  callbacks(): KitCallback[];
  /** Counts only (the benchmark process reports them): requests, accepted, distinct recipients. */
  counts(): { requests: number; accepted: number; distinctTo: number };
  waitFor(predicate: () => boolean, timeoutMs?: number): Promise<void>;
  clear(): void;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 64 * 1024;

/**
 * Twilio's X-Twilio-Signature as its documentation describes it, written here from the docs and
 * not shared with Herald's verifier: the URL, then each POST field sorted by name as name+value,
 * HMAC-SHA1 with the auth token, base64.
 */
export function signTwilioRequest(authToken: string, url: string, fields: Record<string, string>): string {
  const payload = Object.keys(fields)
    .sort()
    .reduce((text, name) => text + name + fields[name], url);
  return createHmac('sha1', Buffer.from(authToken, 'utf8')).update(Buffer.from(payload, 'utf8')).digest('base64');
}

/**
 * A local Twilio-compatible Messages API on https://127.0.0.1: it checks HTTP Basic auth against
 * its one account (401, error 20003, otherwise), the form's To, From or MessagingServiceSid and
 * Body (400, 21604/21602/21606), records what it accepts (201 with Twilio's JSON), meets faults on
 * demand, and posts signed status callbacks to each message's StatusCallback when told to.
 * `keep: false` (the benchmark's) keeps counts, not messages.
 */
export async function startTwilio(options: { keep?: boolean } = {}): Promise<TestTwilio> {
  const keep = options.keep ?? true;
  const dir = await mkdtemp(path.join(tmpdir(), 'herald-twilio-'));
  const { key, cert, certFile } = await createSelfSignedCertificate(dir);
  const accountSid = `AC${randomBytes(16).toString('hex')}`;
  const authToken = randomBytes(16).toString('hex');
  let accepted: KitSms[] = [];
  let requests: { to: string; status: number }[] = [];
  let faults: SmsFault[] = [];
  let reportFor: ReportFor | null = null;
  let delayMs = 0;
  let callbacks: KitCallback[] = [];
  let totals = { requests: 0, accepted: 0 };
  let recipients = new Set<string>();
  const expectedAuth = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`;

  const answer = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  const error = (res: ServerResponse, status: number, code: number, message: string, headers: Record<string, string> = {}) =>
    answer(res, status, { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status }, headers);

  function handle(req: IncomingMessage, res: ServerResponse, raw: string) {
    const route = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/.exec(req.url ?? '');
    if (!route || req.method !== 'POST') return error(res, 404, 20404, 'The requested resource was not found');
    totals.requests++;
    const form = new URLSearchParams(raw);
    const to = form.get('To') ?? '';
    const record = (status: number) => keep && requests.push({ to, status });
    if (req.headers.authorization !== expectedAuth || route[1] !== accountSid) {
      record(401);
      return error(res, 401, 20003, 'Authenticate', { 'www-authenticate': 'Basic realm="Twilio API"' });
    }
    const fault = faults.find((candidate) => (candidate.to === undefined || candidate.to === to) && (candidate.times ?? 1) > 0);
    if (fault) {
      if (fault.times !== undefined) fault.times--;
      record(fault.status);
      return error(res, fault.status, fault.code ?? fault.status * 100, 'fault on demand', fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {});
    }
    const body = form.get('Body');
    const from = form.get('From');
    const service = form.get('MessagingServiceSid');
    if (!/^\+[1-9]\d{6,14}$/.test(to)) return record(400), error(res, 400, 21211, `The 'To' number ${to} is not a valid phone number.`);
    if (!from && !service) return record(400), error(res, 400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message");
    if (!body) return record(400), error(res, 400, 21602, 'Message body is required.');
    if (body.length > 1600) return record(400), error(res, 400, 21617, 'The concatenated message body exceeds the 1600 character limit.');
    const message: KitSms = {
      sid: `SM${randomBytes(16).toString('hex')}`,
      accountSid,
      to,
      from,
      messagingServiceSid: service,
      body,
      statusCallback: form.get('StatusCallback'),
      receivedAt: Date.now(),
    };
    totals.accepted++;
    recipients.add(to);
    record(201);
    if (keep) accepted.push(message);
    const created = () => answer(res, 201, { sid: message.sid, account_sid: accountSid, to, from, messaging_service_sid: service, body, status: 'queued', num_segments: '1', api_version: '2010-04-01' });
    if (delayMs > 0) setTimeout(created, delayMs);
    else created();
    const report = reportFor?.(message);
    if (report && message.statusCallback) void postCallback(message, report.status, report.errorCode);
  }

  async function postCallback(message: KitSms, status: string, errorCode?: string) {
    const fields: Record<string, string> = {
      AccountSid: accountSid,
      ApiVersion: '2010-04-01',
      From: message.from ?? '+15005550006',
      MessageSid: message.sid,
      MessageStatus: status,
      SmsSid: message.sid,
      SmsStatus: status,
      To: message.to,
      ...(errorCode ? { ErrorCode: errorCode } : {}),
    };
    const url = message.statusCallback!;
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signTwilioRequest(authToken, url, fields) },
        body: new URLSearchParams(fields).toString(),
      });
      await response.arrayBuffer();
      callbacks.push({ sid: message.sid, to: message.to, status, answered: response.status });
    } catch {
      callbacks.push({ sid: message.sid, to: message.to, status, answered: 0 });
    }
  }

  const server = https.createServer({ key, cert, keepAliveTimeout: 30_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => (size > MAX_BODY_BYTES ? error(res, 413, 21617, 'too large') : handle(req, res, Buffer.concat(chunks).toString('utf8'))));
  });
  server.on('secureConnection', (socket) => socket.setNoDelay(true));
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    origin: `https://127.0.0.1:${port}`,
    caFile: certFile,
    accountSid,
    authToken,
    messages: (to) => accepted.filter((message) => to === undefined || message.to === to),
    requests: () => [...requests],
    fault: (fault) => void faults.push({ ...fault }),
    report: (next) => void (reportFor = next),
    delay: (ms) => void (delayMs = ms),
    callbacks: () => [...callbacks],
    counts: () => ({ requests: totals.requests, accepted: totals.accepted, distinctTo: recipients.size }),
    async waitFor(predicate, timeoutMs = 20_000) {
      const end = Date.now() + timeoutMs;
      while (!predicate()) {
        if (Date.now() > end) throw new Error('the Twilio kit waited in vain');
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    clear() {
      accepted = [];
      requests = [];
      faults = [];
      callbacks = [];
      reportFor = null;
      delayMs = 0;
      totals = { requests: 0, accepted: 0 };
      recipients = new Set();
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
