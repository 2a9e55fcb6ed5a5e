import type { Herald } from '../herald-context.ts';

/** Agenda job names; payloads are declared (zod) where the jobs are defined, in campaigns/jobs.ts. */
export const Jobs = {
  /** Writes a broadcast's audience into the ledger, then starts delivery. */
  prepare: 'campaign:prepare',
  /** Sends a campaign's due ledger rows. */
  deliver: 'campaign:deliver',
  /** Safety net: restarts delivery a crash or a lost wake-up left waiting. */
  sweep: 'delivery:sweep',
} as const;

export async function enqueuePrepare(herald: Herald, campaignId: string, at?: Date): Promise<void> {
  if (at && at.getTime() > Date.now()) await herald.agenda.schedule(at, Jobs.prepare, { campaignId });
  else await herald.agenda.now(Jobs.prepare, { campaignId });
}

/**
 * A delivery pass for the campaign at `at`, or now. Now also signals `delivery:due`, which the
 * processes running jobs act on at once: Agenda starts a job only when it next polls, and jobs a
 * killed process had locked hold their slots until their locks lapse (a restart test stalled a
 * minute on them). The job stays as the durable record; a pass already running absorbs the other.
 */
export async function enqueueDeliver(herald: Herald, campaignId: string, at?: Date): Promise<void> {
  if (at && at.getTime() > Date.now()) return void (await herald.agenda.schedule(at, Jobs.deliver, { campaignId }));
  await herald.agenda.now(Jobs.deliver, { campaignId });
  herald.events.publish('delivery:due', { campaignId });
}
