import { Prisma } from '../db/prisma.ts';
import type { Channel } from '../generated/prisma/enums.ts';
import type { Herald } from '../herald-context.ts';
import { deviceIdOf } from '../delivery/channel.ts';
import { channelFor } from '../delivery/channels.ts';
import { assignedSql } from '../delivery/experiment.ts';
import { announceTriggers, type TriggerOutcome } from '../delivery/triggers.ts';
import type { SendStep } from './definition.ts';
import { groupBy, pass, type Visit } from './visit.ts';
import { stepCampaignsOf } from './versions.ts';

type Tx = Prisma.TransactionClient;

export type QueuedMessage = TriggerOutcome['queued'][number] & { workspaceId: string };

/**
 * A send step: the message goes on the first channel of [channel, ...fallback] on which the
 * contact is reachable and consented, by that channel's own `recipients` rule (the one triggered
 * campaigns use, so the reasons are the same), as a ledger row of the step's JOURNEY campaign on
 * that channel with occurrence `journey:<enrolment id>`: one per enrolment, whatever retries.
 * Reachable on none: the first channel's suppressed rows go in the ledger and the path says why.
 * Either way the contact moves on at once; delivery windows and caps act on the message.
 */
export async function sendStep(tx: Tx, step: SendStep, group: Visit[], queued: QueuedMessage[]): Promise<void> {
  const { journeyId, version, workspaceId } = group[0]!.row;
  const campaigns = await stepCampaignsOf(tx, journeyId, version, step.key);
  const channels = [step.channel, ...step.fallback];
  let remaining = group;
  const firstReasons = new Map<string, string>();
  for (const [index, channel] of channels.entries()) {
    if (remaining.length === 0) break;
    const verdicts = await offer(tx, workspaceId, campaigns.get(channel)!, channel, remaining, false, queued);
    const unreachable: Visit[] = [];
    for (const visit of remaining) {
      const verdict = verdicts.get(visit.row.contactId);
      if (verdict?.reachable) {
        visit.sends.set(step.key, { at: visit.at, sent: true });
        pass(visit, 'sent', visit.at, step.next, { channel });
      } else {
        if (index === 0) firstReasons.set(visit.row.id, verdict?.reason ?? 'NOT_ELIGIBLE');
        unreachable.push(visit);
      }
    }
    remaining = unreachable;
  }
  if (remaining.length === 0) return;
  // Reachable nowhere: the first channel's rows say why, in the ledger as on the path.
  await offer(tx, workspaceId, campaigns.get(step.channel)!, step.channel, remaining, true, queued);
  for (const visit of remaining) {
    visit.sends.set(step.key, { at: visit.at, sent: false });
    pass(visit, 'suppressed', visit.at, step.next, { reason: firstReasons.get(visit.row.id) ?? null });
  }
}

/**
 * One statement: the channel's recipients for the enrolments' contacts; the rows of contacts
 * reachable on it (or, when `suppress`, every row) go into the ledger, counted as campaigns count.
 */
async function offer(
  tx: Tx,
  workspaceId: string,
  campaign: { id: string; frequencyCapped: boolean },
  channel: Channel,
  visits: Visit[],
  suppress: boolean,
  queued: QueuedMessage[],
): Promise<Map<string, { reachable: boolean; reason: string | null }>> {
  const source = visits.map((visit) => ({
    contactId: visit.row.contactId,
    enrollmentId: visit.row.id,
    at: new Date(visit.at).toISOString(),
    marketing: campaign.frequencyCapped,
  }));
  const rows = await tx.$queryRaw<{ contactId: string; reachable: boolean; reason: string | null; messages: Omit<QueuedMessage, 'workspaceId'>[] | null }[]>`
    WITH source AS (
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(source)}::jsonb) AS s("contactId" uuid, "enrollmentId" uuid, at timestamptz, marketing boolean)
    ), channelRecipients AS (
      ${channelFor({ channel }).recipients(Prisma.sql`source`)}
    ), recipients AS (
      -- The workspace's global control group gets no marketing message from a journey either.
      SELECT a."contactId", a."subscriptionId", a."deviceId", a."enrollmentId", a.at, a."assignedSkip" AS skip FROM (
        ${assignedSql(Prisma.sql`(SELECT r."contactId", r."subscriptionId", ${deviceIdOf(channelFor({ channel }))} AS "deviceId", r."enrollmentId", r.at, r.skip FROM channelRecipients r)`, [{ campaignId: campaign.id, marketing: campaign.frequencyCapped, holdout: 0, variants: null }], Prisma.sql`${campaign.id}::uuid`, workspaceId)}
      ) a
    ), verdicts AS (
      SELECT "contactId", bool_or(skip IS NULL) AS reachable, min(skip) AS reason FROM recipients GROUP BY "contactId"
    ), inserted AS (
      INSERT INTO "Message" (id, "workspaceId", "campaignId", "contactId", "subscriptionId", "deviceId", occurrence, channel, status, reason, "scheduledFor", "dueAt", "updatedAt")
      SELECT md5(${campaign.id} || '/journey:' || r."enrollmentId"::text || '/' || COALESCE(r."subscriptionId"::text, 'device:' || r."deviceId", 'contact:' || r."contactId"))::uuid,
        ${workspaceId}::uuid, ${campaign.id}::uuid, r."contactId", r."subscriptionId", r."deviceId", 'journey:' || r."enrollmentId"::text, ${channel}::"Channel",
        (CASE WHEN r.skip IS NULL THEN 'QUEUED' ELSE 'SUPPRESSED' END)::"MessageStatus", r.skip::"MessageReason",
        r.at, GREATEST(r.at, now()), now()
      FROM recipients r JOIN verdicts v ON v."contactId" = r."contactId"
      WHERE ${suppress ? Prisma.sql`TRUE` : Prisma.sql`v.reachable AND r.skip IS NULL`}
      ON CONFLICT DO NOTHING
      RETURNING id, "campaignId", "contactId", status, reason, "dueAt"
    )
    SELECT v."contactId"::text, v.reachable, v.reason, i.messages
    FROM verdicts v LEFT JOIN (
      SELECT "contactId", json_agg(json_build_object('messageId', id, 'campaignId', "campaignId", 'contactId', "contactId", 'type', status, 'reason', reason, 'dueAt', "dueAt")) AS messages
      FROM inserted GROUP BY "contactId"
    ) i ON i."contactId" = v."contactId"`;
  for (const row of rows) for (const message of row.messages ?? []) queued.push({ ...message, workspaceId });
  return new Map(rows.map((row) => [row.contactId, { reachable: row.reachable, reason: row.reason }]));
}

/**
 * The batch's ledger rows counted as campaigns count them (targeted, status:, reason:), in one
 * statement that the engine runs last in its transaction: every lane and delivery's settles
 * update the same campaign's counter rows, so they are locked only from here to the commit,
 * not for the rest of the batch (3 lanes otherwise queued on them, 0.3-0.9 s a batch).
 */
export async function countSends(tx: Tx, queued: QueuedMessage[]): Promise<void> {
  const counts = new Map<string, { campaignId: string; metric: string; count: number }>();
  const add = (campaignId: string, metric: string) => {
    const key = `${campaignId} ${metric}`;
    const known = counts.get(key);
    if (known) known.count++;
    else counts.set(key, { campaignId, metric, count: 1 });
  };
  for (const message of queued) {
    add(message.campaignId, 'targeted');
    add(message.campaignId, `status:${message.type}`);
    if (message.reason) add(message.campaignId, `reason:${message.reason}`);
  }
  if (counts.size === 0) return;
  await tx.$executeRaw`
    INSERT INTO "CampaignCount" ("campaignId", metric, count)
    SELECT "campaignId", metric, count FROM jsonb_to_recordset(${JSON.stringify([...counts.values()])}::jsonb) AS c("campaignId" uuid, metric text, count int)
    ORDER BY 1, 2 -- one lock order for all writers: no deadlocks
    ON CONFLICT ("campaignId", metric, shard) DO UPDATE SET count = "CampaignCount".count + excluded.count`;
}

/** After commit: the messages are announced and sent as triggered ones are (at once when due now). */
export async function announceSends(herald: Herald, queued: QueuedMessage[]): Promise<void> {
  for (const [workspaceId, messages] of groupBy(queued, (message) => message.workspaceId)) {
    await announceTriggers(herald, workspaceId, { suppressed: [], queued: messages.map(({ workspaceId: _workspaceId, ...message }) => message) });
  }
}
