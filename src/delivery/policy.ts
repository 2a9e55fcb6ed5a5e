import { Prisma } from '../db/prisma.ts';
import type { Campaign, Workspace } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';
import { audienceOf, triggerOf } from './campaign-fields.ts';
import { selectionSql } from '../segments/service.ts';
import { frequencyCapsOf } from '../workspaces/service.ts';
import type { CapPeriod } from '../workspaces/settings.ts';
import type { ClaimTransaction } from './claim-transaction.ts';
import { announce, CONTACT_LOCK, type MovedRow, moveRows, type Transition, WAITING } from './ledger.ts';
import { allowedBy, type LocalWindow, nextOpening, usableZone, workspaceZone } from './time.ts';

/** What the policy needs to know of a due ledger row. */
export interface DueRow {
  id: string;
  contactId: string;
  occurrence: string;
  /** The recipient's zone: contact's, else the browser's (the workspace's when both are unknown). */
  timezone: string | null;
}

/** Rows claimed in an open transaction; `commit()` writes COMMIT at once and settles when it is done. */
export interface Claim {
  sending: Set<string>;
  /** Claims left QUEUED because their contact was locked by another sender. */
  skipped: number;
  commit(): Promise<void>;
}

/** Channels that interrupt (a notification, a text): the workspace's quiet hours apply to them; email waits in the inbox. */
const INTERRUPTIVE = new Set<string>(['WEB_PUSH', 'SMS', 'MOBILE_PUSH']);

const PERIOD_SECONDS: Record<CapPeriod, number> = { DAY: 86_400, WEEK: 7 * 86_400 };

/**
 * The rules a due message must pass at send time, checked per batch:
 *  - a triggered message's contact must still be in the audience (else SUPPRESSED NOT_ELIGIBLE)
 *    and must not have performed an exception event since the trigger (SUPPRESSED EXCEPTION_EVENT);
 *  - outside the delivery window (the campaign's, else the workspace's quiet hours for a channel
 *    that interrupts: push, SMS) in the
 *    recipient's zone it waits, QUEUED, for the window's next opening; if that is past
 *    activeUntil it is SUPPRESSED QUIET_HOURS;
 *  - frequency caps are checked when the sender claims the rows (see `claim`).
 */
export async function deliveryPolicy(herald: Herald, campaign: Campaign, workspace: Workspace) {
  const trigger = triggerOf(campaign);
  const selection = trigger ? await audienceOf(herald, campaign) : null;
  const audience = selection ? selectionSql(campaign.workspaceId, selection) : null;
  const exceptionEvents = trigger?.exceptionEvents ?? [];
  // A trigger's rows are looked at again only when something may have changed since they entered:
  // an audience narrower than every contact, or exception events. (For everyone and no exceptions
  // the verdict was a round trip and ~0.6 ms of PostgreSQL's planning per message, answering nothing.)
  const recheck = selection !== null && (selection.rule != null || (selection.audience ?? 'ALL') !== 'ALL' || exceptionEvents.length > 0);
  const window: LocalWindow | null =
    campaign.deliveryWindowStart && campaign.deliveryWindowEnd
      ? { start: campaign.deliveryWindowStart, end: campaign.deliveryWindowEnd }
      : workspace.quietHoursStart && workspace.quietHoursEnd && INTERRUPTIVE.has(campaign.channel)
        ? allowedBy({ start: workspace.quietHoursStart, end: workspace.quietHoursEnd })
        : null;
  // A cap naming a channel counts and limits only that channel's messages; one naming none, all.
  const caps = campaign.frequencyCapped
    ? frequencyCapsOf(workspace)
        .filter((cap) => !cap.channel || cap.channel === campaign.channel)
        .map((cap) => ({ limit: cap.limit, seconds: PERIOD_SECONDS[cap.period], channel: cap.channel ?? null }))
    : [];
  const fallbackZone = workspaceZone(workspace.timezone);
  const source = campaign.deliveryWindowStart ? 'the campaign’s delivery window' : 'the workspace’s quiet hours';

  /** Splits due rows into those that may go now and ledger moves for the others (asking, if it must, in `tx`). */
  async function gate<T extends DueRow>(tx: Pick<ClaimTransaction, 'query'>, rows: T[]): Promise<{ go: T[]; settle: Transition[] }> {
    const settle: Transition[] = [];
    let go = rows;
    if (recheck && rows.length) {
      const verdictSql = Prisma.sql`
        SELECT m.id::text, CASE
          WHEN NOT EXISTS (SELECT 1 FROM "Contact" c WHERE c.id = m."contactId" AND ${audience!}) THEN 'NOT_ELIGIBLE'
          WHEN EXISTS (
            SELECT 1 FROM "Event" t JOIN "Event" x ON x."contactId" = t."contactId" AND x.name = ANY(${exceptionEvents}::text[])
              AND x."occurredAt" >= t."occurredAt" AND x.id <> t.id
            WHERE t.id = m."eventId") THEN 'EXCEPTION_EVENT'
        END AS reason
        FROM "Message" m WHERE m.id = ANY(${rows.map((row) => row.id)}::uuid[])`;
      const verdicts = await tx.query<{ id: string; reason: 'NOT_ELIGIBLE' | 'EXCEPTION_EVENT' | null }>(verdictSql.text, verdictSql.values);
      const refused = new Map(verdicts.filter((verdict) => verdict.reason).map((verdict) => [verdict.id, verdict.reason!]));
      for (const [id, reason] of refused) {
        const error = reason === 'NOT_ELIGIBLE' ? 'the contact left the audience before the send' : 'an exception event happened after the trigger';
        settle.push({ id, from: 'QUEUED', status: 'SUPPRESSED', reason, error });
      }
      go = go.filter((row) => !refused.has(row.id));
    }
    if (window) {
      const now = new Date();
      const openings = new Map<string, Date>(); // per zone: rows of one batch share "now"
      go = go.filter((row) => {
        // A zone stored before names were checked as now (a browser's "PST") is not computed with:
        // its row keeps the workspace's zone, and throwing would stop every other row of the batch.
        const zone = usableZone(row.timezone, fallbackZone);
        let opening = openings.get(zone);
        if (!opening) openings.set(zone, (opening = nextOpening(now, zone, window)));
        if (opening.getTime() <= now.getTime()) return true;
        const hours = `${window.start}-${window.end}`;
        if (campaign.activeUntil && opening >= campaign.activeUntil) {
          settle.push({ id: row.id, from: 'QUEUED', status: 'SUPPRESSED', reason: 'QUIET_HOURS', error: `${source} (${hours} ${zone}) opens only after activeUntil` });
        } else {
          // No reason given: the row keeps its own (a resend waiting for the window stays RESENT_AFTER_CRASH).
          settle.push({ id: row.id, from: 'QUEUED', status: 'QUEUED', dueAt: opening, error: `${WAITING}${source} (${hours} ${zone}) to open` });
        }
        return false;
      });
    }
    return { go, settle };
  }

  /**
   * Moves claims (QUEUED → SENDING) and other settled rows in `tx`, which holds them (read FOR
   * UPDATE SKIP LOCKED) and stays open: the caller writes COMMIT in the same tick as the claimed
   * requests, so a process killed at any moment has done both or neither (see deliver.ts).
   * Under frequency caps the transaction first takes its recipients' advisory locks, then counts
   * what each was sent (or is being sent) across all campaigns in each rolling period: two
   * campaigns claiming for one contact take turns, and the second sees the first's claims. The
   * locks are only tried, never waited for (this transaction already holds rows that a trigger's
   * transaction, holding a contact's lock, may want): a contact locked elsewhere stays QUEUED for
   * the next batch (`skipped`). Claims over a cap become SUPPRESSED FREQUENCY_CAP. `sending` holds
   * the ids to send.
   */
  async function claim(tx: ClaimTransaction, claims: (Transition & { row: DueRow })[], settled: Transition[]): Promise<Claim> {
    let moves: Transition[] = claims.map(({ row: _row, ...claim }) => claim);
    let skipped = 0;
    if (caps.length && claims.length) {
      const busy = await tryLockContacts(tx, claims.map(({ row }) => row.contactId));
      const locked = claims.filter(({ row }) => !busy.has(row.contactId));
      skipped = claims.length - locked.length;
      const over = await overCap(tx, campaign.id, locked.map(({ row }) => row), caps);
      moves = locked.map(({ row: _row, ...claim }) =>
        over.has(claim.id) ? { ...claim, status: 'SUPPRESSED' as const, reason: 'FREQUENCY_CAP' as const, error: 'the contact reached a frequency cap' } : claim,
      );
    }
    const moved = await moveRows((text, values) => tx.query<MovedRow>(text, values), [...moves, ...settled]);
    return {
      // Suppressed rows moved too, but only claims are to be sent.
      sending: new Set(moved.filter((row) => row.status === 'SENDING').map((row) => row.id)),
      skipped,
      commit: () => tx.commit().then(() => announce(herald, moved)),
    };
  }

  return { gate, claim, capped: caps.length > 0 };
}

/**
 * Rows that would take their contact over a cap. A message is one (campaign, occurrence) per
 * contact, whatever the number of browsers; within the batch, a contact's messages count in order.
 * A message counts from its first claim: while a row claimed once waits for its retry (a push
 * that timed out, a send resumed after a crash) it still counts against other campaigns, and its
 * retry is not judged again. Judged again, it could be refused for a campaign let through while it
 * waited: a person's message, perhaps already on screen, would end SUPPRESSED, or reach one of
 * their browsers and not the other.
 */
async function overCap(tx: Pick<ClaimTransaction, 'query'>, campaignId: string, rows: DueRow[], caps: { limit: number; seconds: number; channel: string | null }[]): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const over = await tx.query<{ id: string }>(
    `WITH candidates AS (
       SELECT r.*, dense_rank() OVER (PARTITION BY r."contactId" ORDER BY r.occurrence) AS rank
       FROM jsonb_to_recordset($1::jsonb) AS r(id uuid, "contactId" uuid, occurrence text)
       WHERE NOT EXISTS (SELECT 1 FROM "Message" claimed WHERE claimed.id = r.id AND claimed.attempts > 0)
     ), caps AS (
       SELECT * FROM jsonb_to_recordset($2::jsonb) AS k("limit" int, seconds int, channel "Channel")
     )
     SELECT DISTINCT c.id::text FROM candidates c CROSS JOIN caps k
     WHERE c.rank + (
       SELECT count(DISTINCT (m."campaignId", m.occurrence)) FROM "Message" m
       WHERE m."contactId" = c."contactId" AND NOT m.test
         AND (m.status IN ('SENT', 'SENDING') OR (m.status = 'QUEUED' AND m.attempts > 0)) AND (k.channel IS NULL OR m.channel = k.channel)
         AND COALESCE(m."sentAt", m."claimedAt") > now() - make_interval(secs => k.seconds)
         AND NOT (m."campaignId" = $3::uuid AND m.occurrence = c.occurrence)
     ) > k."limit"`,
    [JSON.stringify(rows.map(({ id, contactId, occurrence }) => ({ id, contactId, occurrence }))), JSON.stringify(caps), campaignId],
  );
  return new Set(over.map((row) => row.id));
}

/** Tries each contact's advisory lock (held to the end of `tx`); answers the contacts locked elsewhere. */
async function tryLockContacts(tx: Pick<ClaimTransaction, 'query'>, contactIds: string[]): Promise<Set<string>> {
  const busy = await tx.query<{ id: string }>(
    `SELECT id::text FROM (SELECT DISTINCT id FROM unnest($1::uuid[]) id) ids WHERE NOT pg_try_advisory_xact_lock($2::int, hashtext(id::text))`,
    [contactIds, CONTACT_LOCK],
  );
  return new Set(busy.map((row) => row.id));
}
