import { Prisma } from '../../db/prisma.ts';
import type { Herald } from '../../herald-context.ts';
import { publishDeliveryEvents } from '../events.ts';
import { statusMetric } from '../ledger.ts';

/**
 * What the SMS provider reports after it took a message (status callbacks, POST /sms/status/…):
 * `delivered` sets Message.deliveredAt and counts `delivered`; `undelivered` and `failed` move the
 * row to FAILED/UNDELIVERED and count `undelivered`. Each is one statement that changes the row and
 * its campaign's counters together, and only once: a repeated or late report changes nothing. The
 * report may arrive before Herald recorded the provider's answer (the row still SENDING), even
 * before the claim that sent it committed: it counts then too, and the answer recorded later finds
 * the row already settled.
 */
export type SmsReport = 'delivered' | 'undelivered' | 'failed';

const REPORTS = new Set<string>(['delivered', 'undelivered', 'failed']);

export const isFinalReport = (status: string | null): status is SmsReport => status !== null && REPORTS.has(status);

/** Records one report; answers whether it changed the ledger (false: unknown message, or reported before). */
export async function recordSmsReport(herald: Herald, workspaceId: string, messageId: string, report: SmsReport, errorCode: string | null): Promise<boolean> {
  // The row is locked before its status is read: a fast provider may report a message whose claim
  // (QUEUED → SENDING, committed as the request leaves) has not committed yet. Filtered on the
  // statement's snapshot, that row still reads QUEUED and the report would be dropped; locked, the
  // statement waits for the claim and reads the row as it committed.
  const locked = Prisma.sql`SELECT id, status, "deliveredAt" FROM "Message"
    WHERE id = ${messageId}::uuid AND "workspaceId" = ${workspaceId}::uuid AND channel = 'SMS'
    FOR UPDATE`;
  const rows =
    report === 'delivered'
      ? await herald.prisma.$queryRaw<Moved[]>`
          WITH before AS (${locked}), changed AS (
            UPDATE "Message" m SET "deliveredAt" = now(), "updatedAt" = now()
            FROM before b WHERE m.id = b.id AND b.status IN ('SENT', 'SENDING') AND b."deliveredAt" IS NULL
            RETURNING m.id, m."campaignId", m."contactId", m.test
          ), counted AS (
            INSERT INTO "CampaignCount" ("campaignId", metric, count) SELECT "campaignId", 'delivered', 1 FROM changed WHERE NOT test
            ON CONFLICT ("campaignId", metric, shard) DO UPDATE SET count = "CampaignCount".count + 1
          )
          SELECT id::text, "campaignId"::text, "contactId"::text, test FROM changed`
      : await herald.prisma.$queryRaw<Moved[]>`
          WITH before AS (${locked}), changed AS (
            UPDATE "Message" m SET status = 'FAILED', reason = 'UNDELIVERED', "updatedAt" = now(),
              error = ${`the SMS provider reported it ${report}${errorCode ? ` (error ${errorCode})` : ''}`}
            FROM before b WHERE m.id = b.id AND b.status IN ('SENT', 'SENDING') AND b."deliveredAt" IS NULL
            RETURNING m.id, m."campaignId", m."contactId", m.test, b.status AS "from"
          ), counted AS (
            INSERT INTO "CampaignCount" ("campaignId", metric, count)
            SELECT "campaignId", metric, sum(delta)::int FROM (
              SELECT "campaignId", ${Prisma.raw(statusMetric('"from"'))} AS metric, -1 AS delta FROM changed WHERE NOT test
              UNION ALL SELECT "campaignId", 'status:FAILED', 1 FROM changed WHERE NOT test
              UNION ALL SELECT "campaignId", 'reason:UNDELIVERED', 1 FROM changed WHERE NOT test
              UNION ALL SELECT "campaignId", 'undelivered', 1 FROM changed WHERE NOT test
            ) deltas GROUP BY 1, 2 ORDER BY 1, 2
            ON CONFLICT ("campaignId", metric, shard) DO UPDATE SET count = "CampaignCount".count + excluded.count
          )
          SELECT id::text, "campaignId"::text, "contactId"::text, test FROM changed`;
  const type = report === 'delivered' ? 'DELIVERED' : 'FAILED';
  const counted = rows.filter((row) => !row.test);
  publishDeliveryEvents(
    herald,
    workspaceId,
    counted.map((row) => ({ type, messageId: row.id, campaignId: row.campaignId, contactId: row.contactId, reason: type === 'FAILED' ? 'UNDELIVERED' : null })),
  );
  return rows.length > 0;
}

interface Moved {
  id: string;
  campaignId: string;
  contactId: string;
  test: boolean;
}
