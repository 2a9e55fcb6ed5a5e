import type pg from 'pg';
import { Prisma, statementNames } from './prisma.ts';

/**
 * What the public path's batches ask of a transaction: raw statements only. A Prisma transaction
 * client is one, and so is `sqlTransaction`'s, which runs them on a pg connection directly.
 */
export interface SqlTx {
  $queryRaw<T = unknown>(query: TemplateStringsArray | Prisma.Sql, ...values: unknown[]): Promise<T>;
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T>;
}

/** Shared by every pool: a name is the hash of its text, so one text has one name everywhere. */
const names = statementNames();

/** One statement on the pool, outside a transaction, named as sqlTransaction's are. */
export async function sqlQuery<Row>(pool: pg.Pool, sql: Prisma.Sql, { preparedStatements = true } = {}): Promise<Row[]> {
  const name = preparedStatements ? names({ sql: sql.text }) : undefined;
  return (await pool.query({ text: sql.text, values: sql.values, ...(name ? { name } : {}) })).rows as Row[];
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
  } = {},
): Promise<T> {
  const client = await pool.connect();
  const run = async <Row>(text: string, values: unknown[]): Promise<Row> => {
    const name = preparedStatements ? names({ sql: text }) : undefined;
    return (await client.query({ text, values, ...(name ? { name } : {}) })).rows as Row;
  };
  const tx: SqlTx = {
    $queryRaw: <Row>(query: TemplateStringsArray | Prisma.Sql, ...values: unknown[]) => {
      const sql = query instanceof Prisma.Sql ? query : Prisma.sql(query, ...values);
      return run<Row>(sql.text, sql.values);
    },
    $queryRawUnsafe: <Row>(text: string, ...values: unknown[]) => run<Row>(text, values),
  };
  let broken: Error | undefined;
  try {
    await client.query(genericPlans && preparedStatements ? 'BEGIN; SET LOCAL plan_cache_mode = force_generic_plan' : 'BEGIN');
    const result = await work(tx);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch((failed: Error) => (broken = failed));
    throw error;
  } finally {
    client.release(broken);
  }
}
