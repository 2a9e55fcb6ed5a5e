import { ErrorCode, fromZodIssues, NotFoundError, ValidationError } from '../errors.ts';
import type { PushSubscription } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';
import { endpointPolicy } from '../net/allowed-hosts.ts';
import { verifyIdentities, type Writer } from './identity.ts';
import { resolveContacts } from './resolve.ts';
import { allowedPushSubscriptionInput } from './validation.ts';

export type { PushSubscription };

/**
 * Stores a browser's push subscription for a contact and records consent: `consentedAt` is set
 * once and the workspace's consent tag added. An endpoint seen before moves to this contact. A
 * page naming a customer proves it with an identity token.
 */
export async function registerPushSubscription(herald: Herald, workspaceId: string, input: unknown, writer: Writer = 'backend'): Promise<PushSubscription> {
  const parsed = allowedPushSubscriptionInput(endpointPolicy(herald.config)).safeParse(input);
  if (!parsed.success) throw fromZodIssues(parsed.error.issues, ['input']);
  const { subscription, userAgent, timezone, locale } = parsed.data;
  await verifyIdentities(herald, workspaceId, writer, [parsed.data], () => ['input']);

  const saved = await herald.prisma.$transaction(async (tx) => {
    const [contactId] = await resolveContacts(tx, workspaceId, [parsed.data]);
    if (!contactId) throw ValidationError.field(['input', 'contactId'], 'no contact with this id');
    const { consentTag } = await tx.workspace.findUniqueOrThrow({ where: { id: workspaceId }, select: { consentTag: true } });
    await tx.$executeRaw`
      UPDATE "Contact" SET
        "consentedAt" = COALESCE("consentedAt", now()),
        tags = CASE WHEN ${consentTag} = ANY(tags) THEN tags ELSE tags || ${consentTag}::text END,
        timezone = COALESCE(timezone, ${timezone ?? null}),
        locale = COALESCE(locale, ${locale ?? null}),
        "lastSeenAt" = GREATEST("lastSeenAt", now()),
        "updatedAt" = now()
      WHERE id = ${contactId}::uuid`;
    const fields = {
      contactId,
      p256dh: subscription.keys.p256dh,
      auth: subscription.keys.auth,
      expirationTime: subscription.expirationTime ?? null,
      status: 'ACTIVE' as const,
      revokedAt: null,
      userAgent: userAgent ?? null,
      timezone: timezone ?? null,
      locale: locale ?? null,
    };
    return tx.pushSubscription.upsert({
      where: { workspaceId_endpoint: { workspaceId, endpoint: subscription.endpoint } },
      create: { workspaceId, endpoint: subscription.endpoint, ...fields },
      update: fields,
    });
  });
  herald.events.publish('workspace:changed', workspaceId, { reason: 'push_subscription_registered' });
  return saved;
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
