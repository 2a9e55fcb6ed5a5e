import type { Herald } from '../herald-context.ts';

/** Who is calling: decided once per request (or WebSocket connection) from the bearer credential. */
export type Principal =
  | { kind: 'none'; /** a credential was sent but is unknown or revoked */ rejected: boolean }
  | { kind: 'admin' }
  | { kind: 'secret' | 'publishable'; workspaceId: string; apiKeyId: string };

export interface Context {
  principal: Principal;
  herald: Herald;
}

/** The workspace of the key used; scope-auth guarantees a workspace key before this is called. */
export function workspaceIdOf(context: Context): string {
  const { principal } = context;
  if (principal.kind === 'secret' || principal.kind === 'publishable') return principal.workspaceId;
  throw new Error('workspace key required: field is missing its authScopes');
}
