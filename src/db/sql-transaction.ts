import type pg from 'pg';
import { Prisma, statementNames } from './prisma.ts';

/**
 * What the public path's batches ask of a transaction: raw statements only. A Prisma transaction
 * client is one, and so is `sqlTransaction`'s, which runs them on a pg connection directly.
 */
export interface SqlTx {
  $queryRaw<T = unknown>(query: TemplateStringsArray | Prisma.Sql, ...values: unknown[]): Promise<T>;
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T>;
  /**
   * `sqlTransaction`'s only: runs the transaction's last statement with COMMIT behind it, in one
   * round trip on a pipelining pool. The work must not throw once it answers (its caller would
   * take the committed batch for one that stored nothing).
   */
  $queryRawThenCommit?<T = unknown>(query: Prisma.Sql): Promise<T>;
  /**
   * `sqlTransaction`'s only: sends COMMIT now, behind the statements already sent, unless one of
   * them carries it; nothing may follow. Rejects if the transaction did not commit.
   */
  $commit?(): Promise<void>;
}

/** Shared by every pool: a name is the hash of its text, so one text has one name everywhere. */
const names = statementNames();

/**
 * One statement on a pool or a connection. With `preparedStatements`, a text sent again and again
 * is named (statementNames), so each connection parses it once and PostgreSQL may keep its plan.
 */
export async function namedQuery<Row>(db: pg.Pool | pg.ClientBase, text: string, values: unknown[], preparedStatements = true): Promise<Row[]> {
  const name = preparedStatements ? names({ sql: text }) : undefined;
  return (await db.query({ text, values, ...(name ? { name } : {}) })).rows as Row[];
}

/** One statement on the pool, outside a transaction, named as sqlTransaction's are. */
export function sqlQuery<Row>(pool: pg.Pool, sql: Prisma.Sql, { preparedStatements = true } = {}): Promise<Row[]> {
  return namedQuery<Row>(pool, sql.text, sql.values, preparedStatements);
}

/**
 * Runs `work` in one transaction on a connection of `pool`, without Prisma (issue #24): Prisma's
 * client costs ~0.3-0.5 ms of CPU per statement over pg's own, and a gathered batch of browser
 * events is ~6 statements. Statements sent again and again are named, so each connection parses
 * them once (as `createPrisma` does for Prisma's). Results are pg's: timestamptz a Date, jsonb
 * parsed, int8 a string (cast counts to int). Throwing rolls back; a connection that cannot even
 * roll back is not reused.
 */
export async function sqlTransaction<T>(
  pool: pg.Pool,
  work: (tx: SqlTx) => Promise<T>,
  {
    preparedStatements = true,
    genericPlans = false,
    coalesceWrites = true,
  }: {
    preparedStatements?: boolean;
    /**
     * The transaction's named statements run on their generic plans from the first call (in BEGIN's
     * round trip). PostgreSQL otherwise plans a statement for its values on each of its first five
     * calls per connection, and for ever after when those custom plans look cheaper than the generic
     * one: a gathered batch's trigger entry (a CASE over the listening campaigns) took ~3 ms to plan
     * on every call, more than it took to run.
     */
    genericPlans?: boolean;
    /** The statements sent in one tick leave in one socket write (`coalescing`); false only for bench/sql-transaction.ts's baseline. */
    coalesceWrites?: boolean;
  } = {},
): Promise<T> {
  const client = await pool.connect();
  const send = coalesceWrites ? coalescing(client) : <R>(submit: () => R) => submit();
  const run = <Row>(text: string, values: unknown[]) => send(() => namedQuery(client, text, values, preparedStatements) as Promise<Row>);
  // BEGIN goes out with the first statement and COMMIT with the last one asked to carry it: on a
  // pool that pipelines (createPool's `pipeline`), one round trip each instead of two.
  let begun: Promise<unknown> | undefined;
  let committed = false;
  const over = () => new Error('the transaction is over: a statement came after its last one');
  const statement = async <Row>(text: string, values: unknown[]): Promise<Row> => {
    if (committed) throw over();
    begun ??= send(() => client.query(genericPlans && preparedStatements ? 'BEGIN; SET LOCAL plan_cache_mode = force_generic_plan' : 'BEGIN'));
    const [, rows] = await Promise.all([begun, run<Row>(text, values)]);
    return rows;
  };
  const tx: SqlTx = {
    $queryRaw: <Row>(query: TemplateStringsArray | Prisma.Sql, ...values: unknown[]) => {
      const sql = query instanceof Prisma.Sql ? query : Prisma.sql(query, ...values);
      return statement<Row>(sql.text, sql.values);
    },
    $queryRawUnsafe: <Row>(text: string, ...values: unknown[]) => statement<Row>(text, values),
    $queryRawThenCommit: async <Row>(query: Prisma.Sql) => {
      if (committed) throw over();
      const rows = statement<Row>(query.text, query.values);
      const commit = send(() => client.query('COMMIT'));
      committed = true;
      // Should the statement fail, PostgreSQL answers the COMMIT behind it with a ROLLBACK.
      const [answer, ended] = await Promise.allSettled([rows, commit]);
      if (answer.status === 'rejected') throw answer.reason;
      if (ended.status === 'rejected') throw ended.reason;
      if (ended.value.command !== 'COMMIT') throw new Error(`the transaction ended in ${ended.value.command}, not COMMIT`);
      return answer.value;
    },
    $commit: async () => {
      if (committed || !begun) return;
      committed = true;
      const [, ended] = await Promise.all([begun, send(() => client.query('COMMIT'))]);
      if (ended.command !== 'COMMIT') throw new Error(`the transaction ended in ${ended.command}, not COMMIT`);
    },
  };
  let broken: Error | undefined;
  try {
    const result = await work(tx);
    if (!committed) {
      committed = true;
      if (begun) await Promise.all([begun, client.query('COMMIT')]);
    }
    return result;
  } catch (error) {
    // After a COMMIT that did not commit, this ROLLBACK finds no transaction: a warning, no error.
    if (begun) await client.query('ROLLBACK').catch((failed: Error) => (broken = failed));
    throw error;
  } finally {
    client.release(broken);
  }
}

/**
 * Statements sent in one tick leave in one write: a gathered batch's BEGIN and first statement,
 * then its insert, trigger entry and COMMIT, each one socket write (one wake-up of its PostgreSQL
 * backend) instead of one per statement. pg corks each statement's messages itself; this holds the
 * socket corked until the tick ends, so a statement leaves once the tick's code has run (building
 * trigger entry's text after the insert's: tens of µs, against a write and a wake-up saved).
 */
function coalescing(client: pg.PoolClient): <T>(submit: () => T) => T {
  const socket = (client as unknown as { connection?: { stream?: { cork?(): void; uncork?(): void } } }).connection?.stream;
  if (!socket?.cork || !socket.uncork) return (submit) => submit();
  let corked = false;
  return (submit) => {
    if (!corked) {
      corked = true;
      socket.cork!();
      process.nextTick(() => {
        corked = false;
        socket.uncork!();
      });
    }
    return submit();
  };
}
