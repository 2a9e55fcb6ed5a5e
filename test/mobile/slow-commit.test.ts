/**
 * A claim whose COMMIT is slow (a loaded disk's fsync) while the provider answers at once: the
 * answer must still be written. Found by bench/send-mobile.ts on the loaded machine: a flush of
 * answers (UPDATE … WHERE status = 'SENDING') that began before the claim was visible skipped the
 * rows (its snapshot said QUEUED), they stayed SENDING, and the lease sent pushes the providers had
 * accepted again. Here every claim spends 0.5 s in its COMMIT (a deferred trigger) and the
 * providers answer within 0-1.5 s, so lanes whose rows are all claimed keep flushing answers
 * while another lane commits; every device must get its push once.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createCampaign, SendNow, waitForStatus } from '../kit/campaigns.ts';
import { dataOf } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';
import { configureMobilePush, seedDevices, useMobilePush } from '../kit/mobile.ts';

const DEVICES = 300;

describe('a claim whose COMMIT is slow', () => {
  const m = useMobilePush();
  // The lease after which an unanswered claim goes again is this plus 5 s (env's CA is read when Herald starts).
  m.env.HERALD_PUSH_TIMEOUT_MS = '3000';
  const h = useHerald(m.env, { push: false });
  const shop = h.useWorkspace();

  it('has its answers written once it commits: nothing the providers accepted goes again', async () => {
    await configureMobilePush(shop.secret, m);
    const devices = await seedDevices(h.kit.databaseUrl, shop.workspace.id, DEVICES);
    const db = new pg.Client({ connectionString: h.kit.databaseUrl });
    await db.connect();
    try {
      await db.query(`
        CREATE TABLE slow_commits (at timestamptz NOT NULL DEFAULT clock_timestamp());
        CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF current_setting('herald_test.slept', true) IS DISTINCT FROM 'yes' THEN
            PERFORM set_config('herald_test.slept', 'yes', true);
            INSERT INTO slow_commits DEFAULT VALUES;
            PERFORM pg_sleep(0.5);
          END IF;
          RETURN NULL;
        END $$;
        CREATE CONSTRAINT TRIGGER slow_commit AFTER UPDATE ON "Message" DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
          WHEN (NEW.status = 'SENDING') EXECUTE FUNCTION slow_commit();`);
      m.apns.slow(1500, { jitter: true });
      m.fcm.slow(1500, { jitter: true });

      const id = await createCampaign(shop.secret, { name: 'Slow commit', kind: 'BROADCAST', channel: 'MOBILE_PUSH', mobilePush: { title: 'Hi {{ contact.firstName }}' } });
      expect(dataOf(await shop.secret(SendNow, { id })).sendCampaignNow.__typename).toBe('MutationSendCampaignNowSuccess');
      const campaign = await waitForStatus(shop.secret, id, 'SENT', 90_000);
      expect(campaign.stats).toMatchObject({ targeted: DEVICES, sent: DEVICES, failed: 0 });

      const { rows: slept } = await db.query<{ count: number }>('SELECT count(*)::int AS count FROM slow_commits');
      expect(slept[0]!.count).toBeGreaterThanOrEqual(2);
      const twice = devices.filter((device) => (device.platform === 'IOS' ? m.apns.received(device.token) : m.fcm.received(device.token)).length !== 1);
      const { rows: ledger } = await db.query<{ status: string; reason: string; attempts: number; rows: number }>(
        `SELECT status, reason, attempts, count(*)::int AS rows FROM "Message" WHERE "campaignId" = $1::uuid GROUP BY 1, 2, 3`,
        [Buffer.from(id, 'base64').toString().split(':')[1]],
      );
      expect({ twice: twice.length, ledger }).toEqual({ twice: 0, ledger: [{ status: 'SENT', reason: 'ACCEPTED', attempts: 1, rows: DEVICES }] });
    } finally {
      m.apns.slow(0);
      m.fcm.slow(0);
      await db.query('DROP TRIGGER IF EXISTS slow_commit ON "Message"; DROP FUNCTION IF EXISTS slow_commit(); DROP TABLE IF EXISTS slow_commits');
      await db.end();
    }
  }, 120_000);
});
