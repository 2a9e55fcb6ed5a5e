import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A live view for dashboards: the current snapshot first, then a fresh one after changes, at most
 * one per `minIntervalMs` however many changes arrive (changes in between are coalesced).
 */
export function liveSnapshots<T>(
  changes: AsyncIterable<unknown>,
  /** Reads a snapshot; `changedAt` is when the newest change it must include arrived. */
  load: (changedAt: number) => Promise<T>,
  minIntervalMs = 100,
): AsyncGenerator<T> {
  const iterator = changes[Symbol.asyncIterator]();
  return endingSource(snapshots(iterator, load, minIntervalMs), iterator);
}

async function* snapshots<T>(iterator: AsyncIterator<unknown>, load: (changedAt: number) => Promise<T>, minIntervalMs: number): AsyncGenerator<T> {
  let dirty = false;
  let changedAt = Date.now();
  let ended = false;
  let wake: (() => void) | undefined;
  const listening = (async () => {
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      dirty = true;
      changedAt = Date.now();
      wake?.();
    }
    ended = true;
    wake?.();
  })();
  try {
    let sentAt = Date.now();
    yield await load(changedAt);
    while (true) {
      if (!dirty && !ended) await new Promise<void>((resolve) => (wake = resolve));
      if (ended) return;
      // A change after a quiet spell goes out at once; during a burst, one snapshot per interval.
      const wait = sentAt + minIntervalMs - Date.now();
      if (wait > 0) await sleep(wait);
      dirty = false;
      sentAt = Date.now();
      yield await load(changedAt);
    }
  } finally {
    await iterator.return?.();
    await listening;
  }
}

/**
 * The values `each` picks from `source`, read as fast as they come, whatever the reader's pace: a
 * reader that falls behind (a socket nobody reads) gets the newest `limit` values, older ones are
 * dropped. Read at the reader's pace instead, the event bus would queue each subscriber's values
 * and, past 1,024, throw inside `publish`, ending the process.
 */
export function newest<T, U>(source: AsyncIterable<T>, limit: number, each: (value: T) => Iterable<U>): AsyncGenerator<U> {
  const iterator = source[Symbol.asyncIterator]();
  return endingSource(buffered(iterator, limit, each), iterator);
}

async function* buffered<T, U>(iterator: AsyncIterator<T>, limit: number, each: (value: T) => Iterable<U>): AsyncGenerator<U> {
  const waiting: U[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  const listening = (async () => {
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      for (const value of each(next.value)) if (waiting.push(value) > limit) waiting.shift();
      wake?.();
    }
    ended = true;
    wake?.();
  })();
  try {
    while (true) {
      if (!waiting.length && !ended) await new Promise<void>((resolve) => (wake = resolve));
      if (waiting.length) yield waiting.shift()!;
      else if (ended) return;
    }
  } finally {
    await iterator.return?.();
    await listening;
  }
}

/**
 * `generator`, whose `return` first ends `source`: a generator parked waiting for its source
 * takes a `return` only at its next `yield`, so an ended stream on a quiet topic would keep
 * listening to it for good.
 */
function endingSource<T>(generator: AsyncGenerator<T>, source: AsyncIterator<unknown>): AsyncGenerator<T> {
  const end = generator.return.bind(generator);
  return Object.assign(generator, {
    return(value: T) {
      void Promise.resolve(source.return?.()).catch(() => {});
      return end(value);
    },
  });
}
