import { createPrivateKey } from 'node:crypto';
import { z } from 'zod';
import { ValidationError } from '../errors.ts';
import type { Workspace } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';
import { mobilePushPolicy } from '../net/allowed-hosts.ts';
import { credentialFromRow } from './secrets.ts';

/**
 * A workspace's mobile push settings: APNs token authentication (team, key id, bundle id and the
 * .p8 key) and an FCM service account. The plain parts live in `Workspace.mobilePushSettings`; the
 * .p8 key and the service account's JSON (it holds a private key) live sealed in their own columns
 * and are never shown again once written.
 */
export interface ApnsSettings {
  teamId: string;
  keyId: string;
  bundleId: string;
  /** APNs' production host; false: the sandbox (development builds). */
  production: boolean;
  /** Replaces https://api.push.apple.com (or the sandbox): a gateway or a test's APNs. */
  baseUrl?: string;
}

export interface FcmSettings {
  projectId: string;
  clientEmail: string;
  /** Where access tokens are minted (the service account's token_uri). */
  tokenUri: string;
  /** Replaces https://fcm.googleapis.com. */
  baseUrl?: string;
}

export interface MobilePushSettings {
  apns?: ApnsSettings;
  fcm?: FcmSettings;
}

const APPLE_ID = /^[A-Z0-9]{10}$/;
const GOOGLE_TOKEN_URI = 'https://oauth2.googleapis.com/token';

const baseUrl = z
  .url({ protocol: /^https$/, message: 'must be an https:// URL' })
  .max(2048)
  .transform((url) => url.replace(/\/+$/, ''));

/** The .p8 key Apple gives for token authentication: a P-256 private key, stored as PKCS#8 PEM. */
const p8Key = z
  .string()
  .max(16_384, 'must be at most 16384 characters')
  .transform((pem, context) => {
    try {
      const key = createPrivateKey({ key: pem, format: 'pem' });
      if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return key.export({ type: 'pkcs8', format: 'pem' }) as string;
    } catch {
      // Reported below.
    }
    context.addIssue({ code: 'custom', message: 'must be the .p8 key Apple issued (a P-256 private key in PEM)' });
    return z.NEVER;
  });

/** The JSON key file of a Google service account allowed to send through FCM. */
const serviceAccount = z
  .string()
  .max(16_384, 'must be at most 16384 characters')
  .transform((text, context) => {
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      context.addIssue({ code: 'custom', message: 'must be the service account’s JSON key file' });
      return z.NEVER;
    }
    const { project_id: projectId, client_email: clientEmail, private_key: privateKey, token_uri: tokenUri = GOOGLE_TOKEN_URI } = json ?? {};
    const strings = [projectId, clientEmail, privateKey, tokenUri].every((value) => typeof value === 'string' && value.length > 0 && value.length < 8192);
    if (!strings || json.type !== 'service_account') {
      context.addIssue({ code: 'custom', message: 'must be a service account key: type "service_account" with project_id, client_email and private_key' });
      return z.NEVER;
    }
    let pem: string;
    try {
      const key = createPrivateKey({ key: privateKey as string, format: 'pem' });
      if (key.asymmetricKeyType !== 'rsa') throw new Error('not RSA');
      pem = key.export({ type: 'pkcs8', format: 'pem' }) as string;
    } catch {
      context.addIssue({ code: 'custom', message: 'its private_key must be the RSA key Google issued (PEM)' });
      return z.NEVER;
    }
    if (!/^[a-z][a-z0-9-]{4,61}[a-z0-9]$/.test(projectId as string)) context.addIssue({ code: 'custom', message: 'its project_id is not a Google Cloud project id' });
    return { projectId: projectId as string, clientEmail: clientEmail as string, privateKey: pem, tokenUri: tokenUri as string };
  });

/** `updateWorkspaceSettings(input: { apns })`: the whole setting; a missing privateKey keeps the stored key. null clears it. */
export const apnsSettingsInput = z.object({
  teamId: z.string().trim().regex(APPLE_ID, 'must be your 10-character Apple team id'),
  keyId: z.string().trim().regex(APPLE_ID, 'must be the 10-character id of the .p8 key'),
  privateKey: p8Key.nullish(),
  bundleId: z.string().trim().regex(/^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/, 'must be the app’s bundle id, e.g. com.shop.app'),
  production: z.boolean().nullish(),
  baseUrl: baseUrl.nullish(),
});

/** `updateWorkspaceSettings(input: { fcm })`: a missing serviceAccount keeps the stored one. null clears it. */
export const fcmSettingsInput = z.object({
  serviceAccount: serviceAccount.nullish(),
  baseUrl: baseUrl.nullish(),
});

type ValidApns = z.output<typeof apnsSettingsInput>;
type ValidFcm = z.output<typeof fcmSettingsInput>;
type Stored = Pick<Workspace, 'mobilePushSettings' | 'apnsPrivateKey' | 'fcmServiceAccount'>;

export function mobilePushSettingsOf(workspace: Pick<Workspace, 'mobilePushSettings'>): MobilePushSettings {
  return (workspace.mobilePushSettings ?? {}) as MobilePushSettings;
}

/**
 * Checks what the input's shape cannot: every URL Herald would connect to (base URLs, the
 * service account's token_uri) is APNs, FCM or Google's, or listed in HERALD_MOBILE_PUSH_ALLOWED_HOSTS.
 * Connections check it again.
 */
export function checkMobilePushHosts(herald: Herald, input: { apns?: ValidApns | null; fcm?: ValidFcm | null }): void {
  const policy = mobilePushPolicy(herald.config);
  const urls: [string[], string | null | undefined][] = [
    [['apns', 'baseUrl'], input.apns?.baseUrl],
    [['fcm', 'baseUrl'], input.fcm?.baseUrl],
    [['fcm', 'serviceAccount'], input.fcm?.serviceAccount?.tokenUri],
  ];
  for (const [path, url] of urls) {
    const refusal = url ? policy.endpointRefusal(url) : null;
    if (refusal) throw ValidationError.field(['input', ...path], `${refusal}: Herald connects only to APNs, FCM and the hosts in HERALD_MOBILE_PUSH_ALLOWED_HOSTS`);
  }
}

/** The columns that make a workspace's mobile push settings what the input says, given what is stored now. */
export function mobilePushSettingsData(herald: Herald, current: Stored, input: { apns?: ValidApns | null; fcm?: ValidFcm | null }) {
  const settings = { ...mobilePushSettingsOf(current) };
  const sealed: { apnsPrivateKey?: string | null; fcmServiceAccount?: string | null } = {};
  if (input.apns === null) {
    delete settings.apns;
    sealed.apnsPrivateKey = null;
  } else if (input.apns) {
    const { teamId, keyId, privateKey, bundleId, production, baseUrl: url } = input.apns;
    if (privateKey) sealed.apnsPrivateKey = herald.secrets.seal(privateKey);
    else if (!current.apnsPrivateKey) throw ValidationError.field(['input', 'apns', 'privateKey'], 'is required: no APNs key is stored yet');
    settings.apns = { teamId, keyId, bundleId, production: production ?? true, ...(url ? { baseUrl: url } : {}) };
  }
  if (input.fcm === null) {
    delete settings.fcm;
    sealed.fcmServiceAccount = null;
  } else if (input.fcm) {
    const { serviceAccount: account, baseUrl: url } = input.fcm;
    if (!account && !settings.fcm) throw ValidationError.field(['input', 'fcm', 'serviceAccount'], 'is required: no service account is stored yet');
    const known = account ? { projectId: account.projectId, clientEmail: account.clientEmail, tokenUri: account.tokenUri } : settings.fcm!;
    if (account) sealed.fcmServiceAccount = herald.secrets.seal(account.privateKey);
    settings.fcm = { projectId: known.projectId, clientEmail: known.clientEmail, tokenUri: known.tokenUri, ...(url ? { baseUrl: url } : {}) };
  }
  return { mobilePushSettings: settings as Record<string, never>, ...sealed };
}

/** APNs settings with the .p8 key opened: for the mobile push channel's sender. */
export type ApnsCredentials = ApnsSettings & { privateKey: string };
/** FCM settings with the service account's private key opened. */
export type FcmCredentials = FcmSettings & { privateKey: string };

export async function mobilePushCredentialsOf(
  herald: Herald,
  workspace: Pick<Workspace, 'id' | 'mobilePushSettings' | 'apnsPrivateKey' | 'fcmServiceAccount'>,
): Promise<{ apns: ApnsCredentials | null; fcm: FcmCredentials | null }> {
  const settings = mobilePushSettingsOf(workspace);
  const apnsKey = await credentialFromRow(herald, workspace, 'apnsPrivateKey');
  const fcmKey = await credentialFromRow(herald, workspace, 'fcmServiceAccount');
  return {
    apns: settings.apns && apnsKey ? { ...settings.apns, privateKey: apnsKey } : null,
    fcm: settings.fcm && fcmKey ? { ...settings.fcm, privateKey: fcmKey } : null,
  };
}

/** What stops a workspace from sending mobile pushes, in the user's words, or null. */
export function mobilePushSendingProblem(workspace: Pick<Workspace, 'mobilePushSettings' | 'apnsPrivateKey' | 'fcmServiceAccount'>): string | null {
  const settings = mobilePushSettingsOf(workspace);
  const apns = settings.apns && workspace.apnsPrivateKey;
  const fcm = settings.fcm && workspace.fcmServiceAccount;
  return apns || fcm ? null : "set up APNs or FCM in the workspace's settings (apns, fcm) first";
}
