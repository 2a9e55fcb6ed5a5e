import { uuidv7 } from '../db/ids.ts';
import { Prisma } from '../db/prisma.ts';
import type { SqlTx } from '../db/sql-transaction.ts';
import type { ContactRef } from './validation.ts';

type Tx = SqlTx;
type Found = { id: string; externalId: string | null; anonymousId: string | null; identified: boolean };

/**
 * Finds the contacts that events or subscriptions name, creating those named by an unknown
 * externalId (identified) or anonymousId (anonymous visitor), as Braze and OneSignal do. An
 * unknown contactId is not created: the answer maps it to nothing. With `lock`, the contacts
 * found are locked FOR NO KEY UPDATE in id order (the order every batch locks contacts in, so two
 * batches sharing contacts never deadlock); those created are the transaction's own anyway.
 * With `anonymousOnly` (a page that must prove customers: identity.ts, mustProveCustomers), a ref
 * named by anonymousId alone reaches only a contact that is not identified: one that is answers
 * `false` (refused), not its id.
 */
export async function resolveContacts(
  tx: Tx,
  workspaceId: string,
  refs: readonly ContactRef[],
  { lock = false, anonymousOnly = false } = {},
): Promise<(string | null | false)[]> {
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
    RETURNING id, "externalId", "anonymousId", identified`;
  const creating = [
    externalIds.length ? { name: Prisma.raw('external'), sql: created('externalId', externalIds) } : null,
    anonymousIds.length ? { name: Prisma.raw('anonymous'), sql: created('anonymousId', anonymousIds) } : null,
  ].filter((step) => step !== null);
  // One statement creates the unknown ones and finds the rest. A concurrent request may create the
  // same contact: the unique index decides, nobody fails; but this statement's snapshot predates
  // that row, so whatever is still missing is looked up again by a statement of its own.
  const found = await tx.$queryRaw<Found[]>`
    WITH ${Prisma.join([...creating.map((step) => Prisma.sql`${step.name} AS (${step.sql})`), Prisma.sql`existing AS (SELECT id, "externalId", "anonymousId", identified FROM "Contact" WHERE ${named} ORDER BY id ${lock ? Prisma.sql`FOR NO KEY UPDATE` : Prisma.empty})`], ', ')}
    SELECT * FROM existing ${creating.length ? Prisma.join(creating.map((step) => Prisma.sql`UNION ALL SELECT * FROM ${step.name}`), ' ') : Prisma.empty}`;
  const answer = answerFrom(refs, found, anonymousOnly);
  if (!answer.includes(null)) return answer;
  const again = await tx.$queryRaw<Found[]>`
    SELECT id, "externalId", "anonymousId", identified FROM "Contact" WHERE ${named} ORDER BY id ${lock ? Prisma.sql`FOR NO KEY UPDATE` : Prisma.empty}`;
  return answerFrom(refs, again, anonymousOnly);
}

function answerFrom(refs: readonly ContactRef[], found: Found[], anonymousOnly: boolean): (string | null | false)[] {
  const byId = new Set(found.map((row) => row.id));
  const byExternal = new Map(found.filter((row) => row.externalId).map((row) => [row.externalId!, row.id]));
  const byAnonymous = new Map(found.filter((row) => row.anonymousId).map((row) => [row.anonymousId!, row]));
  return refs.map((ref) => {
    if (ref.contactId) return byId.has(ref.contactId) ? ref.contactId : null;
    if (ref.externalId) return byExternal.get(ref.externalId) ?? null;
    const row = byAnonymous.get(ref.anonymousId!);
    if (!row) return null;
    return anonymousOnly && row.identified ? false : row.id;
  });
}

function unique(values: (string | undefined)[]): string[] {
  return [...new Set(values.filter((value): value is string => Boolean(value)))];
}
