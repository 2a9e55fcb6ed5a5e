import type { IncomingMessage } from 'node:http';
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

/** WebSocket clients send their credential in connection_init: `{ authorization: 'Bearer …' }`. */
export function authorizationOf(connectionParams: Record<string, unknown> | undefined): string | undefined {
  const value = connectionParams?.authorization ?? connectionParams?.Authorization;
  return typeof value === 'string' ? value : undefined;
}

/** A request whose caller was found before its body was read (to choose the body limit). */
const authenticatedRequests = new WeakMap<IncomingMessage, Principal>();

export function rememberPrincipal(req: IncomingMessage, principal: Principal): void {
  authenticatedRequests.set(req, principal);
}

export function rememberedPrincipal(req: IncomingMessage | undefined): Principal | undefined {
  return req && authenticatedRequests.get(req);
}

