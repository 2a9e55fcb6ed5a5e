import { uuidv7 } from '../db/ids.ts';
import { Prisma } from '../db/prisma.ts';
import type { SqlTx } from '../db/sql-transaction.ts';
import type { ContactRef } from './validation.ts';

type Tx = SqlTx;
type Found = { id: string; externalId: string | null; anonymousId: string | null };

/**
 * Finds the contacts that events or subscriptions name, creating those named by an unknown
 * externalId (identified) or anonymousId (anonymous visitor), as Braze and OneSignal do. An
 * unknown contactId is not created: the answer maps it to nothing. With `lock`, the contacts
 * found are locked FOR NO KEY UPDATE in id order (the order every batch locks contacts in, so two
 * batches sharing contacts never deadlock); those created are the transaction's own anyway.
 */
export async function resolveContacts(tx: Tx, workspaceId: string, refs: readonly ContactRef[], { lock = false } = {}): Promise<(string | null)[]> {
  const contactIds = unique(refs.map((ref) => ref.contactId));
  const externalIds = unique(refs.map((ref) => (ref.contactId ? undefined : ref.externalId)));
  const anonymousIds = unique(refs.map((ref) => (ref.contactId || ref.externalId ? undefined : ref.anonymousId)));
  // Only the lists that have names: PostgreSQL then keeps one generic plan per shape of statement
  // (a page's anonymous visitors alone, say) instead of planning the three-way OR anew for each batch.
  const lists = [
    contactIds.length ? Prisma.sql`id = ANY(${contactIds}::uuid[])` : null,
    externalIds.length ? Prisma.sql`"externalId" = ANY(${externalIds}::text[])` : null,
    anonymousIds.length ? Prisma.sql`"anonymousId" = ANY(${anonymousIds}::text[])` : null,
  ].filter((list) => list !== null);
  if (lists.length === 0) return refs.map(() => null);
  const named = Prisma.sql`"workspaceId" = ${workspaceId}::uuid AND (${Prisma.join(lists, ' OR ')})`;
  const created = (column: 'externalId' | 'anonymousId', values: string[]) => Prisma.sql`
    INSERT INTO "Contact" (id, "workspaceId", ${Prisma.raw(`"${column}"`)}, identified)
    SELECT r.id, ${workspaceId}::uuid, r.value, ${column === 'externalId'} FROM jsonb_to_recordset(${JSON.stringify(values.map((value) => ({ id: uuidv7(), value })))}::jsonb) AS r(id uuid, value text)
    ON CONFLICT DO NOTHING
    RETURNING id, "externalId", "anonymousId"`;
  const creating = [
    externalIds.length ? { name: Prisma.raw('external'), sql: created('externalId', externalIds) } : null,
    anonymousIds.length ? { name: Prisma.raw('anonymous'), sql: created('anonymousId', anonymousIds) } : null,
  ].filter((step) => step !== null);
  // One statement creates the unknown ones and finds the rest. A concurrent request may create the
  // same contact: the unique index decides, nobody fails; but this statement's snapshot predates
  // that row, so whatever is still missing is looked up again by a statement of its own.
  const found = await tx.$queryRaw<Found[]>`
    WITH ${Prisma.join([...creating.map((step) => Prisma.sql`${step.name} AS (${step.sql})`), Prisma.sql`existing AS (SELECT id, "externalId", "anonymousId" FROM "Contact" WHERE ${named} ORDER BY id ${lock ? Prisma.sql`FOR NO KEY UPDATE` : Prisma.empty})`], ', ')}
    SELECT * FROM existing ${creating.length ? Prisma.join(creating.map((step) => Prisma.sql`UNION ALL SELECT * FROM ${step.name}`), ' ') : Prisma.empty}`;
  const answer = answerFrom(refs, found);
  if (!answer.includes(null)) return answer;
  const again = await tx.$queryRaw<Found[]>`
    SELECT id, "externalId", "anonymousId" FROM "Contact" WHERE ${named} ORDER BY id ${lock ? Prisma.sql`FOR NO KEY UPDATE` : Prisma.empty}`;
  return answerFrom(refs, again);
}

function answerFrom(refs: readonly ContactRef[], found: Found[]): (string | null)[] {
  const byId = new Set(found.map((row) => row.id));
  const byExternal = new Map(found.filter((row) => row.externalId).map((row) => [row.externalId!, row.id]));
  const byAnonymous = new Map(found.filter((row) => row.anonymousId).map((row) => [row.anonymousId!, row.id]));
  return refs.map((ref) => {
    if (ref.contactId) return byId.has(ref.contactId) ? ref.contactId : null;
    if (ref.externalId) return byExternal.get(ref.externalId) ?? null;
    return byAnonymous.get(ref.anonymousId!) ?? null;
  });
}

function unique(values: (string | undefined)[]): string[] {
  return [...new Set(values.filter((value): value is string => Boolean(value)))];
}

/** The SQLSTATE herald_contacts_changed raises (its migration, 20261204070000_contacts_changed). */
export const CONTACTS_CHANGED = 'HR002';

/** A reference's key among a workspace's known contacts: `x:` an externalId, `a:` an anonymousId. */
export function contactKey(ref: ContactRef): string | null {
  if (ref.contactId) return null;
  return ref.externalId ? `x:${ref.externalId}` : ref.anonymousId ? `a:${ref.anonymousId}` : null;
}

/**
 * resolveContacts for a statement whose answer nothing waits for (events' batches send the insert
 * right behind it), when this process learned before the id of every contact `refs` name by
 * externalId or anonymousId (`known`; null when one is not known). The statement locks them FOR NO
 * KEY UPDATE in id order, and raises herald_contacts_changed (SQLSTATE HR002), rolling back the
 * transaction, unless each id still names its contact in the workspace (a visitor's id moves when
 * it joins a customer, a contact may be deleted): the caller then finds them as resolveContacts does.
 */
export function knownContacts(workspaceId: string, refs: readonly ContactRef[], known: (key: string) => string | undefined): { ids: string[]; sql: Prisma.Sql } | null {
  const checks = new Map<string, { id: string; externalId: string | null; anonymousId: string | null }>();
  const ids: string[] = [];
  for (const ref of refs) {
    const key = contactKey(ref);
    const id = ref.contactId ?? (key ? known(key) : undefined);
    if (!id) return null;
    const externalId = ref.contactId ? null : (ref.externalId ?? null);
    const anonymousId = ref.contactId || ref.externalId ? null : (ref.anonymousId ?? null);
    checks.set(`${id}/${key}`, { id, externalId, anonymousId });
    ids.push(id);
  }
  const lockedIds = [...new Set(ids)];
  const sql = Prisma.sql`
    WITH locked AS MATERIALIZED (
      SELECT id, "externalId", "anonymousId" FROM "Contact"
      WHERE id = ANY(${lockedIds}::uuid[]) AND "workspaceId" = ${workspaceId}::uuid
      ORDER BY id FOR NO KEY UPDATE
    )
    SELECT CASE WHEN (SELECT count(*) FROM jsonb_to_recordset(${JSON.stringify([...checks.values()])}::jsonb) AS k(id uuid, "externalId" text, "anonymousId" text)
        JOIN locked l ON l.id = k.id AND (k."externalId" IS NULL OR l."externalId" = k."externalId") AND (k."anonymousId" IS NULL OR l."anonymousId" = k."anonymousId")) = ${checks.size}::int
      THEN true ELSE herald_contacts_changed() END AS ok`;
  return { ids, sql };
}
