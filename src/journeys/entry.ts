import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Prisma } from '../db/prisma.ts';
import type { SqlTx } from '../db/sql-transaction.ts';
import { ErrorCode, NotFoundError, ValidationError } from '../errors.ts';
import type { Audience } from '../generated/prisma/enums.ts';
import type { Herald } from '../herald-context.ts';
import type { Rule } from '../segments/rule.ts';
import { type Selection, selectionSql } from '../segments/service.ts';
import type { JourneyDefinition } from './definition.ts';
import { advanceDue } from './engine.ts';
import { JOURNEY_CONTACT_LOCK } from './waits.ts';
import { definitionOf } from './versions.ts';

type Tx = SqlTx;

export interface PublishedJourney {
  id: string;
  workspaceId: string;
  version: number;
  definition: JourneyDefinition;
}

/** A new enrolment, the key it entered on, and whether its contact had later rows it might enter on. */
export interface Enrolled {
  id: string;
  key: string;
  contactId: string;
  more: boolean;
}

/**
 * Enrols the contacts of `source` (rows of "contactId", at, key) in a journey's current version
 * at `at`: those in its audience, without an ACTIVE enrolment, and never entered before (or, with
 * reEntryAfterSeconds, not within that long). The enrolment waits at the first step, due at once:
 * the engine runs it. Ids derive from (journey, contact) for once-ever journeys and from the
 * entering event or call otherwise, so a replay enrols nobody twice. A contact with several rows
 * enters on the first by (at, key) that no enrolment keeps out. Answers the new enrolments with
 * the key they entered on, and whether the contact had later rows it might enter on (`more`).
 */
export async function enrol(tx: Tx, journey: PublishedJourney, source: Prisma.Sql): Promise<Enrolled[]> {
  const { definition } = journey;
  const reEntry = definition.reEntryAfterSeconds;
  const audience = definition.audience ? await selectionFor(tx, journey.workspaceId, definition.audience) : null;
  const inAudience = audience ? selectionSql(journey.workspaceId, audience) : Prisma.sql`c."workspaceId" = ${journey.workspaceId}::uuid`;
  return tx.$queryRaw<Enrolled[]>`
    WITH candidates AS (
      -- Keys in byte order (event ids: as the backtest orders events of one instant).
      SELECT DISTINCT ON (s."contactId") s.*, count(*) OVER (PARTITION BY s."contactId") > 1 AS more FROM (${source}) s
      JOIN "Contact" c ON c.id = s."contactId"
      -- A probe of the (journey, contact) index per row (LIMIT keeps it one): as NOT EXISTS the
      -- planner hashed every enrolment of the journey for each batch, O(enrolled) per event batch.
      LEFT JOIN LATERAL (
        SELECT true AS found FROM "JourneyEnrollment" x WHERE ${keepsOut(journey, Prisma.sql`s."contactId"`, Prisma.sql`s.at`)} LIMIT 1
      ) entered ON true
      WHERE ${inAudience} AND entered.found IS NULL
      ORDER BY s."contactId", s.at, s.key::text COLLATE "C"
    ), inserted AS (
      INSERT INTO "JourneyEnrollment" (id, "workspaceId", "journeyId", version, "contactId", step, "arrivedAt", "wakeAt", "enteredAt")
      SELECT md5(${journey.id}::text || '/' || s."contactId"::text ${reEntry == null ? Prisma.empty : Prisma.sql`|| '/' || s.key::text`})::uuid,
        ${journey.workspaceId}::uuid, ${journey.id}::uuid, ${journey.version}, s."contactId", ${definition.steps[0]!.key}, s.at, s.at, s.at
      FROM candidates s
      ON CONFLICT DO NOTHING
      RETURNING id, "contactId"
    )
    SELECT i.id::text, s.key::text, s."contactId"::text, s.more FROM inserted i JOIN candidates s ON s."contactId" = i."contactId"`;
}

/**
 * An enrolment `x` that keeps the contact out of the journey at `at`: an ACTIVE one, one that ended
 * after `at` (the contact was in it then: a batch's exit event after its entry event ended it
 * first), or (once-ever) any, or one entered within reEntryAfterSeconds.
 */
function keepsOut(journey: PublishedJourney, contactId: Prisma.Sql, at: Prisma.Sql): Prisma.Sql {
  const reEntry = journey.definition.reEntryAfterSeconds;
  return Prisma.sql`x."journeyId" = ${journey.id}::uuid AND x."contactId" = ${contactId}
    AND (x.status = 'ACTIVE' OR x."endedAt" > ${at} OR ${reEntry == null ? Prisma.sql`TRUE` : Prisma.sql`x."enteredAt" > ${at} - make_interval(secs => ${reEntry}::int)`})`;
}

/**
 * A saved segment (in its own audience type) and a rule together, in `type` if given: a journey's
 * audience or its segment entry, as the backtest reads them (simulate.ts). A segment deleted since
 * publishing admits nobody rather than everybody.
 */
async function selectionFor(tx: Tx, workspaceId: string, { segmentId, rule, type }: { segmentId: string | null; rule: Rule | null; type?: Audience | null }): Promise<Selection> {
  const rules: Rule[] = [];
  if (segmentId) {
    const [segment] = await tx.$queryRaw<{ rule: unknown; audience: Audience }[]>`
      SELECT rule, audience::text FROM "Segment" WHERE id = ${segmentId}::uuid AND "workspaceId" = ${workspaceId}::uuid`;
    if (!segment) return { rule: { not: { and: [] } } as Rule };
    rules.push(segment.rule as unknown as Rule);
    type ??= segment.audience;
  }
  if (rule) rules.push(rule);
  return { rule: rules.length === 0 ? null : rules.length === 1 ? rules[0]! : { and: rules }, audience: type ?? 'ALL' };
}

/**
 * Segment entry's candidates now, as enrol's source: contacts matching the entry segment (in its
 * audience) and rule, in the journey's audience, that no enrolment keeps out, at most `limit`.
 * Everything enrol would refuse is left out before the limit: refused contacts that outnumber it
 * would otherwise fill every run and keep the eligible ones out for good.
 */
export async function segmentEntrants(tx: Tx, journey: PublishedJourney, limit: number): Promise<Prisma.Sql> {
  const { entry, audience } = journey.definition;
  if (entry.kind !== 'segment') throw new Error(`journey ${journey.id} is not entered on a segment`);
  const members = await selectionFor(tx, journey.workspaceId, entry);
  const admitted = audience ? selectionSql(journey.workspaceId, await selectionFor(tx, journey.workspaceId, audience)) : Prisma.sql`TRUE`;
  return Prisma.sql`
    SELECT c.id AS "contactId", now() AS at, md5(random()::text) AS key FROM "Contact" c
    WHERE ${selectionSql(journey.workspaceId, members)} AND ${admitted}
      AND NOT EXISTS (SELECT 1 FROM "JourneyEnrollment" x WHERE ${keepsOut(journey, Prisma.sql`c.id`, Prisma.sql`now()`)})
    LIMIT ${limit}::int`;
}

/** The ACTIVE journeys of a workspace with their current definitions. */
export async function activeJourneys(tx: Tx, workspaceId: string | null): Promise<PublishedJourney[]> {
  const rows = await tx.$queryRaw<{ id: string; workspaceId: string; version: number }[]>`
    SELECT id::text, "workspaceId"::text, version FROM "Journey"
    WHERE ${workspaceId ? Prisma.sql`"workspaceId" = ${workspaceId}::uuid AND` : Prisma.empty} status = 'ACTIVE' AND version > 0`;
  return Promise.all(rows.map(async (row) => ({ ...row, definition: await definitionOf(tx, row.id, row.version) })));
}

/**
 * enterJourney: an integration enters a contact in an ACTIVE journey whose entry is `api`. The first
 * steps run before it answers. Entering again while not allowed answers the latest enrolment.
 */
export async function enterJourney(herald: Herald, workspaceId: string, journeyId: string, contactId: string) {
  const journey = await herald.prisma.journey.findFirst({ where: { id: journeyId, workspaceId } });
  if (!journey) throw new NotFoundError(ErrorCode.journeyNotFound, 'No journey with this id');
  if (journey.status !== 'ACTIVE') throw ValidationError.field(['input', 'journeyId'], `the journey is ${journey.status}; contacts enter only an ACTIVE journey`);
  const definition = await definitionOf(herald.prisma, journey.id, journey.version);
  if (definition.entry.kind !== 'api') throw ValidationError.field(['input', 'journeyId'], `contacts enter this journey on ${definition.entry.kind === 'event' ? `the event "${definition.entry.name}"` : 'its segment'}, not through enterJourney`);
  const contact = await herald.prisma.contact.findFirst({ where: { id: contactId, workspaceId }, select: { id: true } });
  if (!contact) throw new NotFoundError(ErrorCode.contactNotFound, 'No contact with this id');
  const [{ id } = { id: undefined }] = await herald.prisma.$transaction(async (tx) => {
    await lockContactsForJourneys(tx, [contactId]);
    return enrol(tx, { id: journey.id, workspaceId, version: journey.version, definition }, Prisma.sql`SELECT ${contactId}::uuid AS "contactId", now() AS at, ${randomUUID()} AS key`);
  });
  if (id) {
    // Another worker's pass may hold it a moment (SKIP LOCKED): try again until its first steps ran.
    for (let tries = 0; tries < 20; tries++) {
      await advanceDue(herald, [id]);
      const row = await herald.prisma.journeyEnrollment.findUniqueOrThrow({ where: { id }, select: { status: true, ran: true } });
      if (row.status !== 'ACTIVE' || row.ran) break;
      await sleep(50);
    }
    herald.events.publish('journey:changed', journeyId, { reason: 'entered' });
    return herald.prisma.journeyEnrollment.findUniqueOrThrow({ where: { id } });
  }
  const latest = await herald.prisma.journeyEnrollment.findFirst({ where: { journeyId, contactId }, orderBy: { enteredAt: 'desc' } });
  if (!latest) throw ValidationError.field(['input', 'contactId'], "the contact is not in the journey's audience");
  return latest;
}

/**
 * Identify merged the visitor `from` into the customer `into`: the visitor's enrolments become the
 * customer's, as its events and messages do, except where that would put one person in a journey
 * twice. A journey the customer may not enter now (ACTIVE in it, or ever in it for a once-ever
 * journey) ends the visitor's ACTIVE enrolment there EXITED, path outcome `merged`: it stays in the
 * history (its messages were sent, its stats counted) but sends nothing more. The contacts'
 * journey locks are held meanwhile, so the engine never advances an enrolment being merged.
 */
export async function mergeEnrolments(tx: Tx, from: string, into: string): Promise<void> {
  await lockContactsForJourneys(tx, [from, into]);
  const clashes = await tx.$queryRaw<{ id: string; journeyId: string; version: number; active: boolean }[]>`
    SELECT v.id::text, v."journeyId"::text, j.version, bool_or(k.status = 'ACTIVE') AS active
    FROM "JourneyEnrollment" v
    JOIN "Journey" j ON j.id = v."journeyId"
    JOIN "JourneyEnrollment" k ON k."journeyId" = v."journeyId" AND k."contactId" = ${into}::uuid
    WHERE v."contactId" = ${from}::uuid AND v.status = 'ACTIVE'
    GROUP BY 1, 2, 3`;
  const ending: string[] = [];
  // Re-entry as entry judges it: by the journey's current version.
  for (const clash of clashes) {
    if (clash.active || (await definitionOf(tx, clash.journeyId, clash.version)).reEntryAfterSeconds == null) ending.push(clash.id);
  }
  if (ending.length) {
    await tx.$queryRaw`
      WITH hit AS (
        SELECT id, seq, step, "arrivedAt", now() AS at FROM "JourneyEnrollment" WHERE id = ANY(${ending}::uuid[]) AND status = 'ACTIVE'
      ), ${exitedSql('merged')}
      SELECT count(*) FROM moved`;
  }
  await tx.$queryRaw`UPDATE "JourneyEnrollment" SET "contactId" = ${into}::uuid WHERE "contactId" = ${from}::uuid`;
}

/**
 * CTEs `moved` and `path` after a CTE `hit` (id, seq, step, "arrivedAt", at): each ACTIVE enrolment
 * of `hit`, still at its seq, ends EXITED at `at`, its step on the path with `outcome`. `moved`
 * answers id, seq, "journeyId", step, "arrivedAt", at.
 */
export function exitedSql(outcome: 'exited' | 'merged'): Prisma.Sql {
  return Prisma.sql`moved AS (
      UPDATE "JourneyEnrollment" en SET status = 'EXITED', seq = en.seq + 1, "endedAt" = hit.at, "wakeAt" = NULL, "waitingFor" = NULL, "eventAt" = NULL
      FROM hit WHERE en.id = hit.id AND en.seq = hit.seq AND en.status = 'ACTIVE'
      RETURNING en.id, en.seq, en."journeyId", hit.step, hit."arrivedAt", hit.at
    ), path AS (
      INSERT INTO "JourneyPathEntry" ("enrollmentId", seq, "journeyId", step, at, "passedAt", outcome)
      SELECT id, seq, "journeyId", step, "arrivedAt", at, ${outcome} FROM moved WHERE step IS NOT NULL
      ON CONFLICT DO NOTHING
    )`;
}

/** The per-contact locks the engine tries (engine.ts): taken in one order, so holders never deadlock. */
export async function lockContactsForJourneys(tx: Tx, contactIds: readonly string[]): Promise<void> {
  await tx.$queryRaw`
    SELECT count(pg_advisory_xact_lock(${JOURNEY_CONTACT_LOCK}::int, key))
    FROM (SELECT DISTINCT hashtext(id::text) AS key FROM unnest(${[...contactIds]}::uuid[]) id ORDER BY 1) keys`;
}
