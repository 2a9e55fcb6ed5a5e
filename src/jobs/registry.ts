import { defineDeliveryJobs, startDeliverySweep } from '../delivery/jobs.ts';
import type { Herald } from '../herald-context.ts';
import type { Agenda } from './agenda.ts';

/**
 * Every job a worker runs, defined in one place. Each domain adds its jobs here; a job declares
 * its payload and is idempotent, because Agenda may run it twice.
 */
export function defineJobs(agenda: Agenda, herald: Herald): void {
  defineDeliveryJobs(agenda, herald);
}

/** Recurring jobs, started once Agenda runs (worker roles only). */
export async function startRecurringJobs(agenda: Agenda): Promise<void> {
  await startDeliverySweep(agenda);
}
