/**
 * One lane's writer: stores a batch in one transaction and answers each item, in order, with its
 * own result or its own error. Throwing means nothing was stored (the transaction rolled back).
 * Work that follows the batch but that no answer needs (planning wake-ups) goes to `after`: the
 * callers are answered without waiting for it, the lane's slot (and `drain`) waits; it must not reject.
 */
export type BatchWriter<Item, Result> = (items: Item[], after: (work: Promise<void>) => void) => Promise<(Result | Error)[]>;

interface Waiting<Item, Result> {
  item: Item;
  order: string;
  resolve(result: Result): void;
  reject(error: unknown): void;
}

interface Lane {
  queue: Waiting<any, any>[];
  write: BatchWriter<any, any>;
  timer: NodeJS.Timeout | null;
  /** The oldest queued item has waited its window: send without waiting for more. */
  due: boolean;
  inFlight: number;
  /** Order keys with an item in a batch being written, and how many. */
  busy: Map<string, number>;
}

export interface GroupCommitOptions {
  /** How long the first item of a batch waits for others; 0 writes each call alone. */
  windowMs: number;
  /** A batch goes at once when this many wait. */
  maxItems: number;
  /** Batches of one lane being written at once. */
  maxInFlight: number;
}

/**
 * Group commit: concurrent single calls of one lane (say, one workspace's events) are gathered for
 * `windowMs` or until `maxItems` wait, and written as one batch; each caller is answered after the
 * batch's COMMIT with its own result or error. Items with the same order key (one contact) are
 * written in the order they came: an item never joins a batch while an earlier one of its key is
 * still being written. A batch that fails as a whole is written again item by item, so one item
 * that breaks it fails only its own caller.
 */
export class GroupCommit {
  private readonly lanes = new Map<string, Lane>();
  private readonly writing = new Set<Promise<void>>();

  constructor(private readonly options: GroupCommitOptions) {}

  get enabled(): boolean {
    return this.options.windowMs > 0;
  }

  submit<Item, Result>(laneKey: string, order: string, item: Item, write: BatchWriter<Item, Result>): Promise<Result> {
    let lane = this.lanes.get(laneKey);
    if (!lane) {
      lane = { queue: [], write, timer: null, due: false, inFlight: 0, busy: new Map() };
      this.lanes.set(laneKey, lane);
    }
    const answer = new Promise<Result>((resolve, reject) => lane.queue.push({ item, order, resolve, reject }));
    if (lane.queue.length >= this.options.maxItems) this.pump(laneKey, lane);
    else if (!lane.timer) {
      lane.timer = setTimeout(() => {
        lane.timer = null;
        lane.due = true;
        this.pump(laneKey, lane);
      }, this.options.windowMs);
    }
    return answer;
  }

  /** Writes what waits now and resolves when every batch is written (at shutdown). */
  async drain(): Promise<void> {
    for (const [key, lane] of this.lanes) {
      if (lane.timer) clearTimeout(lane.timer);
      lane.timer = null;
      lane.due = true;
      this.pump(key, lane);
    }
    while (this.writing.size) await Promise.allSettled([...this.writing]);
  }

  private pump(laneKey: string, lane: Lane): void {
    while (lane.inFlight < this.options.maxInFlight && lane.queue.length && (lane.due || lane.queue.length >= this.options.maxItems)) {
      const batch = this.take(lane);
      if (!batch.length) break; // all wait for earlier items of their keys
      lane.due = lane.queue.length > 0;
      lane.inFlight++;
      for (const { order } of batch) lane.busy.set(order, (lane.busy.get(order) ?? 0) + 1);
      const written = this.write(lane, batch).finally(() => {
        this.writing.delete(written);
        lane.inFlight--;
        for (const { order } of batch) {
          const left = lane.busy.get(order)! - 1;
          if (left) lane.busy.set(order, left);
          else lane.busy.delete(order);
        }
        if (!lane.queue.length && !lane.inFlight && !lane.timer) this.lanes.delete(laneKey);
        else this.pump(laneKey, lane);
      });
      this.writing.add(written);
    }
  }

  /** Up to maxItems in arrival order, skipping keys being written and every later item of a skipped key. */
  private take(lane: Lane): Waiting<any, any>[] {
    const batch: Waiting<any, any>[] = [];
    const held = new Set<string>();
    const rest: Waiting<any, any>[] = [];
    for (const waiting of lane.queue) {
      if (batch.length < this.options.maxItems && !lane.busy.has(waiting.order) && !held.has(waiting.order)) batch.push(waiting);
      else {
        held.add(waiting.order);
        rest.push(waiting);
      }
    }
    lane.queue = rest;
    return batch;
  }

  private async write(lane: Lane, batch: Waiting<any, any>[]): Promise<void> {
    const afterwards: Promise<void>[] = [];
    const after = (work: Promise<void>) => void afterwards.push(work);
    try {
      settle(batch, await lane.write(batch.map((waiting) => waiting.item), after));
    } catch (error) {
      if (batch.length === 1) batch[0]!.reject(error);
      else {
        // Nothing of the batch was stored: each item alone, in order, gets its own answer.
        for (const waiting of batch) {
          try {
            settle([waiting], await lane.write([waiting.item], after));
          } catch (alone) {
            waiting.reject(alone);
          }
        }
      }
    }
    await Promise.all(afterwards);
  }
}

function settle(batch: Waiting<any, any>[], results: unknown[]): void {
  batch.forEach((waiting, index) => {
    const result = results[index];
    if (result instanceof Error) waiting.reject(result);
    else waiting.resolve(result);
  });
}
