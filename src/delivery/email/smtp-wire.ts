import { Readable } from 'node:stream';
import type SMTPPool from 'nodemailer/lib/smtp-pool';
import type { SentMessageInfo } from 'nodemailer/lib/smtp-pool';
import type { Envelope } from './mailers.ts';

/**
 * How Herald's bytes reach nodemailer's SMTP pool, without the parts of nodemailer made for
 * messages it composes. Measured per 88 KB newsletter: `transporter.sendMail({ raw })` cost
 * ~0.8 ms of CPU (the Mailer's plugins, a MimeNode and four streams per message), the pool's own
 * `send` with the message as one buffer ~0.5 ms, most of that the per-byte loop that escapes dots
 * in SMTP DATA. So the pool gets a message object carrying just what it reads, and a buffer
 * Herald built with CRLF line ends only skips that loop: its dots are escaped with indexOf. The
 * pool keeps everything else: connections, logins, requeues after a dropped connection, RSET
 * after a refused message, the timeouts.
 */

/** Buffers whose line ends are all CRLF (no bare CR or LF), as mime.ts builds them. */
const crlfOnly = new WeakSet<Buffer>();

/** Marks a message's bytes as CRLF-only: the SMTP data stream then only has dots to escape. */
export function markCrlfOnly(bytes: Buffer): Buffer {
  crlfOnly.add(bytes);
  return bytes;
}

export const isCrlfOnly = (bytes: Buffer): boolean => crlfOnly.has(bytes);

/** nodemailer's pool class, loaded with the first email sent (a Herald that only pushes never holds it). */
export async function loadSmtpPool(): Promise<typeof SMTPPool> {
  const [{ default: Pool }, { default: DataStream }] = await Promise.all([import('nodemailer/lib/smtp-pool'), import('nodemailer/lib/smtp-connection/data-stream.js')]);
  leanDotStuffing(DataStream.prototype as unknown as DataStreamState & { _transform: Transform });
  return Pool;
}

/** Sends one message's bytes, in chunks (see markCrlfOnly), on the pool; rejects with nodemailer's SMTP error. */
export function sendOnPool(pool: SMTPPool, { from, to }: Envelope, chunks: Buffer[], messageId: string): Promise<SentMessageInfo> {
  const envelope = { from, to: [to] };
  // What SMTPPool and its connections read of a MailMessage (nodemailer 10.6: smtp-pool/*.js).
  const mail = {
    data: {},
    message: {
      getEnvelope: () => ({ ...envelope }),
      messageId: () => messageId,
      getHeader: () => messageId,
      // A fresh stream each time: a message requeued after a dropped connection is read again.
      createReadStream: () =>
        new Readable({
          read() {
            for (const chunk of chunks) this.push(chunk);
            this.push(null);
          },
        }),
    },
  };
  return new Promise((resolve, reject) => {
    pool.send(mail as never, (error, info) => (error ? reject(error) : resolve(info as SentMessageInfo)));
  });
}

interface DataStreamState {
  inByteCount: number;
  outByteCount: number;
  lastByte: number | false;
  push(chunk: Buffer): boolean;
}
type Transform = (this: DataStreamState, chunk: Buffer | string, encoding: BufferEncoding, done: () => void) => void;

const LF = 0x0a;
const DOT = Buffer.from('.');
let patched = false;

/**
 * nodemailer's DataStream checks every byte in JavaScript (bare CR and LF become CRLF, a dot at a
 * line start is doubled). For a chunk marked CRLF-only, the same output comes from finding each
 * "\n." with indexOf; every other chunk takes nodemailer's own path.
 */
function leanDotStuffing(prototype: DataStreamState & { _transform: Transform }): void {
  if (patched) return;
  patched = true;
  const perByte = prototype._transform;
  if (typeof perByte !== 'function') throw new Error("nodemailer's DataStream has no _transform: check smtp-wire.ts against this nodemailer");
  prototype._transform = function (chunk, encoding, done) {
    if (typeof chunk === 'string' || !crlfOnly.has(chunk) || chunk.length === 0) return perByte.call(this, chunk, encoding, done);
    const pieces: Buffer[] = [];
    let from = 0;
    if (chunk[0] === 0x2e && (this.lastByte === false || this.lastByte === LF)) pieces.push(DOT);
    for (let at = chunk.indexOf('\n.'); at !== -1; at = chunk.indexOf('\n.', at + 2)) {
      pieces.push(chunk.subarray(from, at + 1), DOT);
      from = at + 1;
    }
    const out = pieces.length === 0 ? chunk : Buffer.concat([...pieces, chunk.subarray(from)]);
    this.inByteCount += chunk.length;
    this.outByteCount += out.length;
    this.lastByte = chunk[chunk.length - 1]!;
    this.push(out);
    done();
  };
}
