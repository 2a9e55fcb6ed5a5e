import { v7 as uuidv7 } from 'uuid';
import { ConflictError, ErrorCode, type FieldError } from '../errors.ts';
import { isUniqueViolation, Prisma } from '../db/prisma.ts';
import { insertStatusSql, optInStatus, type StatusSource, statusColumnsSql, updateStatusSql } from './channel-status.ts';
import { type ConfirmationRequest, recordConfirmationRequests } from './email-confirmation.ts';
import type { ValidContact } from './validation.ts';

type Tx = Prisma.TransactionClient;

export interface AppliedContacts {
  /** The contact each input row landed on, by row index; absent for rows that failed. */
  ids: Map<number, string>;
  created: number;
  updated: number;
  failed: { index: number; errors: FieldError[] }[];
  /** With doubleOptIn: the confirmation emails to queue once the transaction commits. */
  confirmations: ConfirmationRequest[];
}

interface Existing {
  id: string;
  externalId: string | null;
  email: string | null;
  anonymousId: string | null;
}

/**
 * Creates or updates many contacts in two statements. Each row matches a contact by externalId,
 * else email, else anonymousId (earlier rows of the same batch count too). Given fields replace
 * the stored ones, attributes are merged key by key and tags added. A row whose keys belong to two
 * different contacts fails alone; the others are applied. Run it inside a transaction.
 * With `fillOnly`, the stored contact's values win instead and only its gaps are filled.
 * `emailOptIn` / `smsOptIn` set the channel statuses by the rules of contacts/channel-status.ts,
 * recorded with the time and `source`. With `doubleOptIn` an email opt-in does not subscribe: it
 * asks for a confirmation email instead (contacts/email-confirmation.ts).
 */
export async function applyContacts(
  tx: Tx,
  workspaceId: string,
  rows: readonly (ValidContact | null)[],
  /** Only fill what the stored contact lacks (a web page writing): stored values and attributes win. */
  { fillOnly = false, source = 'api', doubleOptIn = false }: { fillOnly?: boolean; source?: StatusSource; doubleOptIn?: boolean } = {},
): Promise<AppliedContacts> {
  const present = rows.filter((row): row is ValidContact => row !== null);
  const existing = await tx.$queryRaw<Existing[]>`
    SELECT id, "externalId", email, "anonymousId" FROM "Contact"
    WHERE "workspaceId" = ${workspaceId}::uuid AND (
      "externalId" = ANY(${present.flatMap((row) => row.externalId ?? [])}::text[])
      OR email = ANY(${present.flatMap((row) => row.email ?? [])}::text[])
      OR "anonymousId" = ANY(${present.flatMap((row) => row.anonymousId ?? [])}::text[]))`;

  const owners = { externalId: new Map<string, string>(), email: new Map<string, string>(), anonymousId: new Map<string, string>() };
  const keys = ['externalId', 'email', 'anonymousId'] as const;
  const claim = (id: string, row: Partial<Record<(typeof keys)[number], string | null>>) => {
    for (const key of keys) if (row[key]) owners[key].set(row[key], id);
  };
  for (const contact of existing) claim(contact.id, contact);
  const existingIds = new Set(existing.map((contact) => contact.id));

  const merged = new Map<string, ValidContact>();
  const result: AppliedContacts = { ids: new Map(), created: 0, updated: 0, failed: [], confirmations: [] };
  rows.forEach((row, index) => {
    if (!row) return;
    const match = keys.map((key) => row[key] && owners[key].get(row[key])).find(Boolean);
    const id = match || uuidv7();
    // Setting a key that another contact already owns would merge two people silently.
    const taken = keys.filter((key) => row[key] && owners[key].has(row[key]!) && owners[key].get(row[key]!) !== id);
    if (taken.length) {
      result.failed.push({ index, errors: taken.map((key) => ({ path: [key], message: `already belongs to another contact` })) });
      return;
    }
    claim(id, row);
    result.ids.set(index, id);
    if (existingIds.has(id) || merged.has(id)) result.updated++;
    else result.created++;
    merged.set(id, mergeRows(merged.get(id), row));
  });

  const toJson = (entries: [string, ValidContact][]) =>
    JSON.stringify(
      entries.map(([id, row]) => ({
        ...row,
        id,
        tags: row.tags ?? [],
        attributes: row.attributes ?? {},
        // Under double opt-in an email opt-in leaves the status to the confirmation link.
        emailStatus: doubleOptIn && row.emailOptIn ? undefined : optInStatus(row.emailOptIn),
        smsStatus: optInStatus(row.smsOptIn),
      })),
    );
  const creates = [...merged].filter(([id]) => !existingIds.has(id));
  const updates = [...merged].filter(([id]) => existingIds.has(id));
  if (creates.length) {
    await tx.$executeRaw`
      INSERT INTO "Contact" (id, "workspaceId", "externalId", "anonymousId", email, phone, "firstName", "lastName",
                             locale, timezone, attributes, tags, identified, ${statusColumnsSql})
      SELECT r.id, ${workspaceId}::uuid, r."externalId", r."anonymousId", r.email, r.phone, r."firstName", r."lastName",
             r.locale, r.timezone, r.attributes, ARRAY(SELECT DISTINCT jsonb_array_elements_text(r.tags)),
             r."externalId" IS NOT NULL OR r.email IS NOT NULL, ${insertStatusSql(source)}
      FROM jsonb_to_recordset(${toJson(creates)}::jsonb) AS r(
        id uuid, "externalId" text, "anonymousId" text, email text, phone text, "firstName" text, "lastName" text,
        locale text, timezone text, attributes jsonb, tags jsonb, "emailStatus" text, "smsStatus" text)`;
  }
  if (updates.length) {
    // The side that wins: the given row (r), or with fillOnly the stored contact (c).
    const [first, second] = fillOnly ? [Prisma.raw('c'), Prisma.raw('r')] : [Prisma.raw('r'), Prisma.raw('c')];
    const address = (column: 'email' | 'phone') => Prisma.sql`COALESCE(${first}.${Prisma.raw(column)}, ${second}.${Prisma.raw(column)})`;
    await tx.$executeRaw`
      UPDATE "Contact" c SET
        "externalId" = COALESCE(${first}."externalId", ${second}."externalId"),
        "anonymousId" = COALESCE(${first}."anonymousId", ${second}."anonymousId"),
        email = ${address('email')},
        phone = ${address('phone')},
        "firstName" = COALESCE(${first}."firstName", ${second}."firstName"),
        "lastName" = COALESCE(${first}."lastName", ${second}."lastName"),
        locale = COALESCE(${first}.locale, ${second}.locale),
        timezone = COALESCE(${first}.timezone, ${second}.timezone),
        attributes = ${second}.attributes || ${first}.attributes,
        tags = ARRAY(SELECT DISTINCT t FROM unnest(c.tags || ARRAY(SELECT jsonb_array_elements_text(r.tags))) AS t),
        identified = COALESCE(r."externalId", c."externalId", r.email, c.email) IS NOT NULL,
        ${updateStatusSql(source, address)},
        "updatedAt" = now()
      FROM jsonb_to_recordset(${toJson(updates)}::jsonb) AS r(
        id uuid, "externalId" text, "anonymousId" text, email text, phone text, "firstName" text, "lastName" text,
        locale text, timezone text, attributes jsonb, tags jsonb, "emailStatus" text, "smsStatus" text)
      WHERE c.id = r.id AND c."workspaceId" = ${workspaceId}::uuid`;
  }
  if (doubleOptIn) {
    const optedIn = [...merged].filter(([, row]) => row.emailOptIn === true).map(([contactId, row]) => ({ contactId, email: row.email }));
    result.confirmations = await recordConfirmationRequests(tx, workspaceId, optedIn);
  }
  return result;
}

/**
 * A contact key (externalId, email, anonymousId) the transaction looked up was created or claimed
 * by a concurrent writer before it wrote: retryingKeyRaces runs it again. Its message is the
 * answer should the tries run out.
 */
export class KeyRaceLost extends ConflictError {
  constructor(message: string) {
    super(message, ErrorCode.contactKeyTaken);
  }
}

/** Each lost race means another writer's row committed; a third in a row is not expected. */
const KEY_RACE_TRIES = 3;

/**
 * Runs `write`, a transaction applying contacts, again when it lost a race for a contact key: a
 * concurrent writer (an event naming a new customer, an import, an identify) created or claimed the
 * key after this transaction looked it up, so its INSERT or UPDATE met that row on the unique index
 * (23505, raised once the other writer committed), or it threw KeyRaceLost. Run again, it finds
 * that row and updates or merges into it. Imports and events take no identify lock (up to 10,000
 * locks per import; a statement per batch of events), so this is where they meet an identify.
 */
export async function retryingKeyRaces<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      if (!(error instanceof KeyRaceLost) && !isUniqueViolation(error)) throw error;
      if (attempt < KEY_RACE_TRIES) continue;
      throw error instanceof KeyRaceLost ? error : new KeyRaceLost('a key of this contact was taken by another call at the same moment; try again');
    }
  }
}

/** Two rows for the same contact in one batch: the later one's fields win. */
function mergeRows(earlier: ValidContact | undefined, later: ValidContact): ValidContact {
  if (!earlier) return later;
  const defined = Object.fromEntries(Object.entries(later).filter(([, value]) => value !== undefined));
  return {
    ...earlier,
    ...defined,
    // An opt-in was given for the address of its row, not for the address a later row brings.
    ...(later.email !== undefined && later.email !== earlier.email && later.emailOptIn === undefined ? { emailOptIn: undefined } : {}),
    ...(later.phone !== undefined && later.phone !== earlier.phone && later.smsOptIn === undefined ? { smsOptIn: undefined } : {}),
    attributes: { ...earlier.attributes, ...later.attributes },
    tags: [...new Set([...(earlier.tags ?? []), ...(later.tags ?? [])])],
  };
}
