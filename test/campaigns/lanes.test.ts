import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { createPool, Prisma } from '../../src/db/prisma.ts';
import { uuidv7 } from '../../src/db/ids.ts';
import { laneSql, lanesOf } from '../../src/delivery/deliver.ts';
import { dropDatabase, freshDatabase } from '../kit/herald.ts';

/** The lane a trigger's `delivery:due` names is the lane whose claims read the row. */
describe('sending lanes', () => {
  let url: string;
  let pool: pg.Pool;

  beforeAll(async () => {
    url = await freshDatabase();
    pool = createPool(url, { max: 1 });
  });
  afterAll(async () => {
    await pool.end();
    await dropDatabase(url);
  });

  it('are read from an id the same in JavaScript as in SQL, for broadcast ids and trigger entry ids alike', async () => {
    // Trigger entry's ids: md5 of (campaign, event, address) as a uuid; a broadcast's: UUIDv7.
    const md5Id = (n: number) => createHash('md5').update(`campaign/event:${n}/subscription`).digest('hex').replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-');
    const ids = [...Array.from({ length: 1_000 }, () => uuidv7()), ...Array.from({ length: 1_000 }, (_, n) => md5Id(n))];
    const query = Prisma.sql`SELECT id::text, ${laneSql(Prisma.sql`id`)} AS lane FROM unnest(${ids}::uuid[]) id`;
    const { rows } = await pool.query<{ id: string; lane: number }>(query.text, query.values);
    expect(rows).toHaveLength(ids.length);
    expect(rows.filter(({ id, lane }) => lanesOf([id]) !== 1 << lane)).toEqual([]);
    // Every lane gets rows, and a mask names each lane its ids fall in.
    expect(new Set(rows.map((row) => row.lane))).toEqual(new Set([0, 1, 2, 3]));
    expect(lanesOf(rows.filter((row) => row.lane === 1 || row.lane === 3).map((row) => row.id))).toBe(0b1010);
  });
});
