import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import { ValidationError } from '../errors.ts';
import type { Event } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';
import { verifyIdentities, type Writer } from '../contacts/identity.ts';
import { resolveContacts } from '../contacts/resolve.ts';
import { MAX_BATCH } from '../contacts/validation.ts';
import { publishDeliveryEvents } from '../delivery/events.ts';
import { announceTriggers, applyTriggers, type StoredEvent } from '../delivery/triggers.ts';
import { recordConversions } from './conversions.ts';
import { type EventInput, eventInput } from './validation.ts';

export type { Event };

/**
 * Stores many events at once: all valid or none stored. An idempotency key seen before stores
 * nothing new (counted as a duplicate). Each contact's lastSeenAt moves to its newest event.
 */
export async function trackEvents(
  herald: Herald,
  workspaceId: string,
  inputs: readonly unknown[],
  {
    single = false,
    writer = 'backend',
  }: {
    /** Where field errors point: a batch's `input.events.<index>`, or a single event's `input`. */
    single?: boolean;
    writer?: Writer;
  } = {},
): Promise<{ count: number; duplicates: number; ids: (string | null)[]; keys: (string | null)[] }> {
  const at = (index: number, ...rest: string[]) => (single ? ['input', ...rest] : ['input', 'events', String(index), ...rest]);
  if (inputs.length > MAX_BATCH) throw ValidationError.field(['input', 'events'], `at most ${MAX_BATCH} events per call`);
  const parsed = z.array(eventInput(new Date())).safeParse(inputs);
  if (!parsed.success) {
    throw new ValidationError(
      parsed.error.issues.map((issue) => ({ path: at(Number(issue.path[0]), ...issue.path.slice(1).map(String)), message: issue.message })),
    );
  }
  const events = parsed.data;
  await verifyIdentities(herald, workspaceId, writer, events, (index) => at(index));

  const stored = await herald.prisma.$transaction(async (tx) => {
    const contactIds = await resolveContacts(tx, workspaceId, events);
    const missing = contactIds.findIndex((id) => id === null);
    if (missing >= 0) throw ValidationError.field(at(missing, 'contactId'), 'no contact with this id');

    const now = new Date();
    const rows = events.map((event, index) => ({
      id: uuidv7(),
      contactId: contactIds[index],
      name: event.name,
      properties: event.properties ?? {},
      occurredAt: (event.occurredAt ?? now).toISOString(),
      idempotencyKey: event.idempotencyKey == null ? null : scopedKey(writer, contactIds[index]!, event.idempotencyKey),
    }));
    const inserted = await tx.$queryRaw<{ id: string }[]>`
      INSERT INTO "Event" (id, "workspaceId", "contactId", name, properties, "occurredAt", "idempotencyKey")
      SELECT r.id, ${workspaceId}::uuid, r."contactId", r.name, r.properties, r."occurredAt", r."idempotencyKey"
      FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
        AS r(id uuid, "contactId" uuid, name text, properties jsonb, "occurredAt" timestamptz, "idempotencyKey" text)
      ON CONFLICT ("workspaceId", "idempotencyKey") DO NOTHING
      RETURNING id`;
    const insertedIds = new Set(inserted.map((row) => row.id));
    // Batches share contacts: lock them in one order (id) before moving lastSeenAt, else two
    // batches lock them in their own orders and deadlock. NO KEY UPDATE, the lock the UPDATE
    // takes, does not wait for the key-share locks of other batches' event inserts.
    const touched = [...new Set(rows.filter((row) => insertedIds.has(row.id)).map((row) => row.contactId!))].sort();
    if (touched.length > 1) {
      await tx.$queryRaw`SELECT count(*)::int FROM (SELECT 1 FROM "Contact" WHERE id = ANY(${touched}::uuid[]) ORDER BY id FOR NO KEY UPDATE) locked`;
    }
    await tx.$executeRaw`
      UPDATE "Contact" c SET "lastSeenAt" = GREATEST(c."lastSeenAt", e.latest)
      FROM (SELECT "contactId", max("occurredAt") AS latest FROM "Event" WHERE id = ANY(${[...insertedIds]}::uuid[]) GROUP BY "contactId") e
      WHERE c.id = e."contactId"`;
    const conversions = await recordConversions(tx, workspaceId, [...insertedIds]);
    const triggers = await applyTriggers(tx, workspaceId, rows.filter((row) => insertedIds.has(row.id)) as StoredEvent[]);
    return { ids: rows.map((row) => (insertedIds.has(row.id) ? row.id : null)), keys: rows.map((row) => row.idempotencyKey), conversions, triggers };
  }, { timeout: 60_000 });

  const count = stored.ids.filter(Boolean).length;
  if (count) herald.events.publish('workspace:changed', workspaceId, { reason: 'events_tracked' });
  publishDeliveryEvents(herald, workspaceId, stored.conversions);
  await announceTriggers(herald, workspaceId, stored.triggers);
  return { count, duplicates: events.length - count, ids: stored.ids, keys: stored.keys };
}

/**
 * A page's idempotency keys live in its contact's own namespace: a page can neither read the
 * backend's event by guessing its key nor pre-empt the backend's key. The backend's keys are as given.
 */
function scopedKey(writer: Writer, contactId: string, key: string): string {
  return writer === 'page' ? `page:${contactId}:${key}` : key;
}

/** One event; for an idempotency key seen before, the event first stored with it. */
export async function trackEvent(herald: Herald, workspaceId: string, input: EventInput | unknown, writer: Writer = 'backend'): Promise<Event> {
  const { ids, keys } = await trackEvents(herald, workspaceId, [input], { single: true, writer });
  const id = ids[0];
  if (id) return herald.prisma.event.findUniqueOrThrow({ where: { id } });
  // Not stored only because its idempotency key was seen before: answer the first event.
  return herald.prisma.event.findUniqueOrThrow({ where: { workspaceId_idempotencyKey: { workspaceId, idempotencyKey: keys[0]! } } });
}
