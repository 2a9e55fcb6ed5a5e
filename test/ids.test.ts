import { describe, expect, it } from 'vitest';
import { validate, version } from 'uuid';
import { uuidv7 } from '../src/db/ids.ts';

describe('uuidv7 (pooled random bytes)', () => {
  it('makes valid, distinct version-7 ids that sort in the order they were made, across pool refills', () => {
    const ids = Array.from({ length: 5_000 }, () => uuidv7());
    expect(ids.every((id) => validate(id) && version(id) === 7)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    const at = Date.now();
    const stamp = parseInt(uuidv7().replaceAll('-', '').slice(0, 12), 16);
    expect(Math.abs(stamp - at)).toBeLessThan(1_000);
  });
});
