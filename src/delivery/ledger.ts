import { Prisma } from '../db/prisma.ts';
import { namedQuery } from '../db/sql-transaction.ts';
import type { Herald } from '../herald-context.ts';
import { type DeliveryEvent, type DeliveryEventType, publishDeliveryEvents } from './events.ts';

export type MessageStatus = 'QUEUED' | 'SENDING' | 'SENT' | 'FAILED' | 'EXPIRED' | 'SUPPRESSED' | 'CANCELED';
export type MessageReason =
  | 'ACCEPTED'
  | 'UNCONFIRMED'
  | 'RESENT_AFTER_CRASH'
  | 'PAYLOAD_TOO_LARGE'
  | 'SUBSCRIPTION_GONE'
  | 'PUSH_SERVICE_REJECTED'
  | 'PROVIDER_REJECTED'
  | 'RETRIES_EXHAUSTED'
  | 'TEMPLATE_ERROR'
  | 'FREQUENCY_CAP'
  | 'QUIET_HOURS'
  | 'EXCEPTION_EVENT'
  | 'NO_SUBSCRIPTION'
  | 'NOT_ELIGIBLE'
  | 'EXPIRED'
  | 'CAMPAIGN_CANCELED'
  | 'NO_EMAIL'
  | 'NO_PHONE'
  | 'UNSUBSCRIBED'
  | 'BOUNCED'
  | 'COMPLAINED'
  | 'HOLDOUT'
  | 'CONTROL_GROUP'
  | 'UNDELIVERED';

export const FINAL_STATUSES: readonly MessageStatus[] = ['SENT', 'FAILED', 'EXPIRED', 'SUPPRESSED', 'CANCELED'];

/** One ledger row moving from one status to another; applied only if it is still in `from`. */
export interface Transition {
  id: string;
  from: MessageStatus;
  status: MessageStatus;
  /** Absent: the row keeps its reason (a claim, a wait for the window: a resend stays one); null clears it. */
  reason?: MessageReason | null;
  /** Absent or null: the row keeps its error, except a note that it waits (WAITING), which its claim clears. */
  error?: string | null;
  /** For a retry: when the row may be tried again. */
  dueAt?: Date | null;
  /** A claim: the address the message goes to (Channel.sentTo), kept as Message.sentTo. */
  sentTo?: string | null;
}


/**
 * Moves many ledger rows in one statement and keeps the campaign counters in step in the same
 * statement, so stats always equal the ledger. A row no longer in its `from` status (another
 * worker got there first) is left alone and not counted. Returns the ids that moved.
 */
export async function transition(herald: Pick<Herald, 'pool' | 'events' | 'config'>, rows: readonly Transition[]): Promise<Set<string>> {
  // Plain pg: this runs once per batch the sender claims, and sits between claim and send. Named,
  // so each connection parses it once; PostgreSQL still plans it per call for a few rows (a custom
  // plan looks cheaper than the generic one), ~0.6 ms for a triggered message's one row.
  const moved = await moveRows((text, values) => namedQuery<MovedRow>(herald.pool, text, values, herald.config.HERALD_PREPARED_STATEMENTS), rows);
  announce(herald, moved);
  return new Set(moved.map((row) => row.id));
}

/** Runs one SQL statement with positional parameters: on the pool, a pg client, or a Prisma transaction. */
export type RunSql = (text: string, values: unknown[]) => Promise<MovedRow[]>;

/** `transition` inside a caller's transaction: the caller announces the moved rows once it commits. */
export async function moveRows(run: RunSql, rows: readonly Transition[]): Promise<MovedRow[]> {
  if (rows.length === 0) return [];
  return run(TRANSITION_SQL, [transitionInput(rows), rows.map((row) => row.id)]);
}

function transitionInput(rows: readonly Transition[]): string {
  const input = rows.map((row) => ({
    id: row.id,
    from: row.from,
    status: row.status,
    reason: row.reason ?? null,
    keepReason: row.reason === undefined,
    error: row.error?.slice(0, 500) ?? null,
    dueAt: row.dueAt?.toISOString() ?? null,
    ...(row.sentTo ? { sentTo: row.sentTo } : {}),
  }));
  return JSON.stringify(input);
}

/**
 * The counter a status is counted in (SQL, of a "MessageStatus" column): a claimed row (SENDING)
 * still counts as waiting, `status:QUEUED`, so claiming rows, which every send does in a
 * transaction held open until its COMMIT, changes no counter and waits for no other sender's
 * counter lock. No counter says SENDING; stats show QUEUED and SENDING together as `queued`.
 */
export const statusMetric = (column: string) => `'status:' || CASE WHEN ${column} = 'SENDING' THEN 'QUEUED' ELSE ${column}::text END`;

/** How the error of a row held for its delivery window begins (policy.ts): a note, cleared by its claim. */
export const WAITING = 'waits for ';

const TRANSITION_SQL = `
    WITH input AS (
      SELECT * FROM jsonb_to_recordset($1::jsonb)
        AS r(id uuid, "from" "MessageStatus", status "MessageStatus", reason "MessageReason", "keepReason" boolean, error text, "dueAt" timestamptz, "sentTo" text)
    ), changed AS (
      UPDATE "Message" m SET
        status = i.status,
        reason = CASE WHEN i."keepReason" THEN m.reason ELSE i.reason END,
        -- Why a row waited is over once it is claimed: the row sent does not say it waits.
        error = CASE WHEN i.error IS NOT NULL THEN i.error WHEN i.status = 'SENDING' AND starts_with(m.error, '${WAITING}') THEN NULL ELSE m.error END,
        "dueAt" = COALESCE(i."dueAt", m."dueAt"),
        "sentAt" = CASE WHEN i.status = 'SENT' THEN now() ELSE m."sentAt" END,
        -- The claim's transaction began when its rows were read: the lease counts from the claim itself.
        "claimedAt" = CASE WHEN i.status = 'SENDING' THEN clock_timestamp() ELSE m."claimedAt" END,
        attempts = m.attempts + CASE WHEN i.status = 'SENDING' THEN 1 ELSE 0 END,
        -- Written by the claim (a retry's claim writes the address it goes to then); a claim a cap suppressed sent nothing.
        "sentTo" = CASE WHEN i.status = 'SENDING' THEN COALESCE(i."sentTo", m."sentTo") ELSE m."sentTo" END,
        "updatedAt" = now()
      FROM input i
      -- The ids named let the planner read the rows by key: it cannot count the input's rows and,
      -- on a table its statistics still think small (a first broadcast, or the benches), hashed
      -- them against a scan of the whole ledger on every call.
      WHERE m.id = ANY($2::uuid[]) AND m.id = i.id AND m.status = i."from"
      RETURNING m.id, m."workspaceId", m."campaignId", m."contactId", m.test, i."from", i.status, m.reason
    ), deltas AS (
      SELECT "campaignId", ${statusMetric('"from"')} AS metric, -1 AS delta FROM changed WHERE NOT test
      UNION ALL SELECT "campaignId", ${statusMetric('status')}, 1 FROM changed WHERE NOT test
      -- A waiting row's reason (a resend) is counted once, when the row settles.
      UNION ALL SELECT "campaignId", 'reason:' || reason, 1 FROM changed WHERE NOT test AND reason IS NOT NULL AND status NOT IN ('QUEUED', 'SENDING')
    ), counted AS (
      -- A claim's deltas cancel out: it writes (and locks) no counter row.
      INSERT INTO "CampaignCount" ("campaignId", metric, count)
      SELECT "campaignId", metric, sum(delta)::int FROM deltas GROUP BY 1, 2 HAVING sum(delta) <> 0 ORDER BY 1, 2
      ON CONFLICT ("campaignId", metric, shard) DO UPDATE SET count = "CampaignCount".count + excluded.count
    )
    SELECT id::text, "workspaceId"::text, "campaignId"::text, "contactId"::text, test, status::text, reason::text FROM changed`;

export interface MovedRow {
  id: string;
  workspaceId: string;
  campaignId: string;
  contactId: string;
  test: boolean;
  status: MessageStatus;
  reason: MessageReason | null;
}

/** Final steps go to the live feed; SENDING and retries are the sender's business. */
export function announce(herald: Pick<Herald, 'events'>, rows: MovedRow[]): void {
  const byWorkspace = new Map<string, DeliveryEvent[]>();
  for (const row of rows) {
    if (row.test || row.status === 'SENDING' || row.status === 'QUEUED') continue;
    const events = byWorkspace.get(row.workspaceId) ?? [];
    events.push({ type: row.status as DeliveryEventType, messageId: row.id, campaignId: row.campaignId, contactId: row.contactId, reason: row.reason, at: '' });
    byWorkspace.set(row.workspaceId, events);
  }
  for (const [workspaceId, events] of byWorkspace) publishDeliveryEvents(herald, workspaceId, events);
}

/**
 * Counters for the rows a statement has just added to the ledger: the body of a CTE that follows
 * one named `inserted` returning "campaignId", status and reason. Same statement, so stats never
 * miss a row.
 */
export const COUNT_INSERTED = Prisma.sql`
  INSERT INTO "CampaignCount" ("campaignId", metric, count)
  SELECT "campaignId", metric, count(*)::int FROM (
    SELECT "campaignId", 'targeted' AS metric FROM inserted
    UNION ALL SELECT "campaignId", 'status:' || status FROM inserted
    UNION ALL SELECT "campaignId", 'reason:' || reason FROM inserted WHERE reason IS NOT NULL
  ) metrics GROUP BY 1, 2 ORDER BY 1, 2 -- one lock order for all writers: no deadlocks
  ON CONFLICT ("campaignId", metric, shard) DO UPDATE SET count = "CampaignCount".count + excluded.count`;

/** Advisory-lock namespace for one contact's sends: trigger entry and frequency caps serialize on it. */
export const CONTACT_LOCK = 72_510;

/** Takes the per-contact locks, in one order everywhere so two holders never wait on each other. */
export async function lockContacts(run: (sql: Prisma.Sql) => Promise<unknown>, contactIds: readonly string[]): Promise<void> {
  if (contactIds.length === 0) return;
  await run(Prisma.sql`
    SELECT count(pg_advisory_xact_lock(${CONTACT_LOCK}::int, key))
    FROM (SELECT DISTINCT hashtext(id::text) AS key FROM unnest(${[...contactIds]}::uuid[]) id ORDER BY 1) keys`);
}

export const sqlStatuses = (statuses: readonly MessageStatus[]) => Prisma.join(statuses.map((status) => Prisma.sql`${status}::"MessageStatus"`));

/** Every row of a campaign still waiting becomes CANCELED/CAMPAIGN_CANCELED, in batches. */
export async function cancelWaiting(herald: Pick<Herald, 'pool' | 'events' | 'prisma' | 'config'>, campaignId: string): Promise<void> {
  for (;;) {
    const waiting = await herald.prisma.message.findMany({ where: { campaignId, status: 'QUEUED' }, select: { id: true }, take: 5_000 });
    if (waiting.length === 0) return;
    await transition(herald, waiting.map((row) => ({ id: row.id, from: 'QUEUED' as const, status: 'CANCELED' as const, reason: 'CAMPAIGN_CANCELED' as const })));
  }
}
