import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import { Prisma } from '../../db/prisma.ts';
import type { $Enums, Campaign, Workspace } from '../../generated/prisma/client.ts';
import type { Herald } from '../../herald-context.ts';
import { emailTransportOf } from '../../workspaces/email-settings.ts';
import { secretFromRow } from '../../workspaces/secrets.ts';
import type { Channel, DeliveryOutcome, DueMessage, Prepared, Ready } from '../channel.ts';
import { publishDeliveryEvents } from '../events.ts';
import { templateContact } from '../contact-scope.ts';
import type { MessageReason, Transition } from '../ledger.ts';
import { signToken } from '../tokens.ts';
import { compiledEmailOf, EmailContentError, EmailRenderError } from './content.ts';
import { messageIdHeader, unsubscribeUrl, verpAddress } from './links.ts';
import { type Envelope, SMTP_CONNECTIONS } from './mailers.ts';
import { type BuiltEmail, buildEmail } from './mime.ts';

/** Where an email goes: the contact's address and what the contact said about email. */
export interface EmailAddress {
  email: string | null;
  status: $Enums.ChannelStatus;
}

/** A message built and ready for the wire (signed, when the workspace has a DKIM key, as it leaves). */
interface Mail {
  envelope: Envelope;
  email: BuiltEmail;
}

/**
 * Email over SMTP (nodemailer, pooled). A message is rendered from the campaign's compiled email
 * (content.ts: MJML compiled once, Liquid per recipient, links tracked), carries a Message-ID
 * derived from its ledger id and a VERP envelope sender that names it (links.ts), and for
 * marketing email the one-click List-Unsubscribe headers of RFC 8058.
 */
export const email: Channel<EmailAddress, Mail> = {
  name: 'EMAIL',
  // A resend after a crash carries the same Message-ID: mail systems and readers see one message.
  afterCrash: 'resend',
  // Sixteen messages per SMTP connection: a lane claims ~20 rows at a time (its refill is half of
  // its share), not 5, which halved PostgreSQL's CPU per email (the claim's statements and COMMIT
  // are per batch). A message's body is ~90 KB outside the heap, reused once sent (mime.ts).
  inFlight: 16 * SMTP_CONNECTIONS,
  address: {
    value: Prisma.sql`jsonb_build_object('email', c.email, 'status', c."emailStatus")`,
    timezone: Prisma.sql`NULL::text`,
    join: Prisma.empty,
  },
  // One row per contact; SUPPRESSED at once without an address or consent (see refusal()).
  recipients: (source) => Prisma.sql`
    SELECT r.*, NULL::uuid AS "subscriptionId", NULL::text AS "addressTimezone",
      CASE WHEN ec.email IS NULL THEN 'NO_EMAIL'
        WHEN ec."emailStatus" IN ('BOUNCED', 'COMPLAINED') THEN ec."emailStatus"::text
        WHEN r.marketing AND ec."emailStatus" <> 'SUBSCRIBED' THEN 'UNSUBSCRIBED' END AS skip
    FROM ${source} r JOIN "Contact" ec ON ec.id = r."contactId"`,

  async sender(herald: Herald, campaign: Campaign, workspace: Workspace) {
    const transport = await emailTransportOf(herald, workspace);
    if (!transport.smtpUrl || !transport.fromAddress) {
      // Checked when the campaign starts; settings cleared since leave the messages waiting.
      throw new Error(`workspace ${workspace.id} cannot send email: it has no ${transport.smtpUrl ? 'from address' : 'SMTP server'}`);
    }
    const mailer = await herald.deliveries.mailers.for(transport);
    // Content saved by an older Herald that no longer compiles fails its messages, not the pass.
    const compiled = await compiledEmailOf(campaign).catch((error: unknown) => {
      if (error instanceof EmailContentError) return error;
      throw error;
    });
    const content = campaign.content as { fromName?: string | null; replyTo?: string | null };
    const trackingSecret = await secretFromRow(herald, workspace, 'trackingSecret');
    const domain = transport.fromAddress.slice(transport.fromAddress.lastIndexOf('@') + 1);
    const from = { name: content.fromName ?? transport.fromName, address: transport.fromAddress };
    const replyTo = content.replyTo ?? transport.replyTo;
    // Receipts (not frequency capped) are not marketing: they need no consent and offer no unsubscribe.
    const marketing = campaign.frequencyCapped;

    const settle = (message: DueMessage<EmailAddress>, status: Transition['status'], reason: Transition['reason'], error?: string): Prepared<EmailAddress, Mail> => ({
      message,
      settle: { id: message.id, from: 'QUEUED', status, reason, error },
    });

    return {
      prepare(message: DueMessage<EmailAddress>): Prepared<EmailAddress, Mail> {
        if (campaign.activeUntil && campaign.activeUntil.getTime() <= Date.now()) return settle(message, 'EXPIRED', 'EXPIRED', 'activeUntil has passed');
        if (compiled instanceof EmailContentError) return settle(message, 'FAILED', 'TEMPLATE_ERROR', `${compiled.path.join('.')}: ${compiled.message}`);
        // A test goes to the marketer's own address whether or not it opted in; never to a dead one.
        const refused = refusal(message.address, marketing && !message.test);
        if (refused) return settle(message, 'SUPPRESSED', refused, `the contact's email is ${message.address.email ? message.address.status : 'missing'} at send time`);
        const token = signToken(message.id, trackingSecret);
        const unsubscribe = unsubscribeUrl(herald.publicUrl, token);
        let rendered;
        try {
          rendered = compiled.renderToSend({ contact: templateContact(message.contact), event: message.event }, { token, publicUrl: herald.publicUrl, trackingSecret });
        } catch (error) {
          if (error instanceof EmailRenderError) return settle(message, 'FAILED', 'TEMPLATE_ERROR', error.message);
          throw error;
        }
        const returnPath = verpAddress(message.id, trackingSecret, domain);
        const email = buildEmail({
          from,
          to: message.address.email!,
          replyTo,
          subject: rendered.subject,
          html: rendered.html,
          text: rendered.text,
          messageId: messageIdHeader(message.id, domain),
          headers: marketing
            ? [
                ['List-Unsubscribe', `<${unsubscribe}>, <mailto:${returnPath}?subject=unsubscribe>`],
                ['List-Unsubscribe-Post', 'List-Unsubscribe=One-Click'],
              ]
            : [],
        });
        return { message, payload: { envelope: { from: returnPath, to: message.address.email! }, email } };
      },

      async stage(ready: Ready<EmailAddress, Mail>[]) {
        // SMTP has nothing to open ahead: the pool keeps its connections, sendMail queues for one.
        return ready.map(({ payload }) => ({
          send: () => mailer.send(payload.envelope, payload.email).then(outcomeOfInfo, outcomeOfError),
          abort: () => {},
        }));
      },

      async forget(messages: DueMessage<EmailAddress>[]) {
        // Hard bounces: the address is never mailed again (unless the contact's email changes).
        const bounced = messages.map((message) => ({ id: message.contactId, email: message.address.email }));
        // A test send's bounce marks the address, but stays out of the stats and the live feed.
        const counted = messages.filter((message) => !message.test);
        await herald.prisma.$executeRaw`
          WITH b AS (SELECT * FROM jsonb_to_recordset(${JSON.stringify(bounced)}::jsonb) AS b(id uuid, email text)), marked AS (
            UPDATE "Contact" c SET "emailStatus" = 'BOUNCED', "emailStatusAt" = now(), "emailStatusSource" = 'bounce', "updatedAt" = now()
            FROM b WHERE c.id = b.id AND c.email = b.email AND c."emailStatus" <> 'BOUNCED' RETURNING c.id)
          INSERT INTO "CampaignCount" ("campaignId", metric, count) SELECT ${campaign.id}::uuid, 'bounced', ${counted.length} WHERE ${counted.length} > 0
          ON CONFLICT ("campaignId", metric) DO UPDATE SET count = "CampaignCount".count + excluded.count`;
        publishDeliveryEvents(
          herald,
          campaign.workspaceId,
          counted.map((message) => ({ type: 'BOUNCED', messageId: message.id, campaignId: campaign.id, contactId: message.contactId, reason: null })),
        );
      },
    };
  },
};

/** Why an address may not be mailed now, or null: none, bounced, complained, or (for marketing) not subscribed. */
function refusal(address: EmailAddress, marketing: boolean): MessageReason | null {
  if (!address.email) return 'NO_EMAIL';
  if (address.status === 'BOUNCED' || address.status === 'COMPLAINED') return address.status;
  if (marketing && address.status !== 'SUBSCRIBED') return 'UNSUBSCRIBED';
  return null;
}

export function outcomeOfInfo(info: SMTPTransport.SentMessageInfo): DeliveryOutcome {
  if (info.rejected.length > 0) return { kind: 'gone', reason: 'BOUNCED', error: `the mail server refused the recipient: ${info.response}` };
  return { kind: 'sent' };
}

/**
 * A mail server's refusal of the recipient or the message (5xx at RCPT TO or DATA) is a hard
 * bounce. Everything else — 4xx, a lost or refused connection, a timeout, even 5xx to the login
 * or the sender (the workspace's settings, not the recipient) — is tried again with backoff.
 */
export function outcomeOfError(error: Error & { code?: string; responseCode?: number; response?: string; command?: string }): DeliveryOutcome {
  const said = error.response ?? error.message;
  const permanent = (error.responseCode ?? 0) >= 500;
  if (permanent && (error.code === 'EENVELOPE' ? error.command !== 'MAIL FROM' : error.code === 'EMESSAGE')) {
    return { kind: 'gone', reason: 'BOUNCED', error: `SMTP ${error.responseCode}: ${said}` };
  }
  return { kind: 'retry', error: error.responseCode ? `SMTP ${error.responseCode}: ${said}` : said };
}
