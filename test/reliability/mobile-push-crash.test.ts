/**
 * A MOBILE_PUSH broadcast killed with SIGKILL mid-send (issue 25), with the harness of
 * crashes.test.ts (test/kit/chaos.ts): Herald runs as `npm start` runs it, the kit's APNs and FCM
 * (in this process) record every push, Herald is killed at random moments and started again.
 * The channel's guarantee (afterCrash: 'resend'): at least once. Counted at the kits: no device is
 * lost, and a device that got the push more than once got the SAME notification again — the same
 * apns-id and apns-collapse-id (iOS), the same notification tag (Android) and the same
 * `herald.messageId` (both), all the ledger id — so the repeat replaces the first on the phone;
 * only a claim a kill cut is sent again, and the ledger says so. Counters equal the ledger.
 * CI scale by default; larger: CHAOS_RECIPIENTS=20000 CHAOS_KILLS=5.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApnsServer, type TestApns } from '../kit/apns-server.ts';
import { createCampaign, SendNow, waitForStatus } from '../kit/campaigns.ts';
import { countersAndLedger, killWhileArriving } from '../kit/chaos.ts';
import { httpClient } from '../kit/client.ts';
import { startFcmServer, type TestFcm } from '../kit/fcm-server.ts';
import { createWorkspace } from '../kit/flow.ts';
import { dropDatabase, freshDatabase } from '../kit/herald.ts';
import { type KitCertificate, kitCertificate } from '../kit/http2-kit.ts';
import { configureMobilePush, type SeededDevice, seedDevices } from '../kit/mobile.ts';
import { type HeraldProcess, spawnHerald } from '../kit/process.ts';
import { tally } from '../kit/tally.ts';

const DEVICES = Number(process.env.CHAOS_RECIPIENTS ?? 2_000);
const KILLS = Number(process.env.CHAOS_KILLS ?? 2);

let certificate: KitCertificate;
let apns: TestApns;
let fcm: TestFcm;
let databaseUrl: string;
let dataDir: string;
let herald: HeraldProcess | undefined;

beforeAll(async () => {
  certificate = await kitCertificate();
  [apns, fcm] = await Promise.all([startApnsServer(certificate), startFcmServer(certificate)]);
  databaseUrl = await freshDatabase();
  dataDir = await mkdtemp(path.join(tmpdir(), 'herald-mobile-crash-'));
});
afterAll(async () => {
  await herald?.stop('SIGKILL');
  await Promise.all([apns?.close(), fcm?.close()]);
  await certificate?.remove();
  if (databaseUrl) await dropDatabase(databaseUrl);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const start = () =>
  spawnHerald({
    DATABASE_URL: databaseUrl,
    HERALD_DATA_DIR: dataDir,
    HERALD_PUSH_CA: certificate.caFile,
    HERALD_MOBILE_PUSH_ALLOWED_HOSTS: '127.0.0.1',
    HERALD_PUSH_CONCURRENCY: '16',
    HERALD_PUSH_TIMEOUT_MS: '1000', // the lease after which a dead sender's claims go again is this plus 5 s
    LOG_LEVEL: 'warn',
  });

/** What one device received, each push reduced to the identities that make a repeat replace the first. */
function receivedBy(device: SeededDevice): { messageId: string; replaces: string[] }[] {
  if (device.platform === 'IOS') {
    return apns.received(device.token).map((push) => ({ messageId: push.payload.herald!.messageId, replaces: [push.headers.id ?? '', push.headers.collapseId ?? ''] }));
  }
  return fcm.received(device.token).map((push) => ({
    messageId: (JSON.parse(push.message.data!.herald!) as { messageId: string }).messageId,
    replaces: [String(push.message.android?.notification?.tag ?? '')],
  }));
}

describe(`a mobile push broadcast killed ${KILLS} times`, () => {
  it('reaches every device at least once, and a repeat is the same notification (same collapse id, tag and message id), recorded as resent', async () => {
    herald = await start();
    const { secretKey, workspace } = await createWorkspace(herald, 'Mobile crash');
    const secret = () => httpClient(herald!.graphqlUrl, secretKey);
    await configureMobilePush(secret(), { apns, fcm });
    const devices = await seedDevices(databaseUrl, workspace.id, DEVICES);
    // Providers that answer after 20 ms keep the send going a while, with answers pending at each kill.
    apns.slow(20);
    fcm.slow(20);

    const id = await createCampaign(secret(), { name: 'Crash sale', kind: 'BROADCAST', channel: 'MOBILE_PUSH', mobilePush: { title: 'Sale, {{ contact.firstName }}', body: 'Starts now' } });
    expect((await secret()(SendNow, { id })).data?.sendCampaignNow.__typename).toBe('MutationSendCampaignNowSuccess');
    const kills = await killWhileArriving({
      kills: KILLS,
      expected: DEVICES,
      arrived: () => apns.accepted() + fcm.accepted(),
      kill: async () => void (await herald!.stop('SIGKILL')),
      restart: async () => void (herald = await start()),
    });
    expect(kills.length).toBeGreaterThan(0);
    const campaign = await waitForStatus(secret(), id, 'SENT', 180_000);
    expect(campaign.stats).toMatchObject({ targeted: DEVICES, sent: DEVICES, failed: 0, queued: 0 });

    const campaignId = Buffer.from(id, 'base64').toString().split(':')[1]!;
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    const { rows: ledger } = await db
      .query<{ id: string; deviceId: string; status: string; reason: string; attempts: number; deviceStatus: string }>(
        `SELECT m.id::text, m."deviceId"::text, m.status, m.reason, m.attempts, d.status AS "deviceStatus" FROM "Message" m JOIN "Device" d ON d.id = m."deviceId" WHERE m."campaignId" = $1::uuid`,
        [campaignId],
      )
      .finally(() => db.end());
    expect(ledger).toHaveLength(DEVICES);
    const rowOf = new Map(ledger.map((row) => [row.deviceId, row]));

    const pushes = devices.map((device) => ({ device, got: receivedBy(device), row: rowOf.get(device.deviceId)! }));
    // No device lost, and none was given up: every row SENT, every device still ACTIVE.
    const lost = pushes.filter(({ got }) => got.length === 0);
    expect(lost.map(({ device, row }) => ({ ...device, row }))).toEqual([]);
    for (const { row } of pushes) expect(row).toMatchObject({ status: 'SENT', deviceStatus: 'ACTIVE' });
    for (const row of ledger) expect(['ACCEPTED', 'RESENT_AFTER_CRASH']).toContain(row.reason);
    // Every push carries its ledger row's identity: the first and any repeat are the same notification.
    const unexplained = pushes.filter(({ got, row }) => got.some((push) => push.messageId !== row.id || push.replaces.some((identity) => identity !== row.id)));
    expect(unexplained.map(({ device, got, row }) => ({ device, got, row }))).toEqual([]);
    // A repeat is a claim a kill cut, sent again: never more pushes than the row's recorded attempts.
    const repeated = pushes.filter(({ got }) => got.length > 1);
    for (const { device, got, row } of repeated) {
      expect(row.attempts, device.token).toBeGreaterThanOrEqual(got.length);
    }
    const resent = ledger.filter((row) => row.reason === 'RESENT_AFTER_CRASH');
    expect(resent.length, 'the kills cut no claim').toBeGreaterThan(0);
    const { counters, ledger: byStatus } = await countersAndLedger(databaseUrl, campaignId);
    expect(counters).toEqual(byStatus);

    tally({ check: 'mobile push send killed with SIGKILL', trials: 1, faults: kills.length, inputs: DEVICES, duplicates: unexplained.length, losses: lost.length });
    const platforms = (platform: string) => repeated.filter(({ device }) => device.platform === platform).length;
    console.log(
      `mobile push crash test: ${kills.length} kills (after ${kills.join(', ')} arrived); all ${DEVICES} devices reached, ${resent.length} claims cut by a kill sent again, ` +
        `${repeated.length} devices got a repeat (${platforms('IOS')} iOS, ${platforms('ANDROID')} Android), each the same notification (same collapse id / tag / message id), 0 lost, counters = ledger`,
    );
  }, 300_000);
});
