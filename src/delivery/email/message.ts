import { templateContact } from '../contact-scope.ts';
import { signToken } from '../tokens.ts';
import { RenderError } from '../templates.ts';
import type { CompiledEmail } from './compile.ts';
import { dkimBodyHash } from './dkim.ts';
import { messageIdHeader, unsubscribeUrl, verpAddress } from './links.ts';
import { type BuiltEmail, buildEmail, type MailAddress } from './mime.ts';

/** What every message of one campaign's send shares (channel.ts builds it once per sender). */
export interface SendSetup {
  publicUrl: string;
  trackingSecret: string;
  /** The from address's domain: Message-ID and VERP return path. */
  domain: string;
  from: MailAddress;
  replyTo: string | null;
  /** Marketing email carries List-Unsubscribe (RFC 8058); receipts do not. */
  marketing: boolean;
  /** Whether the workspace signs with DKIM: the body's hash is then computed as the message is built. */
  dkim: boolean;
}

/** One recipient's message: its ledger row id, address, and what its templates see. */
export interface BuildJob {
  id: string;
  to: string;
  contact: Record<string, unknown>;
  event: Record<string, unknown> | null;
}

export interface BuiltMessage {
  email: BuiltEmail;
  /** The envelope sender (VERP), naming the message for bounces. */
  returnPath: string;
}

/**
 * Renders and builds one recipient's message: its tracking token, personalised subject, HTML and
 * text, Message-ID from the ledger id, VERP return path and, for marketing email, the one-click
 * List-Unsubscribe headers. A template that fails for this recipient answers its RenderError.
 */
export function buildMessage(compiled: CompiledEmail, setup: SendSetup, job: BuildJob): BuiltMessage | RenderError {
  const { publicUrl, trackingSecret, domain } = setup;
  const token = signToken(job.id, trackingSecret);
  let rendered;
  try {
    rendered = compiled.renderToSend({ contact: templateContact(job.contact), event: job.event }, { token, publicUrl, trackingSecret });
  } catch (error) {
    if (error instanceof RenderError) return error;
    throw error;
  }
  const returnPath = verpAddress(job.id, trackingSecret, domain);
  const email = buildEmail({
    from: setup.from,
    to: job.to,
    replyTo: setup.replyTo,
    subject: rendered.subject,
    html: rendered.html,
    text: rendered.text,
    messageId: messageIdHeader(job.id, domain),
    headers: setup.marketing
      ? [
          ['List-Unsubscribe', `<${unsubscribeUrl(publicUrl, token)}>, <mailto:${returnPath}?subject=unsubscribe>`],
          ['List-Unsubscribe-Post', 'List-Unsubscribe=One-Click'],
        ]
      : [],
  });
  if (setup.dkim) email.bodyHash = dkimBodyHash(email.body);
  return { email, returnPath };
}
