import { uuidv7 } from '../db/ids.ts';
import { fromZodIssues, ValidationError } from '../errors.ts';
import type { Event } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';
import { verifyIdentities, type Writer } from '../contacts/identity.ts';
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
  type TriggeredCampaigns,
  type TriggerListeners,
  triggerLocksSql,
} from '../delivery/triggers.ts';
import { announceJourneyEvents, applyJourneyEvents, type JourneyNeeds, journeyNeedsSql } from '../journeys/events.ts';
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
  const { stored, keys, planned } = await storeEvents(herald, workspaceId, writer, events, (index) => at(index, 'contactId'));
  await planned;
  const count = stored.filter(Boolean).length;
  return { count, duplicates: events.length - count, stored, keys };
}

const noContact = (path: string[]) => ValidationError.field(path, 'no contact with this id');

/**
 * Stores validated events in one transaction, with their triggers and conversions, and announces
 * them once committed; answers each event as stored (null for an idempotency key seen before),
 * and `planned`, which settles (never rejects) once the wake-ups of messages due later are planned.
 * An event naming an unknown contactId fails the whole batch when `missingAt` places its error;
 * without it, only that event is left out (`missing`).
 */
async function storeEvents(
  herald: Herald,
  workspaceId: string,
  writer: Writer,
  events: readonly EventInput[],
  missingAt?: (index: number) => string[],
): Promise<{ stored: (Event | null)[]; keys: (string | null)[]; missing: boolean[]; planned: Promise<void> }> {
  // On a pg connection of its own, not Prisma's transaction (~0.3 ms less CPU a statement), on the
  // pipelining pool: BEGIN leaves with the contacts' statement, COMMIT with trigger entry.
  const written = await sqlTransaction(herald.pipelinedPool, async (tx) => {
    // Batches share contacts: they are locked in one order (id) as they are found, before lastSeenAt
    // moves, else two batches lock them in their own orders and deadlock. NO KEY UPDATE, the lock
    // the UPDATE takes, does not wait for the key-share locks of other batches' event inserts.
    const contactIds = await resolveContacts(tx, workspaceId, events, { lock: true });
    const missing = contactIds.findIndex((id) => id === null);
    if (missing >= 0 && missingAt) throw noContact(missingAt(missing));

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
    const rows = all.filter((row) => row.contactId);
    const contacts = [...new Set(rows.map((row) => row.contactId!))];
    const known = herald.deliveries.triggered.get(workspaceId) ?? null;
    // The insert answers which rows it stored (a replayed key stores and returns nothing) with the
    // one column the database chose, receivedAt: the rest is what was sent (properties read back
    // would cost PostgreSQL their JSON text and Herald its parse, per event). Each contact's
    // lastSeenAt moves in the same statement (the ids named let the planner read the contacts by
    // key: it cannot count the insert's rows, and would scan every contact). What listens to the
    // batch comes back on the first row: one round trip less per gathered batch.
    const inserted = await tx.$queryRaw<{ id: string; receivedAt: Date; listening: ListeningJson | null }[]>`
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
      ), ${listenersSql(workspaceId, rows, known?.version ?? null)}
      SELECT i.id, i."receivedAt",
        CASE WHEN i.first THEN (SELECT listening FROM listeners) END AS listening
      FROM (SELECT *, row_number() OVER () = 1 AS first FROM inserted) i`;
    const sent = new Map(rows.map((row) => [row.id, row]));
    const byId = new Map(
      inserted.map(({ id, receivedAt }) => {
        const { contactId, name, properties, occurredAt, idempotencyKey } = sent.get(id)!;
        const event: Event = { id, workspaceId, contactId: contactId!, name, properties: properties as Prisma.JsonValue, occurredAt, receivedAt, idempotencyKey };
        return [id, event];
      }),
    );
    const insertedIds = [...byId.keys()];
    const storedEvents = rows.filter((row) => byId.has(row.id)) as StoredEvent[];
    const listening = inserted[0]?.listening ?? null;
    const triggered = listening && (listening.triggered.campaigns === null ? known! : triggeredFrom(listening.triggered));
    if (triggered && triggered !== known) herald.deliveries.triggered.set(workspaceId, triggered);
    const listeners = listenersFrom(listening, triggered, storedEvents);
    const conversions = listeners.converting ? await recordConversions(tx, workspaceId, insertedIds) : [];
    // Without journeys listening, trigger entry is the batch's last statement and carries its COMMIT.
    const triggers = await applyTriggers(tx, workspaceId, storedEvents, listeners.triggers, { last: !listeners.journeys.journeys });
    const contactsStored = [...new Set(storedEvents.map((event) => event.contactId))];
    const journeys = await applyJourneyEvents(tx, workspaceId, insertedIds, contactsStored, listeners.journeys);
    return {
      stored: all.map((row) => byId.get(row.id) ?? null),
      keys: all.map((row) => row.idempotencyKey),
      missing: all.map((row) => !row.contactId),
      conversions,
      triggers,
      journeys,
    };
  }, { preparedStatements: herald.config.HERALD_PREPARED_STATEMENTS, genericPlans: true });

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
 * name costs nothing wrong, and each later step runs only on the events stored.
 */
function listenersSql(workspaceId: string, rows: readonly { contactId?: string | null; name: string }[], knownVersion: string | null): Prisma.Sql {
  const names = [...new Set(rows.map((row) => row.name))];
  const contactIds = [...new Set(rows.map((row) => row.contactId!))];
  return Prisma.sql`campaigns AS (${listeningCampaignsSql(workspaceId)}),
    flags AS (
      SELECT ${conversionEventsSql(workspaceId)} AS "conversionEvents", ${journeyNeedsSql(workspaceId, names)},
        ${triggerLocksSql(Prisma.sql`campaigns`, contactIds, names)} AS locked,
        ${listeningCampaignsJsonSql(Prisma.sql`campaigns`, knownVersion)} AS triggered
    ),
    listeners AS (SELECT to_jsonb(f) AS listening FROM flags f)`;
}

/** The triggered campaigns of one version as applyTriggers takes them (timestamps as Dates). */
function triggeredFrom({ version, campaigns }: ListeningJson['triggered']): TriggeredCampaigns {
  const at = (text: string | null) => (text === null ? null : new Date(text));
  return { version, campaigns: campaigns!.map((campaign) => ({ ...campaign, startAt: at(campaign.startAt), startedAt: at(campaign.startedAt), endAt: at(campaign.endAt) })) };
}

/** `listenersSql`'s answer as applyTriggers, conversions and journeys take it (null: nothing stored, nothing listens). */
function listenersFrom(
  listening: ListeningJson | null,
  triggered: TriggeredCampaigns | null,
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
  return writer === 'page' ? `page:${contactId}:${key}` : key;
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
    const { stored, keys, missing, planned } = await storeEvents(herald, workspaceId, writer, events);
    after(planned);
    const answers = await answersFor(herald, workspaceId, stored, keys);
    return answers.map((answer, index) => (missing[index] ? noContact(['input', 'contactId']) : answer));
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
