import { v7 as uuidv7 } from 'uuid';
import type { Prisma } from '../db/prisma.ts';
import type { ContactRef } from './validation.ts';

type Tx = Prisma.TransactionClient;

/**
 * Finds the contacts that events or subscriptions name, creating those named by an unknown
 * externalId (identified) or anonymousId (anonymous visitor), as Braze and OneSignal do. An
 * unknown contactId is not created: the answer maps it to nothing.
 */
export async function resolveContacts(tx: Tx, workspaceId: string, refs: readonly ContactRef[]): Promise<(string | null)[]> {
  const contactIds = unique(refs.map((ref) => ref.contactId));
  const externalIds = unique(refs.map((ref) => (ref.contactId ? undefined : ref.externalId)));
  const anonymousIds = unique(refs.map((ref) => (ref.contactId || ref.externalId ? undefined : ref.anonymousId)));

  const create = async (column: 'externalId' | 'anonymousId', values: string[]) => {
    if (!values.length) return;
    const rows = JSON.stringify(values.map((value) => ({ id: uuidv7(), value })));
    // A concurrent request may create the same contact: the unique index decides, nobody fails.
    await tx.$executeRawUnsafe(
      `INSERT INTO "Contact" (id, "workspaceId", "${column}", identified)
       SELECT r.id, $1::uuid, r.value, $3 FROM jsonb_to_recordset($2::jsonb) AS r(id uuid, value text)
       ON CONFLICT DO NOTHING`,
      workspaceId,
      rows,
      column === 'externalId',
    );
  };
  await create('externalId', externalIds);
  await create('anonymousId', anonymousIds);

  const found = await tx.$queryRaw<{ id: string; externalId: string | null; anonymousId: string | null }[]>`
    SELECT id, "externalId", "anonymousId" FROM "Contact"
    WHERE "workspaceId" = ${workspaceId}::uuid
      AND (id = ANY(${contactIds}::uuid[]) OR "externalId" = ANY(${externalIds}::text[]) OR "anonymousId" = ANY(${anonymousIds}::text[]))`;
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
