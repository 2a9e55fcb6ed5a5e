import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { Logger } from '../logger.ts';

export interface OutageWatch {
  /** A connection was lost: probe until the database answers (one probe at a time, however often called). */
  lost(): void;
  stop(): Promise<void>;
}

/**
 * After a lost connection, asks the database `SELECT 1` every `everyMs` on a connection of its own
 * (the pool may be busy or broken) and, on the first answer, calls `back` once: work the outage cut
 * resumes at once instead of at the next minute's sweep.
 */
export function watchForDatabaseReturn(databaseUrl: string, log: Logger, back: () => Promise<unknown>, everyMs = 500): OutageWatch {
  let probing: Promise<void> | undefined;
  let stopped = false;

  async function probeUntilBack(): Promise<void> {
    const lostAt = Date.now();
    for (let attempt = 1; !stopped; attempt++) {
      await sleep(everyMs);
      if (stopped || !(await answers(databaseUrl, everyMs * 4))) continue;
      log.info({ downMs: Date.now() - lostAt, probes: attempt }, 'database answers again: resuming sends');
      await Promise.resolve()
        .then(back)
        .catch((error: unknown) => log.warn({ err: error }, 'could not resume sends after the outage; the minute sweep will'));
      return;
    }
  }

  return {
    lost() {
      if (stopped || probing) return;
      probing = probeUntilBack().finally(() => (probing = undefined));
    },
    async stop() {
      stopped = true;
      await probing;
    },
  };
}

async function answers(databaseUrl: string, timeoutMs: number): Promise<boolean> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
  client.on('error', () => {}); // a probe's failure is its answer
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}
