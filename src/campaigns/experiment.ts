import { type Arm, type Comparison, compare, DEFAULT_ALPHA, rateInterval } from '../analytics/sequential.ts';
import type { StoredVariant } from '../delivery/experiment.ts';
import type { Campaign } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';

export const ExperimentMetrics = ['CONVERSIONS', 'CLICKS'] as const;
export type ExperimentMetric = (typeof ExperimentMetrics)[number];

export interface VariantResult {
  name: string;
  sent: number;
  displayed: number;
  opened: number;
  clicked: number;
  conversions: number;
  /** `metric` per contact sent. */
  rate: number;
  /** An always-valid interval for `rate`. */
  interval: [number, number];
}

export interface Experiment {
  metric: ExperimentMetric;
  variants: VariantResult[];
  holdout: { size: number; conversions: number; rate: number } | null;
  /** What is compared: the campaign's contacts against its holdout, else each variant against the first. */
  lift: number | null;
  interval: [number, number] | null;
  probabilityToBeatControl: number | null;
  significant: boolean;
  /** The variant better than every other, when that is no longer chance; else null. */
  winner: string | null;
}

/**
 * A campaign's experiment, read at any moment: per variant and for the holdout, counted per
 * contact (a person with two browsers is one trial), with always-valid statistics
 * (analytics/sequential.ts), so watching it live does not make a difference appear.
 *
 * The metric is conversions when the campaign has a conversion goal, else clicks. With a holdout
 * (which needs a conversion goal to be compared: held-out contacts cannot click), `lift` is of
 * everyone messaged against the held-out, the question a holdout asks: does this campaign change
 * what people do? Without one it is of the best other variant against the first. `winner` needs every
 * pairwise comparison of the best variant to hold at alpha divided by the number of pairs
 * (Bonferroni), so an experiment of many variants is not more likely to crown a fluke.
 */
export async function campaignExperiment(herald: Herald, campaign: Pick<Campaign, 'id' | 'variants' | 'holdoutPercent' | 'conversion'>): Promise<Experiment | null> {
  const variants = (campaign.variants as StoredVariant[] | null) ?? [];
  if (variants.length === 0 && campaign.holdoutPercent === 0) return null;
  const goal = campaign.conversion as { event: string; withinSeconds: number } | null;
  const rows = await herald.prisma.$queryRaw<{ variant: string | null; sent: number; displayed: number; opened: number; clicked: number; converted: number; held: number; heldConverted: number }[]>`
    WITH rows AS (
      SELECT m.variant, m."contactId", m.status, m.reason, m."displayedAt", m."openedAt", m."clickedAt", m."convertedAt", m."scheduledFor"
      FROM "Message" m WHERE m."campaignId" = ${campaign.id}::uuid AND NOT m.test
    ), held AS (
      -- A triggered campaign holds a contact out of each trigger it would have sent for.
      SELECT DISTINCT "contactId", "scheduledFor" AS at FROM rows WHERE reason = 'HOLDOUT'
    )
    SELECT variant,
      count(DISTINCT "contactId") FILTER (WHERE status = 'SENT')::int AS sent,
      count(DISTINCT "contactId") FILTER (WHERE "displayedAt" IS NOT NULL)::int AS displayed,
      count(DISTINCT "contactId") FILTER (WHERE "openedAt" IS NOT NULL)::int AS opened,
      count(DISTINCT "contactId") FILTER (WHERE "clickedAt" IS NOT NULL)::int AS clicked,
      count(DISTINCT "contactId") FILTER (WHERE "convertedAt" IS NOT NULL)::int AS converted,
      0 AS held, 0 AS "heldConverted"
    FROM rows WHERE reason IS DISTINCT FROM 'HOLDOUT' GROUP BY variant
    UNION ALL
    -- The held-out convert as the messaged do: the goal event within its window after a time
    -- they would have been sent.
    SELECT '#holdout', 0, 0, 0, 0, 0, (SELECT count(DISTINCT "contactId") FROM held)::int,
      (SELECT count(DISTINCT h."contactId") FROM held h WHERE ${goal?.event ?? null}::text IS NOT NULL AND EXISTS (
        SELECT 1 FROM "Event" e WHERE e."contactId" = h."contactId" AND e.name = ${goal?.event ?? null}::text
          AND e."occurredAt" >= h.at AND e."occurredAt" <= h.at + make_interval(secs => ${goal?.withinSeconds ?? 0}::int)
          -- Credited as a messaged contact's would be (tracking/conversions.ts): not if a later
          -- message of a campaign with the same goal, its window open, is the event's last touch.
          AND NOT EXISTS (
            SELECT 1 FROM "Message" o JOIN "Campaign" oc ON oc.id = o."campaignId"
            WHERE o."contactId" = h."contactId" AND o.status = 'SENT' AND NOT o.test AND oc.conversion->>'event' = e.name
              AND o."sentAt" > h.at AND o."sentAt" <= e."occurredAt"
              AND o."sentAt" >= e."occurredAt" - make_interval(secs => (oc.conversion->>'withinSeconds')::int))))::int`;
  const metric: ExperimentMetric = goal ? 'CONVERSIONS' : 'CLICKS';
  const successes = (row: { clicked: number; converted: number }) => (metric === 'CONVERSIONS' ? row.converted : row.clicked);

  const byVariant = new Map(rows.map((row) => [row.variant, row]));
  const held = byVariant.get('#holdout')!;
  const names = variants.length ? variants.map((variant) => variant.name) : [null];
  const results: VariantResult[] = names.map((name) => {
    const row = byVariant.get(name) ?? { sent: 0, displayed: 0, opened: 0, clicked: 0, converted: 0 };
    const arm = { successes: successes(row), trials: row.sent };
    return {
      name: name ?? 'campaign',
      sent: row.sent,
      displayed: row.displayed,
      opened: row.opened,
      clicked: row.clicked,
      conversions: row.converted,
      rate: arm.trials === 0 ? 0 : arm.successes / arm.trials,
      interval: rateInterval(arm),
    };
  });
  const armOf = (result: VariantResult): Arm => ({ successes: metric === 'CONVERSIONS' ? result.conversions : result.clicked, trials: result.sent });

  const holdout = campaign.holdoutPercent > 0 ? { size: held.held, conversions: held.heldConverted, rate: held.held === 0 ? 0 : held.heldConverted / held.held } : null;
  const judged = judgeArms(results.map((result) => ({ name: result.name, ...armOf(result) })));
  let versus = judged.versus;
  if (holdout && metric === 'CONVERSIONS') {
    const everyone = results.reduce((sum, result) => ({ successes: sum.successes + result.conversions, trials: sum.trials + result.sent }), { successes: 0, trials: 0 });
    versus = compare({ successes: holdout.conversions, trials: holdout.size }, everyone);
  }
  return { metric, variants: results, holdout, ...versus, winner: judged.winner };
}

/**
 * Arms of one experiment judged together, with always-valid statistics: the best other arm
 * against the first (lift, interval, probability to beat it), and a winner only when the best
 * arm beats every other at alpha divided by the number of pairs (Bonferroni). Campaign variants
 * and journey split paths (src/journeys/splits.ts) are judged by this one function.
 */
export function judgeArms(arms: (Arm & { name: string })[]): { versus: Comparison; winner: string | null } {
  const rate = (arm: Arm) => (arm.trials === 0 ? 0 : arm.successes / arm.trials);
  let versus: Comparison = { lift: null, interval: null, significant: false, probabilityToBeatControl: null };
  if (arms.length > 1) {
    const [first, ...others] = arms;
    const challenger = others.reduce((top, arm) => (rate(arm) > rate(top) ? arm : top));
    versus = compare(first!, challenger);
  }
  const best = arms.reduce((top, arm) => (rate(arm) > rate(top) ? arm : top), arms[0]!);
  const pairs = (arms.length * (arms.length - 1)) / 2;
  const winner =
    arms.length > 1 && arms.every((other) => other === best || (rate(best) > rate(other) && compare(other, best, DEFAULT_ALPHA / pairs).significant)) ? best.name : null;
  return { versus, winner };
}
