import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { statusMetric } from '../../src/delivery/ledger.ts';

/**
 * The crash harness of the reliability tests: Herald (test/kit/process.ts) killed with SIGKILL at
 * random moments of a send, watched by what a provider kit receives, and the ledger checks that
 * follow. Each channel's test brings its kit; this file knows none.
 */

/** Polls `predicate` every 10 ms; rejects with `what` after `timeoutMs`. */
async function waitUntil(predicate: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/**
 * Kills Herald (`kill`: SIGKILL) at `kills` random moments and starts it again (`restart`) while the
 * next `expected` messages arrive (`arrived` counts them at the kit); returns how many had arrived
 * at each kill. Stops early when everything arrived.
 */
export async function killWhileArriving(options: { kills: number; expected: number; arrived: () => number; kill: () => Promise<void>; restart: () => Promise<void> }): Promise<number[]> {
  const base = options.arrived();
  const arrived = () => options.arrived() - base;
  const at: number[] = [];
  for (let kill = 0; kill < options.kills; kill++) {
    const before = arrived();
    await waitUntil(() => arrived() > before, 'sending to start again', 60_000);
    await sleep(200 + Math.random() * 1000);
    if (arrived() >= options.expected) break;
    await options.kill();
    at.push(arrived());
    await options.restart();
  }
  return at;
}

/**
 * A campaign's counters and its ledger, status by status and reason by reason (and `targeted`), as
 * two objects a test compares: after any crash they must be equal.
 */
export async function countersAndLedger(databaseUrl: string, campaignId: string) {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const { rows: ledger } = await db.query<{ metric: string; count: number }>(
      `SELECT ${statusMetric('status')} AS metric, count(*)::int AS count FROM "Message" WHERE "campaignId" = $1 GROUP BY 1
       UNION ALL SELECT 'reason:' || reason, count(*)::int FROM "Message" WHERE "campaignId" = $1 AND reason IS NOT NULL GROUP BY reason
       UNION ALL SELECT 'targeted', count(*)::int FROM "Message" WHERE "campaignId" = $1`,
      [campaignId],
    );
    const { rows: counters } = await db.query<{ metric: string; count: number }>(
      `SELECT metric, sum(count)::int AS count FROM "CampaignCount"
       WHERE "campaignId" = $1 AND (metric LIKE 'status:%' OR metric LIKE 'reason:%' OR metric = 'targeted')
       GROUP BY metric HAVING sum(count) <> 0`,
      [campaignId],
    );
    const byMetric = (rows: { metric: string; count: number }[]) => Object.fromEntries(rows.map((row) => [row.metric, row.count]));
    return { counters: byMetric(counters), ledger: byMetric(ledger) };
  } finally {
    await db.end();
  }
}
