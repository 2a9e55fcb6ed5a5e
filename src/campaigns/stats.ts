import { REPORTS_DELIVERY } from '../delivery/channel.ts';
import type { Channel } from '../generated/prisma/enums.ts';
import type { Herald } from '../herald-context.ts';
import { type AnswerCount, answerCounts, campaignNps } from '../feedback/stats.ts';

export const SuppressionReasons = [
  'FREQUENCY_CAP',
  'QUIET_HOURS',
  'EXCEPTION_EVENT',
  'NO_SUBSCRIPTION',
  'NO_EMAIL',
  'NO_PHONE',
  'UNSUBSCRIBED',
  'BOUNCED',
  'COMPLAINED',
  'NOT_ELIGIBLE',
  'HOLDOUT',
  'CONTROL_GROUP',
  'EXPIRED',
] as const;
export type SuppressionReason = (typeof SuppressionReasons)[number];

export interface CampaignStats {
  campaignId: string;
  targeted: number;
  queued: number;
  sent: number;
  failed: number;
  expired: number;
  suppressed: number;
  suppressedBy: { reason: SuppressionReason; count: number }[];
  displayed: number;
  clicked: number;
  closed: number;
  delivered: number;
  undelivered: number;
  opened: number;
  machineOpened: number;
  bounced: number;
  complained: number;
  unsubscribed: number;
  conversions: number;
  clickRate: number;
  conversionRate: number;
  /** Messages whose question was answered (the first answer of each). */
  responses: number;
  answers: AnswerCount[];
  nps: number | null;
  updatedAt: Date;
}

/**
 * A campaign's figures from its counter rows (a dozen rows, whatever the audience size), which
 * the ledger keeps in step with every change. Test pushes are not counted.
 *
 * Per channel:
 * - `delivered`: SMS counts the provider's delivery reports (`delivered`, Message.deliveredAt), and
 *   `undelivered` its reports of messages it accepted but could not deliver (moved SENT → FAILED);
 *   web push and email have no such report, so it is what is `sent` now (accepted by the push
 *   service or mail server, less email that bounced since: a bounce moves SENT to FAILED).
 * - `clickRate`: web push clicked / displayed. Email clicked / delivered, what mail tools call
 *   the click rate: opens are undercounted (images off) and inflated (privacy proxies), so they
 *   make a poor denominator.
 * - email: `displayed` is images loaded by anything, `opened` by a person, `machineOpened` the
 *   messages a privacy proxy or scanner loaded first (src/tracking/email-machines.ts).
 */
export async function campaignStats(herald: Herald, campaignId: string): Promise<CampaignStats> {
  const [stats] = await campaignStatsMany(herald, [campaignId]);
  return stats!;
}

/**
 * campaignStats for many campaigns in one query, in the order asked (a page of the campaign list
 * reads its 100 rows' figures at once, through Campaign.stats' loader).
 */
export async function campaignStatsMany(herald: Herald, campaignIds: readonly string[]): Promise<CampaignStats[]> {
  if (campaignIds.length === 0) return [];
  const rows = await herald.prisma.$queryRaw<{ id: string; channel: string; metric: string | null; count: number | null }[]>`
    SELECT c.id::text AS id, c.channel::text AS channel, cc.metric, cc.count
    FROM "Campaign" c LEFT JOIN "CampaignCount" cc ON cc."campaignId" = c.id
    WHERE c.id = ANY(${[...campaignIds]}::uuid[])`;
  const byCampaign = new Map<string, { channel: string; counts: Map<string, number> }>();
  for (const row of rows) {
    let entry = byCampaign.get(row.id);
    if (!entry) byCampaign.set(row.id, (entry = { channel: row.channel, counts: new Map() }));
    // A counter's shards (prisma/schema.prisma, CampaignCount) add up.
    if (row.metric !== null) entry.counts.set(row.metric, (entry.counts.get(row.metric) ?? 0) + (row.count ?? 0));
  }
  const updatedAt = new Date();
  return campaignIds.map((campaignId) => {
    const entry = byCampaign.get(campaignId);
    return statsFrom(campaignId, entry?.channel ?? 'WEB_PUSH', entry?.counts ?? new Map(), updatedAt);
  });
}

function statsFrom(campaignId: string, channel: string, counts: Map<string, number>, updatedAt: Date): CampaignStats {
  const count = (metric: string) => counts.get(metric) ?? 0;
  const sent = count('status:SENT');
  const displayed = count('displayed');
  const clicked = count('clicked');
  const conversions = count('conversions');
  const delivered = REPORTS_DELIVERY.has(channel as Channel) ? count('delivered') : sent;
  const clickBase = channel === 'EMAIL' ? delivered : displayed;
  // reason:BOUNCED also counts messages that bounced when sent (FAILED, each counted in `bounced`).
  // Likewise reason:UNSUBSCRIBED counts SMS the provider refused because the person had texted STOP
  // (21610, each in `unsubscribed`, as are STOP replies, which are no ledger row and also in `unsubscribed:reply`).
  const failedFor = (reason: SuppressionReason) =>
    reason === 'BOUNCED' ? count('bounced') : reason === 'UNSUBSCRIBED' && channel === 'SMS' ? count('unsubscribed') - count('unsubscribed:reply') : 0;
  const suppressedFor = (reason: SuppressionReason) => count(`reason:${reason}`) - failedFor(reason);
  const answers = answerCounts(counts);
  return {
    campaignId,
    targeted: count('targeted'),
    // Claimed rows (SENDING) are counted as waiting (delivery/ledger.ts statusMetric).
    queued: count('status:QUEUED'),
    sent,
    failed: count('status:FAILED'),
    expired: count('status:EXPIRED'),
    suppressed: count('status:SUPPRESSED'),
    // Messages past activeUntil are EXPIRED (counted in `expired`), so EXPIRED shows here only if suppressed as such.
    suppressedBy: SuppressionReasons.map((reason) => ({ reason, count: suppressedFor(reason) })).filter((entry) => entry.reason !== 'EXPIRED' && entry.count > 0),
    displayed,
    clicked,
    closed: count('closed'),
    delivered,
    undelivered: count('undelivered'),
    opened: count('opened'),
    machineOpened: count('machineOpened'),
    // `bounced`, not reason:BOUNCED, which also counts contacts skipped because they bounced before.
    bounced: count('bounced'),
    complained: count('complained'),
    unsubscribed: count('unsubscribed'),
    conversions,
    clickRate: clickBase === 0 ? 0 : clicked / clickBase,
    conversionRate: sent === 0 ? 0 : conversions / sent,
    responses: count('responses'),
    answers,
    nps: campaignNps(answers),
    updatedAt,
  };
}

/** Snapshots being read or just read, per campaign: many dashboards on one campaign share one query. */
const recent = new Map<string, { at: number; stats: Promise<CampaignStats> }>();
const SHARE_MS = 50;

/**
 * campaignStats for live subscribers: a snapshot read in the last 50 ms is shared, so a thousand
 * dashboards watching one send cost one query per update, not a thousand.
 */
export function sharedCampaignStats(herald: Herald, campaignId: string, changedAt = Date.now()): Promise<CampaignStats> {
  const now = Date.now();
  const hit = recent.get(campaignId);
  // Shared only if that read began after the change this caller must see.
  if (hit && now - hit.at < SHARE_MS && hit.at > changedAt) return hit.stats;
  const stats = campaignStats(herald, campaignId);
  recent.set(campaignId, { at: now, stats });
  stats.catch(() => recent.delete(campaignId));
  // Forget it soon; the map holds only campaigns someone is watching right now.
  setTimeout(() => recent.get(campaignId)?.at === now && recent.delete(campaignId), SHARE_MS * 2).unref();
  return stats;
}
