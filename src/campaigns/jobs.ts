import { z } from 'zod';
import { Prisma } from '../db/prisma.ts';
import { deliverCampaign } from '../delivery/deliver.ts';
import { prepareBroadcast } from '../delivery/prepare.ts';
import { enqueueDeliver, Jobs } from '../delivery/queue.ts';
import type { Herald } from '../herald-context.ts';
import type { Agenda } from '../jobs/agenda.ts';
import { completeBroadcast, endTriggeredCampaigns, startDueBroadcast } from './lifecycle.ts';

const campaignJob = z.object({ campaignId: z.uuid() });
/** Passes one process starts at once on `delivery:due` signals (Agenda's own deliver jobs run 8). */
const SIGNALLED_PASSES = 16;
const sweepJob = z.object({ atStart: z.boolean().optional() }).nullish();

/**
 * The campaigns' Agenda jobs: delivery does the work and reports how a pass ended; the campaign's
 * status moves here, through lifecycle.ts. Each job is idempotent: the ledger's unique rows and
 * the conditional status moves make a second run harmless.
 */
export function defineCampaignJobs(agenda: Agenda, herald: Herald): void {
  agenda.define(Jobs.prepare, async (job) => {
    const { campaignId } = campaignJob.parse(job.attrs.data);
    const campaign = await startDueBroadcast(herald, campaignId);
    if (campaign && !campaign.preparedAt) await prepareBroadcast(herald, campaign);
  }, { concurrency: 2, lockLifetime: 10 * 60_000 });

  agenda.define(Jobs.deliver, async (job) => {
    const { campaignId } = campaignJob.parse(job.attrs.data);
    // touch() extends Agenda's lock while a long send runs; a dead worker's lock lapses in a minute.
    await deliverPass(herald, campaignId, () => job.touch());
  }, { concurrency: 8, lockLifetime: 60_000 });

  agenda.define(Jobs.sweep, async (job) => sweep(herald, sweepJob.parse(job.attrs.data)?.atStart ?? false), { concurrency: 1, lockLifetime: 60_000 });
}

/** Starts sweeping once a minute, and once now: after a restart, interrupted sends resume at once. */
export async function startCampaignSweep(agenda: Agenda): Promise<void> {
  await agenda.every('1 minute', Jobs.sweep);
  await agenda.now(Jobs.sweep, { atStart: true });
}

/** A delivery pass (or, with one running, a wake for the `lanes` named); a broadcast with nothing left to send is complete. */
async function deliverPass(herald: Herald, campaignId: string, heartbeat?: () => Promise<void>, lanes?: number): Promise<void> {
  if ((await deliverCampaign(herald, campaignId, heartbeat, lanes)) === 'idle') await completeBroadcast(herald, campaignId);
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
      // A process of a release before lanes (a rolling upgrade over Redis) names the campaign alone: every lane.
      const due = next.value as (typeof next.value) | string;
      const { campaignId, lanes } = typeof due === 'string' ? { campaignId: due, lanes: undefined } : due;
      // A burst of signals (a worker's first sweep over many campaigns) must not start a pass for
      // each at once: past the bound, the pass waits for an Agenda job like any other.
      if (passes.size >= SIGNALLED_PASSES) {
        herald.agenda.now(Jobs.deliver, { campaignId }).catch((error: unknown) => herald.log.warn({ err: error, campaignId }, 'could not queue a delivery pass; the sweep will'));
        continue;
      }
      const pass = deliverPass(herald, campaignId, undefined, lanes)
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

/**
 * Restarts delivery wherever rows wait that no job is looking after (a crash, a lost wake-up or
 * `delivery:due` signal), and ends triggered campaigns past their endAt with nothing left to send.
 * At a worker's start it also forgets the wake-ups planned for later: Agenda locks a job up to
 * `processEvery` before it is due, and a process killed holding such a lock keeps it for the job's
 * lockLifetime (a minute), during which `wakeAt` would stop anyone planning the wake again. Every
 * campaign with rows waiting gets a pass, which plans its wake-up afresh (a spare one is harmless).
 */
async function sweep(herald: Herald, atStart: boolean): Promise<void> {
  await endTriggeredCampaigns(herald);
  if (atStart) await herald.prisma.$executeRaw`UPDATE "Campaign" SET "wakeAt" = NULL WHERE "wakeAt" > now()`;
  const dueBy = atStart ? Prisma.sql`'infinity'::timestamptz` : Prisma.sql`now()`;
  const waiting = await herald.prisma.$queryRaw<{ id: string; status: string; preparedAt: Date | null }[]>`
    SELECT c.id::text, c.status::text, c."preparedAt" FROM "Campaign" c
    WHERE (c.status = 'ACTIVE' AND EXISTS (
      SELECT 1 FROM "Message" m WHERE m."campaignId" = c.id AND m.status IN ('QUEUED', 'SENDING') AND NOT m.test AND m."dueAt" <= ${dueBy}))
    OR (c.status = 'SENDING' AND (c."preparedAt" IS NULL OR EXISTS (
      SELECT 1 FROM "Message" m WHERE m."campaignId" = c.id AND m.status IN ('QUEUED', 'SENDING') AND NOT m.test AND m."dueAt" <= ${dueBy})))`;
  for (const campaign of waiting) {
    if (campaign.status === 'SENDING' && !campaign.preparedAt) await herald.agenda.now(Jobs.prepare, { campaignId: campaign.id });
    else await enqueueDeliver(herald, campaign.id);
  }
  if (waiting.length) herald.log.info({ campaigns: waiting.length }, 'sweep restarted delivery');
}
