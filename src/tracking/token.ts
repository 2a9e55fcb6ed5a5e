import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The token a push payload carries: the ledger row's id and a MAC over it, keyed per workspace
 * (derived from the workspace's VAPID private key, which never leaves the server). Unguessable,
 * and a token of one workspace is worthless in another.
 */
export function signToken(messageId: string, workspaceSecret: string): string {
  const id = Buffer.from(messageId.replaceAll('-', ''), 'hex');
  return `${id.toString('base64url')}.${mac(id, workspaceSecret).toString('base64url')}`;
}

/** The message id a token names, before its MAC is checked (that needs the row's workspace). */
export function tokenMessageId(token: string): string | null {
  const match = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{22})$/.exec(token);
  if (!match) return null;
  const hex = Buffer.from(match[1]!, 'base64url').toString('hex');
  return hex.length === 32 ? `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}` : null;
}

export function verifyToken(token: string, messageId: string, workspaceSecret: string): boolean {
  const [, given] = token.split('.');
  if (!given) return false;
  const expected = mac(Buffer.from(messageId.replaceAll('-', ''), 'hex'), workspaceSecret);
  const actual = Buffer.from(given, 'base64url');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** Derived keys by workspace secret: a send signs one token per message with the same key. */
const keys = new Map<string, Buffer>();

function mac(id: Buffer, workspaceSecret: string): Buffer {
  let key = keys.get(workspaceSecret);
  if (!key) {
    key = createHmac('sha256', workspaceSecret).update('herald/tracking-token').digest();
    keys.set(workspaceSecret, key);
  }
  return createHmac('sha256', key).update(id).digest().subarray(0, 16);
}
