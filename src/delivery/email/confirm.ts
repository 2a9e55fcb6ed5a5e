import { exponential } from 'agenda';
import { z } from 'zod';
import { CONFIRM_OPT_IN_JOB, type ConfirmOutcome, confirmEmailOptIn, currentContactId, forgetConfirmationRequest } from '../../contacts/email-confirmation.ts';
import type { Herald } from '../../herald-context.ts';
import type { Agenda } from '../../jobs/agenda.ts';
import { emailSendingProblem, emailSettingsOf, emailTransportOf } from '../../workspaces/email-settings.ts';
import { secretFromRow } from '../../workspaces/secrets.ts';
import type { DeliveryOutcome } from '../channel.ts';
import { outcomeOfError, outcomeOfInfo } from './channel.ts';
import { CONFIRM_LINK_TTL_MS, confirmUrl, readConfirmationToken, signConfirmationToken, verifyConfirmationToken } from './confirm-link.ts';
import { buildEmail } from './mime.ts';

/**
 * The double opt-in confirmation email (the request is recorded by contacts/email-confirmation.ts):
 * a fixed built-in message from the workspace's from address with a signed link (confirm-link.ts).
 *
 * The job is idempotent: it sends only for the request it was queued for (same address and
 * requestedAt, the contact not yet SUBSCRIBED, BOUNCED or COMPLAINED) and only while that request
 * has no `sentAt`, so a second run after a success sends nothing; a run cut between the server's
 * answer and `sentAt` sends again, with the same Message-ID. A workspace that cannot send email (no
 * SMTP server or from address) gets a warning in the log and the opt-in stays unconfirmed; the
 * request is forgotten so the person's next try, once the settings are fixed, mails at once.
 * A mail server that is down or answers 4xx is tried again with backoff (5 more times in ~10
 * minutes); a 5xx to the recipient is a hard bounce: the contact's address is BOUNCED.
 */
const confirmJob = z.object({ contactId: z.uuid(), email: z.string().min(1), requestedAt: z.coerce.date() });
const SUBJECT = 'Please confirm your subscription';

export function defineEmailConfirmationJob(agenda: Agenda, herald: Herald): void {
  agenda.define(
    CONFIRM_OPT_IN_JOB,
    async (job) => {
      const request = confirmJob.safeParse(job.attrs.data);
      if (!request.success) return void herald.log.warn({ job: CONFIRM_OPT_IN_JOB, issues: request.error.issues }, 'confirmation job without a valid payload; skipped');
      await sendConfirmationEmail(herald, request.data);
    },
    { concurrency: 4, lockLifetime: 60_000, removeOnComplete: true, backoff: exponential({ delay: 5_000, factor: 3, maxRetries: 5, jitter: 0.2 }) },
  );
  // Given up: the person's next opt-in asks again at once instead of waiting out the window.
  agenda.on(`retry exhausted:${CONFIRM_OPT_IN_JOB}`, (_error: Error, job: { attrs: { data: unknown } }) => {
    const request = confirmJob.safeParse(job.attrs.data);
    if (request.success) forgetConfirmationRequest(herald, request.data).catch(() => {});
  });
}

export async function sendConfirmationEmail(herald: Herald, queued: z.output<typeof confirmJob>): Promise<'sent' | 'skipped' | 'cannot-send' | 'bounced'> {
  // A visitor who logged in since the request: its request moved to the customer (contacts/identify.ts).
  const request = { ...queued, contactId: await currentContactId(herald, queued.contactId) };
  const row = await herald.prisma.emailConfirmation.findUnique({
    where: { contactId: request.contactId },
    select: {
      email: true,
      requestedAt: true,
      sentAt: true,
      contact: {
        select: {
          email: true,
          emailStatus: true,
          workspace: { select: { id: true, name: true, emailSettings: true, smtpUrl: true, dkimPrivateKey: true, trackingSecret: true } },
        },
      },
    },
  });
  const current =
    row && !row.sentAt && row.email === request.email && row.requestedAt.getTime() === request.requestedAt.getTime() && row.contact.email === request.email;
  if (!current || ['SUBSCRIBED', 'BOUNCED', 'COMPLAINED'].includes(row.contact.emailStatus)) return 'skipped';
  const { workspace } = row.contact;
  const log = herald.log.child({ workspaceId: workspace.id, contactId: request.contactId });

  const problem = emailSendingProblem(herald, workspace);
  if (problem) {
    log.warn({ problem }, 'double opt-in: no confirmation email sent, the workspace cannot send email; the opt-in stays unconfirmed');
    await forgetConfirmationRequest(herald, request);
    return 'cannot-send';
  }
  const transport = await emailTransportOf(herald, workspace);
  const from = transport.fromAddress!;
  const token = signConfirmationToken(request, await secretFromRow(herald, workspace, 'trackingSecret'));
  const content = confirmationContent(transport.fromName ?? workspace.name, confirmUrl(herald.publicUrl, token));
  const mailer = await herald.deliveries.mailers.for(transport);
  const email = buildEmail({
    from: { name: transport.fromName, address: from },
    to: request.email,
    replyTo: transport.replyTo,
    subject: SUBJECT,
    ...content,
    // One Message-ID per request: a resend after a crash is recognisably the same message.
    messageId: `<confirm-${request.contactId}-${request.requestedAt.getTime()}@${from.slice(from.lastIndexOf('@') + 1)}>`,
    headers: [['Auto-Submitted', 'auto-generated']],
  });
  const outcome: DeliveryOutcome = await mailer.send({ from, to: request.email }, email).then(outcomeOfInfo, outcomeOfError);

  if (outcome.kind === 'retry') throw new Error(`confirmation email not sent, will retry: ${outcome.error}`);
  if (outcome.kind === 'sent') {
    await herald.prisma.emailConfirmation.updateMany({
      where: { contactId: request.contactId, email: request.email, requestedAt: request.requestedAt, sentAt: null },
      data: { sentAt: new Date() },
    });
    return 'sent';
  }
  // The mail server refused the address for good: like any hard bounce, it is not mailed again.
  log.info({ error: outcome.error }, 'double opt-in: the confirmation email bounced');
  await herald.prisma.$executeRaw`
    UPDATE "Contact" SET "emailStatus" = 'BOUNCED', "emailStatusAt" = now(), "emailStatusSource" = 'bounce', "updatedAt" = now()
    WHERE id = ${request.contactId}::uuid AND email = ${request.email} AND "emailStatus" <> 'BOUNCED'`;
  return 'bounced';
}

/** The fixed message: the sender's name escaped in the HTML, the link as is in the text part. */
function confirmationContent(sender: string, link: string): { text: string; html: string } {
  const days = CONFIRM_LINK_TTL_MS / (24 * 3600_000);
  const note = `If you did not ask for this, ignore this email: you will not be subscribed. The link works for ${days} days.`;
  return {
    text: `Please confirm that you want to receive emails from ${sender}:\n\n${link}\n\n${note}\n`,
    html:
      '<!doctype html><html><head><meta charset="utf-8"></head>' +
      '<body style="font:16px/1.5 system-ui,sans-serif;color:#222;max-width:32rem;margin:2rem auto;padding:0 1rem">' +
      `<p>Please confirm that you want to receive emails from <strong>${escapeHtml(sender)}</strong>.</p>` +
      `<p><a href="${escapeHtml(link)}" style="display:inline-block;padding:.6rem 1.2rem;background:#1a56db;color:#fff;text-decoration:none;border-radius:4px">Confirm my subscription</a></p>` +
      `<p style="font-size:13px;color:#666">${escapeHtml(note)}</p></body></html>`,
  };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** What a confirmation link names: the request, or why it no longer works. */
export type ConfirmationLink =
  | { kind: 'valid'; workspaceId: string; contactId: string; email: string; requestedAt: Date; sender: string }
  | { kind: 'expired'; sender: string }
  | { kind: 'invalid' };

/**
 * The request a token names, when it verifies against the contact's current address under its
 * workspace's tracking secret: malformed, forged, or for an address the contact no longer has
 * is `invalid`; past CONFIRM_LINK_TTL_MS, `expired`.
 */
export async function confirmationByToken(herald: Herald, token: string): Promise<ConfirmationLink> {
  const claim = readConfirmationToken(token);
  // A link mailed to a visitor who logged in since confirms for the customer it became.
  const contactId = claim ? await currentContactId(herald, claim.contactId) : null;
  const contact = contactId
    ? await herald.prisma.contact.findUnique({
        where: { id: contactId },
        select: { email: true, workspace: { select: { id: true, name: true, emailSettings: true, trackingSecret: true } } },
      })
    : null;
  if (!claim || !contact?.email) return { kind: 'invalid' };
  const { workspace } = contact;
  if (!verifyConfirmationToken(token, contact.email, await secretFromRow(herald, workspace, 'trackingSecret'))) return { kind: 'invalid' };
  const sender = emailSettingsOf(workspace).fromName ?? workspace.name;
  if (claim.requestedAt.getTime() + CONFIRM_LINK_TTL_MS < Date.now()) return { kind: 'expired', sender };
  return { kind: 'valid', workspaceId: workspace.id, contactId: contactId!, email: contact.email, requestedAt: claim.requestedAt, sender };
}

/** POST of a confirmation link: subscribes the contact (contacts/email-confirmation.ts) when the link is valid. */
export async function confirmByToken(herald: Herald, token: string): Promise<{ link: ConfirmationLink; outcome: ConfirmOutcome | null }> {
  const link = await confirmationByToken(herald, token);
  if (link.kind !== 'valid') return { link, outcome: null };
  const outcome = await confirmEmailOptIn(herald, link);
  if (outcome === 'confirmed') {
    herald.log.info({ workspaceId: link.workspaceId, contactId: link.contactId }, 'double opt-in confirmed');
    herald.events.publish('workspace:changed', link.workspaceId, { reason: 'contacts_changed' });
  }
  return { link, outcome };
}
