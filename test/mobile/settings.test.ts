import { generateKeyPairSync } from 'node:crypto';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { isSealed } from '../../src/secrets.ts';
import { graphql } from '../generated/index.ts';
import { createCampaign, SendNow } from '../kit/campaigns.ts';
import { dataOf } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';
import { useMobilePush } from '../kit/mobile.ts';

const Update = graphql(`
  mutation MobileSettingsUpdate($input: MutationUpdateWorkspaceSettingsInput!) {
    updateWorkspaceSettings(input: $input) {
      __typename
      ... on MutationUpdateWorkspaceSettingsSuccess {
        data { settings { apns { teamId keyId bundleId production baseUrl } fcm { projectId clientEmail baseUrl } } }
      }
      ... on ValidationError { fieldErrors { path message } }
    }
  }
`);

const Read = graphql(`
  query MobileSettingsRead { viewer { settings { apns { teamId keyId bundleId production baseUrl } fcm { projectId clientEmail baseUrl } } } }
`);

describe('apns and fcm workspace settings', () => {
  const m = useMobilePush();
  const h = useHerald(m.env, { push: false });
  const shop = h.useWorkspace();

  async function stored() {
    const client = new pg.Client({ connectionString: h.kit.databaseUrl });
    await client.connect();
    const { rows } = await client.query(`SELECT "apnsPrivateKey", "fcmServiceAccount", "mobilePushSettings"::text AS plain FROM "Workspace"`);
    await client.end();
    return rows as { apnsPrivateKey: string | null; fcmServiceAccount: string | null; plain: string }[];
  }

  it('stores the .p8 key and the service account sealed, and never shows them again', async () => {
    const result = await shop.secret(Update, { input: { apns: m.apns.settings(), fcm: m.fcm.settings() } });
    const text = JSON.stringify(result);
    expect(dataOf(result).updateWorkspaceSettings).toMatchObject({
      data: {
        settings: {
          apns: { teamId: 'TEAM123456', keyId: 'KEY1234567', bundleId: 'com.shop.app', production: true, baseUrl: m.apns.origin },
          fcm: { projectId: 'herald-shop-test', clientEmail: m.fcm.clientEmail, baseUrl: m.fcm.origin },
        },
      },
    });
    expect(text).not.toContain('PRIVATE KEY');
    const rows = await stored();
    const row = rows.find((entry) => entry.apnsPrivateKey)!;
    expect(isSealed(row.apnsPrivateKey!)).toBe(true);
    expect(isSealed(row.fcmServiceAccount!)).toBe(true);
    for (const value of [row.apnsPrivateKey, row.fcmServiceAccount, row.plain]) expect(value).not.toContain('PRIVATE KEY');
    expect(JSON.stringify(await shop.secret(Read))).not.toContain('PRIVATE KEY');

    // Changing the plain parts keeps the stored key; null forgets everything.
    const { privateKey: _kept, ...apns } = m.apns.settings();
    expect(dataOf(await shop.secret(Update, { input: { apns: { ...apns, production: false } } })).updateWorkspaceSettings).toMatchObject({
      data: { settings: { apns: { production: false } } },
    });
    expect((await stored()).find((entry) => entry.apnsPrivateKey)?.apnsPrivateKey).toBe(row.apnsPrivateKey);
    expect(dataOf(await shop.secret(Update, { input: { apns: null, fcm: null } })).updateWorkspaceSettings).toMatchObject({ data: { settings: { apns: null, fcm: null } } });
    expect((await stored()).every((entry) => entry.apnsPrivateKey === null && entry.fcmServiceAccount === null)).toBe(true);
  });

  it('refuses bad keys and hosts it may not connect to, with paths, changing nothing', async () => {
    const other = await h.workspace('Strict shop');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const good = m.apns.settings();
    const cases: [Record<string, unknown>, string[]][] = [
      [{ apns: { ...good, privateKey: undefined } }, ['input', 'apns', 'privateKey']],
      [{ apns: { ...good, privateKey: rsa } }, ['input', 'apns', 'privateKey']],
      [{ apns: { ...good, teamId: 'short' } }, ['input', 'apns', 'teamId']],
      [{ apns: { ...good, baseUrl: 'https://apns.evil.example' } }, ['input', 'apns', 'baseUrl']],
      [{ apns: { ...good, baseUrl: 'http://127.0.0.1:1' } }, ['input', 'apns', 'baseUrl']],
      [{ fcm: { serviceAccount: '{"type":"service_account"}' } }, ['input', 'fcm', 'serviceAccount']],
      [{ fcm: { serviceAccount: 'not json' } }, ['input', 'fcm', 'serviceAccount']],
      [{ fcm: { serviceAccount: m.fcm.serviceAccount.replace(m.fcm.origin, 'https://tokens.evil.example') } }, ['input', 'fcm', 'serviceAccount']],
      [{ fcm: { baseUrl: 'https://fcm.evil.example' } }, ['input', 'fcm', 'baseUrl']],
      [{ fcm: { baseUrl: m.fcm.origin } }, ['input', 'fcm', 'serviceAccount']],
    ];
    for (const [input, path] of cases) {
      const result = dataOf(await other.secret(Update, { input } as never)).updateWorkspaceSettings;
      expect(result.__typename).toBe('ValidationError');
      if (result.__typename === 'ValidationError') expect(result.fieldErrors.map((error) => error.path)).toContainEqual(path);
    }
    expect(dataOf(await other.secret(Read)).viewer.settings).toEqual({ apns: null, fcm: null });
  });

  it('a MOBILE_PUSH campaign cannot start in a workspace without APNs or FCM', async () => {
    const bare = await h.workspace('No keys');
    const id = await createCampaign(bare.secret, { name: 'No keys', kind: 'BROADCAST', channel: 'MOBILE_PUSH', mobilePush: { title: 'Hi' } });
    const result = dataOf(await bare.secret(SendNow, { id })).sendCampaignNow;
    expect(result).toMatchObject({ __typename: 'ValidationError', message: expect.stringContaining('APNs or FCM') });
  });
});
