import type { JourneyDefinition } from './definition.ts';

/** An enrolment as the engine claimed it. */
export interface Claimed {
  id: string;
  workspaceId: string;
  journeyId: string;
  version: number;
  contactId: string;
  step: string | null;
  seq: number;
  arrivedAt: Date;
  ran: boolean;
  wakeAt: Date | null;
  eventAt: Date | null;
}

/** A passed step, as JourneyPathEntry stores it. */
export interface PathRow {
  seq: number;
  step: string;
  at: string;
  passedAt: string;
  outcome: string;
  channel: string | null;
  reason: string | null;
}

/** One enrolment while the engine's batch runs. */
export interface Visit {
  row: Claimed;
  definition: JourneyDefinition;
  seq: number;
  /** The step it is at (arriving or waiting); null once completed. */
  key: string | null;
  /** When it arrived at `key` (ms, event time). */
  at: number;
  /** eventAt: a waited-for event already stored, timed after now (the wait ends then, on it). */
  waiting: { wakeAt: number; waitingFor: string | null; eventAt?: number } | null;
  completedAt: number | null;
  path: PathRow[];
  /** Send steps run in this batch: when, and whether a message went. */
  sends: Map<string, { at: number; sent: boolean }>;
}

/** A step passed: one transition (seq + 1) on the path; the enrolment moves on to `next` at `at`. */
export function pass(visit: Visit, outcome: string, at: number, next: string | null, extra: { channel?: string | null; reason?: string | null } = {}): void {
  visit.seq += 1;
  visit.path.push({
    seq: visit.seq,
    step: visit.key!,
    at: new Date(visit.at).toISOString(),
    passedAt: new Date(at).toISOString(),
    outcome,
    channel: extra.channel ?? null,
    reason: extra.reason ?? null,
  });
  visit.key = next;
  visit.at = at;
  if (next == null) visit.completedAt = at;
}

export function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const name = key(item);
    const group = groups.get(name);
    if (group) group.push(item);
    else groups.set(name, [item]);
  }
  return groups;
}
