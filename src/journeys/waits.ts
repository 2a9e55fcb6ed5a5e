import { Prisma } from '../db/prisma.ts';
import type { Herald } from '../herald-context.ts';

/** Waits one statement passes; each holds a contact lock until it commits, so well under the lock table's size. */
export const WAIT_BATCH = 2_000;
/** Lock namespace for one contact's journey work: the event hook and the engine take turns. */
export const JOURNEY_CONTACT_LOCK = 72_520;

export interface PassedWaits {
  /** Enrolments claimed (WAIT_BATCH means more may be due). */
  claimed: number;
  /** Waits passed. */
  passed: number;
  journeys: string[];
  /** The last enrolment claimed, in (wakeAt, id) order: where a lane's next statement may start. */
  last: WaitCursor | null;
}

/** A place in the due order of waits: (wakeAt, id). */
export interface WaitCursor {
  wakeAt: Date;
  id: string;
}

/**
 * Waits that have ended, passed in one statement per batch, without a row leaving the database:
 * due enrolments at a `wait` step, or at a `waitForEvent` step whose event came (or whose time
 * ran out), claimed `FOR UPDATE SKIP LOCKED` in due order, move to the step's next one, due at
 * once at the wait's end, each with its path entry and seq bumped, as the engine's own batch
 * would (resolveWaits); the engine's next pass runs the steps that follow. A wave of waits
 * ending together is so passed on the dot however slow the steps after it are. A contact whose
 * events are being stored now keeps its lock (try-lock) and is left for the next pass.
 *
 * It commits without waiting for the disk (synchronous_commit off for this statement's own
 * transaction): it has no effect outside the database, so a crash that lost the commit only leaves
 * the waits due, to be passed again; and whatever follows from it (the next step's messages)
 * commits durably after it in the same WAL, which makes it durable too.
 */
export async function passDueWaits(herald: Herald, ids?: readonly string[], now?: number, after?: WaitCursor | null): Promise<PassedWaits> {
  const only = ids ? Prisma.sql`AND en.id = ANY(${[...ids]}::uuid[])` : Prisma.empty;
  // A lane goes on from its last claim instead of walking, every statement, the waits passed
  // before it (they keep their wakeAt until the engine runs their next step).
  const onward = after
    ? Prisma.sql`AND en."wakeAt" >= ${after.wakeAt}::timestamptz AND (en."wakeAt", en.id) > (${after.wakeAt}::timestamptz, ${after.id}::uuid)`
    : Prisma.empty;
  const clock = now == null ? Prisma.sql`now()` : Prisma.sql`${new Date(now)}::timestamptz`;
  const [row] = await herald.prisma.$queryRaw<{ claimed: number; passed: number; journeys: string[]; lastWakeAt: Date | null; lastId: string | null }[]>`
    WITH waits AS MATERIALIZED (
      SELECT v."journeyId", v.version, s->>'key' AS key, s->>'kind' AS kind, s->>'next' AS next, s->>'onEvent' AS "onEvent", s->>'onTimeout' AS "onTimeout"
      FROM "Journey" j JOIN "JourneyVersion" v ON v."journeyId" = j.id CROSS JOIN jsonb_array_elements(v.definition->'steps') s
      WHERE j.status = 'ACTIVE' AND s->>'kind' IN ('wait', 'waitForEvent')
    ), due AS MATERIALIZED (
      SELECT en.id, en."contactId", en.step, en."arrivedAt", en."wakeAt",
        CASE WHEN w.kind = 'wait' THEN 'waited' WHEN en."eventAt" IS NOT NULL THEN 'event' ELSE 'timeout' END AS outcome,
        CASE WHEN w.kind = 'wait' THEN w.next WHEN en."eventAt" IS NOT NULL THEN w."onEvent" ELSE w."onTimeout" END AS next,
        CASE WHEN w.kind = 'waitForEvent' AND en."eventAt" IS NOT NULL THEN en."eventAt" ELSE en."wakeAt" END AS "passedAt"
      FROM "JourneyEnrollment" en JOIN waits w ON w."journeyId" = en."journeyId" AND w.version = en.version AND w.key = en.step
      WHERE en.status = 'ACTIVE' AND en.ran AND en."wakeAt" <= ${clock} ${only} ${onward}
      ORDER BY en."wakeAt", en.id
      LIMIT ${WAIT_BATCH}
      FOR UPDATE OF en SKIP LOCKED
    ), free AS MATERIALIZED (
      SELECT * FROM due WHERE pg_try_advisory_xact_lock(${JOURNEY_CONTACT_LOCK}::int, hashtext("contactId"::text))
    ), moved AS (
      UPDATE "JourneyEnrollment" en SET seq = en.seq + 1, step = f.next, "arrivedAt" = f."passedAt", ran = false,
        status = (CASE WHEN f.next IS NULL THEN 'COMPLETED' ELSE 'ACTIVE' END)::"JourneyEnrollmentStatus",
        "wakeAt" = CASE WHEN f.next IS NULL THEN NULL ELSE f."passedAt" END,
        "endedAt" = CASE WHEN f.next IS NULL THEN f."passedAt" END, "waitingFor" = NULL, "eventAt" = NULL
      FROM free f WHERE en.id = f.id
      RETURNING en.id, en.seq, en."journeyId", f.step, f."arrivedAt", f."passedAt", f.outcome
    ), path AS (
      INSERT INTO "JourneyPathEntry" ("enrollmentId", seq, "journeyId", step, at, "passedAt", outcome)
      SELECT id, seq, "journeyId", step, "arrivedAt", "passedAt", outcome FROM moved
      ON CONFLICT DO NOTHING
    )
    SELECT (SELECT count(*) FROM due)::int AS claimed, count(*)::int AS passed, COALESCE(array_agg(DISTINCT "journeyId"::text), '{}') AS journeys,
      (SELECT "wakeAt" FROM due ORDER BY "wakeAt" DESC, id DESC LIMIT 1) AS "lastWakeAt",
      (SELECT id::text FROM due ORDER BY "wakeAt" DESC, id DESC LIMIT 1) AS "lastId",
      (SELECT set_config('synchronous_commit', 'off', true)) AS "commit"
    FROM moved`;
  const { claimed, passed, journeys, lastWakeAt, lastId } = row!;
  return { claimed, passed, journeys, last: lastWakeAt && lastId ? { wakeAt: lastWakeAt, id: lastId } : null };
}

/**
 * When the next enrolment falls due, whichever process set it (one that since died, another
 * worker): the drain times it in memory, so a wait ends on the dot rather than at the next tick.
 */
export async function nextWakeAt(herald: Herald): Promise<number | null> {
  const [row] = await herald.prisma.$queryRaw<{ at: Date | null }[]>`
    SELECT min("wakeAt") AS at FROM "JourneyEnrollment" WHERE status = 'ACTIVE' AND "wakeAt" > now()`;
  return row?.at?.getTime() ?? null;
}
