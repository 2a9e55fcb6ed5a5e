import { Prisma } from '../../db/prisma.ts';
import { namedQuery } from '../../db/sql-transaction.ts';
import type { Campaign, Workspace } from '../../generated/prisma/client.ts';
import type { Herald } from '../../herald-context.ts';
import { type Channel, type DeliveryOutcome, type DueMessage, type Prepared, type Ready, settleNow } from '../channel.ts';
import { templateContact } from '../contact-scope.ts';
import { CompiledInApp, expiryOf, type InAppContent, type RenderedInApp } from './content.ts';

/** An on-site message has no address: the visitor's browser comes to fetch it. */
type NoAddress = Record<string, never>;

interface Stored {
  payload: RenderedInApp;
  expiresAt: Date;
}

/**
 * On-site messages: "sending" renders the message and stores it beside its ledger row
 * (InAppMessage, keyed by the row's id), where the SDK finds it (pending.ts) while the row is
 * SENT, not clicked, closed or answered, and not expired. It is shown on the customer's own site
 * to a visitor who is there, so no channel consent gates it (as with webhooks); caps, windows,
 * holdout and the control group apply as everywhere. The insert does nothing when the row's
 * message exists already, so a resend after a crash leaves exactly one message per row, and a
 * message is "delivered" once it is available (REPORTS_DELIVERY does not list IN_APP).
 */
export const inApp: Channel<NoAddress, Stored> = {
  name: 'IN_APP',
  afterCrash: 'resend',
  address: { value: Prisma.sql`'{}'::jsonb`, timezone: Prisma.sql`NULL::text`, join: Prisma.empty },
  // One row per contact in the audience; nothing suppresses it up front.
  recipients: (source) => Prisma.sql`SELECT r.*, NULL::uuid AS "subscriptionId", NULL::text AS "addressTimezone", NULL::text AS skip FROM ${source} r`,

  async sender(herald: Herald, campaign: Campaign, _workspace: Workspace) {
    const content = campaign.content as InAppContent;
    // Content saved by an older Herald that no longer parses fails its messages, not the pass.
    let compiled: CompiledInApp | Error;
    try {
      compiled = new CompiledInApp(content);
    } catch (error) {
      compiled = error instanceof Error ? error : new Error(String(error));
    }

    return {
      prepare(message: DueMessage<NoAddress>): Prepared<NoAddress, Stored> {
        if (campaign.activeUntil && campaign.activeUntil.getTime() <= Date.now()) return settleNow(message, 'EXPIRED', 'EXPIRED', 'activeUntil has passed');
        if (!(compiled instanceof CompiledInApp)) return settleNow(message, 'FAILED', 'TEMPLATE_ERROR', compiled.message.split('\n')[0]);
        const payload = compiled.renderFor({ contact: templateContact(message.contact), event: message.event });
        return { message, payload: { payload, expiresAt: expiryOf(content, campaign.activeUntil) } };
      },

      async stage(ready: Ready<NoAddress, Stored>[]) {
        // Stored only once the claim commits (send runs then): until its row is SENT nobody sees it anyway.
        return ready.map(({ message, payload }) => ({ send: () => store(herald, message.id, payload), abort: () => {} }));
      },

      // No address to forget.
      async forget() {},
    };
  },
};

/** Makes one message available; a second store of the same row keeps the first. */
async function store(herald: Herald, messageId: string, { payload, expiresAt }: Stored): Promise<DeliveryOutcome> {
  try {
    await namedQuery(
      herald.pool,
      `INSERT INTO "InAppMessage" ("messageId", payload, "expiresAt") VALUES ($1::uuid, $2::jsonb, $3::timestamptz) ON CONFLICT ("messageId") DO NOTHING`,
      [messageId, JSON.stringify(payload), expiresAt.toISOString()],
      herald.config.HERALD_PREPARED_STATEMENTS,
    );
    return { kind: 'sent' };
  } catch (error) {
    return { kind: 'retry', error: `the message could not be stored: ${error instanceof Error ? error.message : String(error)}` };
  }
}
