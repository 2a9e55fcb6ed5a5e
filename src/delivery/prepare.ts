import { Prisma } from '../db/prisma.ts';
import type { Campaign } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';
import { selectionSql } from '../segments/service.ts';
import { audienceOf } from './campaign-fields.ts';
import { type DeliveryEvent, publishDeliveryEvents } from './events.ts';
import { deviceIdOf } from './channel.ts';
import { channelFor } from './channels.ts';
import { assignedSql, experimentOf } from './experiment.ts';
import { cancelWaiting, COUNT_INSERTED } from './ledger.ts';
import { enqueueDeliver } from './queue.ts';
import { sameWallClock, usableZone, workspaceZone } from './time.ts';

const BATCH = 5_000;

/**
 * Writes the ledger rows of every contact in a broadcast's audience, as the campaign's channel
 * says (web push: one per browser, or a SUPPRESSED NO_SUBSCRIPTION row for a contact without
 * one; email: one per contact, SUPPRESSED without an address or consent), in keyset batches of contacts. Row ids are
 * derived from (campaign, occurrence, browser or contact), so running this again after a crash adds nothing
 * twice. Delivery starts after the first batch; the campaign is marked prepared at the end.
 */
export async function prepareBroadcast(herald: Herald, campaign: Campaign): Promise<void> {
  const workspace = await herald.prisma.workspace.findUniqueOrThrow({ where: { id: campaign.workspaceId }, select: { timezone: true } });
  const selection = await audienceOf(herald, campaign);
  const where = selectionSql(campaign.workspaceId, selection);
  const sendAt = campaign.sendAt ?? new Date();
  const channel = channelFor(campaign);
  const log = herald.log.child({ campaignId: campaign.id });
  // Not awaited: what the first sends need is readied while the audience is written.
  channel.warm?.(herald, campaign).catch((error: unknown) => log.debug({ err: error }, 'could not ready the first sends ahead; the sender will'));

  let after: string | null = null;
  let contacts = 0;
  let rows = 0;
  for (;;) {
    const status = await herald.prisma.campaign.findUnique({ where: { id: campaign.id }, select: { status: true } });
    if (status?.status !== 'SENDING' && status?.status !== 'PAUSED') {
      // Canceled while its audience was being written: what this job added after the cancel goes too.
      if (status?.status === 'CANCELED') await cancelWaiting(herald, campaign.id);
      return log.info({ contacts }, 'preparation stopped: campaign is no longer sending');
    }
    const afterSql: Prisma.Sql = after ? Prisma.sql`AND c.id > ${after}::uuid` : Prisma.empty;
    const batch = Prisma.sql`SELECT c.id, c.timezone FROM "Contact" c WHERE ${where} ${afterSql} ORDER BY c.id LIMIT ${BATCH}`;
    const recipients = channel.recipients(Prisma.sql`(SELECT b.id AS "contactId", b.timezone, ${campaign.frequencyCapped}::boolean AS marketing FROM batch b)`);
    const due = campaign.localTime ? await localDue(herald, batch, recipients, sendAt, workspace.timezone) : Prisma.sql`${sendAt}::timestamptz`;
    const [result] = await herald.prisma.$queryRaw<{ last: string | null; contacts: number; inserted: number; events: Omit<DeliveryEvent, 'at' | 'campaignId'>[] }[]>`
      WITH batch AS (${batch}), recipients AS (${recipients}), assigned AS (
        ${assignedSql(Prisma.sql`recipients`, [experimentOf(campaign)], Prisma.sql`${campaign.id}::uuid`, campaign.workspaceId)}
      ), inserted AS (
        INSERT INTO "Message" (id, "workspaceId", "campaignId", "contactId", "subscriptionId", "deviceId", occurrence, channel, variant, status, reason, "scheduledFor", "dueAt", "updatedAt")
        SELECT md5(${campaign.id}::text || '/broadcast/' || COALESCE(r."subscriptionId"::text, 'device:' || ${deviceIdOf(channel)}, 'contact:' || r."contactId"))::uuid,
          ${campaign.workspaceId}::uuid, ${campaign.id}::uuid, r."contactId", r."subscriptionId", ${deviceIdOf(channel)}, 'broadcast', ${campaign.channel}::"Channel", r.variant,
          (CASE WHEN r."assignedSkip" IS NULL THEN 'QUEUED' ELSE 'SUPPRESSED' END)::"MessageStatus", r."assignedSkip"::"MessageReason",
          ${due}, GREATEST(${due}, now()), now()
        FROM assigned r
        ON CONFLICT DO NOTHING
        RETURNING id, "campaignId", "contactId", status, reason
      ), counted AS (${COUNT_INSERTED})
      SELECT (SELECT id::text FROM batch ORDER BY id DESC LIMIT 1) AS last, (SELECT count(*)::int FROM batch) AS contacts,
        (SELECT count(*)::int FROM inserted) AS inserted,
        (SELECT COALESCE(json_agg(json_build_object('messageId', id, 'contactId', "contactId", 'type', status, 'reason', reason)), '[]') FROM inserted) AS events`;
    if (!result?.last) break;
    publishDeliveryEvents(herald, campaign.workspaceId, result.events.map((event) => ({ ...event, campaignId: campaign.id })));
    after = result.last;
    contacts += result.contacts;
    rows += result.inserted;
    log.info({ contacts, rows }, 'audience batch written to the ledger');
    if (contacts === result.contacts) await enqueueDeliver(herald, campaign.id);
    if (result.contacts < BATCH) break;
  }
  const { status } = await herald.prisma.campaign.update({ where: { id: campaign.id }, data: { preparedAt: new Date() }, select: { status: true } });
  if (status === 'CANCELED') await cancelWaiting(herald, campaign.id);
  herald.events.publish('campaign:changed', campaign.id, { reason: 'prepared' });
  log.info({ contacts, rows }, 'audience prepared');
  await enqueueDeliver(herald, campaign.id);
}

/**
 * A local-time broadcast's due time of a recipients row `r` (SQL): sendAt's wall-clock time in the
 * workspace's zone, read in the row's zone (contact's, else browser's or device's). Computed here
 * with Temporal, once per zone the batch's recipients have, not by PostgreSQL's AT TIME ZONE: that
 * reads a name as an abbreviation first ("IST" is Israel there, India to Intl), and of a wall time
 * the autumn change repeats it takes the second, where delivery windows take the first; so a row
 * would be due at one instant and judged by its window at another. An unusable zone (stored by an
 * older Herald) counts as the workspace's, as the delivery window's check reads it (policy.ts).
 * The batch is read twice; a row whose zone changed in between (not one of those read) is due at
 * sendAt, as the workspace's zone says.
 */
async function localDue(herald: Herald, batch: Prisma.Sql, recipients: Prisma.Sql, sendAt: Date, storedZone: string): Promise<Prisma.Sql> {
  const zones = await herald.prisma.$queryRaw<{ zone: string }[]>`
    WITH batch AS (${batch}), recipients AS (${recipients})
    SELECT DISTINCT COALESCE(r.timezone, r."addressTimezone") AS zone FROM recipients r WHERE COALESCE(r.timezone, r."addressTimezone") IS NOT NULL`;
  const workspace = workspaceZone(storedZone);
  const dueByZone: Record<string, string> = {};
  for (const { zone } of zones) {
    const usable = usableZone(zone, workspace);
    // In the workspace's own zone it is sendAt itself, even when that is the second of a repeated time.
    if (usable !== workspace) dueByZone[zone] = sameWallClock(sendAt, workspace, usable).toISOString();
  }
  return Prisma.sql`COALESCE((${JSON.stringify(dueByZone)}::jsonb ->> COALESCE(r.timezone, r."addressTimezone"))::timestamptz, ${sendAt}::timestamptz)`;
}
