import type { Prisma } from '../db/prisma.ts';
import type { Herald } from '../herald-context.ts';
import { emailSettingsOf } from '../workspaces/email-settings.ts';
import type { StatusSource } from './channel-status.ts';

/**
 * Double opt-in (the workspace's `email.doubleOptIn`): an email opt-in is not consent until the
 * address's owner confirms it through a link mailed to that address. Here, the contacts' side:
 * - With the setting on, `emailOptIn: true` leaves the email status as it is (a new address
 *   still starts over at NONE) and asks for a confirmation email, unless the contact is already
 *   SUBSCRIBED, BOUNCED or COMPLAINED (applyContacts). `emailOptIn: false` unsubscribes at once.
 * - At most one confirmation email per contact and address in REQUEST_WINDOW: the request is a
 *   row written in the opt-in's own transaction, so a form sent twice (or two at once) mails once.
 *   Another address, or the same one after the window, asks again.
 * - After the transaction commits, a job by name (CONFIRM_OPT_IN_JOB, defined by the email
 *   channel in src/delivery/email/confirm.ts) sends the mail; its link confirms (confirmEmailOptIn).
 */
export const CONFIRM_OPT_IN_JOB = 'email:confirm-opt-in';
export const REQUEST_WINDOW = '10 minutes';

/** A confirmation email to send: the contact, the address it confirms, and when it was asked for. */
export interface ConfirmationRequest {
  contactId: string;
  email: string;
  requestedAt: Date;
}

/** Whether the workspace asks for confirmation, read only when some row opts in to email. */
export async function doubleOptInFor(herald: Herald, workspaceId: string, rows: readonly ({ emailOptIn?: boolean | undefined } | null)[]): Promise<boolean> {
  if (!rows.some((row) => row?.emailOptIn === true)) return false;
  const workspace = await herald.prisma.workspace.findUnique({ where: { id: workspaceId }, select: { emailSettings: true } });
  return workspace ? emailSettingsOf(workspace).doubleOptIn === true : false;
}

/**
 * Records a confirmation request for each opting-in contact whose address is stored (the row's
 * own address, or the contact's when the row gave none) and not already SUBSCRIBED, BOUNCED or
 * COMPLAINED. Answers the requests that need a mail: new ones, another address, past the window,
 * or after the status changed since the last request (an opt-out, then a new opt-in).
 */
export async function recordConfirmationRequests(
  tx: Prisma.TransactionClient,
  workspaceId: string,
  rows: { contactId: string; email: string | null | undefined }[],
): Promise<ConfirmationRequest[]> {
  if (!rows.length) return [];
  // A request the status has moved on from (its link no longer confirms) holds no window.
  await tx.$executeRaw`
    DELETE FROM "EmailConfirmation" e USING "Contact" c
    WHERE e."contactId" = ANY(${rows.map((row) => row.contactId)}::uuid[]) AND c.id = e."contactId"
      AND c."emailStatus" IN ('NONE', 'UNSUBSCRIBED') AND c."emailStatusAt" > e."requestedAt"`;
  return tx.$queryRaw<ConfirmationRequest[]>`
    INSERT INTO "EmailConfirmation" ("contactId", email, "requestedAt")
    SELECT c.id, c.email, now()
    FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS r("contactId" uuid, email text)
    JOIN "Contact" c ON c.id = r."contactId" AND c."workspaceId" = ${workspaceId}::uuid
    WHERE c.email IS NOT NULL AND (r.email IS NULL OR r.email = c.email)
      AND c."emailStatus" NOT IN ('SUBSCRIBED', 'BOUNCED', 'COMPLAINED')
    ON CONFLICT ("contactId") DO UPDATE SET email = excluded.email, "requestedAt" = excluded."requestedAt", "sentAt" = NULL
      WHERE "EmailConfirmation".email IS DISTINCT FROM excluded.email
         OR "EmailConfirmation"."requestedAt" < now() - ${REQUEST_WINDOW}::interval
    RETURNING "contactId"::text AS "contactId", email, "requestedAt"`;
}

/**
 * Queues the confirmation emails of committed requests. A request whose job could not be queued
 * is forgotten, so the person's next try mails at once instead of waiting out the window.
 */
export async function queueConfirmations(herald: Herald, requests: readonly ConfirmationRequest[]): Promise<void> {
  for (let start = 0; start < requests.length; start += 16) {
    await Promise.all(
      requests.slice(start, start + 16).map((request) =>
        herald.agenda.now(CONFIRM_OPT_IN_JOB, request).catch(async (error: unknown) => {
          herald.log.error({ err: error, contactId: request.contactId }, 'could not queue a confirmation email; the next opt-in asks again');
          await forgetConfirmationRequest(herald, request).catch(() => {});
        }),
      ),
    );
  }
}

/** Drops a request not (yet) sent, so the next opt-in for the address asks again at once. */
export async function forgetConfirmationRequest(herald: Herald, request: ConfirmationRequest): Promise<void> {
  await herald.prisma.$executeRaw`
    DELETE FROM "EmailConfirmation"
    WHERE "contactId" = ${request.contactId}::uuid AND email = ${request.email} AND "requestedAt" = ${request.requestedAt} AND "sentAt" IS NULL`;
}

/** The contact a request's id names now: itself, or the customer identify merged it into since. */
export async function currentContactId(herald: Herald, contactId: string): Promise<string> {
  const [merged] = await herald.prisma.$queryRaw<{ contactId: string }[]>`
    SELECT "contactId"::text AS "contactId" FROM "MergedContact" WHERE id = ${contactId}::uuid`;
  return merged?.contactId ?? contactId;
}

const CONFIRMED_BY: StatusSource = 'double-opt-in';

export type ConfirmOutcome = 'confirmed' | 'already-subscribed' | 'refused' | 'not-found';

/**
 * The link was confirmed: emailStatus SUBSCRIBED with source 'double-opt-in', if the contact still
 * has the address and its status has not changed since the request (`requestedAt`): an opt-out,
 * bounce or complaint recorded after the mail was asked for wins over the older request. One
 * conditional UPDATE, so confirming twice (or twice at once) subscribes once.
 */
export async function confirmEmailOptIn(herald: Herald, request: ConfirmationRequest): Promise<ConfirmOutcome> {
  const moved = await herald.prisma.$executeRaw`
    UPDATE "Contact" SET "emailStatus" = 'SUBSCRIBED', "emailStatusAt" = now(), "emailStatusSource" = ${CONFIRMED_BY}, "updatedAt" = now()
    WHERE id = ${request.contactId}::uuid AND email = ${request.email}
      AND "emailStatus" IN ('NONE', 'UNSUBSCRIBED')
      AND ("emailStatusAt" IS NULL OR "emailStatusAt" <= ${request.requestedAt})`;
  if (moved) return 'confirmed';
  const contact = await herald.prisma.contact.findUnique({ where: { id: request.contactId }, select: { email: true, emailStatus: true } });
  if (!contact || contact.email !== request.email) return 'not-found';
  return contact.emailStatus === 'SUBSCRIBED' ? 'already-subscribed' : 'refused';
}
