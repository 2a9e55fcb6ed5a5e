import { Prisma } from '../db/prisma.ts';
import { REPORTS_DELIVERY } from '../delivery/channel.ts';
import type { Herald } from '../herald-context.ts';
import { selectionSql } from '../segments/service.ts';
import { compileEventWhere } from '../segments/compile.ts';
import { type EngagementStep, JOURNEY_LIMITS, type JourneyDefinition, type JourneyStep, type SendStep, splitPath, stepOf } from './definition.ts';
import { announceSends, countSends, type QueuedMessage, sendStep } from './send.ts';
import { definitionOf } from './versions.ts';
import { type Claimed, groupBy, pass, type Visit } from './visit.ts';
import { nextLocalTime } from './local-time.ts';
import { JOURNEY_CONTACT_LOCK, passDueWaits, WAIT_BATCH } from './waits.ts';

type Tx = Prisma.TransactionClient;

/**
 * The durable engine: enrolments are rows, and every move of one is a transition that bumps its
 * `seq`, guarded by the value read, in the same transaction as the move's effect (its ledger
 * message, its path entry). Due enrolments are claimed `FOR UPDATE SKIP LOCKED` in batches, so
 * workers share the work and a crash rolls a batch back whole: every step runs once per visit.
 *
 * Within a batch, enrolments advance set-wise: a round takes every enrolment arriving somewhere,
 * groups them by (journey, version, step) and runs each group's step in one or two statements,
 * until every enrolment waits or has completed (at most one round per step: the graph has no
 * cycles). What a step means is JOURNEY-SEMANTICS.md (docs/journeys.md); times are event times.
 */

export const BATCH = 500;

export interface AdvanceResult {
  /** Enrolments claimed, ended waits included. */
  claimed: number;
  /** A batch was full: more may be due. */
  more: boolean;
  /** Steps passed. */
  transitions: number;
  /** The earliest wait set in the batch, for an in-memory wake-up. */
  earliestWake: number | null;
}

/**
 * Passes up to WAIT_BATCH ended waits (waits.ts), then claims up to BATCH due enrolments of ACTIVE
 * journeys (or just `ids`) and advances them, in one transaction; then announces the messages and
 * changes it made. `now` is the clock (the database's when absent); the property test steps it to
 * replay a timeline against the interpreter.
 */
export async function advanceDue(herald: Herald, ids?: readonly string[], now?: number): Promise<AdvanceResult> {
  const waits = await passDueWaits(herald, ids, now);
  announceWaits(herald, waits.journeys);
  const batch = await advanceSteps(herald, ids, now);
  return { ...batch, claimed: waits.claimed + batch.claimed, transitions: waits.passed + batch.transitions, more: batch.more || waits.claimed === WAIT_BATCH };
}

/** Dashboards hear of journeys whose waits ended. */
export function announceWaits(herald: Herald, journeys: readonly string[]): void {
  for (const journeyId of journeys) herald.events.publish('journey:changed', journeyId, { reason: 'advanced' });
}

/**
 * Claims up to BATCH due enrolments of ACTIVE journeys (or just `ids`) and advances them in one
 * transaction: arrivals run their steps, and ended waits the wait pass has not reached are
 * resolved here too. The drain calls it right after passing the waits (jobs.ts).
 */
export async function advanceSteps(herald: Herald, ids?: readonly string[], now?: number): Promise<AdvanceResult> {
  const only = ids ? Prisma.sql`AND en.id = ANY(${[...ids]}::uuid[])` : Prisma.empty;
  const clock = now == null ? Prisma.sql`now()` : Prisma.sql`${new Date(now)}::timestamptz`;
  const outcome = await herald.prisma.$transaction(
    async (tx) => {
      const claimed = await tx.$queryRaw<Claimed[]>`
        SELECT en.id::text, en."workspaceId"::text, en."journeyId"::text, en.version, en."contactId"::text, en.step, en.seq,
          en."arrivedAt", en.ran, en."wakeAt", en."eventAt"
        FROM "JourneyEnrollment" en
        WHERE en.status = 'ACTIVE' AND en."wakeAt" <= ${clock} ${only}
          AND EXISTS (SELECT 1 FROM "Journey" j WHERE j.id = en."journeyId" AND j.status = 'ACTIVE')
        ORDER BY en."wakeAt"
        LIMIT ${BATCH}
        FOR UPDATE OF en SKIP LOCKED`;
      if (claimed.length === 0) return { claimed: 0, visits: [] as Visit[], queued: [] as QueuedMessage[] };
      // The event hook holds a contact's lock while it looks at that contact's enrolments: a
      // contact whose events are being stored now waits for the next pass (never for the lock).
      const free = await tryLockContacts(tx, claimed.map((row) => row.contactId));
      const rows = claimed.filter((row) => free.has(row.contactId));
      const visits: Visit[] = [];
      for (const row of rows) visits.push(await visitOf(tx, row));
      const queued: QueuedMessage[] = [];
      await resolveWaits(tx, visits);
      await run(tx, visits, queued, now ?? Date.now());
      await write(tx, visits);
      await countSends(tx, queued);
      return { claimed: claimed.length, visits, queued };
    },
    // A busy pool (a burst of events, the wave's lanes) makes a batch wait for a connection, not fail after Prisma's 2 s.
    { maxWait: 10_000, timeout: 60_000 },
  );
  await announceSends(herald, outcome.queued);
  const journeys = new Set(outcome.visits.filter((visit) => visit.path.length || visit.waiting).map((visit) => visit.row.journeyId));
  for (const journeyId of journeys) herald.events.publish('journey:changed', journeyId, { reason: 'advanced' });
  const wakes = outcome.visits.flatMap((visit) => (visit.waiting ? [visit.waiting.wakeAt] : []));
  return {
    claimed: outcome.claimed,
    more: outcome.claimed === BATCH,
    transitions: outcome.visits.reduce((sum, visit) => sum + visit.path.length, 0),
    earliestWake: wakes.length ? Math.min(...wakes) : null,
  };
}

async function tryLockContacts(tx: Tx, contactIds: string[]): Promise<Set<string>> {
  const rows = await tx.$queryRaw<{ id: string }[]>`
    SELECT id::text FROM (SELECT DISTINCT id FROM unnest(${contactIds}::uuid[]) id ORDER BY id) ids
    WHERE pg_try_advisory_xact_lock(${JOURNEY_CONTACT_LOCK}::int, hashtext(id::text))`;
  return new Set(rows.map((row) => row.id));
}

async function visitOf(tx: Tx, row: Claimed): Promise<Visit> {
  return {
    row,
    definition: await definitionOf(tx, row.journeyId, row.version),
    seq: row.seq,
    key: row.step,
    at: row.arrivedAt.getTime(),
    waiting: null,
    completedAt: null,
    path: [],
    sends: new Map(),
  };
}

/** Enrolments that were waiting and are due: their wait ends, by its kind. */
async function resolveWaits(tx: Tx, visits: Visit[]): Promise<void> {
  const deadlines: Visit[] = [];
  for (const visit of visits) {
    if (!visit.row.ran) continue;
    const step = stepOf(visit.definition, visit.key!)!;
    const wakeAt = visit.row.wakeAt!.getTime();
    if (step.kind === 'wait') pass(visit, 'waited', wakeAt, step.next);
    else if (step.kind === 'waitForEvent') {
      if (visit.row.eventAt) pass(visit, 'event', visit.row.eventAt.getTime(), step.onEvent);
      else pass(visit, 'timeout', wakeAt, step.onTimeout);
    } else if (step.kind === 'engagement') deadlines.push(visit);
  }
  for (const group of groupBy(deadlines, stepGroup).values()) {
    const step = stepOf(group[0]!.definition, group[0]!.key!) as EngagementStep;
    const engaged = await engagementTimes(tx, group, step);
    for (const visit of group) {
      const deadline = visit.row.wakeAt!.getTime();
      const at = engaged.get(visit.row.id);
      const yes = at != null && at <= deadline;
      pass(visit, yes ? 'yes' : 'no', deadline, yes ? step.yes : step.no);
    }
  }
}

/** Rounds of arrivals until every enrolment waits or has completed. */
async function run(tx: Tx, visits: Visit[], queued: QueuedMessage[], now: number): Promise<void> {
  for (let round = 0; round <= JOURNEY_LIMITS.steps; round++) {
    const arriving = visits.filter((visit) => visit.key != null && !visit.waiting);
    if (arriving.length === 0) return;
    for (const group of groupBy(arriving, stepGroup).values()) {
      const step = stepOf(group[0]!.definition, group[0]!.key!)!;
      await arrive(tx, step, group, queued, now);
    }
  }
  throw new Error('a journey ran more rounds than it has steps');
}

const stepGroup = (visit: Visit) => `${visit.row.journeyId}:${visit.row.version}:${visit.key}`;

/** Runs `step` for the enrolments arriving at it. */
async function arrive(tx: Tx, step: JourneyStep, group: Visit[], queued: QueuedMessage[], now: number): Promise<void> {
  switch (step.kind) {
    case 'send':
      return sendStep(tx, step as SendStep, group, queued);
    case 'wait': {
      const zones = step.untilLocalTime ? await zonesOf(tx, group) : null;
      for (const visit of group) {
        const due = step.seconds != null ? visit.at + step.seconds * 1000 : nextLocalTime(visit.at, zones!.get(visit.row.contactId) ?? 'UTC', step.untilLocalTime!);
        // Late (a paused journey, a backlog): the wait ended in the past, and the journey goes on from then.
        if (due <= now) pass(visit, 'waited', due, step.next);
        else visit.waiting = { wakeAt: due, waitingFor: null };
      }
      return;
    }
    case 'waitForEvent': {
      const first = await firstEvents(tx, group, step.name, compileEventWhere(step.where), step.withinSeconds);
      for (const visit of group) {
        const timeout = visit.at + step.withinSeconds * 1000;
        const eventAt = first.get(visit.row.id);
        if (eventAt != null && eventAt <= now) pass(visit, 'event', eventAt, step.onEvent);
        // Timed ahead of now (a device clock a little fast): due at its time, as the event hook would make it.
        else if (eventAt != null) visit.waiting = { wakeAt: eventAt, waitingFor: step.name, eventAt };
        else if (timeout <= now) pass(visit, 'timeout', timeout, step.onTimeout);
        else visit.waiting = { wakeAt: timeout, waitingFor: step.name };
      }
      return;
    }
    case 'branch': {
      const { workspaceId } = group[0]!.row;
      const matching = await tx.$queryRaw<{ id: string }[]>`
        SELECT c.id::text FROM "Contact" c
        WHERE c.id = ANY(${group.map((visit) => visit.row.contactId)}::uuid[]) AND ${selectionSql(workspaceId, { rule: step.rule })}`;
      const yes = new Set(matching.map((row) => row.id));
      for (const visit of group) {
        const matched = yes.has(visit.row.contactId);
        pass(visit, matched ? 'yes' : 'no', visit.at, matched ? step.yes : step.no);
      }
      return;
    }
    case 'engagement':
      return arriveAtEngagement(tx, step, group, now);
    case 'split':
      for (const visit of group) {
        const path = splitPath(visit.row.journeyId, step.key, visit.row.contactId, step.paths);
        pass(visit, path.name, visit.at, path.next);
      }
      return;
  }
}

/**
 * Engagement: yes at once when the message already shows it; no at once when its send step was
 * suppressed or the deadline passed; else wait for the deadline (resolveWaits decides then).
 */
async function arriveAtEngagement(tx: Tx, step: EngagementStep, group: Visit[], now: number): Promise<void> {
  const sends = await sendTimes(tx, group, step.step);
  const engaged = await engagementTimes(tx, group, step);
  for (const visit of group) {
    const send = sends.get(visit.row.id);
    if (!send?.sent) {
      pass(visit, 'no', visit.at, step.no);
      continue;
    }
    const deadline = send.at + step.withinSeconds * 1000;
    const at = engaged.get(visit.row.id);
    if (at != null && at <= visit.at) pass(visit, 'yes', visit.at, step.yes);
    else if (deadline <= visit.at) pass(visit, 'no', visit.at, step.no);
    else if (deadline <= now) {
      const yes = at != null && at <= deadline;
      pass(visit, yes ? 'yes' : 'no', deadline, yes ? step.yes : step.no);
    } else visit.waiting = { wakeAt: deadline, waitingFor: null };
  }
}

/** When each enrolment's send step `key` ran and whether a message went: this batch's, else its path. */
async function sendTimes(tx: Tx, group: Visit[], key: string): Promise<Map<string, { at: number; sent: boolean }>> {
  const result = new Map<string, { at: number; sent: boolean }>();
  const unknown: string[] = [];
  for (const visit of group) {
    const send = visit.sends.get(key);
    if (send) result.set(visit.row.id, send);
    else unknown.push(visit.row.id);
  }
  if (unknown.length) {
    const rows = await tx.$queryRaw<{ id: string; passedAt: Date; outcome: string }[]>`
      SELECT DISTINCT ON ("enrollmentId") "enrollmentId"::text AS id, "passedAt", outcome FROM "JourneyPathEntry"
      WHERE "enrollmentId" = ANY(${unknown}::uuid[]) AND step = ${key}
      ORDER BY "enrollmentId", seq DESC`;
    for (const row of rows) result.set(row.id, { at: row.passedAt.getTime(), sent: row.outcome === 'sent' });
  }
  return result;
}

/**
 * When a message showed each engagement. DELIVERED: on a channel whose provider reports delivery
 * (SMS status callbacks) its report; the others have no such report, so a message accepted by the
 * push service, mail server, APNs/FCM or webhook receiver (SENT, and still SENT: a bounce moves an
 * email to FAILED) counts as delivered when it was sent, as campaign stats count `delivered`.
 */
const ENGAGED_AT = {
  DELIVERED: Prisma.sql`CASE WHEN m.channel = ANY(${[...REPORTS_DELIVERY]}::"Channel"[]) THEN m."deliveredAt" WHEN m.status = 'SENT' THEN m."sentAt" END`,
  DISPLAYED: Prisma.sql`m."displayedAt"`,
  OPENED: Prisma.sql`m."openedAt"`,
  CLICKED: Prisma.sql`m."clickedAt"`,
  CONVERTED: Prisma.sql`m."convertedAt"`,
} as const;

/** When each enrolment's message of the step asked about first showed the engagement. */
async function engagementTimes(tx: Tx, group: Visit[], step: EngagementStep): Promise<Map<string, number>> {
  const { journeyId, version } = group[0]!.row;
  const rows = await tx.$queryRaw<{ id: string; at: Date }[]>`
    SELECT substr(m.occurrence, 9) AS id, min(${ENGAGED_AT[step.did]}) AS at
    FROM "Campaign" k JOIN "Message" m ON m."campaignId" = k.id
    WHERE k."journeyId" = ${journeyId}::uuid AND k."journeyVersion" = ${version} AND k."journeyStep" = ${step.step}
      AND m.occurrence = ANY(${group.map((visit) => `journey:${visit.row.id}`)}::text[]) AND NOT m.test
    GROUP BY 1 HAVING min(${ENGAGED_AT[step.did]}) IS NOT NULL`;
  return new Map(rows.map((row) => [row.id, row.at.getTime()]));
}

/**
 * The first matching event of each enrolment's contact after its arrival, up to the timeout: one
 * stored already but timed after now too, since no later store will wake the wait for it.
 */
async function firstEvents(tx: Tx, group: Visit[], name: string, where: Prisma.Sql, withinSeconds: number): Promise<Map<string, number>> {
  const input = group.map((visit) => ({
    id: visit.row.id,
    contactId: visit.row.contactId,
    after: new Date(visit.at).toISOString(),
    until: new Date(visit.at + withinSeconds * 1000).toISOString(),
  }));
  const rows = await tx.$queryRaw<{ id: string; at: Date }[]>`
    SELECT x.id::text, first.at FROM jsonb_to_recordset(${JSON.stringify(input)}::jsonb) AS x(id uuid, "contactId" uuid, after timestamptz, until timestamptz)
    CROSS JOIN LATERAL (
      SELECT e."occurredAt" AS at FROM "Event" e
      WHERE e."contactId" = x."contactId" AND e.name = ${name} AND e."occurredAt" > x.after AND e."occurredAt" <= x.until AND ${where}
      ORDER BY e."occurredAt" LIMIT 1
    ) first`;
  return new Map(rows.map((row) => [row.id, row.at.getTime()]));
}

/** Each contact's zone, the workspace's when the contact has none. */
async function zonesOf(tx: Tx, group: Visit[]): Promise<Map<string, string>> {
  const rows = await tx.$queryRaw<{ id: string; zone: string }[]>`
    SELECT c.id::text, COALESCE(c.timezone, w.timezone) AS zone FROM "Contact" c JOIN "Workspace" w ON w.id = c."workspaceId"
    WHERE c.id = ANY(${group.map((visit) => visit.row.contactId)}::uuid[])`;
  return new Map(rows.map((row) => [row.id, row.zone]));
}

/**
 * Writes each moved enrolment's new state, guarded by the seq it was read with, and its path. A
 * guard that fails means another worker moved it: the whole batch rolls back and nothing it did
 * (messages included) happened.
 */
async function write(tx: Tx, visits: Visit[]): Promise<void> {
  const moved = visits.filter((visit) => visit.path.length > 0 || visit.waiting);
  if (moved.length === 0) return;
  const input = moved.map((visit) => ({
    id: visit.row.id,
    expected: visit.row.seq,
    seq: visit.seq,
    status: visit.completedAt != null ? 'COMPLETED' : 'ACTIVE',
    step: visit.key,
    arrivedAt: new Date(visit.at).toISOString(),
    ran: visit.waiting != null,
    wakeAt: visit.waiting ? new Date(visit.waiting.wakeAt).toISOString() : null,
    waitingFor: visit.waiting?.waitingFor ?? null,
    eventAt: visit.waiting?.eventAt != null ? new Date(visit.waiting.eventAt).toISOString() : null,
    endedAt: visit.completedAt != null ? new Date(visit.completedAt).toISOString() : null,
  }));
  const updated = await tx.$executeRaw`
    UPDATE "JourneyEnrollment" en SET seq = r.seq, status = r.status::"JourneyEnrollmentStatus", step = r.step, "arrivedAt" = r."arrivedAt",
      ran = r.ran, "wakeAt" = r."wakeAt", "waitingFor" = r."waitingFor", "eventAt" = r."eventAt", "endedAt" = r."endedAt"
    FROM jsonb_to_recordset(${JSON.stringify(input)}::jsonb)
      AS r(id uuid, expected int, seq int, status text, step text, "arrivedAt" timestamptz, ran boolean, "wakeAt" timestamptz, "waitingFor" text, "eventAt" timestamptz, "endedAt" timestamptz)
    WHERE en.id = r.id AND en.seq = r.expected AND en.status = 'ACTIVE'`;
  if (updated !== input.length) throw new Error(`journey enrolments moved meanwhile (${input.length - updated} of ${input.length}); the batch is retried`);
  const path = moved.flatMap((visit) => visit.path.map((entry) => ({ ...entry, enrollmentId: visit.row.id, journeyId: visit.row.journeyId })));
  if (path.length) {
    await tx.$executeRaw`
      INSERT INTO "JourneyPathEntry" ("enrollmentId", seq, "journeyId", step, at, "passedAt", outcome, channel, reason)
      SELECT p."enrollmentId", p.seq, p."journeyId", p.step, p.at, p."passedAt", p.outcome, p.channel::"Channel", p.reason
      FROM jsonb_to_recordset(${JSON.stringify(path)}::jsonb)
        AS p("enrollmentId" uuid, seq int, "journeyId" uuid, step text, at timestamptz, "passedAt" timestamptz, outcome text, channel text, reason text)
      ON CONFLICT DO NOTHING`;
  }
}
