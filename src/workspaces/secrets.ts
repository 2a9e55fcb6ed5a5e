import { randomBytes } from 'node:crypto';
import { ErrorCode, NotFoundError } from '../errors.ts';
import type { Workspace } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';
import { isSealed, SecretKeyError } from '../secrets.ts';

/**
 * The workspace columns stored sealed (see src/secrets.ts): Herald's own keys, always present, and
 * a workspace's channel credentials (its SMTP URL, which carries a password, its DKIM key, its APNs
 * key and FCM service account, its SMS auth token),
 * NULL until a user sets them.
 */
const OWN = ['vapidPrivateKey', 'trackingSecret', 'identitySecret', 'webhookSigningSecret'] as const;
// webhookSigningSecretPrevious: NULL unless a rotation's grace period keeps the old secret signing.
const CREDENTIALS = ['smtpUrl', 'dkimPrivateKey', 'webhookSigningSecretPrevious', 'apnsPrivateKey', 'fcmServiceAccount', 'smsAuthToken'] as const;
const SEALED = [...OWN, ...CREDENTIALS] as const;
type OwnColumn = (typeof OWN)[number];
export type CredentialColumn = (typeof CREDENTIALS)[number];
type SealedColumn = (typeof SEALED)[number];
type SealedRow = { id: string } & Record<SealedColumn, string | null>;
const SEALED_SELECT = {
  id: true,
  vapidPrivateKey: true,
  trackingSecret: true,
  identitySecret: true,
  smtpUrl: true,
  dkimPrivateKey: true,
  webhookSigningSecret: true,
  webhookSigningSecretPrevious: true,
  apnsPrivateKey: true,
  fcmServiceAccount: true,
  smsAuthToken: true,
} as const;

/** The random key that MACs a workspace's tracking tokens; never shown to anyone. */
export function newTrackingSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** The key a site's backend HMACs a contact's externalId (or email) with; the whole string is the key. */
export function newIdentitySecret(): string {
  return `hid_${randomBytes(32).toString('base64url')}`;
}

/** A Standard Webhooks signing secret: `whsec_` and 32 random bytes in base64, as receivers' libraries expect. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** What fills an own column an older Herald left NULL; credentials stay NULL. */
const fresh: Partial<Record<SealedColumn, () => string>> = {
  trackingSecret: newTrackingSecret,
  identitySecret: newIdentitySecret,
  webhookSigningSecret: newWebhookSecret,
};

/**
 * Run at start, after migrations and before serving: seals VAPID keys an older Herald stored in
 * plain text, fills missing tracking and identity secrets, moves values sealed under a
 * HERALD_SECRET_KEY_PREVIOUS to the current key, and proves every value opens, so a wrong key
 * stops Herald here with a clear error instead of failing sends later. Each change is one
 * conditional UPDATE (still plain / still NULL / still the old value): two processes starting
 * together agree on one value.
 */
export async function sealWorkspaceSecrets(herald: Herald): Promise<{ changed: number }> {
  const rows = await herald.prisma.workspace.findMany({ select: SEALED_SELECT });
  let changed = 0;
  for (const row of rows) changed += await sealRow(herald, row);
  if (changed) herald.log.info({ changed, keyId: herald.secrets.keyId }, 'workspace secrets sealed under the current HERALD_SECRET_KEY');
  return { changed };
}

async function sealRow(herald: Herald, row: SealedRow): Promise<number> {
  let changed = 0;
  for (const column of SEALED) {
    const stored = row[column];
    let next: string | null = null;
    if (stored === null) {
      const make = fresh[column];
      if (!make) continue;
      next = herald.secrets.seal(make());
    } else if (!isSealed(stored)) {
      next = herald.secrets.seal(stored);
    } else {
      const plain = openOrExplain(herald, row.id, column, stored);
      if (!herald.secrets.isCurrent(stored)) next = herald.secrets.seal(plain);
    }
    if (next === null) continue;
    const { count } = await herald.prisma.workspace.updateMany({ where: { id: row.id, [column]: stored }, data: { [column]: next } });
    changed += count;
  }
  return changed;
}

function openOrExplain(herald: Herald, workspaceId: string, column: SealedColumn, sealed: string): string {
  try {
    return herald.secrets.open(sealed);
  } catch (error) {
    if (!(error instanceof SecretKeyError)) throw error;
    throw new SecretKeyError(
      `Cannot open Workspace ${workspaceId}'s ${column}: ${error.message}. Start Herald with HERALD_SECRET_KEY set to the key that ` +
        `sealed it (if it was never set, the secret-key file in the data folder of the Herald that first used this database); ` +
        `to change keys, set the new one as HERALD_SECRET_KEY and the old one in HERALD_SECRET_KEY_PREVIOUS.`,
    );
  }
}

/**
 * One of a workspace's secrets in plain text. Opened values are cached by their sealed form, so a
 * rotation anywhere (another process included) is seen at the next call; a value an older Herald
 * left plain or NULL is sealed or filled first.
 */
async function secretOf(herald: Herald, workspaceId: string, column: OwnColumn): Promise<string> {
  const select = SEALED_SELECT;
  let row = await herald.prisma.workspace.findUnique({ where: { id: workspaceId }, select });
  if (!row) throw new NotFoundError(ErrorCode.workspaceNotFound, 'Workspace not found');
  if (!row[column] || !isSealed(row[column])) {
    await sealRow(herald, row);
    row = await herald.prisma.workspace.findUniqueOrThrow({ where: { id: workspaceId }, select });
  }
  return openOrExplain(herald, workspaceId, column, row[column]!);
}

/** The workspace's identity secret in plain text (what `viewer { identitySecret }` shows). */
export function identitySecretOf(herald: Herald, workspaceId: string): Promise<string> {
  return secretOf(herald, workspaceId, 'identitySecret');
}


/**
 * A secret of a workspace row the caller already read: opened (from the cache) without another
 * query, unless an older Herald left it plain or NULL.
 */
export async function secretFromRow(herald: Herald, workspace: { id: string } & Partial<Record<OwnColumn, string | null>>, column: OwnColumn): Promise<string> {
  const stored = workspace[column];
  return stored && isSealed(stored) ? openOrExplain(herald, workspace.id, column, stored) : secretOf(herald, workspace.id, column);
}

/**
 * A channel credential of a workspace row the caller already read, opened; null when none is set.
 * A value an older Herald left plain is sealed first.
 */
export async function credentialFromRow<C extends CredentialColumn>(herald: Herald, workspace: { id: string } & Record<C, string | null>, column: C): Promise<string | null> {
  const stored = workspace[column];
  if (stored === null) return null;
  if (isSealed(stored)) return openOrExplain(herald, workspace.id, column, stored);
  await sealRow(herald, (await herald.prisma.workspace.findUniqueOrThrow({ where: { id: workspace.id }, select: SEALED_SELECT })));
  return stored;
}

/** The workspace's VAPID key pair, private key opened, as push requests are signed with it. */
export async function vapidKeysOf(herald: Herald, workspace: Pick<Workspace, 'id' | 'vapidPublicKey' | 'vapidPrivateKey'>) {
  return { publicKey: workspace.vapidPublicKey, privateKey: await secretFromRow(herald, workspace, 'vapidPrivateKey') };
}

/** Replaces the identity secret: tokens computed with the old one stop verifying at once. `reason` goes to the log. */
export async function rotateIdentitySecret(herald: Herald, workspaceId: string, reason?: string | null): Promise<Workspace> {
  const { count } = await herald.prisma.workspace.updateMany({
    where: { id: workspaceId },
    data: { identitySecret: herald.secrets.seal(newIdentitySecret()) },
  });
  if (!count) throw new NotFoundError(ErrorCode.workspaceNotFound, 'Workspace not found');
  herald.log.info({ workspaceId, reason: reason?.slice(0, 200) }, 'identity secret rotated');
  herald.cache.settingsChanged(workspaceId);
  herald.events.publish('workspace:changed', workspaceId, { reason: 'identity_secret_rotated' });
  return herald.prisma.workspace.findUniqueOrThrow({ where: { id: workspaceId } });
}

/** How long the secret before a rotation keeps signing beside the new one: receivers switch within it. */
export const WEBHOOK_SECRET_GRACE_MS = 24 * 3600_000;

/** The workspace's webhook signing secret in plain text (what `Workspace.webhookSigningSecret` shows). */
export function webhookSecretOf(herald: Herald, workspaceId: string): Promise<string> {
  return secretOf(herald, workspaceId, 'webhookSigningSecret');
}

/**
 * The secrets a webhook is signed with now: the current one, and during the grace period after a
 * rotation the previous one too (Standard Webhooks sends one signature per secret, space-separated,
 * and a receiver accepts any it can verify).
 */
export async function webhookSigningSecretsOf(
  herald: Herald,
  workspace: Pick<Workspace, 'id' | 'webhookSigningSecret' | 'webhookSigningSecretPrevious' | 'webhookSecretRotatedAt'>,
  now = Date.now(),
): Promise<string[]> {
  const current = await secretFromRow(herald, workspace, 'webhookSigningSecret');
  const rotatedAt = workspace.webhookSecretRotatedAt?.getTime();
  if (rotatedAt === undefined || now - rotatedAt >= WEBHOOK_SECRET_GRACE_MS) return [current];
  const previous = await credentialFromRow(herald, workspace, 'webhookSigningSecretPrevious');
  return previous ? [current, previous] : [current];
}

/**
 * Replaces the webhook signing secret. The old one keeps signing beside it for WEBHOOK_SECRET_GRACE_MS,
 * so receivers can switch without dropping a webhook; a second rotation within that time drops the
 * oldest at once (only the secret just replaced stays valid). Conditional on the secret read: of two
 * rotations at once one wins, and the other answers its result.
 */
export async function rotateWebhookSecret(herald: Herald, workspaceId: string, reason?: string | null): Promise<Workspace> {
  const current = await webhookSecretOf(herald, workspaceId);
  const { webhookSigningSecret: sealed } = await herald.prisma.workspace.findUniqueOrThrow({ where: { id: workspaceId }, select: { webhookSigningSecret: true } });
  const { count } = await herald.prisma.workspace.updateMany({
    where: { id: workspaceId, webhookSigningSecret: sealed },
    data: {
      webhookSigningSecret: herald.secrets.seal(newWebhookSecret()),
      webhookSigningSecretPrevious: herald.secrets.seal(current),
      webhookSecretRotatedAt: new Date(),
    },
  });
  if (count) {
    herald.log.info({ workspaceId, reason: reason?.slice(0, 200) }, 'webhook signing secret rotated');
    herald.events.publish('workspace:changed', workspaceId, { reason: 'webhook_secret_rotated' });
  }
  return herald.prisma.workspace.findUniqueOrThrow({ where: { id: workspaceId } });
}
