import type { Herald } from '../../herald-context.ts';
import { publishDeliveryEvents } from '../events.ts';

/**
 * Messages people text to the workspace's number (POST /sms/inbound/…). The carriers' standard
 * keywords, the whole message in any case: STOP, UNSUBSCRIBE, CANCEL, END, QUIT (and STOPALL), and
 * REVOKE and OPT OUT (OPTOUT), which the FCC's TCPA revocation rule names too, unsubscribe every
 * contact with that number from SMS; START and UNSTOP subscribe them again; HELP
 * (and INFO) is answered. As everywhere, a BOUNCED or COMPLAINED number keeps its status. A STOP
 * counts as `unsubscribed` in the stats of the campaign whose SMS the number last got (within 7 days).
 */
export const STOP_WORDS = new Set(['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT', 'REVOKE', 'OPTOUT', 'OPT OUT']);
export const START_WORDS = new Set(['START', 'UNSTOP']);
export const HELP_WORDS = new Set(['HELP', 'INFO']);

export type InboundOutcome = { keyword: 'STOP' | 'START'; contacts: number } | { keyword: 'HELP'; reply: string } | { keyword: null };

export async function recordInboundSms(herald: Herald, workspaceId: string, from: string, body: string): Promise<InboundOutcome> {
  const word = body.trim().replace(/[.!]+$/, '').toUpperCase();
  if (HELP_WORDS.has(word)) {
    const workspace = await herald.prisma.workspace.findUniqueOrThrow({ where: { id: workspaceId }, select: { name: true } });
    return { keyword: 'HELP', reply: `${workspace.name}: reply STOP to unsubscribe, START to subscribe again. Msg&data rates may apply.` };
  }
  const keyword = STOP_WORDS.has(word) ? 'STOP' : START_WORDS.has(word) ? 'START' : null;
  if (!keyword) return { keyword: null };
  const status = keyword === 'STOP' ? 'UNSUBSCRIBED' : 'SUBSCRIBED';
  const source = keyword === 'STOP' ? 'sms-stop' : 'sms-start';
  // A STOP that changed someone counts as `unsubscribed` for the campaign of the last SMS that
  // number was sent in the week before (the one it answers, as far as anyone can tell); not one
  // that went to the contact's number before it changed (Message.sentTo).
  const [row] = await herald.prisma.$queryRaw<{ contacts: number; messageId: string | null; campaignId: string | null; contactId: string | null }[]>`
    WITH changed AS (
      UPDATE "Contact" SET "smsStatus" = ${status}::"ChannelStatus", "smsStatusAt" = now(), "smsStatusSource" = ${source}, "updatedAt" = now()
      WHERE "workspaceId" = ${workspaceId}::uuid AND phone = ${from} AND "smsStatus" NOT IN ('BOUNCED', 'COMPLAINED', ${status}::"ChannelStatus")
      RETURNING id
    ), answered AS (
      SELECT m.id, m."campaignId", m."contactId" FROM "Message" m
      WHERE ${keyword === 'STOP'} AND m."contactId" IN (SELECT id FROM changed) AND m.channel = 'SMS' AND m.status = 'SENT' AND NOT m.test
        AND m."sentAt" > now() - interval '7 days' AND (m."sentTo" IS NULL OR m."sentTo" = ${from})
      ORDER BY m."sentAt" DESC LIMIT 1
    ), counted AS (
      -- Also as a reply: campaigns/stats.ts tells the refusals (21610) in \`unsubscribed\` from these.
      INSERT INTO "CampaignCount" ("campaignId", metric, count) SELECT "campaignId", metric, 1 FROM answered, unnest(ARRAY['unsubscribed', 'unsubscribed:reply']) metric
      ON CONFLICT ("campaignId", metric, shard) DO UPDATE SET count = "CampaignCount".count + 1
    )
    SELECT (SELECT count(*) FROM changed)::int AS contacts, a.id::text AS "messageId", a."campaignId"::text AS "campaignId", a."contactId"::text AS "contactId"
    FROM (SELECT 1) one LEFT JOIN answered a ON true`;
  const contacts = row!.contacts;
  if (row!.messageId) {
    publishDeliveryEvents(herald, workspaceId, [{ type: 'UNSUBSCRIBED', messageId: row!.messageId, campaignId: row!.campaignId!, contactId: row!.contactId!, reason: null }]);
  }
  herald.log.info({ workspaceId, keyword, contacts }, 'SMS keyword received');
  return { keyword, contacts };
}
