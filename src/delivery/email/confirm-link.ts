import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The double opt-in link: `GET {publicUrl}/e/confirm/<token>` shows a Confirm button, `POST`
 * confirms. The token names the contact and when the confirmation was asked for, and its MAC
 * (the workspace's tracking secret) covers the address too. The address itself stays out of the
 * link; it is read from the contact, so a link for an address the contact no longer has does not
 * verify. A link works for CONFIRM_LINK_TTL_MS after the request.
 */
export const CONFIRM_PATH = '/e/confirm/';
export const CONFIRM_LINK_TTL_MS = 7 * 24 * 3600_000;

export interface ConfirmationClaim {
  contactId: string;
  /** When the opt-in asked for confirmation (the database's time, to the millisecond). */
  requestedAt: Date;
}

const TOKEN = /^([A-Za-z0-9_-]{30})\.([A-Za-z0-9_-]{22})$/;

export function confirmUrl(publicUrl: string, token: string): string {
  return `${publicUrl}${CONFIRM_PATH}${token}`;
}

/** `<contact id (16 bytes) + requestedAt in ms (6 bytes)>.<MAC over those and the address>`, base64url. */
export function signConfirmationToken(claim: ConfirmationClaim & { email: string }, trackingSecret: string): string {
  const body = Buffer.alloc(22);
  Buffer.from(claim.contactId.replaceAll('-', ''), 'hex').copy(body);
  body.writeUIntBE(claim.requestedAt.getTime(), 16, 6);
  return `${body.toString('base64url')}.${mac(body, claim.email, trackingSecret).toString('base64url')}`;
}

/** What a token names, before its MAC is checked (that needs the contact's address and workspace). */
export function readConfirmationToken(token: string): ConfirmationClaim | null {
  const match = TOKEN.exec(token);
  if (!match) return null;
  const body = Buffer.from(match[1]!, 'base64url');
  if (body.length !== 22) return null;
  const hex = body.subarray(0, 16).toString('hex');
  return {
    contactId: `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`,
    requestedAt: new Date(body.readUIntBE(16, 6)),
  };
}

/** True when the token was signed for this address under this secret. */
export function verifyConfirmationToken(token: string, email: string, trackingSecret: string): boolean {
  const match = TOKEN.exec(token);
  if (!match) return false;
  const expected = mac(Buffer.from(match[1]!, 'base64url'), email, trackingSecret);
  const given = Buffer.from(match[2]!, 'base64url');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function mac(body: Buffer, email: string, trackingSecret: string): Buffer {
  return createHmac('sha256', trackingSecret).update('herald/email-confirm\0').update(body).update('\0').update(email).digest().subarray(0, 16);
}
