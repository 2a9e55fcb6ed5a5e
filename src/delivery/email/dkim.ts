import { createHash, type KeyObject, sign } from 'node:crypto';
import type { BuiltEmail } from './mime.ts';

/**
 * DKIM signing (RFC 6376: rsa-sha256, relaxed/relaxed) of the messages mime.ts builds. The RSA
 * signature runs on libuv's thread pool (crypto.sign with a callback), off the thread that
 * renders: with RSA-2048 it costs ~1 ms a message, which would otherwise halve the send rate.
 * Every header field Herald writes is signed, List-Unsubscribe and List-Unsubscribe-Post
 * included, as RFC 8058 asks for one-click unsubscribe to be trusted.
 */

export interface DkimKey {
  domain: string;
  selector: string;
  key: KeyObject;
}

/** The DKIM-Signature header field for the message, folded, without a final CRLF. */
export async function dkimSignature(email: BuiltEmail, dkim: DkimKey, now = new Date()): Promise<string> {
  const bodyHash = email.bodyHash ?? dkimBodyHash(email.body);
  const names = email.fields.map((field) => field.slice(0, field.indexOf(':')).toLowerCase());
  const tags = [
    'v=1',
    'a=rsa-sha256',
    'c=relaxed/relaxed',
    `d=${dkim.domain}`,
    `s=${dkim.selector}`,
    `t=${Math.floor(now.getTime() / 1000)}`,
    `h=${names.join(':')}`,
    `bh=${bodyHash}`,
  ];
  const unsigned = `DKIM-Signature: ${tags.join(';\r\n ')};\r\n b=`;
  const signed = `${email.fields.map(relaxedHeader).join('\r\n')}\r\n${relaxedHeader(unsigned)}`;
  const signature = await new Promise<Buffer>((resolve, reject) =>
    sign('sha256', Buffer.from(signed, 'latin1'), dkim.key, (error, result) => (error ? reject(error) : resolve(result))),
  );
  // Folding inside b= is allowed: verifiers drop its whitespace.
  return `${unsigned}${signature.toString('base64').replace(/.{1,72}/g, (line, at: number) => (at === 0 ? line : `\r\n ${line}`))}`;
}

/** The body hash (bh=) of a message's body, relaxed. */
export function dkimBodyHash(body: Buffer): string {
  return createHash('sha256').update(relaxedBody(body)).digest('base64');
}

/** Relaxed header canonicalisation: lowercase name, unfolded, runs of whitespace as one space, none at the ends. */
export function relaxedHeader(field: string): string {
  const colon = field.indexOf(':');
  const value = field
    .slice(colon + 1)
    .replace(/\r\n/g, '')
    .replace(/[ \t]+/g, ' ')
    .trim();
  return `${field.slice(0, colon).trim().toLowerCase()}:${value}`;
}

/**
 * Relaxed body canonicalisation: no whitespace at the end of a line, runs of it as one space, no
 * empty lines at the end. A body of base64 parts has none of it: the common case costs three
 * native scans and is hashed as it is.
 */
export function relaxedBody(body: Buffer): Buffer {
  const endsOneLine = body.length > 2 && body.subarray(-2).equals(CRLF) && !body.subarray(-4).equals(EMPTY_LINE_END);
  if (endsOneLine && !body.includes('\t') && !body.includes(' \r\n') && !body.includes('  ')) return body;
  return Buffer.from(relaxedBodyText(body.toString('latin1')), 'latin1');
}

const CRLF = Buffer.from('\r\n');
const EMPTY_LINE_END = Buffer.from('\r\n\r\n');

function relaxedBodyText(body: string): string {
  let canonical = /[ \t]\r\n|[ \t][ \t]|\t/.test(body) ? body.replace(/[ \t]+\r\n/g, '\r\n').replace(/[ \t]+/g, ' ') : body;
  let end = canonical.length;
  while (end >= 4 && canonical.startsWith('\r\n\r\n', end - 4)) end -= 2;
  if (end !== canonical.length) canonical = canonical.slice(0, end);
  if (canonical === '\r\n') return '';
  return canonical.length === 0 || canonical.endsWith('\r\n') ? canonical : `${canonical}\r\n`;
}
