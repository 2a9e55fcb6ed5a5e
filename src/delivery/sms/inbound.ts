import type { Herald } from '../../herald-context.ts';

/**
 * Messages people text to the workspace's number (POST /sms/inbound/…). The carriers' standard
 * keywords, the whole message in any case: STOP, UNSUBSCRIBE, CANCEL, END, QUIT (and STOPALL)
 * unsubscribe every contact with that number from SMS; START and UNSTOP subscribe them again; HELP
 * (and INFO) is answered. As everywhere, a BOUNCED or COMPLAINED number keeps its status.
 */
export const STOP_WORDS = new Set(['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT']);
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
  const contacts = await herald.prisma.$executeRaw`
    UPDATE "Contact" SET "smsStatus" = ${status}::"ChannelStatus", "smsStatusAt" = now(), "smsStatusSource" = ${source}, "updatedAt" = now()
    WHERE "workspaceId" = ${workspaceId}::uuid AND phone = ${from} AND "smsStatus" NOT IN ('BOUNCED', 'COMPLAINED', ${status}::"ChannelStatus")`;
  herald.log.info({ workspaceId, keyword, contacts }, 'SMS keyword received');
  return { keyword, contacts };
}
