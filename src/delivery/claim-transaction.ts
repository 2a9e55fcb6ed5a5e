import type pg from 'pg';
import type { Prisma } from '../db/prisma.ts';
import { namedQuery } from '../db/sql-transaction.ts';
import type { Herald } from '../herald-context.ts';

/**
 * The transaction a sending lane holds from reading its due rows to writing its claims: the rows
 * are read `FOR UPDATE SKIP LOCKED`, so lanes and worker processes sharing one send each take
 * rows no other holds (instead of reading the same rows and racing to claim them), and COMMIT is
 * written in the same tick as the sends (see deliver.ts).
 *
 * A lane holds its connection while it renders and stages the batch, so a process opens at most
 * CLAIM_SLOTS of these at once: the rest of the pool stays free for gathered browser batches, and
 * a lane never waits for a second connection while holding one (everything it asks runs on its own).
 * The pool pipelines, and the statements are named: the claim was a simple-protocol query with its
 * values inlined, planned anew every time (~0.4 ms of PostgreSQL; a lane woken for a triggered
 * message claims several times, 1,540 claims for 315 messages in bench/public-path.ts).
 */
export const CLAIM_SLOTS = 6;

export class ClaimTransaction {
  private done = false;

  private constructor(
    private readonly client: pg.PoolClient,
    private readonly release: () => void,
    private readonly preparedStatements: boolean,
  ) {}

  /**
   * Opens a transaction and runs `first` in it, in one round trip (`BEGIN` goes with the statement
   * on the pipelining pool). Answers the transaction and `first`'s rows.
   */
  static async begin<Row>(herald: Pick<Herald, 'pipelinedPool' | 'deliveries' | 'config'>, first: Prisma.Sql): Promise<{ tx: ClaimTransaction; rows: Row[] }> {
    const release = await herald.deliveries.claimSlots.acquire();
    let client: pg.PoolClient;
    try {
      client = await herald.pipelinedPool.connect();
    } catch (error) {
      release();
      throw error;
    }
    const tx = new ClaimTransaction(client, release, herald.config.HERALD_PREPARED_STATEMENTS);
    try {
      const [, rows] = await Promise.all([client.query('BEGIN'), tx.query<Row & pg.QueryResultRow>(first.text, first.values)]);
      return { tx, rows };
    } catch (error) {
      await tx.rollback();
      throw error;
    }
  }

  /** A statement inside the transaction. */
  query<Row extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<Row[]> {
    return namedQuery<Row>(this.client, text, values, this.preparedStatements);
  }

  /** Writes COMMIT now; settles when the server answered. A connection in an unknown state is not reused. */
  commit(): Promise<void> {
    return this.end('COMMIT', true);
  }

  /** Rolls back (never throws): a connection that cannot even roll back is not reused. */
  async rollback(): Promise<void> {
    await this.end('ROLLBACK', false).catch(() => {});
  }

  private async end(statement: 'COMMIT' | 'ROLLBACK', rethrow: boolean): Promise<void> {
    if (this.done) return;
    this.done = true;
    try {
      await this.client.query(statement);
      this.client.release();
    } catch (error) {
      this.client.release(error instanceof Error ? error : true);
      if (rethrow) throw error;
    } finally {
      this.release();
    }
  }
}

/** Counts open claim transactions; `acquire` waits for a free slot and answers its release. */
export class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(size: number) {
    this.free = size;
  }

  async acquire(): Promise<() => void> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    };
  }
}
