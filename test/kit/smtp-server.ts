import { type ChildProcess, spawn } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { createInterface } from 'node:readline';
import type { AddressObject } from 'mailparser';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { fromRoot, ROOT } from '../../src/paths.ts';

export interface EmailAddress {
  address: string;
  name: string;
}
export interface DkimCheck {
  /** mailauth's verdict on the best signature: a changed body gives `neutral` (body hash), a changed signed header `fail` */
  result: 'pass' | 'fail' | 'neutral' | 'none' | 'temperror' | 'temperr' | 'permerror' | 'policy' | 'softfail' | 'skipped';
  domain?: string;
  selector?: string;
  comment?: string;
}
export interface ReceivedEmail {
  envelope: { from: string; to: string[] }; // MAIL FROM (as sent) and RCPT TO (lowercased)
  messageId: string | null; // as in the header, with its angle brackets
  subject: string;
  from: EmailAddress | null;
  to: EmailAddress[];
  replyTo: EmailAddress | null;
  html: string | null;
  text: string | null;
  /**
   * Each header's first (topmost) value, unfolded, by lowercased name. `return-path` is the
   * envelope sender, as the delivering server writes it; whatever the sender wrote is in headerLines.
   */
  headers: Record<string, string>;
  headerLines: { name: string; value: string }[]; // every header as sent, in order
  raw: Buffer;
  dkim: DkimCheck;
  receivedAt: number; // Date.now()
}
export interface SmtpCounts {
  messages: number;
  recipients: number;
  bytes: number;
  dkimSigned: number; // messages carrying a DKIM-Signature header (verified or not)
  perAddress: Record<string, number>; // messages each (lowercased) recipient received
}
export interface SmtpRefusal {
  stage: 'AUTH' | 'RCPT' | 'DATA' | 'DROP' | 'SIZE' | 'PARSE';
  address?: string; // the recipient (RCPT) or the user (AUTH)
  code: number | null; // null: dropped without an answer
  message: string;
  at: number;
}
export interface SmtpServerOptions {
  /** when given, AUTH with exactly these is required (535 otherwise); without, AUTH is optional and any login passes */
  auth?: { user: string; pass: string };
  /** SIZE limit in bytes; a bigger message gets 552 (default 10 MiB) */
  size?: number;
  /** false: count messages, recipients and bytes only — no mailparser, no DKIM, nothing kept (for benchmarks) */
  parse?: boolean;
}
export interface TestSmtpServer {
  url: string; // smtp://user:pass@127.0.0.1:PORT, or smtp://127.0.0.1:PORT without auth
  port: number;
  readonly count: number; // messages accepted
  all(): ReceivedEmail[]; // (parse mode only)
  to(address: string): ReceivedEmail[]; // what one address received, by RCPT TO (parse mode only)
  counts(): SmtpCounts;
  refused(): SmtpRefusal[]; // every fault answered, drop and failed login, in order
  /** resolves once `n` messages were accepted; rejects after timeoutMs saying what did arrive */
  waitFor(n: number, timeoutMs?: number): Promise<void>;
  clear(): void; // forgets messages, counts and refusals (not the faults)
  publishDkimKey(domain: string, selector: string, publicKeyPem: string): void;
  failRecipient(address: string, code: number, message?: string): void; // at RCPT TO, until clearFaults
  failNext(count: number, code: number, message?: string): void; // the next `count` transactions, at DATA
  dropNext(count: number): void; // the next `count` transactions lose their connection mid-DATA, unanswered
  slow(ms: number): void; // every DATA answer waits ms (0: off)
  clearFaults(): void;
  close(): Promise<void>;
}

const DEFAULT_SIZE = 10 * 1024 * 1024;

/** An RSA-2048 DKIM key pair (PEM) and the TXT record value a domain would publish at `<selector>._domainkey.<domain>`. */
export function generateDkimKeys() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { privateKey, publicKey, dnsTxt: dkimTxtRecord(publicKey) };
}

/** `v=DKIM1; k=rsa; p=<base64 SPKI>`: what DNS answers for a DKIM selector. */
export function dkimTxtRecord(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  return `v=DKIM1; k=rsa; p=${der.toString('base64')}`;
}

/** An SMTP error smtp-server turns into a reply with this code. */
const reply = (code: number, message: string) => Object.assign(new Error(message), { responseCode: code });

function checkCode(code: number) {
  if (!Number.isInteger(code) || code < 400 || code > 599) throw new Error(`an SMTP fault needs a 4xx or 5xx code, got ${code}`);
}

/**
 * A real SMTP server on 127.0.0.1 (no TLS) for email tests: it parses what arrives with mailparser,
 * verifies DKIM with mailauth against keys published here (no DNS), answers faults on demand and
 * lists what each address received. A message is on record before its 250 is sent, so a test can
 * look right after `await transporter.sendMail()`.
 */
export async function startSmtpServer(options: SmtpServerOptions = {}): Promise<TestSmtpServer> {
  const { auth, size = DEFAULT_SIZE, parse = true } = options;
  // Loaded only to parse: a counting server (a benchmark's, in its own process) starts faster without them.
  const [{ simpleParser }, { dkimVerify }] = parse ? await Promise.all([import('mailparser'), import('mailauth')]) : [{}, {}];
  const messages: ReceivedEmail[] = [];
  const refusals: SmtpRefusal[] = [];
  let counts: SmtpCounts = { messages: 0, recipients: 0, bytes: 0, dkimSigned: 0, perAddress: {} };
  const dkimKeys = new Map<string, string>(); // `<selector>._domainkey.<domain>` → TXT value
  const failingRecipients = new Map<string, { code: number; message: string }>();
  let failing: { remaining: number; code: number; message: string } = { remaining: 0, code: 0, message: '' };
  let dropping = 0;
  let delayMs = 0;
  // smtp-server's session knows the client's port, not its socket: this finds the socket to drop.
  const sockets = new Map<number, Socket>();

  const refuse = (refusal: Omit<SmtpRefusal, 'at'>) => refusals.push({ ...refusal, at: Date.now() });
  const answerLater = (answer: () => void) => (delayMs > 0 ? setTimeout(answer, delayMs) : answer());

  const resolver = async (name: string, type: string) => {
    const value = type === 'TXT' ? dkimKeys.get(name.toLowerCase()) : undefined;
    if (value === undefined) throw Object.assign(new Error(`no ${type} record for ${name}`), { code: 'ENOTFOUND' });
    return [[value]];
  };

  const accept = async (raw: Buffer, session: SMTPServerSession) => {
    const envelope = envelopeOf(session);
    counts.messages++;
    counts.recipients += envelope.to.length;
    counts.bytes += raw.length;
    for (const address of envelope.to) counts.perAddress[address] = (counts.perAddress[address] ?? 0) + 1;
    const head = raw.subarray(0, headerEnd(raw)).toString('latin1');
    if (/^dkim-signature:/im.test(head)) counts.dkimSigned++;
    if (!simpleParser || !dkimVerify) return;

    const [mail, verified] = await Promise.all([simpleParser(raw), dkimVerify(raw, { resolver })]);
    const headerLines = mail.headerLines.map(({ line }) => {
      const colon = line.indexOf(':');
      return { name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1).replace(/\r?\n(?=[ \t])/g, '').trim() };
    });
    const headers: Record<string, string> = {};
    for (const { name, value } of headerLines) headers[name] ??= value;
    headers['return-path'] = `<${envelope.from}>`;
    const best = verified.results.find((result) => result.status.result === 'pass') ?? verified.results[0];
    messages.push({
      envelope,
      messageId: mail.messageId ?? null,
      subject: mail.subject ?? '',
      from: addressesOf(mail.from)[0] ?? null,
      to: addressesOf(mail.to),
      replyTo: addressesOf(mail.replyTo)[0] ?? null,
      html: mail.html || null,
      text: mail.text ?? null,
      headers,
      headerLines,
      raw,
      dkim: {
        result: best?.status.result ?? 'none',
        ...(best?.signingDomain ? { domain: best.signingDomain } : {}),
        ...(best?.selector ? { selector: best.selector } : {}),
        ...(best?.status.comment ? { comment: best.status.comment } : {}),
      },
      receivedAt: Date.now(),
    });
  };

  const onData = (stream: SMTPServerDataStream, session: SMTPServerSession, callback: (error?: Error | null) => void) => {
    stream.on('error', () => {}); // a dropped client ends the stream with an error nobody waits for
    if (dropping > 0) {
      dropping--;
      let dropped = false;
      const drop = () => {
        if (dropped) return;
        dropped = true;
        refuse({ stage: 'DROP', code: null, message: 'connection dropped mid-DATA' });
        sockets.get(session.remotePort)?.destroy();
      };
      // Wait for the content, so the client has sent its message and sees no answer to it.
      stream.once('data', drop);
      stream.once('end', drop);
      return;
    }
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      if (stream.sizeExceeded) {
        refuse({ stage: 'SIZE', code: 552, message: `message over ${size} bytes` });
        return callback(reply(552, `message exceeds fixed maximum message size ${size}`));
      }
      if (failing.remaining > 0) {
        failing.remaining--;
        const { code, message } = failing;
        refuse({ stage: 'DATA', code, message });
        return answerLater(() => callback(reply(code, message)));
      }
      accept(Buffer.concat(chunks), session).then(
        () => answerLater(() => callback()),
        (error: unknown) => {
          // A kit bug, not a fault asked for: on record, so waitFor's message shows it.
          refuse({ stage: 'PARSE', code: 451, message: `smtp kit could not read the message: ${String(error)}` });
          callback(reply(451, 'smtp kit could not read the message'));
        },
      );
    });
  };

  const server = new SMTPServer({
    authOptional: !auth,
    allowInsecureAuth: true, // no TLS here: loopback only
    disabledCommands: ['STARTTLS'],
    size,
    logger: false,
    onAuth({ username, password }, _session, callback) {
      if (!auth || (username === auth.user && password === auth.pass)) return callback(null, { user: username });
      refuse({ stage: 'AUTH', address: username ?? '', code: 535, message: 'invalid username or password' });
      callback(reply(535, 'Authentication credentials invalid'));
    },
    onRcptTo({ address }, _session, callback) {
      const fault = failingRecipients.get(address.toLowerCase());
      if (!fault) return callback();
      refuse({ stage: 'RCPT', address: address.toLowerCase(), ...fault });
      callback(reply(fault.code, fault.message));
    },
    onData,
  });
  server.on('error', () => {}); // client resets (ours included) are normal here
  server.server.on('connection', (socket: Socket) => {
    const port = socket.remotePort!;
    sockets.set(port, socket);
    socket.once('close', () => sockets.delete(port));
  });
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  const credentials = auth ? `${encodeURIComponent(auth.user)}:${encodeURIComponent(auth.pass)}@` : '';

  const onlyParsed = (what: string) => {
    if (!parse) throw new Error(`smtp server started with parse: false keeps no messages; ${what} needs parse mode (use counts())`);
  };
  const describe = () => {
    const last = messages.slice(-10).map((m) => `${m.envelope.from} → ${m.envelope.to.join(', ')} "${m.subject}"`);
    const faults = refusals.slice(-10).map((r) => `${r.stage} ${r.code ?? 'no answer'}${r.address ? ` ${r.address}` : ''}: ${r.message}`);
    return (
      `${counts.messages} arrived (${counts.recipients} recipients)` +
      (last.length ? `; last: ${last.join(' | ')}` : '') +
      (faults.length ? `; refused ${refusals.length}, last: ${faults.join(' | ')}` : '')
    );
  };

  let closing: Promise<void> | undefined;
  return {
    url: `smtp://${credentials}127.0.0.1:${port}`,
    port,
    get count() {
      return counts.messages;
    },
    all() {
      onlyParsed('all()');
      return [...messages];
    },
    to(address) {
      onlyParsed('to()');
      const wanted = address.toLowerCase();
      return messages.filter((message) => message.envelope.to.includes(wanted));
    },
    counts: () => ({ ...counts, perAddress: { ...counts.perAddress } }),
    refused: () => refusals.map((refusal) => ({ ...refusal })),
    async waitFor(n, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (counts.messages < n) {
        if (Date.now() > deadline) throw new Error(`smtp server: waited ${timeoutMs}ms for ${n} messages, ${describe()}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    clear() {
      messages.length = 0;
      refusals.length = 0;
      counts = { messages: 0, recipients: 0, bytes: 0, dkimSigned: 0, perAddress: {} };
    },
    publishDkimKey(domain, selector, publicKeyPem) {
      dkimKeys.set(`${selector}._domainkey.${domain}`.toLowerCase(), dkimTxtRecord(publicKeyPem));
    },
    failRecipient(address, code, message = `behaviour: ${code}`) {
      checkCode(code);
      failingRecipients.set(address.toLowerCase(), { code, message });
    },
    failNext(count, code, message = `behaviour: ${code}`) {
      checkCode(code);
      failing = { remaining: count, code, message };
    },
    dropNext(count) {
      dropping = count;
    },
    slow(ms) {
      delayMs = ms;
    },
    clearFaults() {
      failingRecipients.clear();
      failing = { remaining: 0, code: 0, message: '' };
      dropping = 0;
      delayMs = 0;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Pooled clients keep idle connections open; smtp-server would wait 30 s for them.
        for (const socket of sockets.values()) socket.destroy();
      });
      return closing;
    },
  };
}

function envelopeOf(session: SMTPServerSession) {
  const { mailFrom, rcptTo } = session.envelope;
  return { from: mailFrom ? mailFrom.address : '', to: rcptTo.map(({ address }) => address.toLowerCase()) };
}

function addressesOf(field: AddressObject | AddressObject[] | undefined): EmailAddress[] {
  const objects = field === undefined ? [] : Array.isArray(field) ? field : [field];
  return objects.flatMap((object) => object.value).flatMap(({ address, name }) => (address ? [{ address, name }] : []));
}

/** Where the header section ends (the blank line), or the whole message when there is none. */
function headerEnd(raw: Buffer) {
  const crlf = raw.indexOf('\r\n\r\n');
  if (crlf >= 0) return crlf;
  const lf = raw.indexOf('\n\n');
  return lf >= 0 ? lf : raw.length;
}

export interface SmtpServerProcess {
  url: string;
  port: number;
  counts(options?: { perAddress?: boolean }): Promise<Omit<SmtpCounts, 'perAddress'> & { perAddress?: Record<string, number> }>;
  clear(): Promise<void>;
  stop(): Promise<void>;
  child: ChildProcess;
}

/**
 * The same server with `parse: false` in a process of its own (test/kit/smtp-server-process.ts), so
 * a benchmark measures Herald's sending rather than the receiver. It exits with its parent. With
 * `lean`, the counting sink of smtp-sink.ts answers instead (the same counts, a fraction of the CPU).
 */
export async function spawnSmtpServer(options: Omit<SmtpServerOptions, 'parse'> & { lean?: boolean } = {}): Promise<SmtpServerProcess> {
  const args = [
    ...(options.auth ? ['--auth', `${options.auth.user}:${options.auth.pass}`] : []),
    ...(options.size ? ['--size', String(options.size)] : []),
    ...(options.lean ? ['--lean'] : []),
  ];
  const child = spawn(process.execPath, ['--import', 'tsx', fromRoot('test', 'kit', 'smtp-server-process.ts'), ...args], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'inherit'], // its stdin closing (we exited) ends it
  });
  const first = await Promise.race([
    createInterface({ input: child.stdout! })[Symbol.asyncIterator]().next(),
    once(child, 'exit').then(([code]) => Promise.reject(new Error(`smtp server process exited with ${code} before listening`))),
  ]);
  const { port, url, controlPort } = JSON.parse(first.value as string) as { port: number; url: string; controlPort: number };
  const control = `http://127.0.0.1:${controlPort}`;
  return {
    url,
    port,
    child,
    async counts({ perAddress = false } = {}) {
      const response = await fetch(`${control}/counts${perAddress ? '?perAddress=1' : ''}`);
      return (await response.json()) as SmtpCounts;
    },
    async clear() {
      await fetch(`${control}/clear`, { method: 'POST' });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}
