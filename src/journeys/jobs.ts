import type { Herald } from '../herald-context.ts';
import type { Agenda } from '../jobs/agenda.ts';
import { advanceSteps, announceWaits } from './engine.ts';
import { activeJourneys, enrol, segmentEntrants } from './entry.ts';
import { nextWakeAt, passDueWaits, WAIT_BATCH, type WaitCursor } from './waits.ts';

export const JourneyJobs = { advance: 'journeys:advance', segments: 'journeys:segment-entry' } as const;

/** Batches one process advances at once (each its own transaction and connection). */
const LANES = 3;
/** Statements passing ended waits at once: one per core keeps PostgreSQL busy without queueing. */
const WAIT_LANES = 2;
/** Contacts entering one segment journey per run (a minute). */
const SEGMENT_ENTRY_LIMIT = 10_000;
/** Waits up to this long are also timed in memory, for a wake-up on the dot. */
const TIMED_IN_MEMORY_MS = 10 * 60_000;

/**
 * The journeys' jobs. Durable: every few seconds `journeys:advance` drains whatever is due, so a
 * wait survives any crash and a batch a dead worker held is simply claimed again (its
 * transaction rolled back). Prompt: `journeys:due` signals (an entry, a waited-for event, a
 * resume) and in-memory timers at the earliest wait of each batch, and at the earliest due
 * enrolment after each drain, start a drain at once.
 * Idempotent: the engine's claims and seq guards make a second run find nothing to do.
 */
export function defineJourneyJobs(agenda: Agenda, herald: Herald): void {
  agenda.define(JourneyJobs.advance, async () => drain(herald), { concurrency: 1, lockLifetime: 60_000 });
  agenda.define(JourneyJobs.segments, async () => enterSegments(herald), { concurrency: 1, lockLifetime: 5 * 60_000 });
}

export async function startJourneyJobs(agenda: Agenda): Promise<void> {
  await agenda.every('5 seconds', JourneyJobs.advance);
  await agenda.every('1 minute', JourneyJobs.segments);
}

/** Each Herald's drain under way, and whether another was asked for meanwhile. */
const drains = new WeakMap<Herald, { running: Promise<void>; again: boolean }>();

/**
 * Advances due enrolments until none is left, LANES batches at a time; concurrent calls coalesce.
 * Ended waits go first, alone, so a wave of them is passed on the dot rather than behind the
 * steps that follow them.
 */
export function drain(herald: Herald): Promise<void> {
  const current = drains.get(herald);
  if (current) {
    current.again = true;
    return current.running;
  }
  const state = { running: Promise.resolve(), again: false };
  drains.set(herald, state);
  state.running = (async () => {
    try {
      do {
        state.again = false;
        const cursors: (WaitCursor | null)[] = Array.from({ length: WAIT_LANES }, () => null);
        let full = true;
        while (full) {
          await passWaves(herald, cursors);
          // The waits were just passed: the lanes run steps (a wait that fell due meanwhile, or one
          // a wave left for a busy contact, is resolved by a lane as well).
          const results = await Promise.all(Array.from({ length: LANES }, () => advanceSteps(herald)));
          full = results.some((result) => result.more);
          for (const result of results) if (result.earliestWake != null) wakeAt(herald, result.earliestWake);
        }
      } while (state.again);
      const next = await nextWakeAt(herald);
      if (next != null) wakeAt(herald, next);
    } catch (error) {
      herald.log.error({ err: error }, 'journey pass failed; the next one retries');
    } finally {
      drains.delete(herald);
    }
  })();
  return state.running;
}

/**
 * Passes ended waits in WAIT_LANES lanes until none is left: each lane passes its own slice of the
 * enrolments and sends its next statement as soon as its last one answered (no lane waits for the
 * slowest of a round), and stops when it claimed less than a full batch. A lane goes on from where
 * it stopped in the drain's last round (`cursors`): the waits it passed stay due until the engine's
 * lanes run their next steps, and walking them again every round cost a statement each ~0.2 s per
 * 100,000. A wait due before a lane's cursor that it did not pass (its contact busy, or its wakeAt
 * moved back by an event) is the engine lanes' to resolve, as every due enrolment is.
 */
async function passWaves(herald: Herald, cursors: (WaitCursor | null)[]): Promise<void> {
  await Promise.all(
    cursors.map(async (start, lane) => {
      let after = start;
      for (let full = true; full; ) {
        const result = await passDueWaits(herald, undefined, undefined, after, { lane, lanes: WAIT_LANES });
        announceWaits(herald, result.journeys);
        full = result.claimed === WAIT_BATCH;
        after = result.last ?? after;
      }
      cursors[lane] = after;
    }),
  );
}

const timers = new Set<number>();
/** One in-memory wake-up per 100 ms slot; Agenda's tick stays the durable one. */
function wakeAt(herald: Herald, at: number): void {
  const wait = at - Date.now();
  if (wait > TIMED_IN_MEMORY_MS) return;
  const slot = Math.ceil(at / 100) * 100;
  if (timers.has(slot)) return;
  timers.add(slot);
  setTimeout(() => {
    timers.delete(slot);
    herald.events.publish('journeys:due');
  }, Math.max(0, slot - Date.now())).unref();
}

/** Drains whenever `journeys:due` says so. Returns the stop. */
export function listenForDueJourneys(herald: Herald): () => Promise<void> {
  const signals = herald.events.subscribe('journeys:due')[Symbol.asyncIterator]();
  void (async () => {
    for (let next = await signals.next(); !next.done; next = await signals.next()) void drain(herald);
  })();
  return async () => {
    await signals.return?.();
    await drains.get(herald)?.running;
  };
}

/**
 * Segment entry, on a schedule: contacts matching an ACTIVE segment journey's entry segment (in
 * the segment's audience) and rule who may enter now enter now, at most 10,000 per journey a minute. (Re-evaluating on every
 * contact change would put a segment query on every write; a minute's delay is the price.)
 */
async function enterSegments(herald: Herald): Promise<void> {
  const journeys = (await activeJourneys(herald.prisma, null)).filter((journey) => journey.definition.entry.kind === 'segment');
  let entered = 0;
  for (const journey of journeys) {
    const ids = await herald.prisma.$transaction(async (tx) => enrol(tx, journey, await segmentEntrants(tx, journey, SEGMENT_ENTRY_LIMIT)));
    entered += ids.length;
    if (ids.length) herald.events.publish('journey:changed', journey.id, { reason: 'entered' });
  }
  if (entered) await drain(herald);
}
