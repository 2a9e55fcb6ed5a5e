import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { createPool, Prisma } from '../src/db/prisma.ts';
import { sqlTransaction } from '../src/db/sql-transaction.ts';
import { dropDatabase, freshDatabase } from './kit/herald.ts';

/** sqlTransaction on a pipelining pool: BEGIN sent with the first statement, COMMIT with the one that carries it. */
describe('sqlTransaction on a pipelining pool', () => {
  let url: string;
  let pool: pg.Pool;
  const count = async () => Number((await pool.query('SELECT count(*) AS n FROM t')).rows[0].n);

  beforeAll(async () => {
    url = await freshDatabase();
    pool = createPool(url, { max: 2, pipeline: true });
    await pool.query('CREATE TABLE t (id int PRIMARY KEY)');
  });
  afterAll(async () => {
    await pool.end();
    await dropDatabase(url);
  });

  it('runs every statement in one transaction, committed with the last one', async () => {
    const answer = await sqlTransaction(pool, async (tx) => {
      const [first] = await tx.$queryRaw<{ xid: string }[]>`INSERT INTO t VALUES (1) RETURNING txid_current()::text AS xid`;
      const [last] = await tx.$queryRawThenCommit!<{ xid: string }[]>(Prisma.sql`INSERT INTO t VALUES (2) RETURNING txid_current()::text AS xid`);
      return [first!.xid, last!.xid];
    });
    expect(answer[0]).toBe(answer[1]);
    expect(await count()).toBe(2);
  });

  it('stores nothing when the statement carrying COMMIT fails, and its connection serves the next transaction', async () => {
    await expect(
      sqlTransaction(pool, async (tx) => {
        await tx.$queryRaw`INSERT INTO t VALUES (3)`;
        return tx.$queryRawThenCommit!(Prisma.sql`INSERT INTO t VALUES (1)`); // a duplicate key
      }),
    ).rejects.toThrow(/duplicate key/);
    expect(await count()).toBe(2);
    for (let round = 0; round < 3; round++) {
      await sqlTransaction(pool, (tx) => tx.$queryRawThenCommit!(Prisma.sql`INSERT INTO t VALUES (${10 + round}::int)`));
    }
    expect(await count()).toBe(5);
  });

  it('refuses a statement after the transaction ended, and commits alone what no statement carried', async () => {
    await expect(
      sqlTransaction(pool, async (tx) => {
        await tx.$queryRawThenCommit!(Prisma.sql`INSERT INTO t VALUES (20)`);
        await tx.$queryRaw`INSERT INTO t VALUES (21)`;
      }),
    ).rejects.toThrow(/the transaction is over/);
    // The first was committed with its statement; the second never ran.
    expect((await pool.query('SELECT id FROM t WHERE id >= 20 ORDER BY id')).rows).toEqual([{ id: 20 }]);
    await sqlTransaction(pool, (tx) => tx.$queryRaw`INSERT INTO t VALUES (30)`);
    expect(await count()).toBe(7);
  });

  it('sends the statements of one tick in one socket write: BEGIN with the first, the last ones with COMMIT', async () => {
    const writer = createPool(url, { max: 1, pipeline: true });
    const writes: number[] = [];
    writer.on('connect', (client) => {
      // pg's socket: each _write or _writev is one write to the kernel.
      const socket = (client as unknown as { connection: { stream: Record<'_write' | '_writev', (...args: unknown[]) => unknown> } }).connection.stream;
      for (const method of ['_write', '_writev'] as const) {
        const original = socket[method].bind(socket);
        socket[method] = (...args: unknown[]) => (writes.push(1), original(...args));
      }
    });
    try {
      await writer.query('SELECT 1'); // connected
      writes.length = 0;
      const ids = await sqlTransaction(writer, async (tx) => {
        const [first] = await tx.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM t`;
        const second = tx.$queryRaw<{ id: number }[]>`INSERT INTO t VALUES (40) RETURNING id`;
        const third = tx.$queryRawThenCommit!<{ id: number }[]>(Prisma.sql`INSERT INTO t VALUES (41) RETURNING id`);
        return [first!.n, ...(await second), ...(await third)];
      });
      expect(ids).toEqual([7, { id: 40 }, { id: 41 }]);
      expect(writes).toHaveLength(2); // not five: BEGIN, three statements, COMMIT
      expect(await count()).toBe(9);
    } finally {
      await writer.end();
    }
  });
});
