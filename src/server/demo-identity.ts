import type { IncomingMessage, ServerResponse } from 'node:http';
import { identityToken } from '../contacts/identity.ts';
import type { Herald } from '../herald-context.ts';
import { principalFor } from './auth.ts';
import { identitySecretOf } from '../workspaces/secrets.ts';

/**
 * `POST /demo/identity-token { externalId }` with the demo page's publishable key: the identity
 * token a real site's server would compute after its own login. Served only where the demo is
 * (NODE_ENV=development or HERALD_DEMO=1): it hands any page the proof for any customer, which is
 * exactly what identity verification exists to prevent on a real site.
 */
export async function handleDemoIdentityToken(herald: Herald, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const reply = (status: number, body: unknown): void =>
    void res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
  if (req.method !== 'POST') return reply(405, { error: 'use POST' });
  const principal = await principalFor(herald, req.headers.authorization);
  if (principal.kind !== 'publishable' && principal.kind !== 'secret') return reply(401, { error: 'send Authorization: Bearer pk_…' });
  let externalId: unknown;
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      if (chunks.reduce((size, part) => size + part.length, 0) > 1024) return reply(413, { error: 'body too large' });
    }
    ({ externalId } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { externalId?: unknown });
  } catch {
    return reply(400, { error: 'expected JSON { "externalId": "…" }' });
  }
  if (typeof externalId !== 'string' || !externalId.trim() || externalId.length > 255) return reply(400, { error: 'expected JSON { "externalId": "…" }' });
  const secret = await identitySecretOf(herald, principal.workspaceId);
  reply(200, { identityToken: identityToken(secret, externalId.trim()) });
}
