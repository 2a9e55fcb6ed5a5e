import { Prisma } from '../db/prisma.ts';
import type { SqlTx } from '../db/sql-transaction.ts';
import type { Herald } from '../herald-context.ts';
import { compileEventWhere } from '../segments/compile.ts';
import { stepOf, type WaitForEventStep } from './definition.ts';
import { activeJourneys, enrol, type Enrolled, exitedSql, lockContactsForJourneys, type PublishedJourney } from './entry.ts';
import { definitionOf } from './versions.ts';

type Tx = SqlTx;

/** What a batch of events did to journeys, to announce once it is committed. */
export interface JourneyOutcome {
  changed: Set<string>;
  /** Enrolments became due now (entered, or a waited-for event came). */
  due: boolean;
}

/** What a batch no journey listens to does to journeys: nothing. */
export const NO_JOURNEY_OUTCOME: JourneyOutcome = { changed: new Set(), due: false };

/** What a batch's events may do to the workspace's journeys, read with the batch's other listeners (tracking/events.ts). */
export interface JourneyNeeds {
  /** The workspace has a published journey that is not archived. */
  journeys: boolean;
  /** A version names one of the events as its goal / among its exit events / in a waitForEvent step. */
  goal: boolean;
  exit: boolean;
  wait: boolean;
}

/** JourneyNeeds' columns for the batch's event names, in one SELECT list: a part of a larger statement. */
export function journeyNeedsSql(workspaceId: string, names: readonly string[]): Prisma.Sql {
  const versions = Prisma.sql`SELECT v."goalEvent", v."exitEvents", v."waitEvents" FROM "Journey" j JOIN "JourneyVersion" v ON v."journeyId" = j.id WHERE j."workspaceId" = ${workspaceId}::uuid`;
  return Prisma.sql`
    EXISTS (SELECT 1 FROM "Journey" WHERE "workspaceId" = ${workspaceId}::uuid AND version > 0 AND status <> 'ARCHIVED') AS journeys,
    EXISTS (SELECT 1 FROM (${versions}) v WHERE v."goalEvent" = ANY(${[...names]}::text[])) AS goal,
    EXISTS (SELECT 1 FROM (${versions}) v WHERE v."exitEvents" && ${[...names]}::text[]) AS exit,
    EXISTS (SELECT 1 FROM (${versions}) v WHERE v."waitEvents" && ${[...names]}::text[]) AS wait`;
}

/**
 * Tracking's hook: runs in the transaction that stores a batch of events (like triggers), so an
 * event counts for journeys exactly when it is stored. In the order JOURNEY-SEMANTICS.md gives,
 * an event first acts on the enrolments there are (goal, exit, waitForEvent), then may enter:
 *  - goal: the contact's latest enrolment by the event's time of a journey whose goal it is, within
 *    goal.withinSeconds of entry, is converted (once);
 *  - exit: an ACTIVE enrolment whose version lists the event ends EXITED at its time;
 *  - waitForEvent: an enrolment waiting for it since before the event (and within its timeout)
 *    becomes due at the event's time; the engine moves it to onEvent;
 *  - entry: ACTIVE journeys entered on it enrol the contact (engine runs the first step).
 * An enrolment the batch made then takes the goal and exit events of the batch that come after
 * the one it entered on, by (occurredAt, id) as the backtest orders them, and a contact it exited
 * may enter again on a later entry event of the batch (another round of entry and exit, for those
 * contacts only): a backend's batch of a day's events acts as they would have one by one while its
 * new enrolments wait at their first step. (A waitForEvent first step needs nothing here: the
 * engine looks for the events stored since arrival when it gets there.)
 * The contacts' journey locks are held meanwhile, so the engine never decides a contact's wait
 * without this batch's events.
 */
export async function applyJourneyEvents(
  tx: Tx,
  workspaceId: string,
  eventIds: readonly string[],
  contactIds: readonly string[],
  needs: JourneyNeeds,
): Promise<JourneyOutcome> {
  if (eventIds.length === 0 || !needs.journeys) return NO_JOURNEY_OUTCOME;
  const ids = Prisma.sql`${[...eventIds]}::uuid[]`;
  await lockContactsForJourneys(tx, contactIds);
  const changed = new Set<string>();
  const add = (rows: { journeyId: string }[]) => rows.forEach((row) => changed.add(row.journeyId));

  // A goal, exit or waited-for event no version of the workspace's journeys names would find nothing: skipped.
  if (needs.exit) add(await exitOnEvents(tx, ids));

  // Skipped, the probe was one index lookup per event (1,000 events: 14-23 ms at load 11, 0 rows).
  const woken = needs.wait ? await wakeWaiting(tx, ids) : [];
  add(woken);

  // Entry, then the batch's exit events after each new enrolment's entering one. A contact that
  // exited so and has a later entry event in the batch may enter again: another round, for those only.
  const fresh: Enrolled[] = [];
  for (let round = await enterOnEvents(tx, workspaceId, ids); round.length; ) {
    add(round.map(({ journey }) => ({ journeyId: journey.id })));
    const enrolments = round.flatMap((entered) => entered.enrolments);
    fresh.push(...enrolments);
    const exited = needs.exit ? await exitOnEvents(tx, ids, afterOf(enrolments)) : [];
    add(exited);
    const ended = new Set(exited.map((row) => row.id));
    const outAgain = round.map(({ journey, enrolments }) => ({ journey, enrolments: enrolments.filter((enrolment) => enrolment.more && ended.has(enrolment.id)) }));
    round = await enterAgain(tx, ids, outAgain);
  }
  // Goals once entry is known: a goal event after a re-entry in the batch converts the new enrolment, never the one before it.
  if (needs.goal) add(await convertGoals(tx, ids, afterOf(fresh)));
  return { changed, due: woken.length > 0 || fresh.length > 0 };
}

/** Each new enrolment's entering event, by enrolment id (or by its contact's id): only events after it act on it. */
function afterOf(enrolments: readonly Enrolled[], by: 'id' | 'contactId' = 'id'): Prisma.Sql {
  return Prisma.sql`${JSON.stringify(Object.fromEntries(enrolments.map((enrolment) => [enrolment[by], enrolment.key])))}::jsonb`;
}

/** Limits a pass to the enrolments of `after` (id → entering event id) and their events after the entering one. */
function afterEntry(after: Prisma.Sql | undefined, enrolment: Prisma.Sql): Prisma.Sql {
  if (!after) return Prisma.empty;
  return Prisma.sql`AND (${after} ->> ${enrolment}::text) IS NOT NULL AND ${afterEntering(after, enrolment)}`;
}

/** The event `e` comes after the entering event `after` holds for `key` (an enrolment's id, or a contact's), by (occurredAt, id). */
function afterEntering(after: Prisma.Sql, key: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`(e."occurredAt", e.id) > (SELECT f."occurredAt", f.id FROM "Event" f WHERE f.id = (${after} ->> ${key}::text)::uuid)`;
}

/**
 * goal: each contact's latest enrolment by the event's time (an event stored late never looks at one
 * entered after it) of a journey whose goal the event is, within its window, converts once. Runs
 * after entry: an enrolment of `after` (the batch made it) counts only for events after its entering one.
 * From each event to its contact's enrolments (a lateral probe of the contactId index), never a join
 * of the batch's events with each other: on a prepared statement's generic plan, which takes the
 * id array for 10 rows, that join was a nested loop over the batch squared (1,000 events: 160 ms
 * instead of 30).
 */
function convertGoals(tx: Tx, ids: Prisma.Sql, after: Prisma.Sql): Promise<{ journeyId: string }[]> {
  return tx.$queryRaw<{ journeyId: string }[]>`
    WITH hit AS (
      SELECT l.id, min(e."occurredAt") AS at
      FROM "Event" e CROSS JOIN LATERAL (
        SELECT DISTINCT ON (en."journeyId") en.id, en."journeyId", en.version, en."enteredAt", en."convertedAt"
        FROM "JourneyEnrollment" en WHERE en."contactId" = e."contactId" AND en."enteredAt" <= e."occurredAt"
          AND ((${after} ->> en.id::text) IS NULL OR ${afterEntering(after, Prisma.sql`en.id`)})
        ORDER BY en."journeyId", en."enteredAt" DESC
      ) l
      JOIN "JourneyVersion" v ON v."journeyId" = l."journeyId" AND v.version = l.version
      WHERE e.id = ANY(${ids}) AND l."convertedAt" IS NULL AND e.name = v."goalEvent"
        AND e."occurredAt" <= l."enteredAt" + make_interval(secs => v."goalWithinSeconds")
      GROUP BY l.id
    )
    UPDATE "JourneyEnrollment" en SET "convertedAt" = hit.at FROM hit WHERE en.id = hit.id AND en."convertedAt" IS NULL
    RETURNING en."journeyId"::text`;
}

/** exit: an ACTIVE enrolment whose version lists the event ends EXITED at its time, its step on the path. */
function exitOnEvents(tx: Tx, ids: Prisma.Sql, after?: Prisma.Sql): Promise<{ journeyId: string; id: string }[]> {
  return tx.$queryRaw<{ journeyId: string; id: string }[]>`
    WITH hit AS (
      -- From each event to its contact's ACTIVE enrolments, as convertGoals (OFFSET 0 keeps the probe per event).
      SELECT en.id, en.seq, en.step, en."arrivedAt", min(e."occurredAt") AS at
      FROM "Event" e CROSS JOIN LATERAL (
        SELECT en.id, en.seq, en.step, en."arrivedAt", en."journeyId", en.version FROM "JourneyEnrollment" en
        WHERE en."contactId" = e."contactId" AND en.status = 'ACTIVE' AND e."occurredAt" >= en."enteredAt"
        OFFSET 0
      ) en
      JOIN "JourneyVersion" v ON v."journeyId" = en."journeyId" AND v.version = en.version
      WHERE e.id = ANY(${ids}) AND e.name = ANY(v."exitEvents") ${afterEntry(after, Prisma.sql`en.id`)}
      GROUP BY en.id, en.seq, en.step, en."arrivedAt"
    ), ${exitedSql('exited')}
    SELECT "journeyId"::text, id::text FROM moved`;
}

/** waitForEvent: the first matching event in (arrival, timeout] makes the enrolment due at its time. */
async function wakeWaiting(tx: Tx, ids: Prisma.Sql): Promise<{ journeyId: string }[]> {
  const candidates = await tx.$queryRaw<{ id: string; journeyId: string; version: number; step: string; eventId: string; at: Date }[]>`
    SELECT en.id::text, en."journeyId"::text, en.version, en.step, e.id::text AS "eventId", e."occurredAt" AS at
    FROM "Event" e CROSS JOIN LATERAL (
      -- From each event to its contact's enrolments waiting for it, on the (contact, waitingFor)
      -- index; OFFSET 0 keeps the planner from turning it around into a scan of every ACTIVE
      -- enrolment (as it did with a join: O(enrolled) per event batch, 90 ms at 9,000).
      SELECT en.* FROM "JourneyEnrollment" en
      WHERE en."contactId" = e."contactId" AND en."waitingFor" = e.name AND en.status = 'ACTIVE' AND en.ran
        AND e."occurredAt" > en."arrivedAt" AND e."occurredAt" <= en."wakeAt" AND (en."eventAt" IS NULL OR e."occurredAt" < en."eventAt")
      OFFSET 0
    ) en
    WHERE e.id = ANY(${ids})`;
  if (candidates.length === 0) return [];
  // Each step's own `where` on the event's properties.
  const matching: typeof candidates = [];
  const byStep = new Map<string, typeof candidates>();
  for (const candidate of candidates) {
    const key = `${candidate.journeyId}:${candidate.version}:${candidate.step}`;
    byStep.set(key, [...(byStep.get(key) ?? []), candidate]);
  }
  for (const group of byStep.values()) {
    const { journeyId, version, step: key } = group[0]!;
    const step = stepOf(await definitionOf(tx, journeyId, version), key) as WaitForEventStep | undefined;
    if (step?.kind !== 'waitForEvent') continue;
    if (step.where.length === 0) {
      matching.push(...group);
      continue;
    }
    const passing = await tx.$queryRaw<{ id: string }[]>`
      SELECT e.id::text FROM "Event" e WHERE e.id = ANY(${group.map((candidate) => candidate.eventId)}::uuid[]) AND ${compileEventWhere(step.where)}`;
    const ok = new Set(passing.map((row) => row.id));
    matching.push(...group.filter((candidate) => ok.has(candidate.eventId)));
  }
  if (matching.length === 0) return [];
  const input = matching.map((candidate) => ({ id: candidate.id, at: candidate.at.toISOString() }));
  return tx.$queryRaw<{ journeyId: string }[]>`
    WITH hit AS (SELECT id, min(at) AS at FROM jsonb_to_recordset(${JSON.stringify(input)}::jsonb) AS h(id uuid, at timestamptz) GROUP BY id)
    UPDATE "JourneyEnrollment" en SET "eventAt" = LEAST(COALESCE(en."eventAt", hit.at), hit.at), "wakeAt" = LEAST(en."wakeAt", hit.at)
    FROM hit WHERE en.id = hit.id AND en.status = 'ACTIVE' AND en.ran
    RETURNING en."journeyId"::text`;
}

/** Entry: ACTIVE journeys entered on these events, each event checked against its `where` and audience. */
async function enterOnEvents(tx: Tx, workspaceId: string, ids: Prisma.Sql): Promise<Entered[]> {
  const names = await tx.$queryRaw<{ name: string }[]>`SELECT DISTINCT name FROM "Event" WHERE id = ANY(${ids})`;
  const wanted = new Set(names.map((row) => row.name));
  const journeys = (await activeJourneys(tx, workspaceId)).filter(
    (journey) => journey.definition.entry.kind === 'event' && wanted.has(journey.definition.entry.name),
  );
  const entered: Entered[] = [];
  for (const journey of journeys) {
    const enrolments = await enrol(tx, journey, entrySource(journey, ids));
    if (enrolments.length) entered.push({ journey, enrolments });
  }
  return entered;
}

type Entered = { journey: PublishedJourney; enrolments: Enrolled[] };

/** Another round of entry for `entered`'s contacts (their enrolments ended since), on their entry events after the one they entered on. */
async function enterAgain(tx: Tx, ids: Prisma.Sql, entered: readonly Entered[]): Promise<Entered[]> {
  const again: Entered[] = [];
  for (const { journey, enrolments } of entered) {
    if (enrolments.length === 0 || journey.definition.reEntryAfterSeconds == null) continue;
    const more = await enrol(tx, journey, entrySource(journey, ids, afterOf(enrolments, 'contactId')));
    if (more.length) again.push({ journey, enrolments: more });
  }
  return again;
}

/** enrol's source: the journey's entry events among `ids`; with `after` (contact id → event id), only those contacts' events after that one. */
function entrySource(journey: PublishedJourney, ids: Prisma.Sql, after?: Prisma.Sql): Prisma.Sql {
  const entry = journey.definition.entry as { kind: 'event'; name: string; where: Parameters<typeof compileEventWhere>[0] };
  const later = after ? Prisma.sql`AND ${afterEntering(after, Prisma.sql`e."contactId"`)}` : Prisma.empty;
  return Prisma.sql`
    SELECT e."contactId", e."occurredAt" AS at, e.id::text AS key FROM "Event" e
    WHERE e.id = ANY(${ids}) AND e.name = ${entry.name} AND ${compileEventWhere(entry.where)} ${later}`;
}

/** After the events' transaction commits: dashboards hear of it, and due enrolments are advanced. */
export function announceJourneyEvents(herald: Herald, outcome: JourneyOutcome): void {
  for (const journeyId of outcome.changed) herald.events.publish('journey:changed', journeyId, { reason: 'events' });
  if (outcome.due) herald.events.publish('journeys:due');
}
