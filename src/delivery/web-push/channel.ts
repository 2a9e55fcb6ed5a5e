import { Prisma } from '../../db/prisma.ts';
import type { Campaign, Workspace } from '../../generated/prisma/client.ts';
import type { Herald } from '../../herald-context.ts';
import { secretFromRow, vapidKeysOf } from '../../workspaces/secrets.ts';
import { contentOf } from '../campaign-fields.ts';
import { templateContact } from '../contact-scope.ts';
import { type Channel, type DueMessage, type Prepared, type Ready, settleNow } from '../channel.ts';
import { withMessageToken } from '../short-links.ts';
import { signToken, trackUrlOf } from '../tokens.ts';
import { CompiledContent, type Content, encryptedSize, MAX_ENCRYPTED_BYTES, MAX_TTL_SECONDS, type PushPayload } from './content.ts';

/** Where a web push goes: one browser's subscription. */
export interface PushAddress {
  subscriptionId: string;
  /** Whose browser it is now: a subscription registered again for someone else moves to them. */
  contactId: string;
  endpoint: string;
  p256dh: string;
  auth: string;
  status: 'ACTIVE' | 'EXPIRED' | 'REVOKED';
}

/**
 * Web push: a message is rendered from the campaign's content, signed with a tracking token,
 * encrypted for its browser (RFC 8291) and posted to the browser's push service with a VAPID
 * header. Staging opens the connection and encrypts; sending is one write (see PushClient.open).
 */
export const webPush: Channel<PushAddress, string> = {
  name: 'WEB_PUSH',
  // The service worker shows each ledger id once (src/sdk/herald-sw.ts), so a resend is safe.
  afterCrash: 'resend',
  address: {
    value: Prisma.sql`jsonb_build_object('subscriptionId', s.id, 'contactId', s."contactId", 'endpoint', s.endpoint, 'p256dh', s.p256dh, 'auth', s.auth, 'status', s.status)`,
    timezone: Prisma.sql`s.timezone`,
    join: Prisma.sql`JOIN "PushSubscription" s ON s.id = m."subscriptionId"`,
  },
  // One row per active browser; a contact with none gets a SUPPRESSED NO_SUBSCRIPTION row.
  recipients: (source) => Prisma.sql`
    SELECT r.*, s.id AS "subscriptionId", s.timezone AS "addressTimezone", CASE WHEN s.id IS NULL THEN 'NO_SUBSCRIPTION' END AS skip
    FROM ${source} r LEFT JOIN "PushSubscription" s ON s."contactId" = r."contactId" AND s.status = 'ACTIVE'`,

  async sender(herald: Herald, campaign: Campaign, workspace: Workspace) {
    const vapid = await vapidKeysOf(herald, workspace);
    const trackingSecret = await secretFromRow(herald, workspace, 'trackingSecret');
    const content = contentOf(campaign);
    const compiled = new CompiledContent(content);
    const trackUrl = trackUrlOf(herald);
    const { push } = herald;

    return {
      prepare(message: DueMessage<PushAddress>): Prepared<PushAddress, string> {
        if (campaign.activeUntil && campaign.activeUntil.getTime() <= Date.now()) return settleNow(message, 'EXPIRED', 'EXPIRED', 'activeUntil has passed');
        if (message.address.status === 'EXPIRED') return settleNow(message, 'FAILED', 'SUBSCRIPTION_GONE', 'the subscription expired before this send');
        if (message.address.status === 'REVOKED') return settleNow(message, 'SUPPRESSED', 'NOT_ELIGIBLE', 'the visitor unsubscribed before this send');
        // The browser changed hands while the message waited (another sign-in on a shared computer):
        // the message was written for, and from the data of, its previous owner.
        if (message.address.contactId !== message.contactId) return settleNow(message, 'SUPPRESSED', 'NOT_ELIGIBLE', 'the browser moved to another contact before this send');
        const token = signToken(message.id, trackingSecret);
        const scope = { contact: templateContact(message.contact), event: message.event };
        const payload = JSON.stringify(withLinkTokens(compiled.render(scope, { tag: message.id, token, trackUrl }), herald.publicUrl, token));
        const size = encryptedSize(payload);
        if (size > MAX_ENCRYPTED_BYTES) return settleNow(message, 'FAILED', 'PAYLOAD_TOO_LARGE', `${size} bytes encrypted; push services accept ${MAX_ENCRYPTED_BYTES}`);
        return { message, payload };
      },

      async stage(ready: Ready<PushAddress, string>[]) {
        // Connections open while the bodies are encrypted (on their own thread).
        const opening = Promise.all(
          ready.map(({ message }) =>
            push.open({
              endpoint: message.address.endpoint,
              ttlSeconds: ttlSeconds(content, campaign.activeUntil),
              urgency: content.urgency ? content.urgency.toLowerCase().replace('_', '-') : null,
              topic: content.topic,
              authorization: push.authorization(message.address.endpoint, vapid),
            }),
          ),
        );
        let bodies: Buffer[];
        try {
          bodies = await push.encrypt(ready.map(({ message, payload }) => ({ p256dh: message.address.p256dh, auth: message.address.auth, payload })));
        } catch (error) {
          for (const request of await opening) request.abort();
          throw error;
        }
        return (await opening).map((request, index) => ({ send: () => request.send(bodies[index]!), abort: () => request.abort() }));
      },

      async forget(messages: DueMessage<PushAddress>[]) {
        const ids = messages.map((message) => message.address.subscriptionId);
        await herald.prisma.pushSubscription.updateMany({ where: { id: { in: ids }, status: 'ACTIVE' }, data: { status: 'EXPIRED' } });
      },
    };
  },
};

/** The push's links to Herald's own smart links carry its token, so their clicks name the contact. */
function withLinkTokens(payload: PushPayload, publicUrl: string, token: string): PushPayload {
  const link = (url: string) => withMessageToken(url, publicUrl, token);
  return { ...payload, url: link(payload.url), actions: payload.actions.map((action) => (action.url ? { ...action, url: link(action.url) } : action)) };
}

/** The smaller of the campaign's TTL and the time left until activeUntil. */
export function ttlSeconds(content: Content, activeUntil: Date | null, now = Date.now()): number {
  const ttl = content.ttlSeconds ?? MAX_TTL_SECONDS;
  if (!activeUntil) return ttl;
  return Math.max(0, Math.min(ttl, Math.floor((activeUntil.getTime() - now) / 1000)));
}
