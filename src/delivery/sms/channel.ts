import { Prisma } from '../../db/prisma.ts';
import type { $Enums, Campaign, Workspace } from '../../generated/prisma/client.ts';
import type { Herald } from '../../herald-context.ts';
import { isPhoneNumber, maxSegmentsOf, smsCredentialsOf, smsStatusUrl } from '../../workspaces/sms-settings.ts';
import { type Channel, type DueMessage, type Prepared, type Ready, settleNow } from '../channel.ts';
import { templateContact } from '../contact-scope.ts';
import { publishDeliveryEvents } from '../events.ts';
import type { MessageReason } from '../ledger.ts';
import { CompiledSms, type SmsContent } from './content.ts';

/** Where an SMS goes: the contact's phone and what the contact said about SMS. */
export interface SmsAddress {
  phone: string | null;
  status: $Enums.ChannelStatus;
}

/** The rendered body of one message. */
interface Text {
  to: string;
  body: string;
}

/** The shape of a phone number the recipients query lets through; isPhoneNumber checks it fully at send. */
const E164 = '^\\+[1-9][0-9]{6,14}$';

/**
 * SMS through the Twilio Messages API (client.ts). Marketing SMS goes only to contacts whose
 * smsStatus is SUBSCRIBED; receipts (frequencyCapped: false) to any valid number. The provider has
 * no idempotency key, so a message whose request a crash cut may or may not have left: it is
 * recorded SENT/UNCONFIRMED and never sent again (at most once, see docs/sms.md).
 */
export const sms: Channel<SmsAddress, Text> = {
  name: 'SMS',
  afterCrash: 'unconfirmed',
  // Twilio serves at most 100 concurrent API requests per account (more answer 429): 96 stays under it.
  inFlight: 96,
  // A STOP from a number is credited only to an SMS that went to that number (inbound.ts).
  sentTo: (address) => address.phone,
  address: {
    value: Prisma.sql`jsonb_build_object('phone', c.phone, 'status', c."smsStatus")`,
    timezone: Prisma.sql`NULL::text`,
    join: Prisma.empty,
  },
  // One row per contact; SUPPRESSED at once without a number or consent (see refusal()).
  recipients: (source) => Prisma.sql`
    SELECT r.*, NULL::uuid AS "subscriptionId", NULL::text AS "addressTimezone",
      CASE WHEN sc.phone IS NULL OR sc.phone !~ ${E164} THEN 'NO_PHONE'
        WHEN sc."smsStatus" IN ('BOUNCED', 'COMPLAINED') THEN sc."smsStatus"::text
        WHEN r.marketing AND sc."smsStatus" <> 'SUBSCRIBED' THEN 'UNSUBSCRIBED' END AS skip
    FROM ${source} r JOIN "Contact" sc ON sc.id = r."contactId"`,

  async sender(herald: Herald, campaign: Campaign, workspace: Workspace) {
    const account = await smsCredentialsOf(herald, workspace);
    // Checked when the campaign starts; settings cleared since leave the messages waiting.
    if (!account) throw new Error(`workspace ${workspace.id} cannot send SMS: it has no SMS settings`);
    const post = herald.deliveries.sms.forAccount(account);
    // Content saved by an older Herald that no longer parses fails its messages, not the pass.
    let compiled: CompiledSms | Error;
    try {
      compiled = new CompiledSms(campaign.content as SmsContent, maxSegmentsOf(workspace));
    } catch (error) {
      compiled = error instanceof Error ? error : new Error(String(error));
    }
    // Receipts (not frequency capped) are not marketing: they need no consent.
    const marketing = campaign.frequencyCapped;

    return {
      prepare(message: DueMessage<SmsAddress>): Prepared<SmsAddress, Text> {
        if (campaign.activeUntil && campaign.activeUntil.getTime() <= Date.now()) return settleNow(message, 'EXPIRED', 'EXPIRED', 'activeUntil has passed');
        if (!(compiled instanceof CompiledSms)) return settleNow(message, 'FAILED', 'TEMPLATE_ERROR', `body: ${compiled.message.split('\n')[0]}`);
        // A test goes to the marketer's own phone whether or not it opted in.
        const refused = refusal(message.address, marketing && !message.test);
        if (refused) return settleNow(message, 'SUPPRESSED', refused, `the contact's phone is ${message.address.phone ? message.address.status : 'missing'} at send time`);
        const { body } = compiled.renderFor({ contact: templateContact(message.contact), event: message.event });
        return { message, payload: { to: message.address.phone!, body } };
      },

      async stage(ready: Ready<SmsAddress, Text>[]) {
        // Nothing to open ahead: the keep-alive agent holds the provider's connections.
        return ready.map(({ message, payload }) => ({
          send: () => post({ ...payload, statusCallback: smsStatusUrl(herald.publicUrl, workspace.id, message.id) }),
          abort: () => {},
        }));
      },

      async forget(messages: DueMessage<SmsAddress>[]) {
        // 21610: the person texted STOP to this sender; the contact is unsubscribed from SMS.
        const stopped = messages.map((message) => ({ id: message.contactId, phone: message.address.phone }));
        const counted = messages.filter((message) => !message.test);
        await herald.prisma.$executeRaw`
          WITH s AS (SELECT * FROM jsonb_to_recordset(${JSON.stringify(stopped)}::jsonb) AS s(id uuid, phone text)), marked AS (
            UPDATE "Contact" c SET "smsStatus" = 'UNSUBSCRIBED', "smsStatusAt" = now(), "smsStatusSource" = 'sms-stop', "updatedAt" = now()
            FROM s WHERE c.id = s.id AND c.phone = s.phone AND c."smsStatus" <> 'UNSUBSCRIBED' RETURNING c.id)
          INSERT INTO "CampaignCount" ("campaignId", metric, count) SELECT ${campaign.id}::uuid, 'unsubscribed', ${counted.length} WHERE ${counted.length} > 0
          ON CONFLICT ("campaignId", metric, shard) DO UPDATE SET count = "CampaignCount".count + excluded.count`;
        publishDeliveryEvents(
          herald,
          campaign.workspaceId,
          counted.map((message) => ({ type: 'UNSUBSCRIBED', messageId: message.id, campaignId: campaign.id, contactId: message.contactId, reason: null })),
        );
      },
    };
  },
};

/** Why a number may not be texted now, or null: none or invalid, bounced or complained, or (for marketing) not subscribed. */
function refusal(address: SmsAddress, marketing: boolean): MessageReason | null {
  if (!address.phone || !isPhoneNumber(address.phone)) return 'NO_PHONE';
  if (address.status === 'BOUNCED' || address.status === 'COMPLAINED') return address.status;
  if (marketing && address.status !== 'SUBSCRIBED') return 'UNSUBSCRIBED';
  return null;
}
