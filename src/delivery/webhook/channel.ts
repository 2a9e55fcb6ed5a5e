import { Webhook } from 'standardwebhooks';
import { Prisma } from '../../db/prisma.ts';
import type { Campaign, Workspace } from '../../generated/prisma/client.ts';
import type { Herald } from '../../herald-context.ts';
import { webhookSigningSecretsOf } from '../../workspaces/secrets.ts';
import { type Channel, type DueMessage, type Prepared, type Ready, settleNow } from '../channel.ts';
import { templateContact } from '../contact-scope.ts';
import { openedHeaders } from './headers.ts';
import { CompiledWebhook, type RenderedWebhook, type WebhookContent, WebhookContentError } from './content.ts';

/** A webhook has no address of its own: it goes where its campaign's URL says. */
type NoAddress = Record<string, never>;

/**
 * Webhooks: one signed HTTPS request per contact to the URL the campaign names (content.ts), for
 * a tenant's own systems, chat tools or in-app inboxes. A webhook is a message about the person,
 * not to them, so their email or SMS consent does not gate it (as in Braze and Customer.io); the
 * campaign's frequency caps and delivery window do apply. Requests carry Standard Webhooks headers
 * whose `webhook-id` is the ledger id: the same on every retry and on a resend after a crash, so a
 * receiver that dedupes on it sees each message once.
 */
export const webhook: Channel<NoAddress, RenderedWebhook> = {
  name: 'WEBHOOK',
  // At least once: a claim a crash cut goes again with the same webhook-id.
  afterCrash: 'resend',
  address: { value: Prisma.sql`'{}'::jsonb`, timezone: Prisma.sql`NULL::text`, join: Prisma.empty },
  // One row per contact in the audience; nothing suppresses it up front.
  recipients: (source) => Prisma.sql`SELECT r.*, NULL::uuid AS "subscriptionId", NULL::text AS "addressTimezone", NULL::text AS skip FROM ${source} r`,

  async sender(herald: Herald, campaign: Campaign, workspace: Workspace) {
    // Content saved by an older Herald that no longer compiles fails its messages, not the pass.
    let compiled: CompiledWebhook | WebhookContentError;
    try {
      const content = campaign.content as WebhookContent;
      compiled = new CompiledWebhook(content, openedHeaders(herald.secrets, workspace.id, content.headers));
    } catch (error) {
      if (!(error instanceof WebhookContentError)) throw error;
      compiled = error;
    }
    const signers = (await webhookSigningSecretsOf(herald, workspace)).map((secret) => new Webhook(secret));
    const client = herald.deliveries.webhooks;

    return {
      prepare(message: DueMessage<NoAddress>): Prepared<NoAddress, RenderedWebhook> {
        if (campaign.activeUntil && campaign.activeUntil.getTime() <= Date.now()) return settleNow(message, 'EXPIRED', 'EXPIRED', 'activeUntil has passed');
        if (compiled instanceof WebhookContentError) return settleNow(message, 'FAILED', 'TEMPLATE_ERROR', `${compiled.path.join('.')}: ${compiled.message}`);
        const scope = { contact: templateContact(message.contact), event: message.event };
        const rendered = compiled.renderFor(scope, { messageId: message.id, campaignId: campaign.id, contact: message.contact });
        // A rendered URL may name another host than the one checked when the campaign was saved.
        const refusal = client.policy.urlRefusal(rendered.url);
        if (refusal) return settleNow(message, 'FAILED', 'TEMPLATE_ERROR', `the rendered URL is refused: ${refusal}`);
        return { message, payload: rendered };
      },

      async stage(ready: Ready<NoAddress, RenderedWebhook>[]) {
        // Content that does not compile readies nothing (prepare failed its messages), but the pass still stages the empty batch.
        if (compiled instanceof WebhookContentError) return [];
        const { method, headers } = compiled;
        const base = withDefaults(headers);
        const timestamp = new Date();
        // Signed here, just before the claim commits and the requests leave: the timestamp is the send's.
        return ready.map(({ message, payload }) => {
          const signature = signers.map((signer) => signer.sign(message.id, timestamp, payload.body)).join(' ');
          const signed = {
            ...base,
            'webhook-id': message.id,
            'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
            'webhook-signature': signature,
          };
          return { send: () => client.send({ url: payload.url, method, headers: signed, body: payload.body }), abort: () => {} };
        });
      },

      // No address to forget: a receiver's refusal fails the message, never the contact.
      async forget() {},
    };
  },
};

/** The tenant's headers, with a JSON content type and Herald's user agent unless they set their own. */
function withDefaults(headers: Record<string, string>): Record<string, string> {
  const given = new Set(Object.keys(headers).map((name) => name.toLowerCase()));
  return {
    ...(given.has('content-type') ? {} : { 'content-type': 'application/json' }),
    ...(given.has('user-agent') ? {} : { 'user-agent': 'Herald-Webhooks/1' }),
    ...headers,
  };
}
