import { Prisma } from '../db/prisma.ts';
import type { SqlTx } from '../db/sql-transaction.ts';
import type { Campaign } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';
import { compileEventWhere, eventKeyOf } from '../segments/compile.ts';
import { selectionSql } from '../segments/service.ts';
import { audienceFrom, triggerOf } from './campaign-fields.ts';
import { type DeliveryEvent, publishDeliveryEvents } from './events.ts';
import { deviceIdOf } from './channel.ts';
import { channelFor } from './channels.ts';
import { assignedSql, experimentOf } from './experiment.ts';
import { lanesOf, scheduleWakes } from './deliver.ts';
import { announce, CONTACT_LOCK, COUNT_INSERTED, lockContacts, type MovedRow, moveRows } from './ledger.ts';

type Tx = SqlTx;

/** Delays up to this long are also timed in memory, for a wake-up on the dot. */
const SHORT_DELAY_MS = 60_000;
/** Plans an in-memory wake-up, at most one per campaign and 100 ms slot: ten a second per campaign. */
function kickAt(herald: Herald, campaignId: string, at: number): void {
  const { kicks } = herald.deliveries;
  const slot = Math.ceil(at / 100) * 100;
  const key = `${campaignId}@${slot}`;
  if (kicks.has(key)) return;
  kicks.add(key);
  setTimeout(() => {
    kicks.delete(key);
    herald.events.publish('delivery:due', { campaignId });
  }, slot - Date.now()).unref();
}

export interface StoredEvent {
  id: string;
  contactId: string;
  name: string;
}

/** What trigger entry reads of a campaign, with its segment's rule. */
export type TriggeredCampaign = Pick<
  Campaign,
  'id' | 'kind' | 'status' | 'channel' | 'trigger' | 'startAt' | 'startedAt' | 'endAt' | 'frequencyCapped' | 'holdoutPercent' | 'variants' | 'audienceRule' | 'audienceType'
> & { segment: { rule: unknown } | null };

/**
 * The workspace's triggered campaigns (ACTIVE or PAUSED, with their segments' rules), one row each:
 * a part of the statement that reads a batch's listeners (tracking/events.ts). One raw statement,
 * not findMany with its segment: Prisma reads the segments with a second query and maps every column.
 */
export function listeningCampaignsSql(workspaceId: string): Prisma.Sql {
  return Prisma.sql`
    SELECT c.id::text, c.kind::text, c.status::text, c.channel::text, c.trigger, c."startAt", c."startedAt", c."endAt",
      c."frequencyCapped", c."holdoutPercent", c.variants, c."audienceRule", c."audienceType"::text,
      CASE WHEN s.id IS NULL THEN NULL ELSE jsonb_build_object('rule', s.rule) END AS segment
    FROM "Campaign" c LEFT JOIN "Segment" s ON s.id = c."segmentId"
    WHERE c."workspaceId" = ${workspaceId}::uuid AND c.kind = 'TRIGGERED' AND c.status IN ('ACTIVE', 'PAUSED')`;
}

/**
 * The campaigns of `campaigns` (rows of listeningCampaignsSql) as JSON, unless their version is
 * `known`: then null, and the caller uses the ones it read with that version. A version is the
 * hash of the rows' text, the very columns trigger entry reads: a campaign activated, paused or
 * edited, or its segment's rule edited, is read again by the next statement after the change
 * commits, in any process (the cache needs no message to stay right), while the updates trigger
 * entry never reads (a campaign's wake-up time moves with every delivery pass) keep it.
 */
export function listeningCampaignsJsonSql(campaigns: Prisma.Sql, known: string | null): Prisma.Sql {
  return Prisma.sql`(SELECT jsonb_build_object('version', v.version,
      'campaigns', CASE WHEN v.version = ${known}::text THEN NULL
        ELSE COALESCE((SELECT jsonb_agg(c) FROM ${campaigns} c), '[]'::jsonb) END)
    FROM (SELECT md5(COALESCE(string_agg(c::text, ',' ORDER BY c.id), '')) AS version FROM ${campaigns} c) v)`;
}

/**
 * Takes the batch's per-contact locks (as lockContacts does) when a campaign of `campaigns` (rows
 * of listeningCampaignsSql) is triggered by one of `names` or lists one as an exception: the
 * condition applyTriggers checks, in SQL, so that the read of the campaigns takes the locks too
 * and trigger entry, a statement later, decides under them. Answers whether it took them.
 */
export function triggerLocksSql(campaigns: Prisma.Sql, contactIds: readonly string[], names: readonly string[]): Prisma.Sql {
  return Prisma.sql`(SELECT count(pg_advisory_xact_lock(${CONTACT_LOCK}::int, key)) > 0
    FROM (SELECT DISTINCT hashtext(id::text) AS key FROM unnest(${[...contactIds]}::uuid[]) id ORDER BY 1) keys
    WHERE EXISTS (SELECT 1 FROM ${campaigns} c
      WHERE (c.status = 'ACTIVE' AND c.trigger->>'event' = ANY(${[...names]}::text[]))
        OR COALESCE(c.trigger->'exceptionEvents', '[]'::jsonb) ?| ${[...names]}::text[]))`;
}

/**
 * What a process last read of a workspace's listeners: its triggered campaigns at one version
 * (listeningCampaignsJsonSql; never changed once read), and, as they were then, the event names
 * campaigns count as conversions and whether any journey listens (tracking/events.ts).
 */
export interface KnownListeners {
  version: string;
  campaigns: readonly TriggeredCampaign[];
  conversionEvents: readonly string[];
  journeys: boolean;
}

/** What a batch's events may trigger: the campaigns listening, and whether their contacts are locked. */
export interface TriggerListeners {
  campaigns: readonly TriggeredCampaign[];
  locked: boolean;
}

/** What the events of one batch did to triggered campaigns, to announce once they are committed. */
export interface TriggerOutcome {
  suppressed: MovedRow[];
  queued: (Omit<DeliveryEvent, 'at'> & { dueAt: Date })[];
}

const NONE: TriggerOutcome = { suppressed: [], queued: [] };

/**
 * Runs inside the transaction that stores a batch of events, so an event counts for triggers
 * exactly when it is stored (a replayed idempotency key stores nothing and triggers nothing).
 *  1. An exception event suppresses (EXCEPTION_EVENT) the contact's waiting messages of campaigns
 *     listing it, for triggers that happened before it.
 *  2. A trigger event of an ACTIVE campaign, inside startAt/endAt, passing the campaign's `where`,
 *     from a contact in its audience and eligible again, queues one message per browser at
 *     occurredAt + delay. Ledger ids derive from (campaign, event, browser): never two rows.
 * Per-contact advisory locks make two batches of one contact enter a campaign one after the other.
 */
export async function applyTriggers(
  tx: Tx,
  workspaceId: string,
  events: readonly StoredEvent[],
  listening: TriggerListeners,
  {
    /** The transaction runs nothing after: trigger entry carries its COMMIT (SqlTx.$queryRawThenCommit). */
    last = false,
  }: { last?: boolean } = {},
): Promise<TriggerOutcome> {
  const { campaigns } = listening;
  if (events.length === 0 || campaigns.length === 0) return NONE;
  const names = new Set(events.map((event) => event.name));
  const triggered = campaigns.filter((campaign) => campaign.status === 'ACTIVE' && names.has(triggerOf(campaign)!.event));
  const exceptions = campaigns.flatMap((campaign) =>
    (triggerOf(campaign)!.exceptionEvents ?? []).filter((name) => names.has(name)).map((name) => ({ campaignId: campaign.id, name })),
  );
  if (triggered.length === 0 && exceptions.length === 0) return NONE;
  // The read that found the campaigns took the contacts' locks (triggerLocksSql); should its
  // condition ever miss a case this one sees, they are taken here.
  if (!listening.locked) await lockContacts((sql) => tx.$queryRaw(sql), events.map((event) => event.contactId));
  const ids = events.map((event) => event.id);
  const suppressed = exceptions.length ? await suppressExcepted(tx, ids, exceptions) : [];
  const queued = triggered.length ? await enterTriggered(tx, workspaceId, ids, triggered, last) : [];
  return { suppressed, queued };
}

async function suppressExcepted(tx: Tx, eventIds: string[], exceptions: { campaignId: string; name: string }[]): Promise<MovedRow[]> {
  const waiting = await tx.$queryRaw<{ id: string; name: string }[]>`
    WITH pairs AS (
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(exceptions)}::jsonb) AS p("campaignId" uuid, name text)
    ), happened AS (
      SELECT e."contactId", e.name, e."occurredAt", p."campaignId" FROM "Event" e JOIN pairs p ON p.name = e.name WHERE e.id = ANY(${eventIds}::uuid[])
    )
    SELECT DISTINCT ON (m.id) m.id::text, h.name
    FROM happened h
    JOIN "Message" m ON m."contactId" = h."contactId" AND m."campaignId" = h."campaignId" AND m.status = 'QUEUED' AND NOT m.test
    JOIN "Event" t ON t.id = m."eventId"
    WHERE t."occurredAt" <= h."occurredAt"`;
  return moveRows(
    (text, values) => tx.$queryRawUnsafe<MovedRow[]>(text, ...values),
    waiting.map(({ id, name }) => ({ id, from: 'QUEUED', status: 'SUPPRESSED', reason: 'EXCEPTION_EVENT', error: `"${name}" happened after the trigger` })),
  );
}

async function enterTriggered(tx: Tx, workspaceId: string, eventIds: string[], campaigns: TriggeredCampaign[], last: boolean): Promise<TriggerOutcome['queued']> {
  const now = new Date();
  // One join of the batch's events with the campaigns listening; each campaign's own filter and
  // audience sit in one CASE arm. (A UNION of one query per campaign took PostgreSQL longer to
  // plan than to run, and twenty campaigns halved ingestion.)
  const listening = campaigns.map((campaign) => {
    const trigger = triggerOf(campaign)!;
    const key = eventKeyOf(trigger.where ?? []);
    return {
      id: campaign.id,
      event: trigger.event,
      // Events from before the campaign listened (or before startAt) do not count, nor after endAt.
      since: new Date(Math.max(campaign.startAt?.getTime() ?? 0, campaign.startedAt?.getTime() ?? 0)).toISOString(),
      until: campaign.endAt?.toISOString() ?? null,
      delay: trigger.delaySeconds ?? 0,
      reEligibleAfter: trigger.reEligibleAfterSeconds ?? null,
      channel: campaign.channel,
      marketing: campaign.frequencyCapped,
      // A condition of the filter checked first, in the join: a campaign's arm below runs only
      // for the events that pass it, not for every event of the trigger's name.
      keyPath: key?.path ?? null,
      keyValue: key ? key.value : null,
    };
  });
  const arms = campaigns.map((campaign) => {
    const trigger = triggerOf(campaign)!;
    const rule = Prisma.sql`${compileEventWhere(trigger.where ?? [])} AND ${selectionSql(workspaceId, audienceFrom(campaign, campaign.segment), now)}`;
    return Prisma.sql`WHEN ${campaign.id}::uuid THEN ${rule}`;
  });
  const matched = Prisma.sql`
    SELECT k.id AS "campaignId", e.id AS "eventId", e."contactId", e."occurredAt",
      e."occurredAt" + make_interval(secs => k.delay) AS due, k."reEligibleAfter", k.channel, k.marketing
    FROM "Event" e
    JOIN "Contact" c ON c.id = e."contactId"
    -- OFFSET 0 keeps the campaigns a subquery of each event: else the planner, which cannot count
    -- them, joins every event with every campaign first and reads the contact once per pair.
    CROSS JOIN LATERAL (
      SELECT * FROM listening k
      WHERE k.event = e.name AND e."occurredAt" >= k.since AND (k.until IS NULL OR e."occurredAt" <= k.until)
        AND (k."keyPath" IS NULL OR e.properties #> k."keyPath" = k."keyValue")
      OFFSET 0
    ) k
    WHERE e.id = ANY(${eventIds}::uuid[]) AND CASE k.id ${Prisma.join(arms, ' ')} END`;
  const entry = Prisma.sql`
    -- The campaigns' parameters are read once (in the subquery above, once per event of the batch).
    WITH listening AS MATERIALIZED (
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(listening)}::jsonb)
        AS k(id uuid, event text, since timestamptz, until timestamptz, delay double precision, "reEligibleAfter" int, channel text, marketing boolean,
          "keyPath" text[], "keyValue" jsonb)
    ),
    matched AS (${matched}),
    first AS (
      -- Two triggers of one contact in one batch enter once, like two batches would.
      SELECT DISTINCT ON ("campaignId", "contactId") * FROM matched ORDER BY "campaignId", "contactId", due
    ), eligible AS (
      -- Not while a message of this campaign waits for the contact; again only reEligibleAfter
      -- seconds after the last one sent (never again when absent), counted to the trigger itself,
      -- not to its message's due time: with a delay, that would let in triggers inside the span.
      -- A contact held out (or in the control group) counts as sent when it would have been, so
      -- the held-out are held out of the triggers the messaged are sent for, no more.
      SELECT f.* FROM first f WHERE NOT EXISTS (
        SELECT 1 FROM "Message" x
        WHERE x."contactId" = f."contactId" AND x."campaignId" = f."campaignId" AND NOT x.test
          AND (x.status IN ('QUEUED', 'SENDING')
            OR ((x.status = 'SENT' OR x.reason IN ('HOLDOUT', 'CONTROL_GROUP'))
              AND (f."reEligibleAfter" IS NULL OR COALESCE(x."sentAt", x."scheduledFor") > f."occurredAt" - make_interval(secs => f."reEligibleAfter")))))
    ), recipients AS (
      ${Prisma.join(
        // The columns the insert reads, whatever else a channel's rows carry: only mobile push has "deviceId".
        [...new Set(campaigns.map(channelFor))].map(
          (channel) => Prisma.sql`SELECT r."campaignId", r."contactId", r."eventId", r.channel, r.due, r."subscriptionId", ${deviceIdOf(channel)} AS "deviceId", r.skip
            FROM (${channel.recipients(Prisma.sql`(SELECT * FROM eligible WHERE channel = ${channel.name})`)}) r`,
        ),
        ' UNION ALL ',
      )}
    ), assigned AS (
      ${assignedSql(Prisma.sql`recipients`, campaigns.map(experimentOf), Prisma.sql`r."campaignId"`, workspaceId)}
    ), inserted AS (
      INSERT INTO "Message" (id, "workspaceId", "campaignId", "contactId", "subscriptionId", "deviceId", occurrence, channel, variant, "eventId", status, reason, "scheduledFor", "dueAt", "updatedAt")
      SELECT md5(r."campaignId"::text || '/event:' || r."eventId"::text || '/' || COALESCE(r."subscriptionId"::text, 'device:' || r."deviceId", 'contact:' || r."contactId"))::uuid,
        ${workspaceId}::uuid, r."campaignId", r."contactId", r."subscriptionId", r."deviceId", 'event:' || r."eventId"::text, r.channel::"Channel", r.variant, r."eventId",
        (CASE WHEN r."assignedSkip" IS NULL THEN 'QUEUED' ELSE 'SUPPRESSED' END)::"MessageStatus", r."assignedSkip"::"MessageReason",
        r.due, GREATEST(r.due, now()), now()
      FROM assigned r
      ON CONFLICT DO NOTHING
      RETURNING id, "campaignId", "contactId", status, reason, "dueAt"
    ), counted AS (${COUNT_INSERTED})
    SELECT id::text AS "messageId", "campaignId"::text, "contactId"::text, status::text AS type, reason::text, "dueAt" FROM inserted`;
  return last && tx.$queryRawThenCommit ? tx.$queryRawThenCommit<TriggerOutcome['queued']>(entry) : tx.$queryRaw<TriggerOutcome['queued']>(entry);
}

/**
 * After the events' transaction commits: tells dashboards, and gets the new messages sent, at
 * once when due now (the `delivery:due` signal reaches whichever process runs jobs), else by a
 * wake-up job at the earliest due time.
 */
export async function announceTriggers(herald: Herald, workspaceId: string, outcome: TriggerOutcome): Promise<void> {
  announce(herald, outcome.suppressed);
  publishDeliveryEvents(herald, workspaceId, outcome.queued.map(({ dueAt: _dueAt, ...event }) => event));
  const earliest = new Map<string, Date>();
  // The lanes that hold each campaign's rows due now: a running pass wakes only those lanes.
  const lanes = new Map<string, number>();
  const now = Date.now();
  for (const row of outcome.queued) {
    if (row.type !== 'QUEUED') continue;
    const dueAt = new Date(row.dueAt);
    const known = earliest.get(row.campaignId);
    if (!known || dueAt < known) earliest.set(row.campaignId, dueAt);
    if (dueAt.getTime() <= now) lanes.set(row.campaignId, (lanes.get(row.campaignId) ?? 0) | lanesOf([row.messageId]));
  }
  const later = new Map<string, Date>();
  // An api-only process without Redis has no worker listening for the signal: Agenda carries it.
  const signalReachesWorker = herald.config.HERALD_ROLE !== 'api' || Boolean(herald.config.REDIS_URL);
  for (const [campaignId, dueAt] of earliest) {
    const wait = dueAt.getTime() - now;
    if (wait <= 0 && signalReachesWorker) {
      herald.events.publish('delivery:due', { campaignId, lanes: lanes.get(campaignId) });
      continue;
    }
    later.set(campaignId, dueAt);
    // A short delay is also timed here: Agenda finds due jobs only when it polls (every 5 s). Its
    // job stays the durable wake-up, should this process stop first.
    if (wait > 0 && wait <= SHORT_DELAY_MS && signalReachesWorker) kickAt(herald, campaignId, dueAt.getTime());
  }
  await scheduleWakes(herald, later);
}
