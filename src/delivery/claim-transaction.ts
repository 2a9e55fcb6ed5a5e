import type pg from 'pg';
import type { Prisma } from '../db/prisma.ts';
import type { Herald } from '../herald-context.ts';

/**
 * The transaction a sending lane holds from reading its due rows to writing its claims: the rows
 * are read `FOR UPDATE SKIP LOCKED`, so lanes and worker processes sharing one send each take
 * rows no other holds (instead of reading the same rows and racing to claim them), and COMMIT is
 * written in the same tick as the sends (see deliver.ts).
 *
 * A lane holds its connection while it renders and stages the batch, so a process opens at most
 * CLAIM_SLOTS of these at once: the rest of the pool stays free for the API, and a lane never
 * waits for a second connection while holding one (everything it asks runs on its own).
 */
export const CLAIM_SLOTS = 6;

export class ClaimTransaction {
  private done = false;

  private constructor(
    private readonly client: pg.PoolClient,
    private readonly release: () => void,
  ) {}

  /**
   * Opens a transaction and runs `first` in it, in one round trip (`BEGIN` and the statement go
   * as one simple-protocol query, the values inlined as literals). Answers the transaction and
   * `first`'s rows.
   */
  static async begin<Row>(herald: Pick<Herald, 'pool' | 'deliveries'>, first: Prisma.Sql): Promise<{ tx: ClaimTransaction; rows: Row[] }> {
    const release = await herald.deliveries.claimSlots.acquire();
    let client: pg.PoolClient;
    try {
      client = await herald.pool.connect();
    } catch (error) {
      release();
      throw error;
    }
    const tx = new ClaimTransaction(client, release);
    try {
      const results = (await client.query(`BEGIN; ${inline(client, first)}`)) as unknown as pg.QueryResult<Row & pg.QueryResultRow>[];
      return { tx, rows: results[1]!.rows };
    } catch (error) {
      await tx.rollback();
      throw error;
    }
  }

  /** A statement inside the transaction. */
  async query<Row extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<Row[]> {
    return (await this.client.query<Row>(text, values)).rows;
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

/** A Prisma.Sql with its values written as literals, for the simple query protocol. */
function inline(client: pg.PoolClient, sql: Prisma.Sql): string {
  return sql.text.replace(/\$(\d+)/g, (_, index: string) => {
    const value: unknown = sql.values[Number(index) - 1];
    if (typeof value === 'number' && Number.isFinite(value)) return String(value);
    if (typeof value === 'string') return client.escapeLiteral(value);
    throw new TypeError(`cannot inline a ${typeof value} into a claim query`);
  });
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
