import type { Herald } from '../herald-context.ts';
import type { Agenda } from './agenda.ts';

/**
 * Every job a worker runs, defined in one place. Each domain adds its jobs here; a job declares
 * its payload and is idempotent, because Agenda may run it twice.
 */
export function defineJobs(_agenda: Agenda, _herald: Herald): void {
  // Delivery, triggers and analytics jobs are registered here as those domains land.
}
