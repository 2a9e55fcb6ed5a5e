import type { Prisma } from '../db/prisma.ts';
import type { Contact } from '../generated/prisma/client.ts';
import { mergeStatus } from './channel-status.ts';

/**
 * What the identified contact (`known`) becomes when the anonymous visitor's contact joins it: the
 * known contact's values win and the visitor's fill its gaps (its email, name, locale …); tags are
 * united; attributes merged with the identified values winning over the visitor's, and the call's
 * own `attributes` over both (a page's only fill gaps). Each channel keeps the status of the address
 * it ends up with (see mergeStatus). The anonymous row must be gone first: its email moves here.
 */
export function mergedContact(known: Contact, anonymous: Contact, attributes: Record<string, unknown> | undefined, fillOnly: boolean) {
  const email = known.email ?? anonymous.email;
  const phone = known.phone ?? anonymous.phone;
  const emailStatus = mergeStatus(
    { address: known.email, status: known.emailStatus, at: known.emailStatusAt, source: known.emailStatusSource },
    { address: anonymous.email, status: anonymous.emailStatus, at: anonymous.emailStatusAt, source: anonymous.emailStatusSource },
    email,
  );
  const smsStatus = mergeStatus(
    { address: known.phone, status: known.smsStatus, at: known.smsStatusAt, source: known.smsStatusSource },
    { address: anonymous.phone, status: anonymous.smsStatus, at: anonymous.smsStatusAt, source: anonymous.smsStatusSource },
    phone,
  );
  return {
    // The browser's current anonymous id now leads to the person, so the SDK keeps finding them.
    anonymousId: anonymous.anonymousId,
    attributes: (fillOnly
      ? { ...(anonymous.attributes as object), ...attributes, ...(known.attributes as object) }
      : { ...(anonymous.attributes as object), ...(known.attributes as object), ...attributes }) as Prisma.InputJsonObject,
    tags: [...new Set([...known.tags, ...anonymous.tags])],
    email,
    phone,
    firstName: known.firstName ?? anonymous.firstName,
    lastName: known.lastName ?? anonymous.lastName,
    locale: known.locale ?? anonymous.locale,
    timezone: known.timezone ?? anonymous.timezone,
    emailStatus: emailStatus.status,
    emailStatusAt: emailStatus.at,
    emailStatusSource: emailStatus.source,
    smsStatus: smsStatus.status,
    smsStatusAt: smsStatus.at,
    smsStatusSource: smsStatus.source,
    consentedAt: earliest(known.consentedAt, anonymous.consentedAt),
    lastSeenAt: latest(known.lastSeenAt, anonymous.lastSeenAt),
  } satisfies Prisma.ContactUpdateInput;
}

function earliest(a: Date | null, b: Date | null): Date | null {
  return a && b ? (a < b ? a : b) : (a ?? b);
}
function latest(a: Date | null, b: Date | null): Date | null {
  return a && b ? (a > b ? a : b) : (a ?? b);
}
