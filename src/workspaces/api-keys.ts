import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ErrorCode, NotFoundError } from '../errors.ts';
import type { ApiKey, ApiKeyKind } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';

export type { ApiKey, ApiKeyKind };

const KIND_PREFIX: Record<ApiKeyKind, string> = { SECRET: 'sk', PUBLISHABLE: 'pk' };
/** "sk_" plus 8 characters: shown to users and indexed to find the row; the rest stays secret. */
const PREFIX_LENGTH = 11;

export function hashKey(key: string): Buffer {
  return hash('sha256', key, 'buffer');
}

/** Compares two secrets in time that does not depend on where they differ. */
export function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(hashKey(given), hashKey(expected));
}

/** A new random key; returns the key (shown once) and the row data to store. */
export function newKey(kind: ApiKeyKind): { key: string; prefix: string; hash: string } {
  const key = `${KIND_PREFIX[kind]}_${randomBytes(24).toString('base64url')}`;
  return { key, prefix: key.slice(0, PREFIX_LENGTH), hash: hashKey(key).toString('hex') };
}

export async function createApiKey(
  herald: Herald,
  workspaceId: string,
  kind: ApiKeyKind,
): Promise<{ key: string; apiKey: ApiKey }> {
  const { key, prefix, hash } = newKey(kind);
  const apiKey = await herald.prisma.apiKey.create({ data: { workspaceId, kind, prefix, hash } });
  herald.events.publish('workspace:changed', workspaceId, { reason: 'api_key_created' });
  return { key, apiKey };
}

/**
 * Revokes at once: this process forgets the key now, the event makes every other process forget
 * it (workspaces/cache.ts) and ends the streams already open with it. Idempotent.
 */
export async function revokeApiKey(herald: Herald, workspaceId: string, id: string): Promise<ApiKey> {
  const found = await herald.prisma.apiKey.findFirst({ where: { id, workspaceId } });
  if (!found) throw new NotFoundError(ErrorCode.apiKeyNotFound, 'No API key with this id in this workspace');
  if (found.revokedAt) return found;
  const revoked = await herald.prisma.apiKey.update({ where: { id }, data: { revokedAt: new Date() } });
  herald.cache.forgetKey(id);
  herald.events.publish('apiKey:revoked', id);
  herald.events.publish('workspace:changed', workspaceId, { reason: 'api_key_revoked' });
  return revoked;
}

/** Finds the live key a caller presented, or null; known keys come from the process's cache. */
export async function authenticateKey(herald: Herald, key: string): Promise<ApiKey | null> {
  if (!/^(sk|pk)_[A-Za-z0-9_-]{32}$/.test(key)) return null;
  return herald.cache.apiKey(key, () => findKey(herald, key));
}

async function findKey(herald: Herald, key: string): Promise<ApiKey | null> {
  const candidates = await herald.prisma.apiKey.findMany({
    where: { prefix: key.slice(0, PREFIX_LENGTH), revokedAt: null },
  });
  const presented = hashKey(key);
  return candidates.find((candidate) => timingSafeEqual(presented, Buffer.from(candidate.hash, 'hex'))) ?? null;
}
