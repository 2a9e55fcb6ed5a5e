import type { Prisma } from '../db/prisma.ts';
import { ValidationError } from '../errors.ts';
import { cancelWaiting } from '../delivery/ledger.ts';
import { enqueueDeliver, enqueuePrepare } from '../delivery/queue.ts';
import { earliestLocalInstant } from '../delivery/time.ts';
import type { Herald } from '../herald-context.ts';
import { type Campaign, conflictNow, getCampaign, requireKind, requireSendable, requireStatus } from './service.ts';
import type { CampaignStatus } from './validation.ts';

/**
 * The campaign state machine, every move in this file: DRAFT → SCHEDULED → SENDING → SENT for
 * broadcasts, DRAFT → ACTIVE → SENT (past endAt) for triggered campaigns, PAUSED in between,
 * CANCELED and ARCHIVED at the end. Users' moves answer a ConflictError when they lose a race;
 * the moves the jobs make (the last three functions) simply do nothing when they do. Every move is
 * one conditional UPDATE, so two callers racing cannot both win.
 */
async function move(
  herald: Herald,
  workspaceId: string,
  id: string,
  from: readonly CampaignStatus[],
  action: string,
  data: Prisma.CampaignUpdateManyMutationInput & { status: CampaignStatus },
): Promise<Campaign> {
  const campaign = await getCampaign(herald, workspaceId, id);
  requireStatus(campaign, from, action);
  const { count } = await herald.prisma.campaign.updateMany({ where: { id, workspaceId, status: { in: [...from] } }, data });
  if (count === 0) return conflictNow(herald, workspaceId, id, action);
  herald.events.publish('campaign:changed', id, { reason: data.status.toLowerCase() });
  return getCampaign(herald, workspaceId, id);
}

const MAX_SCHEDULE_AHEAD_MS = 366 * 24 * 3600 * 1000;

/** Sends a broadcast at `sendAt`, or with `localTime` at sendAt's wall-clock time in each recipient's zone. */
export async function scheduleCampaign(herald: Herald, workspaceId: string, input: { id: string; sendAt: Date; localTime?: boolean | null }): Promise<Campaign> {
  const campaign = await getCampaign(herald, workspaceId, input.id);
  requireKind(campaign, 'BROADCAST', 'scheduled');
  await requireSendable(herald, campaign);
  const now = Date.now();
  if (input.sendAt.getTime() < now - 60_000) throw ValidationError.field(['input', 'sendAt'], 'must not be in the past');
  if (input.sendAt.getTime() > now + MAX_SCHEDULE_AHEAD_MS) throw ValidationError.field(['input', 'sendAt'], 'must be within a year');
  const localTime = input.localTime ?? false;
  const scheduled = await move(herald, workspaceId, input.id, ['DRAFT', 'SCHEDULED'], 'scheduled', { status: 'SCHEDULED', sendAt: input.sendAt, localTime });
  const { timezone } = await herald.prisma.workspace.findUniqueOrThrow({ where: { id: workspaceId }, select: { timezone: true } });
  await enqueuePrepare(herald, scheduled.id, localTime ? earliestLocalInstant(input.sendAt, timezone) : input.sendAt);
  return scheduled;
}

export async function sendCampaignNow(herald: Herald, workspaceId: string, id: string): Promise<Campaign> {
  const campaign = await getCampaign(herald, workspaceId, id);
  requireKind(campaign, 'BROADCAST', 'sent');
  await requireSendable(herald, campaign);
  const now = new Date();
  const sending = await move(herald, workspaceId, id, ['DRAFT', 'SCHEDULED'], 'sent', { status: 'SENDING', sendAt: now, localTime: false, startedAt: now });
  await enqueuePrepare(herald, id);
  return sending;
}

/** A TRIGGERED campaign starts listening for its trigger event. */
export async function activateCampaign(herald: Herald, workspaceId: string, id: string): Promise<Campaign> {
  const campaign = await getCampaign(herald, workspaceId, id);
  requireKind(campaign, 'TRIGGERED', 'activated');
  await requireSendable(herald, campaign);
  return move(herald, workspaceId, id, ['DRAFT'], 'activated', { status: 'ACTIVE', startedAt: new Date() });
}

/** Stops sending (within a second) or listening; resumeCampaign continues where it stopped. */
export async function pauseCampaign(herald: Herald, workspaceId: string, id: string): Promise<Campaign> {
  const campaign = await getCampaign(herald, workspaceId, id);
  return move(herald, workspaceId, id, ['SCHEDULED', 'SENDING', 'ACTIVE'], 'paused', { status: 'PAUSED', pausedFrom: campaign.status });
}

export async function resumeCampaign(herald: Herald, workspaceId: string, id: string): Promise<Campaign> {
  const campaign = await getCampaign(herald, workspaceId, id);
  requireStatus(campaign, ['PAUSED'], 'resumed');
  await requireSendable(herald, campaign);
  const resumed = await move(herald, workspaceId, id, ['PAUSED'], 'resumed', { status: campaign.pausedFrom ?? 'DRAFT', pausedFrom: null });
  if (resumed.status === 'ACTIVE') {
    await enqueueDeliver(herald, id); // messages that came due while paused
  } else if (resumed.status === 'SENDING') {
    if (resumed.preparedAt) await enqueueDeliver(herald, id);
    else await enqueuePrepare(herald, id);
  } else if (resumed.status === 'SCHEDULED' && resumed.sendAt) {
    const { timezone } = await herald.prisma.workspace.findUniqueOrThrow({ where: { id: workspaceId }, select: { timezone: true } });
    await enqueuePrepare(herald, id, resumed.localTime ? earliestLocalInstant(resumed.sendAt, timezone) : resumed.sendAt);
  }
  return resumed;
}

/** Stops for good: messages still waiting become CANCELED (reason CAMPAIGN_CANCELED). */
export async function cancelCampaign(herald: Herald, workspaceId: string, id: string): Promise<Campaign> {
  const canceled = await move(herald, workspaceId, id, ['DRAFT', 'SCHEDULED', 'SENDING', 'ACTIVE', 'PAUSED'], 'canceled', {
    status: 'CANCELED',
    completedAt: new Date(),
  });
  await cancelWaiting(herald, id);
  return canceled;
}

/** Hides a finished (or never started) campaign from the default lists; its ledger stays. */
export async function archiveCampaign(herald: Herald, workspaceId: string, id: string): Promise<Campaign> {
  return move(herald, workspaceId, id, ['DRAFT', 'SENT', 'CANCELED'], 'archived', { status: 'ARCHIVED' });
}

/**
 * A scheduled broadcast's time has come: SCHEDULED → SENDING, once, whichever job gets there
 * first. Answers the campaign if it is now SENDING (and so due to be prepared), else null: a job
 * for a time the campaign was since moved from does nothing.
 */
export async function startDueBroadcast(herald: Herald, campaignId: string): Promise<Campaign | null> {
  const campaign = await herald.prisma.campaign.findUnique({ where: { id: campaignId }, include: { workspace: { select: { timezone: true } } } });
  if (!campaign) return null;
  if (campaign.status === 'SCHEDULED' && campaign.sendAt) {
    const startAt = campaign.localTime ? earliestLocalInstant(campaign.sendAt, campaign.workspace.timezone) : campaign.sendAt;
    if (startAt.getTime() > Date.now() + 1000) return null;
    const { count } = await herald.prisma.campaign.updateMany({ where: { id: campaignId, status: 'SCHEDULED' }, data: { status: 'SENDING', startedAt: new Date() } });
    if (count) herald.events.publish('campaign:changed', campaignId, { reason: 'sending' });
    return herald.prisma.campaign.findUniqueOrThrow({ where: { id: campaignId } });
  }
  return campaign.status === 'SENDING' ? campaign : null;
}

/** SENDING → SENT once the audience is prepared and no message waits or is being sent. */
export async function completeBroadcast(herald: Herald, campaignId: string): Promise<void> {
  const { count } = await herald.prisma.campaign.updateMany({
    where: { id: campaignId, status: 'SENDING', preparedAt: { not: null }, messages: { none: { status: { in: ['QUEUED', 'SENDING'] }, test: false } } },
    data: { status: 'SENT', completedAt: new Date() },
  });
  if (!count) return;
  herald.log.info({ campaignId }, 'campaign sent');
  herald.events.publish('campaign:changed', campaignId, { reason: 'sent' });
}

/** ACTIVE → SENT for triggered campaigns past their endAt with nothing left to send. */
export async function endTriggeredCampaigns(herald: Herald): Promise<void> {
  const ended = await herald.prisma.$queryRaw<{ id: string }[]>`
    UPDATE "Campaign" c SET status = 'SENT', "completedAt" = now(), "updatedAt" = now()
    WHERE c.kind = 'TRIGGERED' AND c.status = 'ACTIVE' AND c."endAt" < now()
      AND NOT EXISTS (SELECT 1 FROM "Message" m WHERE m."campaignId" = c.id AND m.status IN ('QUEUED', 'SENDING') AND NOT m.test)
    RETURNING c.id::text`;
  if (!ended.length) return;
  herald.log.info({ campaigns: ended.length }, 'triggered campaigns past their end marked sent');
  for (const { id } of ended) herald.events.publish('campaign:changed', id, { reason: 'sent' });
}
