import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import { Prisma } from '../../db/prisma.ts';
import type { $Enums, Campaign, Workspace } from '../../generated/prisma/client.ts';
import type { Herald } from '../../herald-context.ts';
import { emailTransportOf } from '../../workspaces/email-settings.ts';
import { secretFromRow } from '../../workspaces/secrets.ts';
import { type Channel, type DeliveryOutcome, type DueMessage, type Prepared, type Ready, settleNow, type Staged } from '../channel.ts';
import { publishDeliveryEvents } from '../events.ts';
import type { MessageReason } from '../ledger.ts';
import { type CompiledEmail, compiledEmailOf, EmailContentError } from './content.ts';
import { SMTP_CONNECTIONS } from './mailers.ts';
import type { BuildJob, SendSetup } from './message.ts';
import { releaseBody } from './mime.ts';

/** Where an email goes: the contact's address and what the contact said about email. */
export interface EmailAddress {
  email: string | null;
  status: $Enums.ChannelStatus;
}

/** A message to build (on the build thread, builds.ts) once its batch is staged. */
type Mail = BuildJob;

/**
 * Email over SMTP (nodemailer, pooled). A message is rendered from the campaign's compiled email
 * (compile.ts: MJML compiled once, Liquid per recipient, links tracked), carries a Message-ID
 * derived from its ledger id and a VERP envelope sender that names it (links.ts), and for
 * marketing email the one-click List-Unsubscribe headers of RFC 8058 (message.ts). Messages are
 * rendered and built on the build thread (builds.ts) as their batch is staged, before the claim:
 * a recipient whose template fails there is settled FAILED/TEMPLATE_ERROR, never claimed.
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
  // Bounces, complaints and unsubscribes come back later, maybe after the contact's email changed (tracking/email.ts).
  sentTo: (address) => address.email,
  // One row per contact; SUPPRESSED at once without an address or consent (see refusal()).
  recipients: (source) => Prisma.sql`
    SELECT r.*, NULL::uuid AS "subscriptionId", NULL::text AS "addressTimezone",
      CASE WHEN ec.email IS NULL THEN 'NO_EMAIL'
        WHEN ec."emailStatus" IN ('BOUNCED', 'COMPLAINED') THEN ec."emailStatus"::text
        WHEN r.marketing AND ec."emailStatus" <> 'SUBSCRIBED' THEN 'UNSUBSCRIBED' END AS skip
    FROM ${source} r JOIN "Contact" ec ON ec.id = r."contactId"`,

  async warm(herald: Herald, campaign: Campaign) {
    await herald.deliveries.mailers.builds.warm(buildKeyOf(campaign), await compiledEmailOf(campaign));
  },

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
    const setup: SendSetup = { publicUrl: herald.publicUrl, trackingSecret, domain, from, replyTo: replyTo ?? null, marketing, dkim: Boolean(transport.dkim) };
    const { builds } = herald.deliveries.mailers;
    const compiledKey = buildKeyOf(campaign);

    return {
      prepare(message: DueMessage<EmailAddress>): Prepared<EmailAddress, Mail> {
        if (campaign.activeUntil && campaign.activeUntil.getTime() <= Date.now()) return settleNow(message, 'EXPIRED', 'EXPIRED', 'activeUntil has passed');
        if (compiled instanceof EmailContentError) return settleNow(message, 'FAILED', 'TEMPLATE_ERROR', `${compiled.path.join('.')}: ${compiled.message}`);
        // A test goes to the marketer's own address whether or not it opted in; never to a dead one.
        const refused = refusal(message.address, marketing && !message.test);
        if (refused) return settleNow(message, 'SUPPRESSED', refused, `the contact's email is ${message.address.email ? message.address.status : 'missing'} at send time`);
        return { message, payload: { id: message.id, to: message.address.email!, contact: message.contact, event: message.event } };
      },

      async stage(ready: Ready<EmailAddress, Mail>[]): Promise<Staged[]> {
        // Rendered and built on the build thread; SMTP has nothing to open ahead (the pool keeps its connections).
        const built = await builds.build(compiledKey, compiled as CompiledEmail, setup, ready.map(({ payload }) => payload));
        return built.map((result, index): Staged => {
          const { id, to } = ready[index]!.payload;
          if ('renderError' in result) return { settle: { id, from: 'QUEUED', status: 'FAILED', reason: 'TEMPLATE_ERROR', error: result.renderError } };
          const { email, returnPath } = result;
          return {
            send: () => mailer.send({ from: returnPath, to }, email).then(outcomeOfInfo, outcomeOfError),
            abort: () => releaseBody(email), // never sent: its body is built again
          };
        });
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
          ON CONFLICT ("campaignId", metric, shard) DO UPDATE SET count = "CampaignCount".count + excluded.count`;
        publishDeliveryEvents(
          herald,
          campaign.workspaceId,
          counted.map((message) => ({ type: 'BOUNCED', messageId: message.id, campaignId: campaign.id, contactId: message.contactId, reason: null })),
        );
      },
    };
  },
};

/** The build thread compiles each campaign (or experiment variant) once, and again when it changes. */
function buildKeyOf(campaign: Campaign): string {
  return `${campaign.id}/${(campaign as { variant?: string }).variant ?? ''}@${campaign.updatedAt.getTime()}`;
}

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
