import { z } from 'zod';
import type { Campaign } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';
import type { Condition, Rule } from '../segments/rule.ts';
import type { Selection } from '../segments/service.ts';
import { type Content, storedContent } from './web-push/content.ts';

/**
 * What delivery reads of a campaign, typed: its JSON columns are parsed with the same schemas
 * that checked them when the campaign was saved (once per campaign row, not cast), and its audience
 * as a segment selection. Campaigns own the rows; delivery only reads them.
 */

const DAY = 24 * 3600;
export const eventName = z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/, 'must be an event name (letters, digits, _ . -)');

/** A triggered campaign's trigger; `where` holds event property conditions (segments/rule.ts checks them). */
export const triggerInput = z.object({
  event: eventName,
  where: z.array(z.unknown()).max(20, 'at most 20 conditions').nullish(),
  delaySeconds: z.number().int().min(0, 'must be at least 0').max(30 * DAY, 'must be at most 30 days').nullish(),
  exceptionEvents: z.array(eventName).max(10, 'at most 10 exception events').nullish(),
  reEligibleAfterSeconds: z.number().int().min(0, 'must be at least 0').max(3650 * DAY, 'must be at most 10 years').nullish(),
});
export type Trigger = z.output<typeof triggerInput> & { where?: Condition[] | null };

/** Parsed once per row object: a send reads the same campaign row for every batch. */
function parsedOnce<T, C extends object = Campaign>(parse: (campaign: C) => T): (campaign: C) => T {
  const cache = new WeakMap<C, T>();
  return (campaign) => {
    if (!cache.has(campaign)) cache.set(campaign, parse(campaign));
    return cache.get(campaign)!;
  };
}

/** The trigger of a TRIGGERED campaign; null for a broadcast. */
export const triggerOf = parsedOnce((campaign: Pick<Campaign, 'kind' | 'trigger'>): Trigger | null =>
  campaign.kind === 'TRIGGERED' && campaign.trigger != null ? (triggerInput.parse(campaign.trigger) as Trigger) : null,
);

/** The web push content (title, body, URLs, actions, TTL…). */
export const contentOf = parsedOnce((campaign): Content => storedContent.parse(campaign.content));

/** Who a campaign is for: its segment's rule and its own rule together, in its audience. */
export async function audienceOf(herald: Pick<Herald, 'prisma'>, campaign: Campaign): Promise<Selection> {
  const segment = campaign.segmentId ? await herald.prisma.segment.findUniqueOrThrow({ where: { id: campaign.segmentId }, select: { rule: true } }) : null;
  return audienceFrom(campaign, segment);
}

/** `audienceOf` with the segment already loaded. */
export function audienceFrom(campaign: Pick<Campaign, 'audienceRule' | 'audienceType'>, segment: { rule: unknown } | null): Selection {
  const rules: Rule[] = [];
  if (segment) rules.push(segment.rule as Rule);
  if (campaign.audienceRule) rules.push(campaign.audienceRule as unknown as Rule);
  return { rule: rules.length === 0 ? null : rules.length === 1 ? rules[0]! : { and: rules }, audience: campaign.audienceType };
}
