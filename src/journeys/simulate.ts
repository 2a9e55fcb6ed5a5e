import type pg from 'pg';
import { Prisma } from '../db/prisma.ts';
import { ValidationError } from '../errors.ts';
import type { Channel } from '../generated/prisma/enums.ts';
import type { Workspace } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';
import { REPORTS_DELIVERY } from '../delivery/channel.ts';
import { channelFor } from '../delivery/channels.ts';
import { allowedBy, type LocalWindow, nextOpening } from '../delivery/time.ts';
import { compileEventWhere, compileRule } from '../segments/compile.ts';
import type { Condition, Rule } from '../segments/rule.ts';
import { type Selection, selectionSql } from '../segments/service.ts';
import { frequencyCapsOf } from '../workspaces/service.ts';
import { percentileOf, type EngagementType, type JourneyDefinition } from './definition.ts';
import { type Enrolment, interpret, type JourneyEvent, type JourneyFacts } from './interpret.ts';
import { emptySimulation, finish, type JourneySimulation, tally } from './simulate-tally.ts';

export type { JourneySimulation };

/**
 * The backtest: what a journey would have done over [from, to] had it been live, from the
 * workspace's stored events, without sending or writing anything (one READ ONLY transaction).
 * Each contact's events go through the reference interpreter (interpret.ts), so the backtest
 * means exactly what the engine does; what the interpreter is told about the contact comes from
 * the database, in a few set-based queries per batch of contacts:
 *  - entry: contacts with a matching entry event in the range; a segment journey enters the
 *    contacts matching its rule NOW, at `from` (history cannot say when they started matching);
 *    an api journey enters nobody (nothing stored says when an integration would have called);
 *  - audience, branch rules and reachability per channel are read as they are NOW (contact
 *    columns, consent, active push subscriptions), not as they were at the time: the channel's
 *    own recipients query (src/delivery/*\/channel.ts) says who it could reach;
 *  - engagement is estimated: a message is engaged with the workspace's historical rate for its
 *    channel and engagement type (0 without history), deterministically per contact and step
 *    (percentileOf), after the historical median delay;
 *  - delivery windows (the journey's, else quiet hours for push and SMS) move a send to the
 *    window's opening, and the workspace's frequency caps count the simulated sends only (the
 *    contact's other messages of the period are not counted).
 * A stored journey's real enrolments play no part: every contact starts as if it never entered.
 */

export const SIMULATION_LIMITS = { maxDays: 366, batch: 5_000 } as const;
const DAY_MS = 86_400_000;

const ENGAGED_AT: Record<EngagementType, string> = {
  DELIVERED: 'deliveredAt',
  DISPLAYED: 'displayedAt',
  OPENED: 'openedAt',
  CLICKED: 'clickedAt',
  CONVERTED: 'convertedAt',
};
/** Channels that interrupt: the workspace's quiet hours hold them (as in src/delivery/policy.ts). */
const INTERRUPTIVE = new Set<Channel>(['WEB_PUSH', 'SMS', 'MOBILE_PUSH']);
const PERIOD_MS = { DAY: DAY_MS, WEEK: 7 * DAY_MS } as const;

/** A journey to backtest: its checked definition (segment ids are database ids) and the id its splits hash. */
export interface SimulatedJourney {
  definition: JourneyDefinition;
  journeyId: string;
}

export async function simulateJourney(herald: Herald, workspaceId: string, journey: SimulatedJourney, from: Date, to: Date): Promise<JourneySimulation> {
  if (!(to.getTime() > from.getTime())) throw ValidationError.field(['to'], 'must be after from');
  if (to.getTime() - from.getTime() > SIMULATION_LIMITS.maxDays * DAY_MS) throw ValidationError.field(['to'], `must be at most ${SIMULATION_LIMITS.maxDays} days after from`);
  const { definition, journeyId } = journey;
  const workspace = await herald.prisma.workspace.findUniqueOrThrow({ where: { id: workspaceId } });
  const entrySelection = definition.entry.kind === 'segment' ? await selectionOf(herald, workspaceId, definition.entry, ['journey', 'entry', 'segment', 'segmentId']) : null;
  const audience = definition.audience ? await selectionOf(herald, workspaceId, definition.audience, ['journey', 'audience', 'segmentId']) : null;
  const simulation = emptySimulation(definition, from, to, workspace.timezone);
  if (definition.entry.kind === 'api') return finish(simulation);

  const client = await herald.pool.connect();
  try {
    // One snapshot, and PostgreSQL itself refuses any write.
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const query = async <T extends pg.QueryResultRow>(sql: Prisma.Sql) => (await client.query<T>(sql.text, sql.values)).rows;
    const now = new Date();
    const inAudience = audience ? selectionSql(workspaceId, audience, now) : Prisma.sql`c."workspaceId" = ${workspaceId}::uuid`;
    const entrants = definition.entry.kind === 'event'
      ? Prisma.sql`c.id IN (SELECT e."contactId" FROM "Event" e WHERE e."workspaceId" = ${workspaceId}::uuid AND e.name = ${definition.entry.name}
          AND e."occurredAt" BETWEEN ${from} AND ${to} AND ${compileEventWhere(definition.entry.where)})`
      : selectionSql(workspaceId, entrySelection!, now);
    const contacts = await query<{ id: string; timezone: string | null }>(
      Prisma.sql`SELECT c.id::text, c.timezone FROM "Contact" c WHERE ${inAudience} AND ${entrants} ORDER BY c.id`,
    );
    const engagement = await engagementHistory(query, workspaceId, definition);
    simulation.engagementEstimates = [...engagement.values()];
    const deliver = delivery(definition, workspace);

    for (let start = 0; start < contacts.length; start += SIMULATION_LIMITS.batch) {
      const batch = contacts.slice(start, start + SIMULATION_LIMITS.batch);
      const ids = batch.map((contact) => contact.id);
      const known = await batchFacts(query, workspaceId, definition, ids, from, to, now);
      for (const contact of batch) {
        const zone = contact.timezone ?? workspace.timezone;
        const facts: JourneyFacts = {
          contactId: contact.id,
          zone,
          entries: definition.entry.kind === 'segment' ? [from] : [],
          // Entrants were read in the audience already.
          inAudience: () => true,
          matches: (event, where) => (event as FlaggedEvent).flags[known.matchers.get(where)!] === '1',
          unreachable: (channel) => known.unreachable.get(channel)?.get(contact.id) ?? null,
          branch: (step) => known.branches.get(step.key)!.has(contact.id),
          deliver: deliver(zone),
          engagedAt: (send, did) => {
            const estimate = engagement.get(`${send.channel}:${did}`);
            if (!estimate || !send.deliveredAt) return null;
            const engaged = percentileOf(`${journeyId}:${send.step}:${contact.id}:${did}`) < estimate.rate * 100;
            return engaged ? new Date(send.deliveredAt.getTime() + estimate.delaySeconds * 1000) : null;
          },
        };
        const enrolments: Enrolment[] = interpret(definition, journeyId, known.events.get(contact.id) ?? [], facts, { from, to });
        tally(simulation, enrolments);
      }
    }
  } finally {
    await client.query('ROLLBACK').catch(() => {});
    client.release();
  }
  return finish(simulation);
}

type Query = <T extends pg.QueryResultRow>(sql: Prisma.Sql) => Promise<T[]>;
type FlaggedEvent = JourneyEvent & { flags: string };

/** A saved segment and/or a rule, as campaigns read an audience: both must match; the type defaults to the segment's. */
async function selectionOf(
  herald: Herald,
  workspaceId: string,
  { segmentId, rule, type }: { segmentId: string | null; rule: Rule | null; type?: Selection['audience'] | null },
  path: string[],
): Promise<Selection> {
  const segment = segmentId ? await herald.prisma.segment.findFirst({ where: { id: segmentId, workspaceId } }) : null;
  if (segmentId && !segment) throw ValidationError.field(path, 'no segment with this id');
  const rules = [segment?.rule as Rule | undefined, rule ?? undefined].filter((one): one is Rule => one != null);
  return { rule: rules.length === 0 ? null : rules.length === 1 ? rules[0]! : { and: rules }, audience: type ?? segment?.audience ?? 'ALL' };
}

/** What the interpreter asks about a batch of contacts: their events, reachability per channel and branch answers. */
async function batchFacts(query: Query, workspaceId: string, definition: JourneyDefinition, ids: string[], from: Date, to: Date, now: Date) {
  // Each distinct event filter is one flag ('0'/'1') per event, computed by PostgreSQL.
  const matchers = new Map<readonly Condition[], number>();
  const flags: Prisma.Sql[] = [];
  const filter = (name: string, where: readonly Condition[]) => {
    if (where.length === 0 || matchers.has(where)) return;
    matchers.set(where, flags.length);
    flags.push(Prisma.sql`CASE WHEN e.name = ${name} AND ${compileEventWhere(where)} THEN '1' ELSE '0' END`);
  };
  if (definition.entry.kind === 'event') filter(definition.entry.name, definition.entry.where);
  for (const step of definition.steps) if (step.kind === 'waitForEvent') filter(step.name, step.where);

  const rows = await query<{ contactId: string; id: string; name: string; at: Date; flags: string }>(Prisma.sql`
    SELECT e."contactId"::text AS "contactId", e.id::text, e.name, e."occurredAt" AS at, ${flags.length ? Prisma.sql`concat(${Prisma.join(flags)})` : Prisma.sql`''`} AS flags
    FROM "Event" e
    WHERE e."contactId" = ANY(${ids}::uuid[]) AND e."workspaceId" = ${workspaceId}::uuid AND e.name = ANY(${eventNames(definition)}::text[])
      AND e."occurredAt" BETWEEN ${from} AND ${to}
    ORDER BY e."contactId", e."occurredAt", e.id`);
  const events = new Map<string, FlaggedEvent[]>();
  for (const row of rows) {
    let list = events.get(row.contactId);
    if (!list) events.set(row.contactId, (list = []));
    list.push({ id: row.id, name: row.name, at: row.at, flags: row.flags });
  }

  const unreachable = new Map<Channel, Map<string, string>>();
  const marketing = definition.frequencyCapped;
  for (const channel of channelsOf(definition)) {
    let recipients: Prisma.Sql;
    try {
      recipients = channelFor({ channel }).recipients(Prisma.sql`(SELECT id AS "contactId", ${marketing}::boolean AS marketing FROM unnest(${ids}::uuid[]) id)`);
    } catch {
      unreachable.set(channel, new Map(ids.map((id) => [id, 'CHANNEL_NOT_AVAILABLE'])));
      continue;
    }
    // A contact is reachable when any of its rows (web push: browsers) has no skip reason.
    const refused = await query<{ contactId: string; reason: string }>(Prisma.sql`
      SELECT "contactId"::text AS "contactId", min(skip) AS reason FROM (${recipients}) r GROUP BY "contactId" HAVING bool_and(skip IS NOT NULL)`);
    unreachable.set(channel, new Map(refused.map((row) => [row.contactId, row.reason])));
  }

  const branches = new Map<string, Set<string>>();
  for (const step of definition.steps) {
    if (step.kind !== 'branch') continue;
    const yes = await query<{ id: string }>(Prisma.sql`
      SELECT c.id::text FROM "Contact" c WHERE c.id = ANY(${ids}::uuid[]) AND c."workspaceId" = ${workspaceId}::uuid AND ${compileRule(step.rule, { workspaceId, now })}`);
    branches.set(step.key, new Set(yes.map((row) => row.id)));
  }
  return { events, matchers, unreachable, branches };
}

/** The events the journey reacts to: entry, waitForEvent, exit and goal. */
function eventNames(definition: JourneyDefinition): string[] {
  const names = new Set(definition.exitEvents);
  if (definition.entry.kind === 'event') names.add(definition.entry.name);
  if (definition.goal) names.add(definition.goal.event);
  for (const step of definition.steps) if (step.kind === 'waitForEvent') names.add(step.name);
  return [...names];
}

function channelsOf(definition: JourneyDefinition): Channel[] {
  return [...new Set(definition.steps.flatMap((step) => (step.kind === 'send' ? [step.channel, ...step.fallback] : [])))];
}

export interface EngagementEstimate {
  channel: Channel;
  did: EngagementType;
  /** Messages of the channel the workspace sent (tests excluded) that the rate comes from. */
  messages: number;
  rate: number;
  delaySeconds: number;
}

/** The workspace's past rate and median delay of each engagement the journey asks about, per channel the asked-about step may use. */
async function engagementHistory(query: Query, workspaceId: string, definition: JourneyDefinition): Promise<Map<string, EngagementEstimate>> {
  const estimates = new Map<string, EngagementEstimate>();
  for (const step of definition.steps) {
    if (step.kind !== 'engagement') continue;
    const send = definition.steps.find((candidate) => candidate.key === step.step);
    if (send?.kind !== 'send') continue;
    for (const channel of [send.channel, ...send.fallback]) {
      const key = `${channel}:${step.did}`;
      if (estimates.has(key)) continue;
      // DELIVERED on a channel without delivery reports: accepted and still SENT, as the engine counts it.
      const column =
        step.did === 'DELIVERED' && !REPORTS_DELIVERY.has(channel) ? Prisma.sql`CASE WHEN status = 'SENT' THEN "sentAt" END` : Prisma.raw(`"${ENGAGED_AT[step.did]}"`);
      const [row] = await query<{ messages: number; engaged: number; delay: number | null }>(Prisma.sql`
        SELECT count(*)::int AS messages, count(${column})::int AS engaged,
          percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM ${column} - "sentAt")) AS delay
        FROM "Message" WHERE "workspaceId" = ${workspaceId}::uuid AND channel = ${channel}::"Channel" AND NOT test AND "sentAt" IS NOT NULL`);
      const { messages, engaged, delay } = row!;
      estimates.set(key, { channel, did: step.did, messages, rate: messages ? engaged / messages : 0, delaySeconds: Math.max(0, Math.round(delay ?? 0)) });
    }
  }
  return estimates;
}

/**
 * Delivery as the policy would do it for one contact: a send outside the delivery window goes at
 * its next opening; one over a frequency cap (counting the contact's simulated sends in the cap's
 * rolling period before it) is capped.
 */
function delivery(definition: JourneyDefinition, workspace: Workspace) {
  const quiet = workspace.quietHoursStart && workspace.quietHoursEnd ? allowedBy({ start: workspace.quietHoursStart, end: workspace.quietHoursEnd }) : null;
  const windowFor = (channel: Channel): LocalWindow | null => definition.deliveryWindow ?? (INTERRUPTIVE.has(channel) ? quiet : null);
  const caps = definition.frequencyCapped ? frequencyCapsOf(workspace).map((cap) => ({ limit: cap.limit, ms: PERIOD_MS[cap.period], channel: cap.channel ?? null })) : [];
  return (zone: string): JourneyFacts['deliver'] => {
    const sent: { at: number; channel: Channel }[] = [];
    return (channel, at) => {
      const window = windowFor(channel);
      const deliveredAt = window ? nextOpening(at, zone, window) : at;
      const time = deliveredAt.getTime();
      const over = caps.some(
        (cap) => (cap.channel == null || cap.channel === channel) &&
          sent.filter((one) => (cap.channel == null || one.channel === cap.channel) && one.at > time - cap.ms && one.at <= time).length + 1 > cap.limit,
      );
      if (over) return { capped: true };
      sent.push({ at: time, channel });
      return { deliveredAt };
    };
  };
}
