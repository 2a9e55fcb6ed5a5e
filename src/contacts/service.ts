import { z } from 'zod';
import { ConflictError, ErrorCode, type FieldError, fromZodIssues, NotFoundError, ValidationError } from '../errors.ts';
import type { Contact } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';
import type { Prisma } from '../db/prisma.ts';
import { applyContacts, retryingKeyRaces } from './apply.ts';
import { doubleOptInFor, queueConfirmations } from './email-confirmation.ts';
import { lockIdentities } from './identify.ts';
import { type ContactInput, contactInput, MAX_BATCH, tags as tagList } from './validation.ts';

export type { Contact };

/** Creates or updates one contact, matched by externalId, else email, else anonymousId. */
export async function upsertContact(herald: Herald, workspaceId: string, input: ContactInput | unknown): Promise<Contact> {
  const parsed = contactInput.safeParse(input);
  if (!parsed.success) throw fromZodIssues(parsed.error.issues, ['input']);
  const doubleOptIn = await doubleOptInFor(herald, workspaceId, [parsed.data]);
  // An event or an import creating the customer meanwhile takes no identify lock: see retryingKeyRaces.
  const applied = await retryingKeyRaces(() =>
    herald.prisma.$transaction(async (tx) => {
      // A new customer created here while a page identifies a visitor into them: one after the other.
      await lockIdentities(tx, workspaceId, [parsed.data]);
      return applyContacts(tx, workspaceId, [parsed.data], { doubleOptIn });
    }),
  );
  const failure = applied.failed[0];
  if (failure) throw new ConflictError(`${failure.errors.map((error) => error.path.join('.')).join(', ')} already belongs to another contact`, ErrorCode.contactKeyTaken);
  await queueConfirmations(herald, applied.confirmations);
  herald.events.publish('workspace:changed', workspaceId, { reason: 'contacts_changed' });
  return herald.prisma.contact.findUniqueOrThrow({ where: { id: applied.ids.get(0)! } });
}

export interface ImportResult {
  created: number;
  updated: number;
  failed: { index: number; errors: FieldError[] }[];
}

/** Up to 10,000 contacts at once: valid rows are applied together, invalid ones reported by index. */
export async function importContacts(herald: Herald, workspaceId: string, inputs: readonly unknown[]): Promise<ImportResult> {
  if (inputs.length > MAX_BATCH) throw ValidationError.field(['input', 'contacts'], `at most ${MAX_BATCH} contacts per call`);
  const failed: ImportResult['failed'] = [];
  const rows = inputs.map((input, index) => {
    const parsed = contactInput.safeParse(input);
    if (parsed.success) return parsed.data;
    failed.push({ index, errors: fromZodIssues(parsed.error.issues).fieldErrors });
    return null;
  });
  const doubleOptIn = await doubleOptInFor(herald, workspaceId, rows);
  // No identify lock (one per row would strain PostgreSQL's lock table): a customer an identify or
  // an event creates meanwhile makes the import run again, which then updates them (retryingKeyRaces).
  const applied = await retryingKeyRaces(() => herald.prisma.$transaction((tx) => applyContacts(tx, workspaceId, rows, { doubleOptIn }), { timeout: 60_000 }));
  await queueConfirmations(herald, applied.confirmations);
  if (applied.created + applied.updated > 0) herald.events.publish('workspace:changed', workspaceId, { reason: 'contacts_changed' });
  herald.log.info({ workspaceId, created: applied.created, updated: applied.updated, failed: failed.length + applied.failed.length }, 'contacts imported');
  return { created: applied.created, updated: applied.updated, failed: [...failed, ...applied.failed].sort((a, b) => a.index - b.index) };
}

export type ContactLookup = { id?: string | null; externalId?: string | null; email?: string | null };

/** One contact by exactly one of id, externalId or email; null when there is none. */
export async function findContact(
  herald: Herald,
  workspaceId: string,
  lookup: ContactLookup,
  /** Prisma `include`/`select` for related rows, so a caller loads them in the same query. */
  query: { include?: Prisma.ContactInclude; select?: Prisma.ContactSelect } = {},
): Promise<Contact | null> {
  const given = Object.entries(lookup).filter(([, value]) => value != null);
  if (given.length !== 1) throw ValidationError.field(['id'], 'give exactly one of id, externalId or email');
  const { id, externalId, email } = lookup;
  if (id != null) return id ? herald.prisma.contact.findFirst({ ...query, where: { id, workspaceId } }) : null;
  if (externalId) return herald.prisma.contact.findUnique({ ...query, where: { workspaceId_externalId: { workspaceId, externalId } } });
  return herald.prisma.contact.findUnique({ ...query, where: { workspaceId_email: { workspaceId, email: email!.toLowerCase() } } });
}

/**
 * Erases a contact with its events, subscriptions and ledger rows (the database cascades). Its
 * messages still waiting (QUEUED, or SENDING: counted as waiting) leave the campaign counters'
 * `status:QUEUED` for `status:CANCELED`, as a canceled campaign's do, in the same statement: the
 * rows are locked first, so one a sender settles meanwhile is counted by the sender alone.
 */
export async function deleteContact(herald: Herald, workspaceId: string, id: string): Promise<{ id: string }> {
  const rows = await herald.prisma.$queryRaw<{ campaignId: string | null }[]>`
    WITH waiting AS (
      SELECT "campaignId" FROM "Message"
      WHERE "contactId" = ${id}::uuid AND "workspaceId" = ${workspaceId}::uuid AND status IN ('QUEUED', 'SENDING') AND NOT test
      ORDER BY id FOR UPDATE
    ), gone AS (
      DELETE FROM "Contact" WHERE id = ${id}::uuid AND "workspaceId" = ${workspaceId}::uuid RETURNING id
    ), counted AS (
      INSERT INTO "CampaignCount" ("campaignId", metric, count)
      SELECT w."campaignId", d.metric, sum(d.delta)::int FROM waiting w CROSS JOIN gone,
        LATERAL (VALUES ('status:QUEUED', -1), ('status:CANCELED', 1)) AS d(metric, delta)
      GROUP BY 1, 2 ORDER BY 1, 2
      ON CONFLICT ("campaignId", metric, shard) DO UPDATE SET count = "CampaignCount".count + excluded.count
    )
    SELECT DISTINCT w."campaignId"::text AS "campaignId" FROM gone LEFT JOIN waiting w ON true`;
  if (!rows.length) throw new NotFoundError(ErrorCode.contactNotFound, 'No contact with this id');
  herald.events.publish('workspace:changed', workspaceId, { reason: 'contacts_changed' });
  for (const { campaignId } of rows) if (campaignId) herald.events.publish('campaign:changed', campaignId, { reason: 'contact_deleted' });
  return { id };
}

const tagInput = z.object({
  ids: z.array(z.string()).min(1, 'give at least one contact').max(MAX_BATCH, `at most ${MAX_BATCH} contacts`),
  tags: tagList.min(1, 'give at least one tag'),
});

/** Adds (or with `remove`, takes away) tags on many contacts; answers how many contacts changed. */
export async function setTags(
  herald: Herald,
  workspaceId: string,
  input: { ids: string[]; tags: string[] },
  remove = false,
): Promise<{ count: number }> {
  const parsed = tagInput.safeParse(input);
  if (!parsed.success) throw fromZodIssues(parsed.error.issues, ['input']);
  const { ids, tags } = parsed.data;
  const count = remove
    ? await herald.prisma.$executeRaw`
        UPDATE "Contact" SET tags = ARRAY(SELECT unnest(tags) EXCEPT SELECT unnest(${tags}::text[])), "updatedAt" = now()
        WHERE "workspaceId" = ${workspaceId}::uuid AND id = ANY(${ids}::uuid[]) AND tags && ${tags}::text[]`
    : await herald.prisma.$executeRaw`
        UPDATE "Contact" SET tags = ARRAY(SELECT DISTINCT unnest(tags || ${tags}::text[])), "updatedAt" = now()
        WHERE "workspaceId" = ${workspaceId}::uuid AND id = ANY(${ids}::uuid[]) AND NOT tags @> ${tags}::text[]`;
  if (count) herald.events.publish('workspace:changed', workspaceId, { reason: 'contacts_changed' });
  return { count };
}
