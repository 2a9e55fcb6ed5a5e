import { createHmac, timingSafeEqual } from 'node:crypto';
import { ErrorCode, ValidationError } from '../errors.ts';
import type { Herald } from '../herald-context.ts';
import { secretFromRow } from '../workspaces/secrets.ts';

/**
 * Who is writing: the site's backend (a secret key) or a web page (a publishable key, which
 * anyone can copy). A page must prove whom it names, and never overwrites what the backend stored.
 */
export type Writer = 'backend' | 'page';

/**
 * The namespace of a contact's page idempotency keys (tracking/events.ts scopes a page's keys by
 * it; identify moves a merged visitor's into its customer's).
 */
export function pageKeyPrefix(contactId: string): string {
  return `page:${contactId}:`;
}

/** What a page names a contact by, with its proof. */
export interface NamedContact {
  contactId?: string | undefined;
  externalId?: string | undefined;
  email?: string | undefined;
  identityToken?: string | undefined;
}

/** The identity token of a customer: lowercase hex HMAC-SHA256 of their externalId (or email) under the workspace's identity secret. */
export function identityToken(identitySecret: string, externalIdOrEmail: string): string {
  return createHmac('sha256', identitySecret).update(externalIdOrEmail).digest('hex');
}

/**
 * Refuses a page that names customers (by externalId, email or contactId) without a valid
 * identity token for each, unless the workspace turned verification off. `path(index)` places the
 * error on the input that failed. Anonymous visitors (named by anonymousId) need no token; an
 * anonymousId that now belongs to a customer is refused where it resolves (resolveContacts'
 * `anonymousOnly`, with `mustProveCustomers`).
 */
export async function verifyIdentities(
  herald: Herald,
  workspaceId: string,
  writer: Writer,
  named: readonly NamedContact[],
  path: (index: number) => string[],
): Promise<void> {
  if (writer === 'backend' || !named.some((ref) => ref.contactId || ref.externalId || ref.email)) return;
  const workspace = await verificationOf(herald, workspaceId);
  if (!workspace?.requireIdentityVerification) return;
  const secret = await secretFromRow(herald, workspace, 'identitySecret');
  const byId = await identitiesOf(herald, workspaceId, named.flatMap((ref) => ref.contactId ?? []));
  named.forEach((ref, index) => {
    if (!ref.contactId && !ref.externalId && !ref.email) return;
    // A contactId is proved by the token of the contact's own externalId (or email).
    const identity = ref.contactId ? byId.get(ref.contactId) : (ref.externalId ?? ref.email);
    if (identity && ref.identityToken && sameHex(ref.identityToken, identityToken(secret, identity))) return;
    throw ValidationError.field(
      [...path(index), 'identityToken'],
      ref.identityToken
        ? 'does not match: it must be the hex HMAC-SHA256 of the externalId (or email) under the workspace identity secret'
        : 'required with a publishable key to name a customer by externalId, email or contactId; compute it on your server',
      ErrorCode.identityVerificationRequired,
    );
  });
}

/**
 * Whether this writer must prove the customers it reaches: a page, while the workspace requires
 * identity verification. Then an anonymousId reaches only a contact that is still anonymous: once
 * identified (by identify, or by the backend naming the anonymousId beside an externalId or email),
 * the browser's anonymousId names a customer, and only the customer's token may.
 */
export async function mustProveCustomers(herald: Herald, workspaceId: string, writer: Writer): Promise<boolean> {
  if (writer === 'backend') return false;
  return Boolean((await verificationOf(herald, workspaceId))?.requireIdentityVerification);
}

/** The error of an anonymousId that belongs to an identified customer, named by a page without proof. */
export function anonymousIdOfCustomer(path: string[]): ValidationError {
  return ValidationError.field(
    [...path, 'identityToken'],
    'this anonymousId belongs to an identified customer: name them by externalId with their identityToken (Herald.identify)',
    ErrorCode.identityVerificationRequired,
  );
}

/** The setting and the sealed secret, read once per process (workspaces/cache.ts): every page call naming a customer needs them. */
function verificationOf(herald: Herald, workspaceId: string) {
  return herald.cache.identity(workspaceId, () =>
    herald.prisma.workspace.findUniqueOrThrow({ where: { id: workspaceId }, select: { id: true, requireIdentityVerification: true, identitySecret: true } }),
  );
}

/** The externalId (or else email) of each contact id, for contacts of this workspace that have one. */
async function identitiesOf(herald: Herald, workspaceId: string, ids: string[]): Promise<Map<string, string>> {
  if (!ids.length) return new Map();
  const rows = await herald.prisma.contact.findMany({
    where: { workspaceId, id: { in: ids } },
    select: { id: true, externalId: true, email: true },
  });
  return new Map(rows.flatMap((row) => (row.externalId ?? row.email ? [[row.id, (row.externalId ?? row.email)!]] : [])));
}

function sameHex(given: string, expected: string): boolean {
  const a = Buffer.from(given.toLowerCase());
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
