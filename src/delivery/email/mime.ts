import { domainToASCII } from 'node:url';
import { markCrlfOnly } from './smtp-wire.ts';

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
  html: string;
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
}

/** The header fields and MIME body of a message (see raw() for the bytes to send). */
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
  const body = Buffer.concat([...part('text/plain', message.text, boundary), ...part('text/html', message.html, boundary), Buffer.from(`--${boundary}--\r\n`)]);
  return { messageId: message.messageId, fields, body };
}

/**
 * The message's bytes: header fields (`before` first, e.g. a DKIM-Signature), a blank line, the
 * body. Marked CRLF-only for the SMTP data stream (smtp-wire.ts) when they are: the body always
 * is; a header value with a bare CR or LF (none of Herald's should have one) leaves the bytes to
 * nodemailer's own line-end repair.
 */
export function raw(email: BuiltEmail, before?: string): Buffer {
  const head = (before ? [before, ...email.fields] : email.fields).join('\r\n');
  const bytes = Buffer.concat([Buffer.from(`${head}\r\n\r\n`, 'latin1'), email.body]);
  return BARE_LINE_END.test(head) ? bytes : markCrlfOnly(bytes);
}

const BARE_LINE_END = /\r(?!\n)|(?<!\r)\n/;

const MAX_LINE = 998;
const BASE64_LINE = 76;

const CRLF = Buffer.from('\r\n');

/** A body part's bytes: its boundary line and header, then its content, 7bit or base64, and a CRLF. */
function part(type: string, content: string, boundary: string): Buffer[] {
  const plain = sevenBit(content, boundary);
  const encoding = plain === null ? 'base64' : '7bit';
  const encoded = plain === null ? base64Lines(content) : Buffer.from(plain, 'latin1');
  return [Buffer.from(`--${boundary}\r\nContent-Type: ${type}; charset=utf-8\r\nContent-Transfer-Encoding: ${encoding}\r\n\r\n`), encoded, CRLF];
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

/**
 * The content's UTF-8 in base64, lines of 76 joined by CRLF. Written into one buffer: the encoded
 * text goes to its end, then each line moves forward to its place (never over text not yet moved).
 */
function base64Lines(content: string): Buffer {
  const encoded = Buffer.from(content, 'utf8').toString('base64');
  if (encoded.length === 0) return Buffer.alloc(0);
  const lines = Math.ceil(encoded.length / BASE64_LINE);
  const out = Buffer.allocUnsafe(encoded.length + 2 * (lines - 1));
  const start = out.length - encoded.length;
  out.write(encoded, start, 'latin1');
  for (let line = 0; line < lines; line++) {
    const to = line * (BASE64_LINE + 2);
    const from = start + line * BASE64_LINE;
    out.copyWithin(to, from, Math.min(from + BASE64_LINE, out.length));
    if (line < lines - 1) {
      out[to + BASE64_LINE] = 0x0d;
      out[to + BASE64_LINE + 1] = 0x0a;
    }
  }
  return out;
}

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
