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

export async function enqueueDeliver(herald: Herald, campaignId: string, at?: Date): Promise<void> {
  if (at && at.getTime() > Date.now()) await herald.agenda.schedule(at, Jobs.deliver, { campaignId });
  else await herald.agenda.now(Jobs.deliver, { campaignId });
}
