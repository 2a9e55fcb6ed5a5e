import { Prisma } from '../db/prisma.ts';
import type { SqlTx } from '../db/sql-transaction.ts';
import type { DeliveryEvent } from '../delivery/events.ts';

type Tx = SqlTx;

/** The event names some campaign of the workspace counts as its conversion (a text[] column of a larger statement). */
export function conversionEventsSql(workspaceId: string): Prisma.Sql {
  return Prisma.sql`ARRAY(SELECT DISTINCT conversion->>'event' FROM "Campaign" WHERE "workspaceId" = ${workspaceId}::uuid AND conversion IS NOT NULL)`;
}

/**
 * Credits new events as conversions: for each event, the most recent message sent to its contact
 * by a campaign whose `conversion.event` is that event's name, within `conversion.withinSeconds`
 * before it, converts, once, at the event's time (a message already converted stays as it was). Runs in the
 * transaction that stores the events; answers the conversions for the live feed.
 */
export async function recordConversions(tx: Tx, workspaceId: string, eventIds: string[]): Promise<Omit<DeliveryEvent, 'at'>[]> {
  if (eventIds.length === 0) return [];
  return tx.$queryRaw<Omit<DeliveryEvent, 'at'>[]>`
    WITH goals AS (
      SELECT id, conversion->>'event' AS event, (conversion->>'withinSeconds')::int AS within
      FROM "Campaign" WHERE "workspaceId" = ${workspaceId}::uuid AND conversion IS NOT NULL
    ), candidates AS (
      SELECT DISTINCT ON (e.id) m.id, e."occurredAt"
      FROM "Event" e
      JOIN goals g ON g.event = e.name
      JOIN "Message" m ON m."contactId" = e."contactId" AND m."campaignId" = g.id AND m.status = 'SENT' AND NOT m.test
        AND m."sentAt" <= e."occurredAt" AND m."sentAt" >= e."occurredAt" - make_interval(secs => g.within)
      WHERE e.id = ANY(${eventIds}::uuid[])
      ORDER BY e.id, m."sentAt" DESC
    ), converted AS (
      -- Converted when its event happened (analytics buckets it there), not when it was tracked; never
      -- later than now (an event may be timed up to a day ahead).
      UPDATE "Message" m SET "convertedAt" = LEAST(c."occurredAt", now()), "updatedAt" = now()
      FROM (SELECT id, min("occurredAt") AS "occurredAt" FROM candidates GROUP BY id) c
      WHERE m.id = c.id AND m."convertedAt" IS NULL
      RETURNING m.id, m."campaignId", m."contactId"
    ), counted AS (
      INSERT INTO "CampaignCount" ("campaignId", metric, count)
      SELECT "campaignId", 'conversions', count(*)::int FROM converted GROUP BY 1
      ON CONFLICT ("campaignId", metric, shard) DO UPDATE SET count = "CampaignCount".count + excluded.count
    )
    SELECT 'CONVERTED' AS type, id::text AS "messageId", "campaignId"::text AS "campaignId", "contactId"::text AS "contactId", NULL AS reason FROM converted`;
}
