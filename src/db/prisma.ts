import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from '../generated/prisma/client.ts';

export type { PrismaClient };
export { Prisma } from '../generated/prisma/client.ts';

/**
 * Prisma over a pg pool Herald also uses directly where Prisma's per-query overhead matters (the
 * delivery loop's ledger updates).
 */
export function createPrisma(databaseUrl: string, onQuery?: (durationMs: number) => void): { prisma: PrismaClient; pool: pg.Pool } {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
  const prisma = new PrismaClient({
    adapter: new PrismaPg(pool),
    log: onQuery ? [{ emit: 'event', level: 'query' }] : [],
  });
  if (onQuery) prisma.$on('query' as never, (event: { duration: number }) => onQuery(event.duration));
  return { prisma, pool };
}
