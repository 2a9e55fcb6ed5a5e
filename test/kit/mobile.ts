import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { graphql } from '../generated/index.ts';
import { startApnsServer, type TestApns } from './apns-server.ts';
import { dataOf, type httpClient } from './client.ts';
import { startFcmServer, type TestFcm } from './fcm-server.ts';
import { kitCertificate, type KitCertificate } from './http2-kit.ts';

type Client = ReturnType<typeof httpClient> & { identityTokenFor?: (externalId: string) => string };

/**
 * A local APNs and FCM for the calling scope, sharing one certificate. Call it before useHerald
 * and pass `env` on: `const m = useMobilePush(); const h = useHerald(m.env, { push: false });`
 * (env's CA is read when Herald starts, after these servers have).
 */
export function useMobilePush(options: { apns?: Parameters<typeof startApnsServer>[1]; fcm?: Parameters<typeof startFcmServer>[1] } = {}) {
  let certificate: KitCertificate | undefined;
  let apns: TestApns | undefined;
  let fcm: TestFcm | undefined;
  beforeAll(async () => {
    certificate = await kitCertificate();
    [apns, fcm] = await Promise.all([startApnsServer(certificate, options.apns), startFcmServer(certificate, options.fcm)]);
  });
  afterAll(async () => {
    await Promise.all([apns?.close(), fcm?.close()]);
    await certificate?.remove();
  });
  const filled = <T>(value: T | undefined, what: string) => {
    if (!value) throw new Error(`${what} is not started yet`);
    return value;
  };
  return {
    get apns() {
      return filled(apns, 'the APNs kit');
    },
    get fcm() {
      return filled(fcm, 'the FCM kit');
    },
    env: {
      get HERALD_PUSH_CA() {
        return filled(certificate, 'the kit certificate').caFile;
      },
      HERALD_MOBILE_PUSH_ALLOWED_HOSTS: '127.0.0.1',
      HERALD_PUSH_RETRY_BASE_MS: '50',
    } as Record<string, string>,
  };
}

const Settings = graphql(`
  mutation KitMobileSettings($input: MutationUpdateWorkspaceSettingsInput!) {
    updateWorkspaceSettings(input: $input) {
      __typename
      ... on ValidationError { fieldErrors { path message } }
      ... on Error { code message }
    }
  }
`);

const RegisterDevice = graphql(`
  mutation KitRegisterDevice($input: MutationRegisterDeviceInput!) {
    registerDevice(input: $input) {
      __typename
      ... on MutationRegisterDeviceSuccess { data { id platform token status appId } }
      ... on ValidationError { fieldErrors { path message } }
      ... on Error { code message }
    }
  }
`);

/** Points a workspace at the kit's APNs and FCM. */
export async function configureMobilePush(secret: Client, kits: { apns: TestApns; fcm: TestFcm }) {
  const result = dataOf(await secret(Settings, { input: { apns: kits.apns.settings(), fcm: kits.fcm.settings() } })).updateWorkspaceSettings;
  if (result.__typename !== 'MutationUpdateWorkspaceSettingsSuccess') throw new Error(`settings refused: ${JSON.stringify(result)}`);
}

/** A random token of the platform's shape: 64 hex digits (APNs) or ~150 URL-safe characters (FCM). */
export function deviceToken(platform: 'IOS' | 'ANDROID'): string {
  return platform === 'IOS' ? randomBytes(32).toString('hex') : `${randomBytes(11).toString('base64url')}:APA91b${randomBytes(100).toString('base64url')}`;
}

/** Registers a phone for a contact, as the app would (with the identity token when it names a customer). */
export async function registerDevice(
  client: Client,
  device: { platform: 'IOS' | 'ANDROID'; token?: string; externalId?: string; anonymousId?: string; appId?: string; timezone?: string },
) {
  const token = device.token ?? deviceToken(device.platform);
  const identityToken = device.externalId ? client.identityTokenFor?.(device.externalId) : undefined;
  const { platform, externalId, anonymousId, timezone } = device;
  const result = dataOf(
    await client(RegisterDevice, { input: { platform, token, appId: device.appId ?? 'com.shop.app', externalId, anonymousId, identityToken, timezone } }),
  ).registerDevice;
  if (result.__typename !== 'MutationRegisterDeviceSuccess') throw new Error(`registerDevice failed: ${JSON.stringify(result)}`);
  return result.data;
}

export interface SeededDevice {
  deviceId: string;
  platform: 'IOS' | 'ANDROID';
  token: string;
}

/** `count` contacts with one phone each, half iPhones and half Android phones, written straight into the database in one statement. */
export async function seedDevices(databaseUrl: string, workspaceGlobalId: string, count: number): Promise<SeededDevice[]> {
  const workspaceId = Buffer.from(workspaceGlobalId, 'base64').toString().split(':')[1]!;
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const { rows } = await db.query<SeededDevice>(
      `WITH n AS (SELECT i, gen_random_uuid() AS contact FROM generate_series(1, $2::int) AS i),
       contacts AS (INSERT INTO "Contact" (id, "workspaceId", "anonymousId", "firstName", "updatedAt") SELECT contact, $1::uuid, 'phone-' || i, 'Ada', now() FROM n)
       INSERT INTO "Device" (id, "workspaceId", "contactId", platform, token, "appId", "updatedAt")
       SELECT gen_random_uuid(), $1::uuid, contact, CASE WHEN i % 2 = 0 THEN 'IOS' ELSE 'ANDROID' END::"DevicePlatform",
         CASE WHEN i % 2 = 0 THEN md5(i::text) || md5('ios' || i) ELSE 'seed:APA91b' || md5(i::text) || md5('android' || i) END, 'com.shop.app', now()
       FROM n
       RETURNING id::text AS "deviceId", platform::text, token`,
      [workspaceId, count],
    );
    return rows;
  } finally {
    await db.end();
  }
}
