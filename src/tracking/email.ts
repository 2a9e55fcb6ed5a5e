import type { StatusSource } from '../contacts/channel-status.ts';
import type { Herald } from '../herald-context.ts';
import { type DeliveryEventType, publishDeliveryEvents } from '../delivery/events.ts';
import { verifyLinkSignature } from '../delivery/email/links.ts';
import { tokenMessageId, verifyToken } from '../delivery/tokens.ts';
import { secretFromRow } from '../workspaces/secrets.ts';
import { isMachineVisit, type Visit } from './email-machines.ts';

/**
 * What comes back from an email through its addresses (src/delivery/email/links.ts): the open
 * pixel, tracked links and the unsubscribe link. Each is counted once per message, in one
 * statement with the campaign's counters, like recordMessageEvent for push.
 *
 * For email, `displayedAt` is the first time the mail's images were loaded by anything (a person,
 * or a privacy proxy or scanner: `displayed`), `openedAt` the first time a person did (`opened`).
 * A message whose first load was a machine's counts once in `machineOpened`.
 */

export interface EmailMessage {
  id: string;
  workspaceId: string;
  campaignId: string;
  contactId: string;
  test: boolean;
  status: string;
  sentAt: Date | null;
  displayedAt: Date | null;
  openedAt: Date | null;
  clickedAt: Date | null;
  workspaceName: string;
  trackingSecret: string;
}

/** An email ledger row by id, with its workspace's tracking secret; null for any other channel. */
export async function emailMessageById(herald: Herald, id: string): Promise<EmailMessage | null> {
  const row = await herald.prisma.message.findUnique({
    where: { id },
    select: {
      id: true,
      workspaceId: true,
      campaignId: true,
      contactId: true,
      channel: true,
      test: true,
      status: true,
      sentAt: true,
      displayedAt: true,
      openedAt: true,
      clickedAt: true,
      campaign: { select: { workspace: { select: { name: true, trackingSecret: true } } } },
    },
  });
  if (!row || row.channel !== 'EMAIL') return null;
  const { campaign, channel: _channel, ...message } = row;
  const trackingSecret = await secretFromRow(herald, { id: row.workspaceId, trackingSecret: campaign.workspace.trackingSecret }, 'trackingSecret');
  return { ...message, workspaceName: campaign.workspace.name, trackingSecret };
}

/** The email a tracking token names, or null when the token is malformed, forged or not an email's. */
export async function emailMessageByToken(herald: Herald, token: string): Promise<EmailMessage | null> {
  const id = tokenMessageId(token);
  const message = id ? await emailMessageById(herald, id) : null;
  return message && verifyToken(token, message.id, message.trackingSecret) ? message : null;
}

/** The open pixel was fetched: a person's first fetch counts `opened`, a machine's first `machineOpened`. */
export async function recordEmailOpen(herald: Herald, token: string, visit: Visit): Promise<'person' | 'machine' | null> {
  const message = await emailMessageByToken(herald, token);
  if (!message) return null;
  const person = !isMachineVisit(visit, message.sentAt);
  // Repeated fetches (mail clients reload images) cost only the read above.
  if (person ? !message.openedAt : !message.displayedAt) await stamp(herald, message, { person, click: false });
  return person ? 'person' : 'machine';
}

export type ClickOutcome = { ok: true; target: string; counted: boolean } | { ok: false };

/**
 * A tracked link was followed: the token and the target's signature must verify, and the target
 * must be an http(s) URL, else nothing redirects (no open redirect under Herald's host). A
 * person's click counts `clicked` once and implies a person opened the mail; a scanner's is
 * redirected but not counted.
 */
export async function recordEmailClick(herald: Herald, link: { token: string; target: string; signature: string }, visit: Visit): Promise<ClickOutcome> {
  const message = await emailMessageByToken(herald, link.token);
  if (!message || !verifyLinkSignature(link.token, link.target, link.signature, message.trackingSecret)) return { ok: false };
  let target: URL;
  try {
    target = new URL(link.target);
  } catch {
    return { ok: false };
  }
  if (target.protocol !== 'https:' && target.protocol !== 'http:') return { ok: false };
  const counted = !isMachineVisit(visit, message.sentAt);
  if (counted && !message.clickedAt) await stamp(herald, message, { person: true, click: true });
  return { ok: true, target: target.href, counted };
}

/**
 * The contact asked to stop (the link's page, or RFC 8058 one-click): emailStatus UNSUBSCRIBED,
 * counted once in `unsubscribed`. Idempotent; a contact already BOUNCED or COMPLAINED stays so
 * (both keep mail away already, and say more). Null for an invalid token: nothing changes.
 */
export async function unsubscribeByToken(herald: Herald, token: string): Promise<{ changed: boolean; sender: string } | null> {
  const message = await emailMessageByToken(herald, token);
  if (!message) return null;
  return { changed: await unsubscribeContactOf(herald, message, 'unsubscribe-link'), sender: message.workspaceName };
}

/**
 * The message's contact asked to stop, by its link or by the List-Unsubscribe mailto: (email-reports.ts).
 * Answers whether it counted (see moveContactStatus).
 */
export async function unsubscribeContactOf(herald: Herald, message: EmailMessage, source: Extract<StatusSource, 'unsubscribe-link' | 'unsubscribe-mail'>): Promise<boolean> {
  const counted = await moveContactStatus(herald.pool, message, { status: 'UNSUBSCRIBED', source, from: ['NONE', 'SUBSCRIBED'] });
  if (counted) herald.events.publish('campaign:changed', message.campaignId, { reason: 'tracked' });
  if (counted && !message.test) publishEmailEvents(herald, message, ['UNSUBSCRIBED']);
  return counted;
}

type Run = Pick<import('pg').PoolClient, 'query'>;

/**
 * What a late report does, by the status it asks for: the campaign counter it counts in, and the
 * message's column stamped with the first one (a bounce is counted by its ledger move instead).
 */
const LATE_REPORTS = {
  UNSUBSCRIBED: { metric: 'unsubscribed', stamp: '"unsubscribedAt"' },
  COMPLAINED: { metric: 'complained', stamp: '"complainedAt"' },
  BOUNCED: null,
} as const;

/**
 * Moves the message's contact to an email status if it is in one of `from`, in one statement; two
 * at once move the contact once. The status is a fact about an address (contacts/channel-status.ts):
 * it moves only while the contact's email is still the one the message was sent to (Message.sentTo,
 * compared without case; a message sent before Herald kept it is taken to be about the current one).
 *
 * A complaint or unsubscribe counts for the message's campaign when it moved the contact (a person
 * complains or leaves once), or when it is the message's first about an address the contact no
 * longer has: the send was reported, so its campaign counts it, but the new address is untouched.
 * Test messages are never counted. Answers whether it counted (moved or not, for a test message).
 */
export async function moveContactStatus(
  run: Run,
  message: Pick<EmailMessage, 'id'>,
  change: { status: keyof typeof LATE_REPORTS; source: string; from: string[] },
): Promise<boolean> {
  const late = LATE_REPORTS[change.status];
  const sameAddress = (contact: string, sentTo: string) => `(${sentTo} IS NULL OR lower(${contact}.email) = lower(${sentTo}))`;
  const moved = `moved AS (
       UPDATE "Contact" c SET "emailStatus" = $2::"ChannelStatus", "emailStatusAt" = now(), "emailStatusSource" = $3, "updatedAt" = now()
       FROM target WHERE c.id = target."contactId" AND c."emailStatus" = ANY($4::"ChannelStatus"[]) AND ${sameAddress('c', 'target."sentTo"')}
       RETURNING target."campaignId", target.test
     )`;
  const text = late
    ? `WITH target AS (
         SELECT "contactId", "campaignId", test, "sentTo" FROM "Message" WHERE id = $1::uuid
       ), stamped AS (
         UPDATE "Message" m SET ${late.stamp} = now(), "updatedAt" = now()
         WHERE m.id = $1::uuid AND m.${late.stamp} IS NULL
         RETURNING m."contactId", m."campaignId", m.test, m."sentTo"
       ), ${moved}, elsewhere AS (
         -- Read from the statement's snapshot, as moved reads the contact: one of the two at most.
         SELECT s."campaignId", s.test FROM stamped s
         WHERE s."sentTo" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "Contact" c WHERE c.id = s."contactId" AND ${sameAddress('c', 's."sentTo"')})
       ), reported AS (
         SELECT * FROM moved UNION ALL SELECT * FROM elsewhere
       ), counted AS (
         INSERT INTO "CampaignCount" ("campaignId", metric, count)
         SELECT "campaignId", '${late.metric}', 1 FROM reported WHERE NOT test
         ON CONFLICT ("campaignId", metric, shard) DO UPDATE SET count = "CampaignCount".count + 1
       )
       SELECT count(*)::int AS reported FROM reported`
    : `WITH target AS (
         SELECT "contactId", "campaignId", test, "sentTo" FROM "Message" WHERE id = $1::uuid
       ), ${moved}
       SELECT count(*)::int AS reported FROM moved`;
  const result = await run.query<{ reported: number }>(text, [message.id, change.status, change.source, change.from]);
  return (result.rows[0]?.reported ?? 0) > 0;
}

/**
 * Sets displayedAt, and openedAt for a person, clickedAt for a click, each the first time only,
 * and counts what was set for the first time, in one statement.
 */
async function stamp(herald: Herald, message: EmailMessage, { person, click }: { person: boolean; click: boolean }): Promise<void> {
  const [changed] = await herald.prisma.$queryRaw<{ displayed: boolean; opened: boolean; clicked: boolean; test: boolean }[]>`
    WITH old AS (
      SELECT id, "displayedAt", "openedAt", "clickedAt" FROM "Message" WHERE id = ${message.id}::uuid FOR UPDATE
    ), updated AS (
      UPDATE "Message" m SET
        "displayedAt" = COALESCE(m."displayedAt", now()),
        "openedAt" = COALESCE(m."openedAt", CASE WHEN ${person} THEN now() END),
        "clickedAt" = COALESCE(m."clickedAt", CASE WHEN ${click} THEN now() END),
        "updatedAt" = now()
      FROM old WHERE m.id = old.id
      RETURNING m."campaignId", m.test,
        old."displayedAt" IS NULL AS displayed,
        (old."displayedAt" IS NULL AND NOT ${person}) AS "machineOpened",
        (old."openedAt" IS NULL AND m."openedAt" IS NOT NULL) AS opened,
        (old."clickedAt" IS NULL AND m."clickedAt" IS NOT NULL) AS clicked
    ), counted AS (
      INSERT INTO "CampaignCount" ("campaignId", metric, count)
      SELECT "campaignId", metric, 1 FROM updated,
        LATERAL (VALUES ('clicked', clicked), ('displayed', displayed), ('machineOpened', "machineOpened"), ('opened', opened)) AS metrics(metric, happened)
      WHERE happened AND NOT test
      ORDER BY metric
      ON CONFLICT ("campaignId", metric, shard) DO UPDATE SET count = "CampaignCount".count + 1
    )
    SELECT displayed, opened, clicked, test FROM updated`;
  if (!changed || !(changed.displayed || changed.opened || changed.clicked)) return;
  herald.events.publish('campaign:changed', message.campaignId, { reason: 'tracked' });
  // A first load is DISPLAYED, as for push; a person's first OPENED.
  const types = [changed.displayed && 'DISPLAYED', changed.opened && 'OPENED', changed.clicked && 'CLICKED'].filter(Boolean) as DeliveryEventType[];
  if (!changed.test) publishEmailEvents(herald, message, types);
}

/** Steps of one email for the live feed (test messages stay out of it, as out of the stats). */
export function publishEmailEvents(
  herald: Pick<Herald, 'events'>,
  message: Pick<EmailMessage, 'id' | 'workspaceId' | 'campaignId' | 'contactId'>,
  types: DeliveryEventType[],
): void {
  publishDeliveryEvents(
    herald,
    message.workspaceId,
    types.map((type) => ({ type, messageId: message.id, campaignId: message.campaignId, contactId: message.contactId, reason: null })),
  );
}
