import { createHmac, timingSafeEqual } from 'node:crypto';
import { withMessageToken } from '../short-links.ts';

/**
 * The addresses an email carries back to Herald, all built on the message's tracking token
 * (tokens.ts: the ledger id and a MAC under the workspace's tracking secret):
 *  - the open pixel       GET  /e/o/<token>.gif
 *  - a tracked link       GET  /e/c/<token>?u=<target>&s=<MAC over token and target>
 *  - unsubscribe          GET  /e/u/<token> (a confirmation page), POST (RFC 8058 one-click)
 *  - Message-ID           <<message id>@<domain>>: a resend after a crash is the same message
 *  - Return-Path (VERP)   bounces+<id><MAC>@<domain>: an asynchronous bounce names its message
 * A click's target is signed, so a link under Herald's host cannot be made to redirect anywhere.
 */

export const EMAIL_PATHS = { open: '/e/o/', click: '/e/c/', unsubscribe: '/e/u/' } as const;

export function openPixelUrl(publicUrl: string, token: string): string {
  return `${publicUrl}${EMAIL_PATHS.open}${token}.gif`;
}

export function clickUrl(publicUrl: string, token: string, target: string, trackingSecret: string): string {
  const query = new URLSearchParams({ u: target, s: linkSignature(token, target, trackingSecret) });
  return `${publicUrl}${EMAIL_PATHS.click}${token}?${query}`;
}

/** Web links are tracked; the unsubscribe link, mailto:, tel:, #anchors and links marked `data-herald-track="false"` are not. */
export function isTracked(href: string, unsubscribe: string, optedOut: boolean): boolean {
  return !optedOut && /^https?:\/\//i.test(href) && !href.startsWith(unsubscribe) && URL.canParse(href);
}

/** A tracked link's new target: Herald's signed click redirect (a link to one of Herald's smart links carries the token too, so its click names the contact). */
export function trackedTarget(href: string, links: { publicUrl: string; token: string; trackingSecret: string }): string {
  return clickUrl(links.publicUrl, links.token, withMessageToken(href, links.publicUrl, links.token), links.trackingSecret);
}

/** True when `signature` is the one clickUrl gave this token and target. */
export function verifyLinkSignature(token: string, target: string, signature: string, trackingSecret: string): boolean {
  const expected = Buffer.from(linkSignature(token, target, trackingSecret), 'base64url');
  const given = Buffer.from(signature, 'base64url');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function linkSignature(token: string, target: string, trackingSecret: string): string {
  return createHmac('sha256', trackingSecret).update('herald/email-link\0').update(token).update('\0').update(target).digest().subarray(0, 16).toString('base64url');
}

export function unsubscribeUrl(publicUrl: string, token: string): string {
  return `${publicUrl}${EMAIL_PATHS.unsubscribe}${token}`;
}

/** The Message-ID header of a ledger row's email. */
export function messageIdHeader(messageId: string, domain: string): string {
  return `<${messageId}@${domain}>`;
}

/** The ledger id a Message-ID (or In-Reply-To, References entry) of Herald's names, or null. */
export function messageIdFromHeader(header: string): string | null {
  const match = /<?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})@[^>\s]+>?/i.exec(header);
  return match ? match[1]!.toLowerCase() : null;
}

/**
 * The envelope sender (Return-Path): bounces come back to an address that names the message,
 * `bounces+<id><MAC>@domain` in lowercase hex (mail systems may change the case of a local part).
 */
export function verpAddress(messageId: string, trackingSecret: string, domain: string): string {
  const id = messageId.replaceAll('-', '').toLowerCase();
  return `bounces+${id}${verpMac(id, trackingSecret)}@${domain}`;
}

/** The ledger id a VERP address names, before its MAC is checked (verifyVerp, with the row's workspace secret). */
export function messageIdFromVerp(address: string): string | null {
  const match = /bounces\+([0-9a-f]{32})[0-9a-f]{32}@/i.exec(address);
  if (!match) return null;
  const hex = match[1]!.toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function verifyVerp(address: string, trackingSecret: string): boolean {
  const match = /bounces\+([0-9a-f]{32})([0-9a-f]{32})@/i.exec(address);
  if (!match) return false;
  const expected = Buffer.from(verpMac(match[1]!.toLowerCase(), trackingSecret), 'hex');
  const given = Buffer.from(match[2]!.toLowerCase(), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function verpMac(hexId: string, trackingSecret: string): string {
  return createHmac('sha256', trackingSecret).update('herald/verp\0').update(hexId).digest().subarray(0, 16).toString('hex');
}
