import type { Herald } from '../herald-context.ts';
import { messageIdFromHeader, messageIdFromVerp, verifyVerp } from '../delivery/email/links.ts';
import { applyEmailFeedback, type EmailFeedback, type FeedbackOutcome } from './email-feedback.ts';
import { type EmailMessage, emailMessageById, unsubscribeContactOf } from './email.ts';

/**
 * Mail sent back about an email: an RFC 3464 delivery status notification (a bounce), an RFC
 * 5965 ARF feedback report (a complaint), or the unsubscribe mail List-Unsubscribe's mailto:
 * asks for (message.ts), as a mailbox receiving them at the VERP Return-Path would hand them to
 * POST /email/dsn.
 */
export interface EmailReport {
  kind: 'delivery-status' | 'feedback-report' | 'unsubscribe';
  /** What to record; null when the report asks for nothing (a delivery, a "not spam"). */
  feedback: EmailFeedback | null;
  /** DSN: the first failed (else delayed, else any) recipient's Action and Status; ARF: Feedback-Type. */
  action?: string;
  status?: string;
  feedbackType?: string;
  /** VERP addresses seen, most trusted first; then ledger ids from returned Message-IDs. */
  verp: string[];
  messageIds: string[];
}

const DELIVERY_STATUS = ['message/delivery-status', 'message/global-delivery-status'];
const RETURNED_HEADERS = ['message/rfc822', 'message/global', 'text/rfc822-headers', 'message/rfc822-headers', 'message/global-headers'];
/** Where a receiving mailbox writes the address a report was sent to: our VERP address. */
const ENVELOPE_HEADERS = ['x-original-to', 'delivered-to', 'envelope-to', 'x-envelope-to', 'to'];
/** RFC 5965 types that are someone's complaint; not-spam and auth-failure are not. */
const COMPLAINTS = ['abuse', 'fraud', 'virus', 'other'];
const VERP = /bounces\+[0-9a-f]{64}@[^\s<>"';,]+/gi;
/** The subject List-Unsubscribe's mailto: gives (message.ts). */
const UNSUBSCRIBE_SUBJECT = /^\s*unsubscribe\s*$/i;

/** The report, or null when `raw` is neither a multipart/report of either kind nor an unsubscribe mail. */
export async function parseEmailReport(raw: Buffer): Promise<EmailReport | null> {
  let mail;
  try {
    // Loaded when the first report arrives (mailparser holds ~30 MB).
    const { simpleParser } = await import('mailparser');
    mail = await simpleParser(raw, {
      keepDeliveryStatus: true,
      ignoreEmbedded: true,
      skipHtmlToText: true,
      skipTextToHtml: true,
      skipImageLinks: true,
      checksumAlgo: false,
      maxChildNodes: 50,
      maxHeadSize: 256 * 1024,
    });
  } catch {
    return null;
  }
  const type = mail.headers.get('content-type') as { value?: string; params?: Record<string, string> } | undefined;
  const reportType = type?.value === 'multipart/report' ? type.params?.['report-type']?.toLowerCase() : undefined;
  const envelope = mail.headerLines.filter((line) => ENVELOPE_HEADERS.includes(line.key)).map((line) => line.line);
  if (reportType !== 'delivery-status' && reportType !== 'feedback-report') {
    // RFC 2369's mailto: unsubscribe: a person's mail to the VERP address with the subject the
    // header gave. An auto-reply (out of office, RFC 3834) sent to the envelope sender is not one.
    const automatic = mail.headerLines.some((line) => line.key === 'auto-submitted' && !/^auto-submitted:\s*no\b/i.test(line.line));
    if (!UNSUBSCRIBE_SUBJECT.test(mail.subject ?? '') || automatic) return null;
    return { kind: 'unsubscribe', feedback: null, verp: addresses(envelope), messageIds: [] };
  }
  const part = (types: string[]) => mail.attachments.find((attachment) => types.includes(attachment.contentType.toLowerCase()))?.content.toString('utf8');
  const returned = fieldGroups(headerBlock(part(RETURNED_HEADERS) ?? ''))[0] ?? new Map<string, string>();
  const messageIds = [returned.get('message-id'), mail.headers.get('in-reply-to'), mail.headers.get('references')]
    .flat()
    .map((value) => (typeof value === 'string' ? messageIdFromHeader(value) : null));

  if (reportType === 'delivery-status') {
    const fields = part(DELIVERY_STATUS);
    if (!fields) return null;
    const recipients = fieldGroups(fields).slice(1);
    const recipient =
      recipients.find((group) => group.get('action')?.toLowerCase() === 'failed') ??
      recipients.find((group) => group.get('action')?.toLowerCase() === 'delayed') ??
      recipients[0];
    if (!recipient) return null;
    const action = recipient.get('action')?.toLowerCase() ?? '';
    const status = /^[245]\.\d{1,3}\.\d{1,3}/.exec(recipient.get('status') ?? '')?.[0];
    // Failed with 5.x.x is permanent; failed with 4.x.x (given up after retries) or delayed is transient.
    const failed = action === 'failed' || action === 'delayed';
    return {
      kind: reportType,
      feedback: failed ? { type: 'BOUNCE', permanent: action === 'failed' && status?.startsWith('5') === true, diagnostic: recipient.get('diagnostic-code') ?? status } : null,
      action,
      status,
      verp: addresses([...envelope, recipient.get('x-original-to'), returned.get('return-path')]),
      messageIds: messageIds.filter((id): id is string => id !== null),
    };
  }
  const fields = part(['message/feedback-report']);
  if (!fields) return null;
  const report = fieldGroups(fields)[0] ?? new Map<string, string>();
  const feedbackType = report.get('feedback-type')?.toLowerCase() ?? '';
  return {
    kind: reportType,
    feedback: COMPLAINTS.includes(feedbackType) ? { type: 'COMPLAINT', permanent: false, diagnostic: `feedback report: ${feedbackType}` } : null,
    feedbackType,
    verp: addresses([report.get('original-mail-from'), returned.get('return-path'), ...envelope]),
    messageIds: messageIds.filter((id): id is string => id !== null),
  };
}

export type ReportOutcome =
  | { kind: 'unparseable' }
  | { kind: 'unmatched'; report: EmailReport }
  | { kind: 'matched'; report: EmailReport; messageId: string; matchedBy: 'verp' | 'message-id'; outcome: FeedbackOutcome | 'unsubscribed' | 'ignored' };

/**
 * Parses a report, finds its email in `workspaceId` (a VERP address whose MAC verifies, else a
 * returned Message-ID of Herald's; an unsubscribe mail only by its VERP address) and records it
 * as recordEmailFeedback, or the unsubscribe link, would.
 */
export async function recordEmailReport(herald: Herald, workspaceId: string, raw: Buffer): Promise<ReportOutcome> {
  const report = await parseEmailReport(raw);
  if (!report) return { kind: 'unparseable' };
  const found = await findMessage(herald, workspaceId, report);
  if (!found) return { kind: 'unmatched', report };
  let outcome: FeedbackOutcome | 'unsubscribed' | 'ignored' = 'ignored';
  if (report.kind === 'unsubscribe') outcome = (await unsubscribeContactOf(herald, found.message, 'unsubscribe-mail')) ? 'unsubscribed' : 'unchanged';
  else if (report.feedback) outcome = await applyEmailFeedback(herald, found.message, report.feedback);
  return { kind: 'matched', report, messageId: found.message.id, matchedBy: found.by, outcome };
}

async function findMessage(herald: Herald, workspaceId: string, report: EmailReport): Promise<{ message: EmailMessage; by: 'verp' | 'message-id' } | null> {
  const inWorkspace = async (id: string | null) => {
    const message = id ? await emailMessageById(herald, id) : null;
    return message?.workspaceId === workspaceId ? message : null;
  };
  for (const address of report.verp.slice(0, 5)) {
    const message = await inWorkspace(messageIdFromVerp(address));
    if (message && verifyVerp(address, message.trackingSecret)) return { message, by: 'verp' };
  }
  for (const id of report.messageIds.slice(0, 5)) {
    const message = await inWorkspace(id);
    if (message) return { message, by: 'message-id' };
  }
  return null;
}

function addresses(values: (string | undefined)[]): string[] {
  return [...new Set(values.flatMap((value) => value?.match(VERP) ?? []).map((address) => address.toLowerCase()))];
}

/** The header section of a returned message (or all of a text/rfc822-headers part). */
function headerBlock(text: string): string {
  const end = text.search(/\r?\n\r?\n/);
  return end < 0 ? text : text.slice(0, end);
}

/**
 * `Name: value` fields in groups separated by blank lines (a DSN: the per-message group, then
 * one per recipient), names lowercased, folded lines joined, the first of a repeated name kept.
 */
function fieldGroups(text: string): Map<string, string>[] {
  return text
    .split(/\r?\n[ \t]*\r?\n/)
    .map((group) => {
      const fields = new Map<string, string>();
      for (const line of group.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
        const match = /^([!-9;-~]+):[ \t]*(.*)$/.exec(line);
        const name = match?.[1]!.toLowerCase();
        if (name && !fields.has(name)) fields.set(name, match![2]!.trim());
      }
      return fields;
    })
    .filter((fields) => fields.size > 0);
}
