import { z } from 'zod';
import { ConflictError, ErrorCode, fromZodIssues, HeraldError } from '../errors.ts';
import type { Contact } from '../generated/prisma/client.ts';
import type { Prisma } from '../db/prisma.ts';
import type { Herald } from '../herald-context.ts';
import { mergeEnrolments } from '../journeys/entry.ts';
import { applyContacts, KeyRaceLost, retryingKeyRaces } from './apply.ts';
import { sourceOf } from './channel-status.ts';
import { doubleOptInFor, queueConfirmations } from './email-confirmation.ts';
import { pageKeyPrefix, verifyIdentities, type Writer } from './identity.ts';
import { mergedContact } from './merge.ts';
import { identityTokenInput, jsonObject, liftKnownFields, MAX_ATTRIBUTES_BYTES, optIn, type ValidContact } from './validation.ts';

const identifyInput = z
  .object({
    anonymousId: z.string().trim().min(1, 'must not be empty').max(255),
    externalId: z.string().trim().min(1, 'must not be empty').max(255),
    attributes: jsonObject(MAX_ATTRIBUTES_BYTES).optional(),
    identityToken: identityTokenInput.optional(),
    emailOptIn: optIn.optional(),
    smsOptIn: optIn.optional(),
  })
  .transform(liftKnownFields);

/**
 * The visitor logged in: the anonymous contact of `anonymousId` becomes (or merges into) the
 * identified contact of `externalId`. Its events, subscriptions and messages move over, tags are united and
 * attributes merged with the identified contact's values winning; the anonymous contact is gone.
 * Calling it again changes nothing more. A page must prove the externalId (identity verification)
 * and only fills gaps: what the contact already has wins over the page's attributes. Known fields
 * in the attributes (firstName, email, …) land in the contact's columns (see liftKnownFields), and
 * emailOptIn / smsOptIn set the channel statuses (a signup form on the page may send them).
 */
export async function identifyContact(herald: Herald, workspaceId: string, input: unknown, writer: Writer = 'backend'): Promise<Contact> {
  const parsed = identifyInput.safeParse(input);
  if (!parsed.success) throw fromZodIssues(parsed.error.issues, ['input']);
  const { anonymousId, externalId, identityToken, ...fields } = parsed.data;
  await verifyIdentities(herald, workspaceId, writer, [{ externalId, identityToken }], () => ['input']);
  const options = { fillOnly: writer === 'page', source: sourceOf(writer), doubleOptIn: await doubleOptInFor(herald, workspaceId, [fields]) };
  const call: Identification = { anonymousId, externalId, fields, options, writer };
  // Gathered (db/group-commit.ts) per visitor: one visitor's calls are written in the order they came.
  const [answer] = herald.gathering.enabled
    ? [await herald.gathering.submit(`identify:${workspaceId}`, anonymousId, call, (calls: Identification[]) => identifyAll(herald, workspaceId, calls))]
    : await identifyAll(herald, workspaceId, [call]);
  if (answer instanceof Error) throw answer;
  return answer!;
}

/** Lock namespace for one externalId's (or anonymousId's) identify calls (delivery/ledger.ts and journeys/waits.ts hold the others). */
const IDENTIFY_LOCK = 72_530;

/**
 * Takes the identify lock of each externalId and anonymousId named, first in the transaction and
 * in one order. A contact not yet stored has no row to lock: identifies of several visitors into
 * one new externalId (a login on two devices at once), an identify racing the backend's upsert of
 * that customer, or one new visitor identified into two customers at once would each create or
 * claim it, and all but one fail on its unique key (or one customer's row is renamed to the
 * other's). Under the lock they run one after the other instead. upsertContact takes it too.
 */
export async function lockIdentities(
  tx: Prisma.TransactionClient,
  workspaceId: string,
  named: readonly { externalId?: string | null | undefined; anonymousId?: string | null | undefined }[],
): Promise<void> {
  const keys = named.flatMap(({ externalId, anonymousId }) => [...(externalId ? [externalId] : []), ...(anonymousId ? [`anonymous:${anonymousId}`] : [])]);
  if (!keys.length) return;
  await tx.$queryRaw`
    SELECT count(pg_advisory_xact_lock(${IDENTIFY_LOCK}::int, key))
    FROM (SELECT DISTINCT hashtext(${workspaceId} || '/' || id) AS key FROM unnest(${keys}::text[]) id ORDER BY 1) keys`;
}

interface Identification {
  anonymousId: string;
  externalId: string;
  fields: Omit<z.output<typeof identifyInput>, 'anonymousId' | 'externalId' | 'identityToken'>;
  options: { fillOnly: boolean; source: ReturnType<typeof sourceOf>; doubleOptIn: boolean };
  writer: Writer;
}

/**
 * Identify calls in one transaction, one after the other as if each were alone. A call that
 * fails as expected (an email or key taken) is answered with its error, and the transaction is
 * written again without it (its neighbours' effects are what it saw), so it fails only itself.
 */
async function identifyAll(herald: Herald, workspaceId: string, calls: Identification[]): Promise<(Contact | Error)[]> {
  const answers: (Contact | Error | undefined)[] = calls.map(() => undefined);
  for (;;) {
    const pending = calls.flatMap((call, index) => (answers[index] ? [] : [index]));
    if (!pending.length) return answers as (Contact | Error)[];
    const failed = { index: -1, error: null as HeraldError | null };
    // An event or an import creating the customer meanwhile takes no identify lock: see retryingKeyRaces.
    const done = await retryingKeyRaces(() =>
      herald.prisma.$transaction(
        async (tx) => {
          Object.assign(failed, { index: -1, error: null });
          await lockIdentities(tx, workspaceId, pending.map((index) => calls[index]!));
          // Every row the batch names, locked up front in one order (id): batches never deadlock on them.
          if (pending.length > 1) {
            await tx.$queryRaw`
              SELECT count(*)::int FROM (
                SELECT 1 FROM "Contact"
                WHERE "workspaceId" = ${workspaceId}::uuid
                  AND ("anonymousId" = ANY(${pending.map((index) => calls[index]!.anonymousId)}::text[])
                    OR "externalId" = ANY(${pending.map((index) => calls[index]!.externalId)}::text[]))
                ORDER BY id FOR UPDATE
              ) locked`;
          }
          const results = [];
          for (const index of pending) {
            try {
              results.push(await identifyOne(tx, workspaceId, calls[index]!));
            } catch (error) {
              if (error instanceof HeraldError) Object.assign(failed, { index, error });
              throw error;
            }
          }
          return results;
        },
        // A busy pool makes a batch wait for a connection, not fail after Prisma's 2 s.
        { maxWait: 10_000, timeout: 60_000 },
      ),
    ).catch((error: unknown) => {
      if (failed.error !== error) throw error;
      answers[failed.index] = error as HeraldError;
      return null;
    });
    if (!done) continue;

    await queueConfirmations(herald, done.flatMap((one) => one.confirmations));
    herald.events.publish('workspace:changed', workspaceId, { reason: 'contacts_changed' });
    const contacts = new Map((await herald.prisma.contact.findMany({ where: { id: { in: done.map((one) => one.contactId) } } })).map((contact) => [contact.id, contact]));
    pending.forEach((index, n) => (answers[index] = contacts.get(done[n]!.contactId) ?? new Error('an identified contact could not be read back')));
  }
}

async function identifyOne(tx: Prisma.TransactionClient, workspaceId: string, { anonymousId, externalId, fields, options, writer }: Identification) {
  // Lock both rows (if they exist) so two identify calls for one visitor run one after the other.
  const [anonymous] = await tx.$queryRaw<Contact[]>`
    SELECT * FROM "Contact" WHERE "workspaceId" = ${workspaceId}::uuid AND "anonymousId" = ${anonymousId} FOR UPDATE`;
  const [known] = await tx.$queryRaw<Contact[]>`
    SELECT * FROM "Contact" WHERE "workspaceId" = ${workspaceId}::uuid AND "externalId" = ${externalId} FOR UPDATE`;
  // The visitor's contact joins this person unless it is already someone else.
  const joining = anonymous && (!anonymous.externalId || anonymous.externalId === externalId) ? anonymous : undefined;
  const given = await withoutForeignEmail(tx, workspaceId, fields, [joining?.id, known?.id], writer);

  let row: ValidContact = { externalId, ...given, ...(anonymous && !joining ? {} : { anonymousId }) };
  if (joining && known && joining.id !== known.id) {
    // The page names the customer from now on, so a retry of a visitor's event (an SDK's offline
    // queue) is keyed in the customer's namespace: the visitor's keys move there, or it is stored
    // twice. A key the customer's own pages used already stays as it was (its retry finds theirs).
    const [from, into] = [pageKeyPrefix(joining.id), pageKeyPrefix(known.id)];
    await tx.$executeRaw`
      UPDATE "Event" e SET "contactId" = ${known.id}::uuid, "idempotencyKey" = ${into} || substr(e."idempotencyKey", ${from.length + 1}::int)
      WHERE e."contactId" = ${joining.id}::uuid AND starts_with(e."idempotencyKey", ${from})
        AND NOT EXISTS (SELECT 1 FROM "Event" x WHERE x."workspaceId" = e."workspaceId" AND x."idempotencyKey" = ${into} || substr(e."idempotencyKey", ${from.length + 1}::int))`;
    await tx.event.updateMany({ where: { contactId: joining.id }, data: { contactId: known.id } });
    await tx.pushSubscription.updateMany({ where: { contactId: joining.id }, data: { contactId: known.id } });
    // The visitor's phones, journeys and link clicks too: deleting the visitor's row would cascade to (or forget) them.
    await tx.device.updateMany({ where: { contactId: joining.id }, data: { contactId: known.id } });
    await mergeEnrolments(tx, joining.id, known.id);
    await tx.linkClick.updateMany({ where: { contactId: joining.id }, data: { contactId: known.id } });
    // The ledger goes with them: its rows are the contact's message history and back the stats.
    await tx.message.updateMany({ where: { contactId: joining.id }, data: { contactId: known.id } });
    // A confirmation link mailed to the visitor (double opt-in) names its id: it reaches the
    // customer through MergedContact, and the request (its window, its unsent mail) goes along
    // unless the customer has one of its own.
    await tx.$executeRaw`UPDATE "MergedContact" SET "contactId" = ${known.id}::uuid WHERE "contactId" = ${joining.id}::uuid`;
    await tx.$executeRaw`INSERT INTO "MergedContact" (id, "contactId") VALUES (${joining.id}::uuid, ${known.id}::uuid)`;
    await tx.$executeRaw`
      UPDATE "EmailConfirmation" SET "contactId" = ${known.id}::uuid
      WHERE "contactId" = ${joining.id}::uuid AND NOT EXISTS (SELECT 1 FROM "EmailConfirmation" WHERE "contactId" = ${known.id}::uuid)`;
    await tx.contact.delete({ where: { id: joining.id } });
    await tx.contact.update({ where: { id: known.id }, data: mergedContact(known, joining, given.attributes, options.fillOnly) });
    // The merged contact then takes the call's own fields and opt-ins like any other (its attributes are in).
    row = { ...row, attributes: undefined };
  }
  const applied = await applyContacts(tx, workspaceId, [row], options);
  // The rows read above (locked) leave this row no key of another contact: a refusal means a
  // concurrent writer created or claimed one since (the customer, by an event or an import).
  const failure = applied.failed[0];
  if (failure) throw new KeyRaceLost(`${failure.errors.map((error) => error.path.join('.')).join(', ')} already belongs to another contact`);
  return { contactId: applied.ids.get(0)!, confirmations: applied.confirmations };
}

/**
 * An email in the attributes that a contact other than this person's already has is not theirs to
 * take: the site's backend is told (ConflictError); a page's is ignored with its opt-in, so a page
 * learns nothing about whose address it is and never attaches a customer to someone else's contact.
 */
async function withoutForeignEmail<T extends { email?: string | undefined; emailOptIn?: boolean | undefined }>(
  tx: Prisma.TransactionClient,
  workspaceId: string,
  fields: T,
  own: (string | undefined)[],
  writer: Writer,
): Promise<T> {
  if (!fields.email) return fields;
  const [owner] = await tx.$queryRaw<{ id: string }[]>`
    SELECT id FROM "Contact" WHERE "workspaceId" = ${workspaceId}::uuid AND email = ${fields.email}`;
  if (!owner || own.includes(owner.id)) return fields;
  if (writer === 'backend') throw new ConflictError('email already belongs to another contact', ErrorCode.contactKeyTaken);
  return { ...fields, email: undefined, emailOptIn: undefined };
}
