import type { Herald } from '../herald-context.ts';
import type { Principal } from '../graphql/context.ts';
import { authenticateKey, sameSecret } from '../workspaces/api-keys.ts';

/** Turns an `Authorization: Bearer …` value into the caller's principal. */
export async function principalFor(herald: Herald, authorization: string | null | undefined): Promise<Principal> {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!match) return { kind: 'none', rejected: Boolean(authorization) };
  const credential = match[1]!;
  if (credential.startsWith('sk_') || credential.startsWith('pk_')) {
    const key = await authenticateKey(herald, credential);
    if (!key) return { kind: 'none', rejected: true };
    return { kind: key.kind === 'SECRET' ? 'secret' : 'publishable', workspaceId: key.workspaceId, apiKeyId: key.id };
  }
  return sameSecret(credential, herald.adminToken) ? { kind: 'admin' } : { kind: 'none', rejected: true };
}
