import { isAscii } from 'node:buffer';
import { domainToASCII } from 'node:url';
import { isCrlfOnly, markCrlfOnly } from './smtp-wire.ts';

/**
 * An email as it goes on the wire, built by Herald rather than by nodemailer's composer: its
 * per-message streams, quoted-printable encoder and transforms cost ~2 ms for a 50 KB newsletter,
 * more than rendering it. Headers follow RFC 5322 (folded, non-ASCII words as RFC 2047 encoded
 * words), the body is multipart/alternative (text, then HTML). A part goes as it is (7bit) when
 * it is ASCII in lines of at most 998 octets, else in base64, which Node encodes natively; the
 * whole message is ASCII, so nothing downstream needs 8BITMIME or SMTPUTF8 for its content.
 */

export interface MailAddress {
  name?: string | null;
  address: string;
}

export interface EmailMessage {
  from: MailAddress;
  to: string;
  replyTo?: string | null;
  subject: string;
  /** With its angle brackets: `<id@domain>`. */
  messageId: string;
  date?: Date;
  /** Further header fields in order (List-Unsubscribe…); their values must be ASCII. */
  headers?: [name: string, value: string][];
  text: string;
  /** The HTML, or its UTF-8 bytes (read only while the message is built). */
  html: string | Buffer;
}

export interface BuiltEmail {
  /** The Message-ID, with its angle brackets. */
  messageId: string;
  /** Header fields, each `Name: value`, folded with CRLF + space, without a final CRLF. */
  fields: string[];
  /**
   * The MIME body: ASCII, CRLF line ends, ending with a CRLF. Bytes, not a string: a newsletter's
   * ~90 KB stay outside the JavaScript heap while the message waits for its connection, so the
   * garbage collector does not copy them from generation to generation.
   */
  body: Buffer;
  /** DKIM's hash of the body (dkim.ts), when it was computed with the message (on the build thread). */
  bodyHash?: string;
}

/** The header fields and MIME body of a message (see wireChunks() for the bytes to send). */
export function buildEmail(message: EmailMessage): BuiltEmail {
  const boundary = `=_herald_${message.messageId.replace(/[^0-9A-Za-z]/g, '').slice(0, 40)}`;
  const fields = [
    fold('From', mailbox(message.from)),
    fold('To', address(message.to)),
    ...(message.replyTo ? [fold('Reply-To', address(message.replyTo))] : []),
    headerText('Subject', message.subject),
    `Date: ${rfc5322Date(message.date ?? new Date())}`,
    `Message-ID: ${message.messageId}`,
    ...(message.headers ?? []).map(([name, value]) => fold(name, value)),
    'MIME-Version: 1.0',
    `Content-Type: multipart/alternative; boundary="${boundary}"`,
  ];
  const body = bytesOf([...part('text/plain', message.text, boundary), ...part('text/html', message.html, boundary), `--${boundary}--\r\n`]);
  return { messageId: message.messageId, fields, body: markCrlfOnly(body) };
}

/**
 * The message's bytes as two chunks: header fields (`before` first, e.g. a DKIM-Signature) with
 * the blank line, then the body. Each is marked CRLF-only for the SMTP data stream (smtp-wire.ts)
 * when it is: the body always is; a header value with a bare CR or LF (none of Herald's should
 * have one) leaves the header to nodemailer's own line-end repair.
 */
export function wireChunks(email: BuiltEmail, before?: string): [head: Buffer, body: Buffer] {
  const head = `${(before ? [before, ...email.fields] : email.fields).join('\r\n')}\r\n\r\n`;
  const bytes = Buffer.from(head, 'latin1');
  return [BARE_LINE_END.test(head) ? bytes : markCrlfOnly(bytes), email.body];
}

/** The message's bytes in one buffer (see wireChunks()). */
export function raw(email: BuiltEmail, before?: string): Buffer {
  const [head, body] = wireChunks(email, before);
  const bytes = Buffer.concat([head, body]);
  return isCrlfOnly(head) ? markCrlfOnly(bytes) : bytes;
}

const BARE_LINE_END = /\r(?!\n)|(?<!\r)\n/;

const MAX_LINE = 998;
const BASE64_LINE = 76;

/** ASCII text written as it is, or base64 text to be written in lines of 76. */
type Piece = string | { base64: string };

/** A body part: its boundary line and header, then its content, 7bit or base64, and a CRLF. */
function part(type: string, content: string | Buffer, boundary: string): Piece[] {
  // Bytes that are not ASCII go as base64 whatever their lines; ASCII ones are checked as text.
  const bytes = typeof content === 'string' ? null : content;
  const text = bytes === null ? (content as string) : isAscii(bytes) ? bytes.toString('latin1') : null;
  const plain = text === null ? null : sevenBit(text, boundary);
  const header = `--${boundary}\r\nContent-Type: ${type}; charset=utf-8\r\nContent-Transfer-Encoding: ${plain === null ? 'base64' : '7bit'}\r\n\r\n`;
  return [header, plain ?? { base64: (bytes ?? utf8(content as string)).toString('base64') }, '\r\n'];
}

/** The pieces in one buffer, taken from the kept bodies (see releaseBody). */
function bytesOf(pieces: Piece[]): Buffer {
  const size = pieces.reduce((sum, piece) => sum + (typeof piece === 'string' ? piece.length : linedLength(piece.base64.length)), 0);
  const out = takeBody(size);
  let at = 0;
  for (const piece of pieces) at = typeof piece === 'string' ? at + out.write(piece, at, 'latin1') : writeBase64Lines(out, at, piece.base64);
  return out;
}

const linedLength = (length: number) => (length === 0 ? 0 : length + 2 * (Math.ceil(length / BASE64_LINE) - 1));

/**
 * Writes base64 text at `at` in lines of 76 joined by CRLF; answers where it ends. The text goes
 * to the end of its place, then each line moves forward to its own (never over text not yet moved).
 */
function writeBase64Lines(out: Buffer, at: number, encoded: string): number {
  const end = at + linedLength(encoded.length);
  const start = end - encoded.length;
  out.write(encoded, start, 'latin1');
  const lines = Math.ceil(encoded.length / BASE64_LINE);
  for (let line = 0; line < lines; line++) {
    const to = at + line * (BASE64_LINE + 2);
    const from = start + line * BASE64_LINE;
    out.copyWithin(to, from, Math.min(from + BASE64_LINE, end));
    if (line < lines - 1) {
      out[to + BASE64_LINE] = 0x0d;
      out[to + BASE64_LINE + 1] = 0x0a;
    }
  }
  return end;
}

/**
 * The content with CRLF line ends when it may go unencoded (ASCII without NUL, lines of at most
 * 998 octets, the boundary nowhere in it), else null.
 */
function sevenBit(content: string, boundary: string): string | null {
  // eslint-disable-next-line no-control-regex
  if (/[^\x01-\x7f]/.test(content) || content.includes(boundary)) return null;
  const normalised = content.includes('\r') ? content.replace(/\r\n?|\n/g, '\r\n') : content.replaceAll('\n', '\r\n');
  for (let start = 0; start < normalised.length; ) {
    const end = normalised.indexOf('\r\n', start);
    if ((end === -1 ? normalised.length : end) - start > MAX_LINE) return null;
    if (end === -1) break;
    start = end + 2;
  }
  return normalised;
}

const encoder = new TextEncoder();
let scratch = Buffer.allocUnsafe(256 * 1024);

/**
 * The content's UTF-8, valid until the next call: TextEncoder.encodeInto into a buffer kept for
 * it took a quarter of the time of Buffer.from(content, 'utf8') for a 53 KB newsletter (Node 20).
 */
function utf8(content: string): Buffer {
  // Three bytes at most for each UTF-16 unit (a surrogate pair, two units, encodes to four).
  if (content.length * 3 > scratch.length) {
    if (content.length * 3 > MAX_SCRATCH) return Buffer.from(content, 'utf8');
    scratch = Buffer.allocUnsafe(content.length * 3);
  }
  const { written } = encoder.encodeInto(content, scratch);
  return scratch.subarray(0, written);
}

const MAX_SCRATCH = 4 * 1024 * 1024;

/** A header field with free text (Subject): folded as it is when plain ASCII, else as encoded words. */
function headerText(name: string, value: string): string {
  // A text that looks like an encoded word is encoded, so a reader shows it as written.
  // eslint-disable-next-line no-control-regex
  if (/[^\x20-\x7e]|=\?/.test(value) || value.split(' ').some((word) => word.length > MAX_LINE - 100)) return `${name}: ${encodedWords(value)}`;
  return fold(name, value);
}

/** `Name <address>`, the name as an atom, a quoted string or encoded words as it needs. */
function mailbox({ name, address: email }: MailAddress): string {
  if (!name) return address(email);
  // eslint-disable-next-line no-control-regex
  if (/[^\x20-\x7e]|=\?/.test(name)) return `${encodedWords(name)} <${address(email)}>`;
  if (/^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]+$/.test(name)) return `${name} <${address(email)}>`;
  return `"${name.replace(/(["\\])/g, '\\$1')}" <${address(email)}>`;
}

/** An address with its domain in ASCII (IDNA); its local part as given. */
function address(email: string): string {
  const at = email.lastIndexOf('@');
  const domain = email.slice(at + 1);
  // eslint-disable-next-line no-control-regex
  if (at === -1 || !/[^\x00-\x7f]/.test(domain)) return email;
  return `${email.slice(0, at)}@${domainToASCII(domain) || domain}`;
}

// `=?UTF-8?B?` + `?=` around at most 60 base64 characters (45 bytes): 72, within RFC 2047's 75.
const WORD_BYTES = 45;

/** RFC 2047 B-encoded words, split between characters, one per folded line. */
function encodedWords(text: string): string {
  const words: string[] = [];
  let chunk = '';
  let bytes = 0;
  for (const character of text) {
    const size = Buffer.byteLength(character);
    if (bytes + size > WORD_BYTES) {
      words.push(chunk);
      chunk = '';
      bytes = 0;
    }
    chunk += character;
    bytes += size;
  }
  if (chunk || words.length === 0) words.push(chunk);
  return words.map((word) => `=?UTF-8?B?${Buffer.from(word, 'utf8').toString('base64')}?=`).join('\r\n ');
}

const FOLD_AT = 78;

/** `Name: value`, folded before spaces so that lines keep to 78 characters where the words allow. */
function fold(name: string, value: string): string {
  const line = `${name}: ${value}`;
  if (line.length <= FOLD_AT) return line;
  const words = value.split(' ');
  let folded = `${name}:`;
  let length = folded.length;
  for (const word of words) {
    if (length + 1 + word.length > FOLD_AT && length > name.length + 1) {
      folded += `\r\n ${word}`;
      length = 1 + word.length;
    } else {
      folded += ` ${word}`;
      length += 1 + word.length;
    }
  }
  return folded;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (value: number) => String(value).padStart(2, '0');

/** `Tue, 01 Dec 2026 22:49:54 +0000`. */
function rfc5322Date(date: Date): string {
  const time = `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}`;
  return `${DAYS[date.getUTCDay()]}, ${two(date.getUTCDate())} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()} ${time} +0000`;
}

/**
 * Message bodies are reused: a newsletter's ~90 KB, allocated for every recipient and freed only
 * when the garbage collector finds its Buffer (often promoted while the message waited for its
 * connection), kept tens of MB of dead bodies in Herald's memory and made V8 collect the whole
 * heap for their sake. A sent message's body goes back to this list (releaseBody) for the next.
 */
const BODY_STEP = 16 * 1024;
const MAX_KEPT_BODY = 1024 * 1024;
const KEPT_BODIES = 64;
const keptBodies: Buffer[] = [];
/** Each pooled body (a view) and the whole buffer it is a view of. */
const bodyBuffers = new WeakMap<Buffer, Buffer>();
/** What a released email's body becomes: sending it again is a bug, and fails. */
const RELEASED = Buffer.alloc(0);

function takeBody(size: number): Buffer {
  if (size > MAX_KEPT_BODY) return Buffer.allocUnsafe(size);
  const kept = keptBodies.findIndex((buffer) => buffer.length >= size);
  const whole = kept === -1 ? Buffer.allocUnsafeSlow(Math.ceil(size / BODY_STEP) * BODY_STEP) : keptBodies.splice(kept, 1)[0]!;
  const body = whole.subarray(0, size);
  bodyBuffers.set(body, whole);
  return body;
}

/**
 * Gives a sent email's body back for reuse. Call only once nothing reads it any more: after the
 * mail server accepted or refused the whole message (its bytes were all written by then).
 */
export function releaseBody(email: BuiltEmail): void {
  const whole = bodyBuffers.get(email.body);
  const giveBack = bodyOwners.get(email.body);
  bodyBuffers.delete(email.body);
  bodyOwners.delete(email.body);
  email.body = RELEASED;
  if (giveBack) return giveBack();
  if (whole) keepBody(whole);
}

/** Keeps a body's whole buffer for the next message built on this thread (see releaseBody). */
export function keepBody(whole: Buffer): void {
  if (keptBodies.length < KEPT_BODIES && whole.length <= MAX_KEPT_BODY) keptBodies.push(whole);
}

/** Bodies built on another thread, and how each goes back there once released. */
const bodyOwners = new WeakMap<Buffer, () => void>();

/** A body another thread built (its CRLF-only bytes), to be given back with `giveBack` once released. */
export function adoptBody(body: Buffer, giveBack: () => void): Buffer {
  bodyOwners.set(body, giveBack);
  return markCrlfOnly(body);
}

/** The whole buffer a body was taken from (for another thread to keep it, see keepBody), or itself. */
export const wholeOf = (body: Buffer): Buffer => bodyBuffers.get(body) ?? body;

export const isReleased = (email: BuiltEmail): boolean => email.body === RELEASED;
