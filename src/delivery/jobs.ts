import { z } from 'zod';
import type { Herald } from '../herald-context.ts';
import type { Agenda } from '../jobs/agenda.ts';
import { deliverCampaign } from './deliver.ts';
import { prepareBroadcast } from './prepare.ts';
import { enqueueDeliver, Jobs } from './queue.ts';
import { earliestLocalInstant } from './time.ts';

const campaignJob = z.object({ campaignId: z.uuid() });

/** Delivery's Agenda jobs. Each is idempotent: the ledger's unique rows make a second run harmless. */
export function defineDeliveryJobs(agenda: Agenda, herald: Herald): void {
  agenda.define(Jobs.prepare, async (job) => {
    const { campaignId } = campaignJob.parse(job.attrs.data);
    await startBroadcast(herald, campaignId);
  }, { concurrency: 2, lockLifetime: 10 * 60_000 });

  agenda.define(Jobs.deliver, async (job) => {
    const { campaignId } = campaignJob.parse(job.attrs.data);
    // touch() extends Agenda's lock while a long send runs; a dead worker's lock lapses in a minute.
    await deliverCampaign(herald, campaignId, () => job.touch());
  }, { concurrency: 8, lockLifetime: 60_000 });

  agenda.define(Jobs.sweep, async () => sweep(herald), { concurrency: 1, lockLifetime: 60_000 });
}

/**
 * Starts a delivery pass whenever `delivery:due` says a campaign has messages due now (a trigger
 * with no delay): Agenda's queue would add its polling to the trigger's latency. Returns the stop.
 */
export function listenForDueDeliveries(herald: Herald): () => Promise<void> {
  const signals = herald.events.subscribe('delivery:due')[Symbol.asyncIterator]();
  const passes = new Set<Promise<void>>();
  void (async () => {
    for (let next = await signals.next(); !next.done; next = await signals.next()) {
      const campaignId = next.value;
      const pass = deliverCampaign(herald, campaignId)
        .catch((error: unknown) => herald.log.error({ err: error, campaignId }, 'delivery pass failed; the sweep will retry'))
        .finally(() => passes.delete(pass));
      passes.add(pass);
    }
  })();
  return async () => {
    await signals.return?.();
    await Promise.allSettled(passes);
  };
}

/** Starts sweeping once a minute, and once now: after a restart, interrupted sends resume at once. */
export async function startDeliverySweep(agenda: Agenda): Promise<void> {
  await agenda.every('1 minute', Jobs.sweep);
  await agenda.now(Jobs.sweep);
}

/**
 * Due time of a scheduled broadcast: SCHEDULED → SENDING (once, whichever job gets there first),
 * then the audience goes into the ledger. A job for a time the campaign was since moved from does nothing.
 */
export async function startBroadcast(herald: Herald, campaignId: string): Promise<void> {
  let campaign = await herald.prisma.campaign.findUnique({ where: { id: campaignId }, include: { workspace: { select: { timezone: true } } } });
  if (!campaign) return;
  if (campaign.status === 'SCHEDULED' && campaign.sendAt) {
    const startAt = campaign.localTime ? earliestLocalInstant(campaign.sendAt, campaign.workspace.timezone) : campaign.sendAt;
    if (startAt.getTime() > Date.now() + 1000) return;
    await herald.prisma.campaign.updateMany({ where: { id: campaignId, status: 'SCHEDULED' }, data: { status: 'SENDING', startedAt: new Date() } });
    herald.events.publish('campaign:changed', campaignId, { reason: 'sending' });
    campaign = await herald.prisma.campaign.findUniqueOrThrow({ where: { id: campaignId }, include: { workspace: { select: { timezone: true } } } });
  }
  if (campaign.status === 'SENDING' && !campaign.preparedAt) await prepareBroadcast(herald, campaign);
}

/**
 * Restarts delivery wherever rows wait that no job is looking after (a crash, a lost wake-up or
 * `delivery:due` signal), and ends triggered campaigns past their endAt with nothing left to send.
 */
async function sweep(herald: Herald): Promise<void> {
  const ended = await herald.prisma.$executeRaw`
    UPDATE "Campaign" c SET status = 'SENT', "completedAt" = now(), "updatedAt" = now()
    WHERE c.kind = 'TRIGGERED' AND c.status = 'ACTIVE' AND c."endAt" < now()
      AND NOT EXISTS (SELECT 1 FROM "Message" m WHERE m."campaignId" = c.id AND m.status IN ('QUEUED', 'SENDING'))`;
  if (ended) herald.log.info({ campaigns: ended }, 'triggered campaigns past their end marked sent');
  const waiting = await herald.prisma.$queryRaw<{ id: string; status: string; preparedAt: Date | null }[]>`
    SELECT c.id::text, c.status::text, c."preparedAt" FROM "Campaign" c
    WHERE (c.status = 'ACTIVE' AND EXISTS (
      SELECT 1 FROM "Message" m WHERE m."campaignId" = c.id AND m.status IN ('QUEUED', 'SENDING') AND m."dueAt" <= now()))
    OR (c.status = 'SENDING' AND (c."preparedAt" IS NULL OR EXISTS (
      SELECT 1 FROM "Message" m WHERE m."campaignId" = c.id AND m.status IN ('QUEUED', 'SENDING') AND m."dueAt" <= now())))`;
  for (const campaign of waiting) {
    if (campaign.status === 'SENDING' && !campaign.preparedAt) await herald.agenda.now(Jobs.prepare, { campaignId: campaign.id });
    else await enqueueDeliver(herald, campaign.id);
  }
  if (waiting.length) herald.log.info({ campaigns: waiting.length }, 'sweep restarted delivery');
}
