import { uuidv7 } from '../db/ids.ts';
import { fromZodIssues, ValidationError } from '../errors.ts';
import type { Event } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';
import { anonymousIdOfCustomer, mustProveCustomers, pageKeyPrefix, verifyIdentities, type Writer } from '../contacts/identity.ts';
import { resolveContacts } from '../contacts/resolve.ts';
import { MAX_BATCH } from '../contacts/validation.ts';
import { Prisma } from '../db/prisma.ts';
import { sqlTransaction } from '../db/sql-transaction.ts';
import { publishDeliveryEvents } from '../delivery/events.ts';
import {
  announceTriggers,
  applyTriggers,
  listeningCampaignsJsonSql,
  listeningCampaignsSql,
  type StoredEvent,
  type TriggeredCampaign,
  type KnownListeners,
  type TriggerListeners,
  triggerLocksSql,
} from '../delivery/triggers.ts';
import { announceJourneyEvents, applyJourneyEvents, type JourneyNeeds, journeyNeedsSql, NO_JOURNEY_OUTCOME } from '../journeys/events.ts';
import { triggerOf } from '../delivery/campaign-fields.ts';
import { conversionEventsSql, recordConversions } from './conversions.ts';
import { type EventInput, eventInput, eventInputs } from './validation.ts';

export type { Event };

/**
 * lastSeenAt moves only to an event at least this much newer: a visitor's page views a few seconds
 * apart would otherwise each write a new version of the contact row, indexes and all (the column is
 * indexed for the segments' "seen within N days", so the update is never HOT), which was the largest
 * single cost PostgreSQL paid per browser event (docs/benchmarks.md, the browser's path).
 */
const LAST_SEEN_STEP = '1 minute';

/**
 * Stores many events at once: all valid or none stored. An idempotency key seen before stores
 * nothing new (counted as a duplicate). Each contact's lastSeenAt moves to its newest event when
 * that is a minute or more past it (LAST_SEEN_STEP).
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
): Promise<{ count: number; duplicates: number; stored: (Event | null)[]; keys: (string | null)[] }> {
  const at = (index: number, ...rest: string[]) => (single ? ['input', ...rest] : ['input', 'events', String(index), ...rest]);
  if (inputs.length > MAX_BATCH) throw ValidationError.field(['input', 'events'], `at most ${MAX_BATCH} events per call`);
  const parsed = eventInputs.safeParse(inputs);
  if (!parsed.success) {
    throw new ValidationError(
      parsed.error.issues.map((issue) => ({ path: at(Number(issue.path[0]), ...issue.path.slice(1).map(String)), message: issue.message })),
    );
  }
  const events = parsed.data;
  await verifyIdentities(herald, workspaceId, writer, events, (index) => at(index));
  const { stored, keys, planned } = await storeEvents(herald, workspaceId, writer, events, (index) => at(index));
  await planned;
  const count = stored.filter(Boolean).length;
  return { count, duplicates: events.length - count, stored, keys };
}

const noContact = (path: string[]) => ValidationError.field([...path, 'contactId'], 'no contact with this id');

/**
 * Stores validated events in one transaction, with their triggers and conversions, and announces
 * them once committed; answers each event as stored (null for an idempotency key seen before),
 * and `planned`, which settles (never rejects) once the wake-ups of messages due later are planned.
 * An event naming an unknown contactId, or a customer's anonymousId a page may not name without
 * proof (resolveContacts' `anonymousOnly`), fails the whole batch when `missingAt` places its error
 * (the event's input path); without it, only that event is left out (`missing`, `refused`).
 */
async function storeEvents(
  herald: Herald,
  workspaceId: string,
  writer: Writer,
  events: readonly EventInput[],
  missingAt?: (index: number) => string[],
): Promise<{ stored: (Event | null)[]; keys: (string | null)[]; missing: boolean[]; refused: boolean[]; planned: Promise<void> }> {
  const anonymousOnly = await mustProveCustomers(herald, workspaceId, writer);
  let written;
  try {
    written = await writeEvents(herald, workspaceId, writer, events, missingAt, { pipelined: true, anonymousOnly });
  } catch (error) {
    // What listens changed between the read Herald went by and this batch: written again, step by step.
    if (!(error instanceof ListenersChanged)) throw error;
    written = await writeEvents(herald, workspaceId, writer, events, missingAt, { pipelined: false, anonymousOnly });
  }

  if (written.stored.some(Boolean)) herald.events.publish('workspace:changed', workspaceId, { reason: 'events_tracked' });
  publishDeliveryEvents(herald, workspaceId, written.conversions);
  // Due messages are signalled now; the wake-ups of later ones are planned in `planned`, which
  // no answer needs (should this process stop first, the sweep sends them once due).
  const planned = announceTriggers(herald, workspaceId, written.triggers).catch((error: unknown) =>
    herald.log.warn({ err: error, workspaceId }, 'could not plan the wake-ups of triggered messages; the sweep sends them once due'),
  );
  announceJourneyEvents(herald, written.journeys);
  return { ...written, planned };
}

/** The batch's insert found its listeners other than what the pipelined statements behind it assumed. */
class ListenersChanged extends Error {}

/**
 * One transaction storing the batch (storeEvents). Its statements: BEGIN with the contacts'
 * statement (they are found or created, and locked), then the events' insert, which also reads
 * what listens to them, then what those listeners do: conversions, trigger entry, journeys, and
 * COMMIT with the last of them. `pipelined`: when what this process last read of the workspace's
 * listeners says the batch needs trigger entry at most (no exception event, conversion or
 * journey), trigger entry and COMMIT go right behind the insert, built from that read, in the same
 * round trip: one wait on PostgreSQL less per batch. The insert checks that read against its own
 * (herald_listeners_changed): should they differ, the transaction rolls back and this throws
 * ListenersChanged.
 */
async function writeEvents(
  herald: Herald,
  workspaceId: string,
  writer: Writer,
  events: readonly EventInput[],
  missingAt: ((index: number) => string[]) | undefined,
  { pipelined, anonymousOnly }: { pipelined: boolean; anonymousOnly: boolean },
) {
  // On a pg connection of its own, not Prisma's transaction (~0.3 ms less CPU a statement), on the
  // pipelining pool: BEGIN leaves with the contacts' statement.
  return sqlTransaction(herald.pipelinedPool, async (tx) => {
    // Batches share contacts: they are locked in one order (id) as they are found, before lastSeenAt
    // moves, else two batches lock them in their own orders and deadlock. NO KEY UPDATE, the lock
    // the UPDATE takes, does not wait for the key-share locks of other batches' event inserts.
    const resolved = await resolveContacts(tx, workspaceId, events, { lock: true, anonymousOnly });
    const refused = resolved.map((id) => id === false);
    const contactIds = resolved.map((id) => id || null);
    const missing = contactIds.findIndex((id) => id === null);
    if (missing >= 0 && missingAt) throw refused[missing] ? anonymousIdOfCustomer(missingAt(missing)) : noContact(missingAt(missing));

    const now = new Date();
    const all = events.map((event, index) => ({
      id: uuidv7(),
      contactId: contactIds[index],
      name: event.name,
      properties: event.properties ?? {},
      // A Date: JSON.stringify writes it as its ISO text, and the answer keeps it as it is.
      occurredAt: event.occurredAt ?? now,
      idempotencyKey: event.idempotencyKey == null || !contactIds[index] ? null : scopedKey(writer, contactIds[index]!, event.idempotencyKey),
    }));
    const rows = all.filter((row) => row.contactId) as (typeof all[number] & StoredEvent)[];
    const contacts = [...new Set(rows.map((row) => row.contactId))];
    const known = herald.deliveries.listeners.get(workspaceId) ?? null;
    const ahead = pipelined && known && onlyTriggers(known, rows) ? known : null;
    // The insert answers which rows it stored (a replayed key stores and returns nothing) with the
    // one column the database chose, receivedAt: the rest is what was sent (properties read back
    // would cost PostgreSQL their JSON text and Herald its parse, per event). Each contact's
    // lastSeenAt moves in the same statement (the ids named let the planner read the contacts by
    // key: it cannot count the insert's rows, and would scan every contact). What listens to the
    // batch comes back on the first row: one round trip less per gathered batch.
    const insert = tx.$queryRaw<{ id: string; receivedAt: Date; listening: ListeningJson | null }[]>`
      WITH inserted AS (
        INSERT INTO "Event" (id, "workspaceId", "contactId", name, properties, "occurredAt", "idempotencyKey")
        SELECT r.id, ${workspaceId}::uuid, r."contactId", r.name, r.properties, r."occurredAt", r."idempotencyKey"
        FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
          AS r(id uuid, "contactId" uuid, name text, properties jsonb, "occurredAt" timestamptz, "idempotencyKey" text)
        ON CONFLICT ("workspaceId", "idempotencyKey") DO NOTHING
        RETURNING id, "contactId", "occurredAt", "receivedAt"
      ), seen AS (
        UPDATE "Contact" c SET "lastSeenAt" = e.latest
        FROM (SELECT "contactId", max("occurredAt") AS latest FROM inserted GROUP BY "contactId") e
        WHERE c.id = ANY(${contacts}::uuid[]) AND c.id = e."contactId"
          AND (c."lastSeenAt" IS NULL OR c."lastSeenAt" < e.latest - ${LAST_SEEN_STEP}::interval)
      ), ${listenersSql(workspaceId, rows, known?.version ?? null, ahead?.version ?? null)}
      SELECT i.id, i."receivedAt",
        CASE WHEN i.first THEN (SELECT listening FROM listeners) END AS listening
      FROM (SELECT *, row_number() OVER () = 1 AS first FROM inserted) i`;

    if (ahead) {
      // Trigger entry over every row sent (it reads the events by id: a replayed key's row is not
      // there), then COMMIT, both sent now. The insert took the contacts' trigger locks (it read
      // the same campaigns), and a COMMIT no statement carried goes now.
      const entry = applyTriggers(tx, workspaceId, rows, { campaigns: ahead.campaigns, locked: true }, { last: true });
      const commit = tx.$commit!();
      const [inserted, triggers, committed] = await Promise.allSettled([insert, entry, commit]);
      if (inserted.status === 'rejected') throw (inserted.reason as { code?: string }).code === LISTENERS_CHANGED ? new ListenersChanged() : inserted.reason;
      if (triggers.status === 'rejected') throw triggers.reason;
      if (committed.status === 'rejected') throw committed.reason;
      remember(herald, workspaceId, inserted.value[0]?.listening ?? null, known);
      return { ...answers(workspaceId, all, inserted.value), refused, conversions: [], triggers: triggers.value, journeys: NO_JOURNEY_OUTCOME };
    }

    const inserted = await insert;
    const storedIds = new Set(inserted.map((event) => event.id));
    const stored = rows.filter((row) => storedIds.has(row.id));
    const listening = inserted[0]?.listening ?? null;
    const listeners = listenersFrom(listening, remember(herald, workspaceId, listening, known), stored);
    const conversions = listeners.converting ? await recordConversions(tx, workspaceId, [...storedIds]) : [];
    // Without journeys listening, trigger entry is the batch's last statement and carries its COMMIT.
    const triggers = await applyTriggers(tx, workspaceId, stored, listeners.triggers, { last: !listeners.journeys.journeys });
    const contactsStored = [...new Set(stored.map((event) => event.contactId))];
    const journeys = await applyJourneyEvents(tx, workspaceId, [...storedIds], contactsStored, listeners.journeys);
    return { ...answers(workspaceId, all, inserted), refused, conversions, triggers, journeys };
  }, { preparedStatements: herald.config.HERALD_PREPARED_STATEMENTS, genericPlans: true });
}

/** The row sent for each event (its contactId null when it named no known contact). */
interface SentRow {
  id: string;
  contactId: string | null | undefined;
  name: string;
  properties: unknown;
  occurredAt: Date;
  idempotencyKey: string | null;
}

/**
 * Each event's answer: the row it stored, as sent with the receivedAt the database chose (null for
 * a replayed idempotency key or an unknown contact), its scoped key, and whether its contact was unknown.
 */
function answers(workspaceId: string, all: readonly SentRow[], inserted: readonly { id: string; receivedAt: Date }[]) {
  const receivedAt = new Map(inserted.map((row) => [row.id, row.receivedAt]));
  return {
    stored: all.map(({ id, contactId, name, properties, occurredAt, idempotencyKey }): Event | null => {
      const received = receivedAt.get(id);
      return received ? { id, workspaceId, contactId: contactId!, name, properties: properties as Prisma.JsonValue, occurredAt, receivedAt: received, idempotencyKey } : null;
    }),
    keys: all.map((row) => row.idempotencyKey),
    missing: all.map((row) => !row.contactId),
  };
}

/**
 * What listens to a batch, as `listenersSql` answers it: the triggered campaigns' version, and the
 * campaigns themselves (their timestamps as JSON text) unless this process knew that version.
 */
type ListeningJson = JourneyNeeds & {
  conversionEvents: string[];
  locked: boolean;
  triggered: {
    version: string;
    campaigns: (Omit<TriggeredCampaign, 'startAt' | 'startedAt' | 'endAt'> & { startAt: string | null; startedAt: string | null; endAt: string | null })[] | null;
  };
};

/**
 * CTEs ending in `listeners`, one row whose `listening` is what listens to a batch's events: the
 * triggered campaigns (taking the contacts' trigger locks when one listens), whether a campaign
 * counts one of the events as a conversion, and what journeys may do. Part of the events' insert
 * (a gathered batch of browser events is a few statements, each a round trip), so it names every
 * row of the batch, replayed ones too: locking a replayed event's contact or reading a flag for its
 * name costs nothing wrong, and each later step runs only on the events stored. `ahead`: the
 * campaigns' version the statements sent behind this one were built from, which also assumed that
 * no conversion or journey listens; otherwise herald_listeners_changed rolls the transaction back.
 */
function listenersSql(workspaceId: string, rows: readonly { contactId?: string | null; name: string }[], knownVersion: string | null, ahead: string | null): Prisma.Sql {
  const names = [...new Set(rows.map((row) => row.name))];
  const contactIds = [...new Set(rows.map((row) => row.contactId!))];
  return Prisma.sql`campaigns AS (${listeningCampaignsSql(workspaceId)}),
    flags AS (
      SELECT ${conversionEventsSql(workspaceId)} AS "conversionEvents", ${journeyNeedsSql(workspaceId, names)},
        ${triggerLocksSql(Prisma.sql`campaigns`, contactIds, names)} AS locked,
        ${listeningCampaignsJsonSql(Prisma.sql`campaigns`, knownVersion)} AS triggered
    ),
    listeners AS (
      SELECT CASE WHEN ${ahead}::text IS NULL
          OR (f.triggered->>'version' = ${ahead}::text AND NOT f.journeys AND NOT (f."conversionEvents" && ${names}::text[]))
        THEN to_jsonb(f) ELSE herald_listeners_changed() END AS listening
      FROM flags f
    )`;
}

/** The SQLSTATE herald_listeners_changed raises (its migration, 20261204060000_listeners_changed). */
const LISTENERS_CHANGED = 'HR001';

/**
 * Keeps what an insert read of the workspace's listeners (the campaigns themselves only when their
 * version was new to this process) and answers the triggered campaigns it names.
 */
function remember(herald: Herald, workspaceId: string, listening: ListeningJson | null, known: KnownListeners | null): KnownListeners | null {
  if (!listening) return null;
  const { version, campaigns } = listening.triggered;
  const at = (text: string | null) => (text === null ? null : new Date(text));
  const read: KnownListeners = {
    version,
    campaigns:
      campaigns === null ? known!.campaigns : campaigns.map((campaign) => ({ ...campaign, startAt: at(campaign.startAt), startedAt: at(campaign.startedAt), endAt: at(campaign.endAt) })),
    conversionEvents: listening.conversionEvents,
    journeys: listening.journeys,
  };
  herald.deliveries.listeners.set(workspaceId, read);
  return read;
}

/** Whether, as `known` has it, the batch's events need of their listeners trigger entry at most. */
function onlyTriggers(known: KnownListeners, rows: readonly { name: string }[]): boolean {
  if (known.journeys) return false;
  const names = new Set(rows.map((row) => row.name));
  if (known.conversionEvents.some((name) => names.has(name))) return false;
  return !known.campaigns.some((campaign) => triggerOf(campaign)!.exceptionEvents?.some((name) => names.has(name)));
}

/** `listenersSql`'s answer as applyTriggers, conversions and journeys take it (null: nothing stored, nothing listens). */
function listenersFrom(
  listening: ListeningJson | null,
  triggered: KnownListeners | null,
  stored: readonly StoredEvent[],
): { triggers: TriggerListeners; converting: boolean; journeys: JourneyNeeds } {
  if (!listening || !triggered) return { triggers: { campaigns: [], locked: false }, converting: false, journeys: { journeys: false, goal: false, exit: false, wait: false } };
  return {
    triggers: { campaigns: triggered.campaigns, locked: listening.locked },
    converting: listening.conversionEvents.some((name) => stored.some((event) => event.name === name)),
    journeys: { journeys: listening.journeys, goal: listening.goal, exit: listening.exit, wait: listening.wait },
  };
}

/**
 * A page's idempotency keys live in its contact's own namespace: a page can neither read the
 * backend's event by guessing its key nor pre-empt the backend's key. The backend's keys are as given.
 */
function scopedKey(writer: Writer, contactId: string, key: string): string {
  return writer === 'page' ? `${pageKeyPrefix(contactId)}${key}` : key;
}

/**
 * One event; for an idempotency key seen before, the event first stored with it. With
 * HERALD_PUBLIC_BATCH_MS, concurrent calls of one workspace are written together (group commit,
 * db/group-commit.ts): each is validated alone first, so a bad event fails only its own call.
 */
export async function trackEvent(herald: Herald, workspaceId: string, input: EventInput | unknown, writer: Writer = 'backend'): Promise<Event> {
  if (!herald.gathering.enabled) {
    const { stored, keys } = await trackEvents(herald, workspaceId, [input], { single: true, writer });
    const [answer] = await answersFor(herald, workspaceId, stored, keys);
    if (answer instanceof Error) throw answer;
    return answer!;
  }
  // The event's time is when it arrived, not when its batch is written: a contact's events keep their order.
  const arrived = new Date();
  const parsed = eventInput.safeParse(input);
  if (!parsed.success) throw fromZodIssues(parsed.error.issues, ['input']);
  const event = { ...parsed.data, occurredAt: parsed.data.occurredAt ?? arrived };
  await verifyIdentities(herald, workspaceId, writer, [event], () => ['input']);
  const order = event.contactId ?? (event.externalId ? `x:${event.externalId}` : `a:${event.anonymousId}`);
  return herald.gathering.submit(`events:${workspaceId}:${writer}`, order, event, async (events: EventInput[], after) => {
    const { stored, keys, missing, refused, planned } = await storeEvents(herald, workspaceId, writer, events);
    after(planned);
    const answers = await answersFor(herald, workspaceId, stored, keys);
    return answers.map((answer, index) => (refused[index] ? anonymousIdOfCustomer(['input']) : missing[index] ? noContact(['input']) : answer));
  });
}

/**
 * Each index's event: the one it stored, or for a replayed key the one first stored with it (read
 * only when there are such). It runs after its batch's COMMIT, so it never throws: a batch writer
 * that threw would be written again item by item, storing the keyless events twice. Should the
 * read fail, only the replayed keys' callers get the error (retrying with their key stores nothing).
 */
async function answersFor(herald: Herald, workspaceId: string, stored: (Event | null)[], keys: (string | null)[]): Promise<(Event | Error)[]> {
  const replayed = keys.filter((key, index): key is string => !stored[index] && key !== null);
  const byKey = new Map<string, Event>();
  let unread: Error | undefined;
  if (replayed.length) {
    try {
      for (const event of await herald.prisma.event.findMany({ where: { workspaceId, idempotencyKey: { in: replayed } } })) byKey.set(event.idempotencyKey!, event);
    } catch (error) {
      herald.log.warn({ err: error, workspaceId }, 'could not read back the events of replayed idempotency keys');
      unread = new Error('the event of this idempotency key could not be read back; retry with the same key');
    }
  }
  return stored.map((event, index) => event ?? byKey.get(keys[index]!) ?? unread ?? new Error('a stored event could not be read back'));
}
