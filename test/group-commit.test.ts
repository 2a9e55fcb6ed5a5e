import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../src/db/group-commit.ts';

/** A promise and its resolve, for work the test finishes when it chooses. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

describe('GroupCommit', () => {
  it("answers a batch's callers before the work that follows it, and holds the lane and drain until that work is done", async () => {
    const gathering = new GroupCommit({ windowMs: 5, maxItems: 100, maxInFlight: 1 });
    const wakeUps = gate();
    const batches: number[][] = [];
    const write = async (items: number[], after: (work: Promise<void>) => void) => {
      batches.push(items);
      if (batches.length === 1) after(wakeUps.opened); // the first batch's wake-ups are still being planned
      return items.map((item) => item * 10);
    };

    const first = await Promise.all([1, 2, 3].map((item) => gathering.submit('lane', `k${item}`, item, write)));
    expect(first).toEqual([10, 20, 30]); // answered while the first batch's after-work is pending

    // One batch in flight per lane: the next waits for the first batch's after-work.
    const second = gathering.submit('lane', 'k4', 4, write);
    let drained = false;
    const drain = gathering.drain().then(() => (drained = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(batches).toEqual([[1, 2, 3]]);
    expect(drained).toBe(false);

    wakeUps.open();
    expect(await second).toBe(40);
    await drain;
    expect(batches).toEqual([[1, 2, 3], [4]]);
  });
});
