import { createHash } from 'node:crypto';
import { Prisma } from '../db/prisma.ts';
import type { Campaign, Workspace } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';
import type { Channel, ChannelSender, DueMessage, Ready, Staged } from './channel.ts';

/**
 * Who gets what in an experiment, decided once when a contact's ledger row is written and kept on
 * it (`Message.variant`, or SUPPRESSED with HOLDOUT / CONTROL_GROUP):
 * - the workspace's global control group (`controlGroupPercent`) gets no marketing message from
 *   any campaign or journey, ever (receipts, which are not frequency capped, still go);
 * - a campaign's holdout (`holdoutPercent`) gets no message from that campaign;
 * - everyone else gets one of its variants, in proportion to their weights.
 * Each is a bucket 0-9999 from a hash of who and what: deterministic (a retry, a second worker, a
 * resend and the stats all agree), independent between campaigns, stable over time. The
 * assignment applies only to contacts the channel can reach (a row already SUPPRESSED for no
 * address stays so), so holdout and variants are drawn from the same people.
 */

/** A variant as stored on the campaign: its share and its content in the channel's own shape. */
export interface StoredVariant {
  name: string;
  weight: number;
  content: Record<string, unknown>;
}

export const BUCKETS = 10_000;

/** The bucket of a key, the same as bucketSql computes. */
export function bucketOf(key: string): number {
  return parseInt(createHash('md5').update(key).digest('hex').slice(0, 8), 16) % BUCKETS;
}

const bucketSql = (key: Prisma.Sql) => Prisma.sql`(('x' || substr(md5(${key}), 1, 8))::bit(32)::bigint % ${BUCKETS})`;

/** The keys hashed: change them and every running experiment reshuffles. */
export const controlKey = (workspaceId: string, contactId: string) => `${workspaceId}:control:${contactId}`;
export const holdoutKey = (campaignId: string, contactId: string) => `${campaignId}:holdout:${contactId}`;
export const variantKey = (campaignId: string, contactId: string) => `${campaignId}:variant:${contactId}`;

/** The variant of a bucket: each takes a run of buckets in proportion to its weight. */
export function variantUpperBounds(variants: readonly Pick<StoredVariant, 'name' | 'weight'>[]): { name: string; upto: number }[] {
  const total = variants.reduce((sum, variant) => sum + variant.weight, 0);
  let running = 0;
  return variants.map((variant, index) => {
    running += variant.weight;
    return { name: variant.name, upto: index === variants.length - 1 ? BUCKETS : Math.floor((running * BUCKETS) / total) };
  });
}

export function variantOf(variants: readonly Pick<StoredVariant, 'name' | 'weight'>[], campaignId: string, contactId: string): string {
  const bucket = bucketOf(variantKey(campaignId, contactId));
  return variantUpperBounds(variants).find((variant) => bucket < variant.upto)!.name;
}

/** What the ledger writers need to know of a campaign's experiment. */
export interface ExperimentOf {
  campaignId: string;
  /** Subject to the control group: a marketing (frequency-capped) campaign. */
  marketing: boolean;
  holdout: number;
  variants: { name: string; upto: number }[] | null;
}

export function experimentOf(campaign: Pick<Campaign, 'id' | 'frequencyCapped' | 'holdoutPercent' | 'variants'>): ExperimentOf {
  const variants = campaign.variants as StoredVariant[] | null;
  return {
    campaignId: campaign.id,
    marketing: campaign.frequencyCapped,
    holdout: campaign.holdoutPercent * (BUCKETS / 100),
    variants: variants?.length ? variantUpperBounds(variants) : null,
  };
}

/** The workspace's control group share, read inside the statement that writes the rows. */
export const controlPercentSql = (workspaceId: string) => Prisma.sql`(SELECT "controlGroupPercent" FROM "Workspace" WHERE id = ${workspaceId}::uuid)`;

/**
 * `recipients` (a relation of a channel's rows, with "contactId", skip and, when several campaigns
 * are written at once, "campaignId") with each row's `variant` and, in "assignedSkip", its skip
 * or else HOLDOUT or CONTROL_GROUP. `campaignId` is the column or value naming each row's campaign.
 */
export function assignedSql(recipients: Prisma.Sql, experiments: ExperimentOf[], campaignId: Prisma.Sql, workspaceId: string): Prisma.Sql {
  const control = Prisma.sql`(${controlPercentSql(workspaceId)} * ${BUCKETS / 100})`;
  const contactId = Prisma.sql`r."contactId"::text`;
  return Prisma.sql`
    SELECT a.*,
      CASE WHEN a."assignedSkip" IS NULL AND a."experimentVariants" IS NOT NULL THEN
        (SELECT v.name FROM jsonb_to_recordset(a."experimentVariants") AS v(name text, upto int)
         WHERE ${bucketSql(Prisma.sql`a."experimentId"::text || ':variant:' || a."contactId"::text`)} < v.upto ORDER BY v.upto LIMIT 1)
      END AS variant
    FROM (
      SELECT r.*, x.id AS "experimentId", x.variants AS "experimentVariants",
        CASE WHEN r.skip IS NOT NULL THEN r.skip
          WHEN x.marketing AND ${bucketSql(Prisma.sql`${workspaceId}::text || ':control:' || ${contactId}`)} < ${control} THEN 'CONTROL_GROUP'
          WHEN x.holdout > 0 AND ${bucketSql(Prisma.sql`x.id::text || ':holdout:' || ${contactId}`)} < x.holdout THEN 'HOLDOUT'
        END AS "assignedSkip"
      FROM ${recipients} r
      JOIN jsonb_to_recordset(${JSON.stringify(experiments.map((e) => ({ id: e.campaignId, marketing: e.marketing, holdout: e.holdout, variants: e.variants })))}::jsonb)
        AS x(id uuid, marketing boolean, holdout int, variants jsonb) ON x.id = ${campaignId}
    ) a`;
}

/**
 * The sender of a campaign with variants: one channel sender per variant, each given the
 * campaign with that variant's content, and messages routed by their row's variant. A campaign
 * without variants gets its channel's sender as it is.
 */
export async function senderFor(herald: Herald, channel: Channel<unknown>, campaign: Campaign, workspace: Workspace): Promise<ChannelSender<unknown>> {
  const base = await channel.sender(herald, campaign, workspace);
  const variants = campaign.variants as StoredVariant[] | null;
  if (!variants?.length) return base;
  const senders = new Map<string, ChannelSender<unknown>>();
  for (const variant of variants) {
    senders.set(variant.name, await channel.sender(herald, { ...campaign, content: variant.content as Prisma.JsonValue, variant: variant.name } as Campaign, workspace));
  }
  const of = (message: DueMessage<unknown>) => (message.variant ? senders.get(message.variant) : undefined) ?? base;
  return {
    prepare: (message) => of(message).prepare(message),
    async stage(ready: Ready<unknown>[]): Promise<Staged[]> {
      // Staged per variant, answered in the order asked.
      const groups = new Map<ChannelSender<unknown>, number[]>();
      ready.forEach((item, index) => {
        const sender = of(item.message);
        groups.set(sender, [...(groups.get(sender) ?? []), index]);
      });
      const outgoing: Staged[] = new Array(ready.length);
      for (const [sender, indexes] of groups) {
        const staged = await sender.stage(indexes.map((index) => ready[index]!));
        indexes.forEach((index, at) => (outgoing[index] = staged[at]!));
      }
      return outgoing;
    },
    // Forgetting an address is the channel's business, the same for every variant.
    forget: (messages) => base.forget(messages),
  };
}
