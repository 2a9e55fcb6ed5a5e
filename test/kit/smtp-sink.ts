import { once } from 'node:events';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import type { SmtpCounts } from './smtp-server.ts';

/**
 * A counting SMTP receiver for benchmarks, leaner than smtp-server with `parse: false`: that one
 * passes every message through a JavaScript stream that undoes dot-stuffing byte by byte
 * (~0.5 ms of CPU for an 88 KB newsletter, a quarter of the email bench's whole budget per
 * message on a 2-core machine). This one finds the end of DATA with indexOf and keeps nothing
 * but the same counts (smtp-server.ts counts()): messages, recipients (RCPT TO, lowercased) and
 * messages per recipient, bytes as delivered (dot-stuffing undone in the count), and messages whose
 * header section has a DKIM-Signature field (present, not verified: parse: false does no more).
 * Like smtp-server (and Postfix's postscreen) it greets a new connection after 100 ms, so a loop
 * that opens a connection per message waits here as it waits there. It speaks enough SMTP for
 * nodemailer (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT; PIPELINING), no AUTH, TLS or faults:
 * tests use smtp-server.ts.
 */
export interface SmtpSink {
  url: string;
  port: number;
  counts(): SmtpCounts;
  clear(): void;
  close(): Promise<void>;
}

const GREETING_DELAY_MS = 100;
const SIZE = 10 * 1024 * 1024;
const END_OF_DATA = Buffer.from('\r\n.\r\n');
const STUFFED_DOT = Buffer.from('\r\n..');
const LINE_END = Buffer.from('\r\n');
/** What a message's header section is looked at for: the fields before the first blank line, up to this many bytes. */
const HEAD_BYTES = 64 * 1024;

export async function startSmtpSink(): Promise<SmtpSink> {
  let counts: SmtpCounts = { messages: 0, recipients: 0, bytes: 0, dkimSigned: 0, perAddress: {} };
  const sockets = new Set<Socket>();

  const deliver = (recipients: string[], size: number, signed: boolean) => {
    counts.messages++;
    counts.recipients += recipients.length;
    counts.bytes += size;
    if (signed) counts.dkimSigned++;
    for (const address of recipients) counts.perAddress[address] = (counts.perAddress[address] ?? 0) + 1;
  };

  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {}); // a client's reset is normal here
    // Replies are a few bytes each: with Nagle's algorithm on, each waited for the ACK of the one
    // before (the client delays it up to 40 ms), which held a broadcast to ~210 emails/s on a quiet
    // machine. smtp-server sets it too.
    socket.setNoDelay(true);
    const session = new Session(socket, deliver);
    socket.pause();
    setTimeout(() => {
      if (socket.destroyed) return;
      socket.write('220 127.0.0.1 ESMTP herald bench sink\r\n');
      socket.on('data', (chunk: Buffer) => session.read(chunk));
      socket.resume();
    }, GREETING_DELAY_MS);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;

  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    counts: () => ({ ...counts, perAddress: { ...counts.perAddress } }),
    clear() {
      counts = { messages: 0, recipients: 0, bytes: 0, dkimSigned: 0, perAddress: {} };
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/** One connection: commands line by line, then a message's bytes until the line that is one dot. */
class Session {
  private pending: Buffer = Buffer.alloc(0);
  private from: string | null = null;
  private recipients: string[] = [];
  /** In DATA: the message so far (its chunks as they came) and its length. */
  private data: Buffer[] | null = null;
  private dataBytes = 0;
  /** The last bytes of the message so far (at its start, the CRLF of the DATA line). */
  private tail: Buffer = LINE_END;

  constructor(
    private readonly socket: Socket,
    private readonly deliver: (recipients: string[], size: number, signed: boolean) => void,
  ) {}

  read(chunk: Buffer): void {
    let input: Buffer = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    while (input.length > 0) {
      if (this.data) {
        input = this.readData(input);
        continue;
      }
      const end = input.indexOf('\r\n');
      if (end === -1) {
        if (input.length > 4096) return void this.socket.end('500 line too long\r\n');
        this.pending = input;
        return;
      }
      this.command(input.subarray(0, end).toString('latin1'));
      input = input.subarray(end + 2);
    }
  }

  /** Takes message bytes from `input`; answers what follows the end of the message (commands). */
  private readData(input: Buffer): Buffer {
    // The end ("\r\n.\r\n", its CRLF the message's last) may begin in the bytes already taken.
    const spanning = Buffer.concat([this.tail, input.subarray(0, END_OF_DATA.length - 1)]).indexOf(END_OF_DATA);
    const at = spanning !== -1 ? spanning - this.tail.length : input.indexOf(END_OF_DATA);
    if (at === -1 && spanning === -1) {
      this.data!.push(input);
      this.dataBytes += input.length;
      this.tail = Buffer.concat([this.tail, input.subarray(-(END_OF_DATA.length - 1))]).subarray(-(END_OF_DATA.length - 1));
      if (this.dataBytes > SIZE + 1024 * 1024) this.socket.destroy();
      return Buffer.alloc(0);
    }
    const contentEnd = at + 2; // relative to input; negative: the end began in earlier chunks
    if (contentEnd > 0) this.data!.push(input.subarray(0, contentEnd));
    else this.dropLast(-contentEnd);
    this.finishMessage();
    return input.subarray(at + END_OF_DATA.length);
  }

  /** Drops the last `bytes` taken (they began the end of the message, not its content). */
  private dropLast(bytes: number): void {
    const data = this.data!;
    while (bytes > 0 && data.length > 0) {
      const last = data.pop()!;
      if (last.length > bytes) data.push(last.subarray(0, last.length - bytes));
      bytes -= Math.min(bytes, last.length);
    }
  }

  private finishMessage(): void {
    const message = Buffer.concat(this.data!);
    this.data = null;
    this.dataBytes = 0;
    // Dot-stuffing: a line starting with "." was sent as "..", counted once.
    let stuffed = message[0] === 0x2e && message[1] === 0x2e ? 1 : 0;
    for (let at = message.indexOf(STUFFED_DOT); at !== -1; at = message.indexOf(STUFFED_DOT, at + 3)) stuffed++;
    const headEnd = message.indexOf('\r\n\r\n');
    const head = message.subarray(0, headEnd === -1 ? Math.min(message.length, HEAD_BYTES) : Math.min(headEnd, HEAD_BYTES)).toString('latin1');
    this.deliver(this.recipients, message.length - stuffed, /^dkim-signature:/im.test(head));
    this.reset();
    this.reply('250 2.0.0 OK: message queued');
  }

  private command(line: string): void {
    const verb = line.slice(0, 4).toUpperCase();
    switch (verb) {
      case 'EHLO':
        return this.reply(`250-127.0.0.1 greets you\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE ${SIZE}`);
      case 'HELO':
        return this.reply('250 127.0.0.1 greets you');
      case 'MAIL': {
        const address = /^MAIL FROM:\s*<([^>]*)>/i.exec(line);
        if (!address) return this.reply('501 5.5.4 syntax: MAIL FROM:<address>');
        this.reset();
        this.from = address[1]!;
        return this.reply('250 2.1.0 OK');
      }
      case 'RCPT': {
        const address = /^RCPT TO:\s*<([^>]+)>/i.exec(line);
        if (this.from === null) return this.reply('503 5.5.1 MAIL first');
        if (!address) return this.reply('501 5.5.4 syntax: RCPT TO:<address>');
        this.recipients.push(address[1]!.toLowerCase());
        return this.reply('250 2.1.5 OK');
      }
      case 'DATA':
        if (this.recipients.length === 0) return this.reply('503 5.5.1 RCPT first');
        this.data = [];
        this.tail = LINE_END;
        return this.reply('354 End data with <CR><LF>.<CR><LF>');
      case 'RSET':
        this.reset();
        return this.reply('250 2.0.0 OK');
      case 'NOOP':
        return this.reply('250 2.0.0 OK');
      case 'QUIT':
        return void this.socket.end('221 2.0.0 Bye\r\n');
      default:
        return this.reply('502 5.5.2 command not implemented');
    }
  }

  private reset(): void {
    this.from = null;
    this.recipients = [];
  }

  private reply(text: string): void {
    this.socket.write(`${text}\r\n`);
  }
}
