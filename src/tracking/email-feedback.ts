import { ErrorCode, NotFoundError, ValidationError } from '../errors.ts';
import type { Message } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';
import { announce, type MovedRow, moveRows } from '../delivery/ledger.ts';
import { type EmailMessage, emailMessageById, emailMessageByToken, moveContactStatus, publishEmailEvents } from './email.ts';

export const EmailFeedbackTypes = ['BOUNCE', 'COMPLAINT'] as const;
export type EmailFeedbackType = (typeof EmailFeedbackTypes)[number];

export interface EmailFeedback {
  type: EmailFeedbackType;
  /** A bounce only: permanent (the address does not exist) or transient (a full mailbox, a delay). */
  permanent: boolean;
  diagnostic?: string | null;
}

export type FeedbackOutcome = 'bounced' | 'soft-bounced' | 'complained' | 'unchanged';

const notFound = () => new NotFoundError(ErrorCode.messageNotFound, 'No email message with this token or id');

/**
 * An asynchronous bounce or complaint about one email (a provider's webhook, or a report sent to
 * POST /email/dsn), named by its tracking token or its ledger id, which must belong to
 * `workspaceId`. Recording the same feedback again changes nothing.
 */
export async function recordEmailFeedback(
  herald: Herald,
  workspaceId: string,
  input: EmailFeedback & { token?: string | null; messageId?: string | null },
): Promise<Message> {
  if (!input.token && !input.messageId) throw ValidationError.field(['input'], 'give the token or the messageId of the email');
  const byToken = input.token ? await emailMessageByToken(herald, input.token) : undefined;
  const byId = input.messageId ? await emailMessageById(herald, input.messageId) : undefined;
  if (byToken === null || byId === null) throw notFound();
  const message = (byToken ?? byId)!;
  if (message.workspaceId !== workspaceId) throw notFound();
  if (byToken && byId && byToken.id !== byId.id) throw ValidationError.field(['input', 'messageId'], 'names another message than the token');
  await applyEmailFeedback(herald, message, input);
  return herald.prisma.message.findUniqueOrThrow({ where: { id: message.id } });
}

/**
 * - permanent bounce: the message moves SENT → FAILED/BOUNCED (the diagnostic as its error) and
 *   counts `bounced` once; the contact becomes BOUNCED (not over COMPLAINED), never mailed again.
 * - transient bounce: only the diagnostic, as the SENT message's error. The mail server keeps
 *   retrying such a message itself, so no counter and no change to the contact.
 * - complaint: the contact becomes COMPLAINED, counted once in `complained` (when the contact
 *   moved: a contact complains once); the message stays SENT.
 * A report about an address the contact has since changed (Message.sentTo) counts for the message
 * as above (a complaint once per message) but leaves the contact's new address alone.
 */
export async function applyEmailFeedback(herald: Herald, message: EmailMessage, feedback: EmailFeedback): Promise<FeedbackOutcome> {
  const diagnostic = cleanDiagnostic(feedback.diagnostic);
  if (feedback.type === 'COMPLAINT') {
    const moved = await moveContactStatus(herald.pool, message, { status: 'COMPLAINED', source: 'complaint', from: ['NONE', 'SUBSCRIBED', 'UNSUBSCRIBED', 'BOUNCED'] });
    if (moved) herald.events.publish('campaign:changed', message.campaignId, { reason: 'tracked' });
    if (moved && !message.test) publishEmailEvents(herald, message, ['COMPLAINED']);
    return moved ? 'complained' : 'unchanged';
  }
  if (!feedback.permanent) {
    const { count } = await herald.prisma.message.updateMany({
      where: { id: message.id, status: 'SENT' },
      data: { error: `transient bounce${diagnostic ? `: ${diagnostic}` : ''}`.slice(0, 500) },
    });
    return count ? 'soft-bounced' : 'unchanged';
  }
  return (await hardBounce(herald, message, diagnostic)) ? 'bounced' : 'unchanged';
}

/** The ledger move, its `bounced` count and the contact's status commit together. */
async function hardBounce(herald: Herald, message: EmailMessage, diagnostic: string | null): Promise<boolean> {
  const client = await herald.pool.connect();
  let moved: MovedRow[];
  try {
    await client.query('BEGIN');
    moved = await moveRows((text, values) => client.query<MovedRow>(text, values).then((result) => result.rows), [
      { id: message.id, from: 'SENT', status: 'FAILED', reason: 'BOUNCED', error: diagnostic ?? 'bounced' },
    ]);
    if (moved.length > 0 && !message.test) {
      await client.query(
        `INSERT INTO "CampaignCount" ("campaignId", metric, count) VALUES ($1::uuid, 'bounced', 1)
         ON CONFLICT ("campaignId", metric, shard) DO UPDATE SET count = "CampaignCount".count + 1`,
        [message.campaignId],
      );
    }
    // The address is undeliverable whatever the message's state: a resend would bounce too. The
    // contact is marked only while its email is still that address (moveContactStatus).
    await moveContactStatus(client, message, { status: 'BOUNCED', source: 'bounce', from: ['NONE', 'SUBSCRIBED', 'UNSUBSCRIBED'] });
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release(true);
    throw error;
  }
  client.release();
  announce(herald, moved);
  if (moved.length > 0 && !message.test) publishEmailEvents(herald, message, ['BOUNCED']);
  return moved.length > 0;
}

/** Report text is the outside world's: printable, one line, bounded. */
function cleanDiagnostic(text: string | null | undefined): string | null {
  const clean = (text ?? '').replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 500);
  return clean || null;
}
