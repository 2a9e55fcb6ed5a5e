import { z } from 'zod';
import { ErrorCode, fromZodIssues, NotFoundError, ValidationError } from '../errors.ts';
import type { Device } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';
import { anonymousIdOfCustomer, mustProveCustomers, verifyIdentities, type Writer } from './identity.ts';
import { resolveContacts } from './resolve.ts';
import { contactRef, contactRefMessage, hasContactRef, locale, timezone } from './validation.ts';

export type { Device };

export const DevicePlatforms = ['IOS', 'ANDROID'] as const;

/**
 * A phone app's push token: an APNs device token is 32 bytes in hex (Apple may lengthen it), an
 * FCM registration token is ~160 URL-safe characters. Checked by shape only: the provider alone
 * knows whether it is live, and says so (410 / UNREGISTERED) at the first send.
 */
const APNS_TOKEN = /^[0-9a-f]{64,200}$/;
const FCM_TOKEN = /^[A-Za-z0-9_:.-]{32,4096}$/;

export const deviceInput = contactRef
  .extend({
    platform: z.enum(DevicePlatforms),
    token: z.string().trim().max(4096, 'must be at most 4096 characters'),
    appId: z.string().regex(/^[A-Za-z0-9_.-]{1,255}$/, 'must be the app’s bundle id or package name, e.g. com.shop.app'),
    locale: locale.optional(),
    timezone: timezone.optional(),
    appVersion: z.string().trim().min(1).max(64, 'must be at most 64 characters').optional(),
  })
  .transform((device) => (device.platform === 'IOS' ? { ...device, token: device.token.toLowerCase() } : device))
  .superRefine((device, context) => {
    const valid = device.platform === 'IOS' ? APNS_TOKEN.test(device.token) : FCM_TOKEN.test(device.token);
    if (!valid) {
      const shape = device.platform === 'IOS' ? 'an APNs device token (64 hex digits)' : 'an FCM registration token';
      context.addIssue({ code: 'custom', path: ['token'], message: `must be ${shape}` });
    }
  })
  .refine(hasContactRef, contactRefMessage);

/**
 * Stores a phone's push token for a contact and records consent as a browser's subscription does
 * (`consentedAt` once, the workspace's consent tag added): an app registers a token only after
 * the person allowed notifications. A token seen before moves to this contact (the phone changed
 * hands or the customer logged in). An app naming a customer proves it with an identity token.
 */
export async function registerDevice(herald: Herald, workspaceId: string, input: unknown, writer: Writer = 'backend'): Promise<Device> {
  const parsed = deviceInput.safeParse(input);
  if (!parsed.success) throw fromZodIssues(parsed.error.issues, ['input']);
  const { platform, token, appId, timezone: zone, locale: language, appVersion } = parsed.data;
  await verifyIdentities(herald, workspaceId, writer, [parsed.data], () => ['input']);

  const anonymousOnly = await mustProveCustomers(herald, workspaceId, writer);
  const saved = await herald.prisma.$transaction(async (tx) => {
    const [contactId] = await resolveContacts(tx, workspaceId, [parsed.data], { anonymousOnly });
    if (contactId === false) throw anonymousIdOfCustomer(['input']);
    if (!contactId) throw ValidationError.field(['input', 'contactId'], 'no contact with this id');
    const { consentTag } = await tx.workspace.findUniqueOrThrow({ where: { id: workspaceId }, select: { consentTag: true } });
    await tx.$executeRaw`
      UPDATE "Contact" SET
        "consentedAt" = COALESCE("consentedAt", now()),
        tags = CASE WHEN ${consentTag} = ANY(tags) THEN tags ELSE tags || ${consentTag}::text END,
        timezone = COALESCE(timezone, ${zone ?? null}),
        locale = COALESCE(locale, ${language ?? null}),
        "lastSeenAt" = GREATEST("lastSeenAt", now()),
        "updatedAt" = now()
      WHERE id = ${contactId}::uuid`;
    const fields = {
      contactId,
      platform,
      appId,
      status: 'ACTIVE' as const,
      revokedAt: null,
      locale: language ?? null,
      timezone: zone ?? null,
      appVersion: appVersion ?? null,
    };
    return tx.device.upsert({
      where: { workspaceId_token: { workspaceId, token } },
      create: { workspaceId, token, ...fields },
      update: fields,
    });
  });
  herald.events.publish('workspace:changed', workspaceId, { reason: 'device_registered' });
  return saved;
}

/** Marks a device revoked (the person logged out or turned notifications off); it is never sent to again. */
export async function revokeDevice(herald: Herald, workspaceId: string, token: string): Promise<Device> {
  // An iOS token is stored in lower case, whatever case the app registered it in.
  const given = token.trim().slice(0, 4096);
  const device = await herald.prisma.device.findFirst({ where: { workspaceId, token: { in: [given, given.toLowerCase()] } } });
  if (!device) throw new NotFoundError(ErrorCode.deviceNotFound, 'No device with this token');
  if (device.status === 'REVOKED') return device;
  const revoked = await herald.prisma.device.update({ where: { id: device.id }, data: { status: 'REVOKED', revokedAt: new Date() } });
  herald.events.publish('workspace:changed', workspaceId, { reason: 'device_revoked' });
  return revoked;
}
