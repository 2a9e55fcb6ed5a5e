import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { mustProveCustomers, verifyIdentities, type Writer } from '../../contacts/identity.ts';
import { identifier } from '../../contacts/validation.ts';
import { fromZodIssues } from '../../errors.ts';
import type { Herald } from '../../herald-context.ts';
import { secretFromRow } from '../../workspaces/secrets.ts';
import { signToken } from '../tokens.ts';
import type { RenderedInApp } from './content.ts';

/**
 * What the SDK reads with the publishable key: the on-site messages waiting for the visitor of
 * this browser, and nobody else's. A visitor is named by their anonymousId, or as a customer by
 * externalId with the identity token their site's server computed (unless the workspace turned
 * verification off). With verification on, an anonymousId reaches only a contact that is still
 * anonymous: a customer's messages need their token. Nothing is created: an unknown visitor has
 * no messages.
 */

export interface Visitor {
  anonymousId?: string | null;
  externalId?: string | null;
  identityToken?: string | null;
}

export type PendingInApp = RenderedInApp & { token: string; expiresAt: Date };

/** At most this many messages at once: the SDK shows them one after another. */
const MAX_PENDING = 10;
/** How long a read waits for messages a trigger of this page has just queued (they go out within ~100 ms). */
const TRIGGERED_WAIT_MS = 2_000;
const TRIGGERED_POLL_MS = 50;
/** A queued message younger than this may be the answer to the event the page just tracked. */
const JUST_QUEUED = '10 seconds';

const visitorInput = z
  .object({ anonymousId: identifier.nullish(), externalId: identifier.nullish(), identityToken: z.string().max(200).nullish() })
  .refine((visitor) => Boolean(visitor.anonymousId) !== Boolean(visitor.externalId), { message: 'give exactly one of anonymousId and externalId', path: ['anonymousId'] });

/** The visitor's pending messages, oldest first, each with the tracking token the SDK reports with. */
export async function pendingInApp(herald: Herald, workspaceId: string, given: Visitor, writer: Writer): Promise<PendingInApp[]> {
  const parsed = visitorInput.safeParse(given);
  if (!parsed.success) throw fromZodIssues(parsed.error.issues, []);
  const visitor = parsed.data;
  if (visitor.externalId) {
    await verifyIdentities(herald, workspaceId, writer, [{ externalId: visitor.externalId, identityToken: visitor.identityToken ?? undefined }], () => []);
  }
  const contact = await visitorContact(herald, workspaceId, visitor, writer);
  if (!contact) return [];
  await triggeredSettled(herald, contact.id);
  const rows = await herald.prisma.$queryRaw<{ id: string; payload: RenderedInApp; expiresAt: Date }[]>`
    SELECT m.id::text, i.payload, i."expiresAt"
    FROM "Message" m JOIN "InAppMessage" i ON i."messageId" = m.id
    -- Answering the message's question counts as its click (answerQuestion), so clickedAt covers answered ones.
    WHERE m."contactId" = ${contact.id}::uuid AND m.channel = 'IN_APP' AND m.status = 'SENT'
      AND m."clickedAt" IS NULL AND m."closedAt" IS NULL AND i."expiresAt" > now()
    ORDER BY m."sentAt", m.id
    LIMIT ${MAX_PENDING}`;
  if (rows.length === 0) return [];
  const workspace = await herald.prisma.workspace.findUniqueOrThrow({ where: { id: workspaceId }, select: { id: true, trackingSecret: true } });
  const secret = await secretFromRow(herald, workspace, 'trackingSecret');
  return rows.map((row) => ({ ...row.payload, token: signToken(row.id, secret), expiresAt: row.expiresAt }));
}

/**
 * The event names that trigger ACTIVE IN_APP campaigns of the workspace: after tracking one, the
 * SDK asks for its messages again (and only then, so a page view costs no extra request).
 */
export async function inAppTriggers(herald: Herald, workspaceId: string): Promise<string[]> {
  const rows = await herald.prisma.$queryRaw<{ name: string }[]>`
    SELECT DISTINCT trigger->>'event' AS name FROM "Campaign"
    WHERE "workspaceId" = ${workspaceId}::uuid AND kind = 'TRIGGERED' AND channel = 'IN_APP' AND status = 'ACTIVE' AND trigger->>'event' IS NOT NULL
    ORDER BY 1`;
  return rows.map((row) => row.name);
}

/** The contact the visitor names, if it exists and the caller may read it. */
async function visitorContact(herald: Herald, workspaceId: string, visitor: z.output<typeof visitorInput>, writer: Writer) {
  const contact = await herald.prisma.contact.findFirst({
    where: visitor.externalId ? { workspaceId, externalId: visitor.externalId } : { workspaceId, anonymousId: visitor.anonymousId! },
    select: { id: true, identified: true },
  });
  if (!contact || visitor.externalId || !contact.identified || writer === 'backend') return contact;
  // An anonymousId that now belongs to a customer: their messages need their identity token.
  return (await mustProveCustomers(herald, workspaceId, writer)) ? null : contact;
}

/**
 * Waits (at most TRIGGERED_WAIT_MS) while the contact has on-site messages queued in the last few
 * seconds and due now: the page has just tracked the event that triggered them, and delivery makes
 * them available within a moment. A read then answers with them, so the SDK asks once.
 */
async function triggeredSettled(herald: Herald, contactId: string): Promise<void> {
  const deadline = Date.now() + TRIGGERED_WAIT_MS;
  for (;;) {
    const [waiting] = await herald.prisma.$queryRaw<{ count: number }[]>`
      SELECT count(*)::int AS count FROM "Message"
      WHERE "contactId" = ${contactId}::uuid AND channel = 'IN_APP' AND status IN ('QUEUED', 'SENDING')
        AND "dueAt" <= now() AND "createdAt" > now() - ${JUST_QUEUED}::interval`;
    if (!waiting?.count || Date.now() >= deadline) return;
    await sleep(TRIGGERED_POLL_MS);
  }
}
