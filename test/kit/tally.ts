import { appendFileSync } from 'node:fs';
import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Where reliability checks append their figures (JSON lines); summed at the end of the run. */
    tallyFile: string;
  }
}

/** What one passing reliability check did and found. */
export interface Tally {
  check: string;
  /** Scenario runs: a kill and restart, an outage, a fuzzed mutation, a load run. */
  trials?: number;
  /** Kills, database cuts, push-service refusals, hangs and resets injected. */
  faults?: number;
  /** Generated inputs, hostile requests, ids and log lines probed, requests under load. */
  inputs?: number;
  /** Attempts to get past a security boundary (test/security): each one failed, or the check fails. */
  attacks?: number;
  /** Pushes a browser got twice, events stored twice. */
  duplicates?: number;
  /** Messages a recipient should have had and did not. */
  losses?: number;
  /** Another workspace's data seen or changed, secrets in the logs. */
  leaks?: number;
}

/** Records a check's figures; call it after the check's assertions, so only what passed counts. */
export function tally(entry: Tally): void {
  appendFileSync(inject('tallyFile'), `${JSON.stringify(entry)}\n`);
}
