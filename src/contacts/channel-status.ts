import { Prisma } from '../db/prisma.ts';
import type { ChannelStatus } from '../generated/prisma/enums.ts';
import type { Writer } from './identity.ts';

/**
 * A contact's consent and deliverability on email and SMS, one status per channel with the time
 * it began and who set it. The rules, in one place:
 * - `emailOptIn` / `smsOptIn`: true → SUBSCRIBED, false → UNSUBSCRIBED; absent leaves the status.
 *   Under the workspace's double opt-in, an email opt-in leaves the status and mails a link whose
 *   confirmation subscribes (source 'double-opt-in'; contacts/email-confirmation.ts).
 * - BOUNCED and COMPLAINED are facts about the address (it cannot receive, or its owner reported
 *   spam): no opt-in or opt-out replaces them, so neither re-subscribes a dead address nor makes it
 *   look deliverable again. Only a new address starts over.
 * - A new address (the email or phone changes, also from none) resets the status to NONE, or to
 *   what the same input's opt-in says: consent given for one address is not consent for another.
 *   Likewise a late bounce, complaint or unsubscribe about an email sent to the old address leaves
 *   the new one alone (Message.sentTo, tracking/email.ts moveContactStatus).
 * - An opt-in sent with an address applies to that address only: when the address is not stored
 *   (a page only fills gaps, see applyContacts' fillOnly), its opt-in is ignored too.
 * - The time and source change only when the status does (or starts over for a new address).
 */
export type StatusSource = 'api' | 'page' | 'double-opt-in' | 'unsubscribe-link' | 'unsubscribe-mail' | 'bounce' | 'complaint' | 'sms-stop' | 'sms-start';

export const sourceOf = (writer: Writer): StatusSource => (writer === 'page' ? 'page' : 'api');

/** The status an opt-in asks for; undefined leaves the status as it is. */
export function optInStatus(optIn: boolean | undefined): ChannelStatus | undefined {
  return optIn === undefined ? undefined : optIn ? 'SUBSCRIBED' : 'UNSUBSCRIBED';
}

/** Each channel's status columns and the address column they are about. */
export const CHANNEL_COLUMNS = [
  { status: 'emailStatus', at: 'emailStatusAt', source: 'emailStatusSource', address: 'email' },
  { status: 'smsStatus', at: 'smsStatusAt', source: 'smsStatusSource', address: 'phone' },
] as const;

const quoted = (column: string) => Prisma.raw(`"${column}"`);

/** INSERT values for a new contact: the opt-in's status (r."emailStatus", …) or NONE, stamped when given. */
export function insertStatusSql(source: StatusSource): Prisma.Sql {
  return Prisma.join(
    CHANNEL_COLUMNS.map(({ status }) => {
      const given = Prisma.sql`r.${quoted(status)}`;
      return Prisma.sql`COALESCE(${given}, 'NONE')::"ChannelStatus", CASE WHEN ${given} IS NOT NULL THEN now() END,
        CASE WHEN ${given} IS NOT NULL THEN ${source} END`;
    }),
  );
}

/** The INSERT's column list matching insertStatusSql. */
export const statusColumnsSql = Prisma.raw(CHANNEL_COLUMNS.map(({ status, at, source }) => `"${status}", "${at}", "${source}"`).join(', '));

/**
 * UPDATE assignments for "Contact" c from an input row r (r."emailStatus" is the opt-in's status,
 * r.email the address sent with it). `newAddress(column)` is the address the same UPDATE stores.
 */
export function updateStatusSql(source: StatusSource, newAddress: (column: 'email' | 'phone') => Prisma.Sql): Prisma.Sql {
  return Prisma.join(
    CHANNEL_COLUMNS.map((columns) => {
      const [status, at, from, address] = [quoted(columns.status), quoted(columns.at), quoted(columns.source), quoted(columns.address)];
      const stored = newAddress(columns.address);
      const changed = Prisma.sql`(${stored}) IS DISTINCT FROM c.${address}`;
      const applies = Prisma.sql`(r.${status} IS NOT NULL AND (r.${address} IS NULL OR r.${address} = (${stored})))`;
      const next = Prisma.sql`(CASE
        WHEN ${changed} THEN COALESCE(CASE WHEN ${applies} THEN r.${status} END, 'NONE')
        WHEN ${applies} AND c.${status} NOT IN ('BOUNCED', 'COMPLAINED') THEN r.${status}
        ELSE c.${status}::text END)::"ChannelStatus"`;
      const stamp = Prisma.sql`(${next} IS DISTINCT FROM c.${status} OR (${changed} AND ${applies}))`;
      return Prisma.sql`${status} = ${next},
        ${at} = CASE WHEN ${stamp} THEN now() ELSE c.${at} END,
        ${from} = CASE WHEN ${stamp} THEN ${source} ELSE c.${from} END`;
    }),
  );
}

export interface StatusRecord {
  status: ChannelStatus;
  at: Date | null;
  source: string | null;
}

/** The stronger status wins a merge: a complaint, a bounce or an opt-out outweighs an opt-in, which outweighs nothing. */
const STRENGTH: Record<ChannelStatus, number> = { NONE: 0, SUBSCRIBED: 1, UNSUBSCRIBED: 2, BOUNCED: 3, COMPLAINED: 4 };

/**
 * Two contacts of one person become one (identify): the status of the address the merged contact
 * keeps. A side whose status is about another address has nothing to say about this one; of the
 * others the stronger status wins (an opt-out from the anonymous side beats the known side's
 * opt-in, and the other way round), and on a tie the kept contact's record stays.
 */
export function mergeStatus(
  kept: StatusRecord & { address: string | null },
  joining: StatusRecord & { address: string | null },
  address: string | null,
): StatusRecord {
  const about = (side: { address: string | null }) => side.address === null || side.address === address;
  const candidates = [kept, joining].filter(about);
  const winner = candidates.reduce<(typeof candidates)[number] | undefined>(
    (best, side) => (!best || STRENGTH[side.status] > STRENGTH[best.status] ? side : best),
    undefined,
  );
  return winner ? { status: winner.status, at: winner.at, source: winner.source } : { status: 'NONE', at: null, source: null };
}
