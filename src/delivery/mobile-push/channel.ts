import { Prisma } from '../../db/prisma.ts';
import type { $Enums, Campaign, Workspace } from '../../generated/prisma/client.ts';
import type { Herald } from '../../herald-context.ts';
import { mobilePushCredentialsOf } from '../../workspaces/mobile-push-settings.ts';
import { secretFromRow } from '../../workspaces/secrets.ts';
import { type Channel, type DeliveryOutcome, type DueMessage, type Prepared, type Ready, settleNow } from '../channel.ts';
import { templateContact } from '../contact-scope.ts';
import { withMessageToken } from '../short-links.ts';
import { signToken, trackUrlOf } from '../tokens.ts';
import { CompiledMobilePush, MAX_PAYLOAD_BYTES, MAX_TTL_SECONDS, type MobilePushContent } from './content.ts';
import { apnsBody, fcmBody } from './payloads.ts';

/** Where a mobile push goes: one app install's token. */
export interface DeviceAddress {
  deviceId: string;
  /** Whose phone it is now: a token registered again for someone else moves to them. */
  contactId: string;
  platform: $Enums.DevicePlatform;
  token: string;
  status: 'ACTIVE' | 'EXPIRED' | 'REVOKED';
}

/** A push ready for its platform: the request body and, for APNs, the expiration and collapse id. */
type MobilePayload = { platform: 'IOS'; body: string; expiration: number; collapseId: string } | { platform: 'ANDROID'; body: string };

/**
 * Mobile push: one ledger row per active device, rendered from the campaign's `mobilePush`
 * content and sent to APNs (iOS) or FCM (Android) over one HTTP/2 connection per provider
 * (mobile-push/sessions.ts). A token the provider calls dead marks its device EXPIRED.
 */
export const mobilePush: Channel<DeviceAddress, MobilePayload> = {
  name: 'MOBILE_PUSH',
  // A resend after a crash is shown once: its apns-collapse-id and Android notification tag (the
  // message id, or the campaign's topic) make the repeat replace the first on the device, and
  // apps can drop a repeated `herald.messageId`. Neither APNs nor FCM has an idempotency key.
  afterCrash: 'resend',
  address: {
    value: Prisma.sql`jsonb_build_object('deviceId', d.id, 'contactId', d."contactId", 'platform', d.platform, 'token', d.token, 'status', d.status)`,
    timezone: Prisma.sql`d.timezone`,
    join: Prisma.sql`JOIN "Device" d ON d.id = m."deviceId"`,
  },
  devices: true,
  // One row per active device; a contact with none gets a SUPPRESSED NO_SUBSCRIPTION row.
  recipients: (source) => Prisma.sql`
    SELECT r.*, NULL::uuid AS "subscriptionId", d.timezone AS "addressTimezone", CASE WHEN d.id IS NULL THEN 'NO_SUBSCRIPTION' END AS skip, d.id AS "deviceId"
    FROM ${source} r LEFT JOIN "Device" d ON d."contactId" = r."contactId" AND d.status = 'ACTIVE'`,

  async sender(herald: Herald, campaign: Campaign, workspace: Workspace) {
    const { apns, fcm } = await mobilePushCredentialsOf(herald, workspace);
    // Checked when the campaign starts; settings cleared since leave the messages waiting.
    if (!apns && !fcm) throw new Error(`workspace ${workspace.id} cannot send mobile pushes: it has neither APNs nor FCM settings`);
    const trackingSecret = await secretFromRow(herald, workspace, 'trackingSecret');
    const content = campaign.content as MobilePushContent;
    const compiled = new CompiledMobilePush(content);
    const trackUrl = trackUrlOf(herald);
    const clients = herald.deliveries.mobile;

    return {
      prepare(message: DueMessage<DeviceAddress>): Prepared<DeviceAddress, MobilePayload> {
        const now = Date.now();
        if (campaign.activeUntil && campaign.activeUntil.getTime() <= now) return settleNow(message, 'EXPIRED', 'EXPIRED', 'activeUntil has passed');
        const { address } = message;
        if (address.status === 'EXPIRED') return settleNow(message, 'FAILED', 'SUBSCRIPTION_GONE', 'the device token expired before this send');
        if (address.status === 'REVOKED') return settleNow(message, 'SUPPRESSED', 'NOT_ELIGIBLE', 'the device was revoked before this send');
        // The phone changed hands while the message waited: it was written for, and from the data of, its previous owner.
        if (address.contactId !== message.contactId) return settleNow(message, 'SUPPRESSED', 'NOT_ELIGIBLE', 'the device moved to another contact before this send');
        const provider = address.platform === 'IOS' ? apns : fcm;
        if (!provider) return settleNow(message, 'FAILED', 'PUSH_SERVICE_REJECTED', `the workspace has no ${address.platform === 'IOS' ? 'APNs' : 'FCM'} settings`);
        let rendered = compiled.render({ contact: templateContact(message.contact), event: message.event });
        const fields = { messageId: message.id, token: signToken(message.id, trackingSecret), trackUrl };
        // A link to one of Herald's smart links carries the token, so its click names the contact.
        if (rendered.url) rendered = { ...rendered, url: withMessageToken(rendered.url, herald.publicUrl, fields.token) };
        const ttl = ttlSeconds(content, campaign.activeUntil, now);
        const payload: MobilePayload =
          address.platform === 'IOS'
            ? { platform: 'IOS', body: apnsBody(content, rendered, fields), expiration: ttl === 0 ? 0 : Math.floor(now / 1000) + ttl, collapseId: content.topic ?? message.id }
            : { platform: 'ANDROID', body: fcmBody(address.token, content, rendered, fields, ttl) };
        // FCM's limit is on what reaches the phone: the body without the device token it is addressed to.
        const size = Buffer.byteLength(payload.body) - (payload.platform === 'ANDROID' ? address.token.length : 0);
        if (size > MAX_PAYLOAD_BYTES) {
          return settleNow(message, 'FAILED', 'PAYLOAD_TOO_LARGE', `${size} bytes; APNs and FCM accept ${MAX_PAYLOAD_BYTES}`);
        }
        return { message, payload };
      },

      async stage(ready: Ready<DeviceAddress, MobilePayload>[]) {
        // One connection per provider, opened (and its auth token signed) before anything is claimed;
        // a provider that cannot be reached now answers each send with that error instead.
        const platforms = new Set(ready.map(({ payload }) => payload.platform));
        const opening = [platforms.has('IOS') && apns && clients.apns.ready(apns), platforms.has('ANDROID') && fcm && clients.fcm.ready(fcm)];
        await Promise.all(opening.map((open) => open && open.catch(() => {})));
        return ready.map(({ message, payload }) => ({
          send: (): Promise<DeliveryOutcome> =>
            payload.platform === 'IOS'
              ? clients.apns.send(apns!, { deviceToken: message.address.token, body: payload.body, id: message.id, expiration: payload.expiration, collapseId: payload.collapseId })
              : clients.fcm.send(fcm!, payload.body),
          abort: () => {},
        }));
      },

      async forget(messages: DueMessage<DeviceAddress>[]) {
        const ids = messages.map((message) => message.address.deviceId);
        await herald.prisma.device.updateMany({ where: { id: { in: ids }, status: 'ACTIVE' }, data: { status: 'EXPIRED' } });
      },
    };
  },
};

/** The smaller of the campaign's TTL (default 28 days) and the time left until activeUntil. */
function ttlSeconds(content: MobilePushContent, activeUntil: Date | null, now: number): number {
  const ttl = content.ttlSeconds ?? MAX_TTL_SECONDS;
  if (!activeUntil) return ttl;
  return Math.max(0, Math.min(ttl, Math.floor((activeUntil.getTime() - now) / 1000)));
}
