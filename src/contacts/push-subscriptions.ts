import { v7 as uuidv7 } from 'uuid';
import { ConflictError, ErrorCode, fromZodIssues, NotFoundError, ValidationError } from '../errors.ts';
import type { PushSubscription } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';
import { endpointPolicy } from '../net/allowed-hosts.ts';
import { anonymousIdOfCustomer, mustProveCustomers, verifyIdentities, type Writer } from './identity.ts';
import { resolveContacts } from './resolve.ts';
import { allowedPushSubscriptionInput } from './validation.ts';

export type { PushSubscription };

type Registration = ReturnType<ReturnType<typeof allowedPushSubscriptionInput>['parse']>;

/** One schema per configuration: zod compiles a schema on its first parse, too costly per call. */
const schemas = new WeakMap<Herald['config'], ReturnType<typeof allowedPushSubscriptionInput>>();
function subscriptionSchemaFor(config: Herald['config']) {
  let schema = schemas.get(config);
  if (!schema) schemas.set(config, (schema = allowedPushSubscriptionInput(endpointPolicy(config))));
  return schema;
}

/**
 * Stores a browser's push subscription for a contact and records consent: `consentedAt` is set
 * once and the workspace's consent tag added. An endpoint seen before moves to this contact; from a
 * page only with the keys it was registered with (its `auth` secret, which only that browser and
 * Herald know: an endpoint alone proves nothing). A page naming a customer proves it with an
 * identity token. With HERALD_PUBLIC_BATCH_MS,
 * concurrent registrations of one workspace are written together (db/group-commit.ts): each is
 * validated alone first, so a bad one fails only its own call.
 */
export async function registerPushSubscription(herald: Herald, workspaceId: string, input: unknown, writer: Writer = 'backend'): Promise<PushSubscription> {
  const parsed = subscriptionSchemaFor(herald.config).safeParse(input);
  if (!parsed.success) throw fromZodIssues(parsed.error.issues, ['input']);
  await verifyIdentities(herald, workspaceId, writer, [parsed.data], () => ['input']);
  const [answer] = herald.gathering.enabled
    ? [
        await herald.gathering.submit(`subscriptions:${workspaceId}:${writer}`, parsed.data.subscription.endpoint, parsed.data, (registrations: Registration[]) =>
          storeSubscriptions(herald, workspaceId, writer, registrations),
        ),
      ]
    : await storeSubscriptions(herald, workspaceId, writer, [parsed.data]);
  if (answer instanceof Error) throw answer;
  return answer!;
}

/**
 * Registrations in one transaction, as if written one after the other: a contact's timezone and
 * locale are the first given (they only fill gaps), an endpoint registered twice ends with the
 * later one's fields, and every caller of that endpoint is answered with the row as it ends.
 */
async function storeSubscriptions(herald: Herald, workspaceId: string, writer: Writer, registrations: Registration[]): Promise<(PushSubscription | Error)[]> {
  const anonymousOnly = await mustProveCustomers(herald, workspaceId, writer);
  const stored = await herald.prisma.$transaction(
    async (tx) => {
      const contactIds = await resolveContacts(tx, workspaceId, registrations, { anonymousOnly });
      const { consentTag } = await tx.workspace.findUniqueOrThrow({ where: { id: workspaceId }, select: { consentTag: true } });
      const contacts = new Map<string, { id: string; timezone: string | null; locale: string | null }>();
      const endpoints = new Map<string, object>();
      registrations.forEach(({ subscription, userAgent, timezone, locale }, index) => {
        const contactId = contactIds[index];
        if (!contactId) return;
        const contact = contacts.get(contactId) ?? { id: contactId, timezone: null, locale: null };
        contact.timezone ??= timezone ?? null;
        contact.locale ??= locale ?? null;
        contacts.set(contactId, contact);
        endpoints.set(subscription.endpoint, {
          id: uuidv7(),
          endpoint: subscription.endpoint,
          contactId,
          p256dh: subscription.keys.p256dh,
          auth: subscription.keys.auth,
          expirationTime: subscription.expirationTime == null ? null : new Date(subscription.expirationTime).toISOString(),
          userAgent: userAgent ?? null,
          timezone: timezone ?? null,
          locale: locale ?? null,
        });
      });
      if (!endpoints.size) return { contactIds, rows: new Map<string, PushSubscription>(), kept: new Set<string>() };
      // Contacts locked in one order (id), as event batches lock them: batches never deadlock.
      await tx.$executeRaw`
        UPDATE "Contact" c SET
          "consentedAt" = COALESCE(c."consentedAt", now()),
          tags = CASE WHEN ${consentTag} = ANY(c.tags) THEN c.tags ELSE c.tags || ${consentTag}::text END,
          timezone = COALESCE(c.timezone, r.timezone),
          locale = COALESCE(c.locale, r.locale),
          "lastSeenAt" = GREATEST(c."lastSeenAt", now()),
          "updatedAt" = now()
        FROM (
          SELECT r.* FROM jsonb_to_recordset(${JSON.stringify([...contacts.values()])}::jsonb) AS r(id uuid, timezone text, locale text)
          JOIN (SELECT id FROM "Contact" WHERE id = ANY(${[...contacts.keys()]}::uuid[]) ORDER BY id FOR NO KEY UPDATE) locked ON locked.id = r.id
        ) r
        WHERE c.id = r.id`;
      const saved = await tx.$queryRaw<{ id: string }[]>`
        INSERT INTO "PushSubscription" (id, "workspaceId", "contactId", endpoint, p256dh, auth, "expirationTime", status, "revokedAt", "userAgent", timezone, locale, "updatedAt")
        SELECT r.id, ${workspaceId}::uuid, r."contactId", r.endpoint, r.p256dh, r.auth, r."expirationTime", 'ACTIVE', NULL, r."userAgent", r.timezone, r.locale, now()
        FROM jsonb_to_recordset(${JSON.stringify([...endpoints.values()])}::jsonb)
          AS r(id uuid, "contactId" uuid, endpoint text, p256dh text, auth text, "expirationTime" timestamptz, "userAgent" text, timezone text, locale text)
        ORDER BY r.endpoint
        ON CONFLICT ("workspaceId", endpoint) DO UPDATE SET
          "contactId" = EXCLUDED."contactId", p256dh = EXCLUDED.p256dh, auth = EXCLUDED.auth, "expirationTime" = EXCLUDED."expirationTime",
          status = 'ACTIVE', "revokedAt" = NULL, "userAgent" = EXCLUDED."userAgent", timezone = EXCLUDED.timezone, locale = EXCLUDED.locale, "updatedAt" = now()
        WHERE ${writer === 'backend'} OR "PushSubscription".auth = EXCLUDED.auth
        RETURNING id`;
      const rows = await tx.pushSubscription.findMany({ where: { id: { in: saved.map((row) => row.id) } } });
      const byEndpoint = new Map(rows.map((row) => [row.endpoint, row]));
      // A page's endpoint that is registered with other keys was left as it was.
      return { contactIds, rows: byEndpoint, kept: new Set([...endpoints.keys()].filter((endpoint) => !byEndpoint.has(endpoint))) };
    },
    // A busy pool makes a batch wait for a connection, not fail after Prisma's 2 s.
    { maxWait: 10_000, timeout: 60_000 },
  );
  if (stored.rows.size) herald.events.publish('workspace:changed', workspaceId, { reason: 'push_subscription_registered' });
  return registrations.map(({ subscription }, index) => {
    if (stored.contactIds[index] === false) return anonymousIdOfCustomer(['input']);
    if (!stored.contactIds[index]) return ValidationError.field(['input', 'contactId'], 'no contact with this id');
    if (stored.kept.has(subscription.endpoint)) return new ConflictError('This endpoint is registered with other keys: only the browser that holds it may register it again');
    return stored.rows.get(subscription.endpoint) ?? new Error('a stored subscription could not be read back');
  });
}

/** Marks a subscription revoked (the visitor unsubscribed); it is never sent to again. */
export async function revokePushSubscription(herald: Herald, workspaceId: string, endpoint: string): Promise<PushSubscription> {
  const found = await herald.prisma.pushSubscription.findUnique({ where: { workspaceId_endpoint: { workspaceId, endpoint } } });
  if (!found) throw new NotFoundError(ErrorCode.subscriptionNotFound, 'No push subscription with this endpoint');
  if (found.status === 'REVOKED') return found;
  const revoked = await herald.prisma.pushSubscription.update({
    where: { id: found.id },
    data: { status: 'REVOKED', revokedAt: new Date() },
  });
  herald.events.publish('workspace:changed', workspaceId, { reason: 'push_subscription_revoked' });
  return revoked;
}
