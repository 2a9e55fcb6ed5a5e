import type { Herald } from '../herald-context.ts';
import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The token a push payload carries: the ledger row's id and a MAC over it under the workspace's
 * tracking secret (a random key of its own, stored sealed; see src/workspaces/secrets.ts).
 * Unguessable, and a token of one workspace is worthless in another.
 */
export function signToken(messageId: string, trackingSecret: string): string {
  const id = Buffer.from(messageId.replaceAll('-', ''), 'hex');
  return `${id.toString('base64url')}.${mac(id, trackingSecret).toString('base64url')}`;
}

/**
 * The message id a token names, before its MAC is checked (that needs the row's workspace).
 * 16 bytes take 22 base64url characters, the last carrying 2 bits: only its canonical spellings
 * (A, Q, g, w) are accepted, so no two token strings name the same message with the same MAC.
 */
export function tokenMessageId(token: string): string | null {
  const match = /^([A-Za-z0-9_-]{21}[AQgw])\.([A-Za-z0-9_-]{21}[AQgw])$/.exec(token);
  if (!match) return null;
  const hex = Buffer.from(match[1]!, 'base64url').toString('hex');
  return hex.length === 32 ? `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}` : null;
}

export function verifyToken(token: string, messageId: string, trackingSecret: string): boolean {
  const [, given] = token.split('.');
  if (!given) return false;
  const expected = mac(Buffer.from(messageId.replaceAll('-', ''), 'hex'), trackingSecret);
  const actual = Buffer.from(given, 'base64url');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

function mac(id: Buffer, trackingSecret: string): Buffer {
  return createHmac('sha256', trackingSecret).update('herald/tracking-token\0').update(id).digest().subarray(0, 16);
}

/** Where service workers post `{ token, type }`: HERALD_PUBLIC_URL, else the address Herald listens on. */
export function trackUrlOf(herald: Pick<Herald, 'publicUrl'>): string {
  return `${herald.publicUrl}/track`;
}
