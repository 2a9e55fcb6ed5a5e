import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { createPool, Prisma } from '../../src/db/prisma.ts';
import { uuidv7 } from '../../src/db/ids.ts';
import { laneSql, lanesOf } from '../../src/delivery/deliver.ts';
import { localId } from '../../src/graphql/ids.ts';
import { activateCampaign, createCampaign, subscribeBrowser } from '../kit/campaigns.ts';
import { useHerald } from '../kit/fixture.ts';
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

describe('delivery:due from a release before lanes', () => {
  const h = useHerald();

  it('names the campaign alone, and still starts a pass over every lane', async () => {
    const { secret, publishable } = await h.workspace();
    const { browser, subscriptionId } = await subscribeBrowser(publishable, h.push, { anonymousId: 'visitor-old-signal' });
    const id = await createCampaign(secret, { name: 'Upgrade', kind: 'TRIGGERED', content: { title: 'Hi', body: 'there', url: 'https://shop.example/' }, trigger: { event: 'signup' } });
    await activateCampaign(secret, id);
    const campaignId = localId(id, 'Campaign')!;
    const subscription = await h.kit.herald.prisma.pushSubscription.findUniqueOrThrow({ where: { id: localId(subscriptionId, 'PushSubscription')! } });
    // A row due now that nothing signalled yet (the sweep would find it within a minute).
    await h.kit.herald.prisma.$executeRaw`
      INSERT INTO "Message" (id, "workspaceId", "campaignId", "contactId", "subscriptionId", occurrence, "scheduledFor", "dueAt", "updatedAt")
      VALUES (${uuidv7()}::uuid, ${subscription.workspaceId}::uuid, ${campaignId}::uuid, ${subscription.contactId}::uuid, ${subscription.id}::uuid, 'event:old-signal', now(), now(), now())`;
    h.kit.herald.events.publish('delivery:due', campaignId as never);
    await h.push.waitFor(() => h.push.received(browser.id).length === 1, 5_000);
  });
});
