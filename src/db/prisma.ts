import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from '../generated/prisma/client.ts';

export type { PrismaClient };
export { Prisma } from '../generated/prisma/client.ts';

/**
 * Prisma over a pg pool Herald also uses directly where Prisma's per-query overhead matters (the
 * delivery loop's ledger updates).
 */
export function createPrisma(
  databaseUrl: string,
  { onQuery, onPoolError }: { onQuery?: (durationMs: number) => void; onPoolError?: (error: Error) => void } = {},
): { prisma: PrismaClient; pool: pg.Pool } {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
  // A connection the server closed (a restart, an admin) must not take the process down: idle ones
  // report on the pool, checked-out ones on themselves, so every client gets a listener.
  pool.on('error', (error) => onPoolError?.(error));
  pool.on('connect', (client) => client.on('error', (error) => onPoolError?.(error)));
  const prisma = new PrismaClient({
    adapter: new PrismaPg(pool),
    log: onQuery ? [{ emit: 'event', level: 'query' }] : [],
  });
  if (onQuery) prisma.$on('query' as never, (event: { duration: number }) => onQuery(event.duration));
  return { prisma, pool };
}
