import { createHash } from 'node:crypto';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { Prisma, PrismaClient } from '../generated/prisma/client.ts';

export type { PrismaClient };
export { Prisma };

/** A statement text Prisma sends this often is kept prepared on each connection from then on. */
const PREPARE_AFTER = 3;
/** Texts counted at most, and statements named at most: dynamic SQL cannot grow the process. */
const MAX_COUNTED = 2_000;
const MAX_NAMED = 500;
/**
 * A connection is replaced after this long: the statements it keeps prepared (PostgreSQL holds
 * them per connection) are then only those still in use.
 */
const CONNECTION_LIFETIME_S = 600;

/**
 * Names the statements Prisma sends again and again, so that each connection parses them once and
 * PostgreSQL may reuse a generic plan instead of planning every call: planning the public path's
 * statements cost more than running them (measured: PostgreSQL CPU per batch of 12 events with 20
 * triggered campaigns 19.4 ms unnamed, 10.3 ms named). A text seen fewer than PREPARE_AFTER times
 * (dynamic SQL, one-off reads) stays unnamed. PostgreSQL still plans a named statement per call
 * while a plan for its values would cost less than the generic one.
 */
export function statementNames(): (query: { sql: string }) => string | undefined {
  const seen = new Map<string, number>();
  const names = new Map<string, string>();
  return ({ sql }) => {
    const name = names.get(sql);
    if (name) return name;
    const count = (seen.get(sql) ?? 0) + 1;
    if (count < PREPARE_AFTER || names.size >= MAX_NAMED) {
      if (seen.size >= MAX_COUNTED) seen.clear();
      seen.set(sql, count);
      return undefined;
    }
    seen.delete(sql);
    const named = `herald_${createHash('sha1').update(sql).digest('base64url')}`;
    names.set(sql, named);
    return named;
  };
}

/**
 * Prisma over a pg pool Herald also uses directly where Prisma's per-query overhead matters (the
 * delivery loop's ledger updates). `preparedStatements: false` is for a pooler that cannot keep
 * them (PgBouncer in transaction mode before 1.21).
 */
export function createPrisma(
  databaseUrl: string,
  {
    onQuery,
    onPoolError,
    preparedStatements = true,
  }: { onQuery?: (durationMs: number) => void; onPoolError?: (error: Error) => void; preparedStatements?: boolean } = {},
): { prisma: PrismaClient; pool: pg.Pool } {
  const pool = createPool(databaseUrl, { max: 10, preparedStatements, onPoolError });
  const prisma = new PrismaClient({
    // The adapter passes the name to pg, which sends the text only on a connection's first use of it.
    adapter: new PrismaPg(pool, preparedStatements ? { statementNameGenerator: statementNames() as (query: { sql: string }) => string } : {}),
    log: onQuery ? [{ emit: 'event', level: 'query' }] : [],
  });
  if (onQuery) prisma.$on('query' as never, (event: { duration: number }) => onQuery(event.duration));
  return { prisma, pool };
}

/**
 * A pool of `max` connections, each replaced after CONNECTION_LIFETIME_S when it keeps statements
 * prepared. `pipeline`: statements queued on a connection go out without waiting for the answers
 * to those before them (node-postgres' pipelining); each still gets its own answer or error.
 */
export function createPool(
  databaseUrl: string,
  {
    max,
    preparedStatements = true,
    pipeline = false,
    statementTimeoutMs,
    onPoolError,
  }: { max: number; preparedStatements?: boolean; pipeline?: boolean; statementTimeoutMs?: number; onPoolError?: (error: Error) => void },
): pg.Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max,
    pipeline,
    maxLifetimeSeconds: preparedStatements ? CONNECTION_LIFETIME_S : 0,
    // Set when each connection starts: no statement of its own per query.
    ...(statementTimeoutMs ? { options: `-c statement_timeout=${statementTimeoutMs}` } : {}),
  });
  // A connection the server closed (a restart, an admin) must not take the process down: idle ones
  // report on the pool, checked-out ones on themselves, so every client gets a listener.
  pool.on('error', (error) => onPoolError?.(error));
  pool.on('connect', (client) => client.on('error', (error) => onPoolError?.(error)));
  return pool;
}

/**
 * Whether `error` is PostgreSQL's unique violation (23505) as Prisma reports it: P2002 from a model
 * call, P2010 (raw query failed) carrying the driver's UniqueConstraintViolation from a raw statement.
 */
export function isUniqueViolation(error: unknown): boolean {
  if (!(error instanceof Prisma.PrismaClientKnownRequestError)) return false;
  const cause = (error.meta?.driverAdapterError as { cause?: { kind?: string } } | undefined)?.cause;
  return error.code === 'P2002' || (error.code === 'P2010' && cause?.kind === 'UniqueConstraintViolation');
}
