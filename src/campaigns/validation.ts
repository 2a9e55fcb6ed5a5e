import { z } from 'zod';
import { ValidationError } from '../errors.ts';
import { validateRule } from '../segments/rule.ts';
import { Audiences } from '../segments/rule.ts';
import { localTime } from '../workspaces/settings.ts';
import { eventName, triggerInput } from '../delivery/campaign-fields.ts';
import { contentInput } from '../delivery/web-push/content.ts';
import { emailContentInput } from '../delivery/email/content.ts';
import { webhookContentInput } from '../delivery/webhook/content.ts';
import { mobilePushContentInput } from '../delivery/mobile-push/content.ts';
import { smsContentInput } from '../delivery/sms/content.ts';
import { inAppContentInput } from '../delivery/in-app/content.ts';
import { Channel } from '../generated/prisma/enums.ts';

export const CampaignKinds = ['BROADCAST', 'TRIGGERED'] as const;
export const CampaignStatuses = ['DRAFT', 'SCHEDULED', 'SENDING', 'SENT', 'ACTIVE', 'PAUSED', 'CANCELED', 'ARCHIVED'] as const;
export type CampaignKind = (typeof CampaignKinds)[number];
export type CampaignStatus = (typeof CampaignStatuses)[number];

const DAY = 24 * 3600;

/** Each channel's content field in CampaignInput; the other channels are in the API ahead of their senders. */
export const CONTENT_FIELD = { WEB_PUSH: 'content', EMAIL: 'email', WEBHOOK: 'webhook', MOBILE_PUSH: 'mobilePush', SMS: 'sms', IN_APP: 'inApp' } as const satisfies Partial<Record<Channel, string>>;
type AvailableChannel = keyof typeof CONTENT_FIELD;
const isAvailable = (channel: Channel): channel is AvailableChannel => channel in CONTENT_FIELD;
/** The CampaignInput field holding a channel's content. */
export const contentField = (channel: Channel): string => CONTENT_FIELD[channel as AvailableChannel];

export const EXPERIMENT_LIMITS = { variants: 8, holdoutPercent: 50, weight: 10_000 } as const;

/**
 * An experiment variant: a name, a weight and its own content in its campaign channel's field
 * (`content`, `email`…), checked with that field's schema (see campaignInput's refinement).
 */
const variantInput = z
  .object({
    name: z.string().trim().regex(/^[\w .:-]{1,64}$/, 'must be 1-64 letters, digits, spaces or _ . : -'),
    weight: z.number().int().min(1, 'must be at least 1').max(EXPERIMENT_LIMITS.weight, `must be at most ${EXPERIMENT_LIMITS.weight}`),
  })
  .catchall(z.unknown());

/** Everything CampaignInput carries besides the audience rule, which validateRule checks. */
const campaignFields = z
  .object({
    name: z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
    kind: z.enum(CampaignKinds),
    channel: z.enum(Channel).nullish(),
    content: contentInput.nullish(),
    email: emailContentInput.nullish(),
    webhook: webhookContentInput.nullish(),
    mobilePush: mobilePushContentInput.nullish(),
    sms: smsContentInput.nullish(),
    inApp: inAppContentInput.nullish(),
    audience: z
      .object({ segmentId: z.string().nullish(), rule: z.unknown().optional(), type: z.enum(Audiences).nullish() })
      .nullish(),
    activeUntil: z.date().nullish(),
    startAt: z.date().nullish(),
    endAt: z.date().nullish(),
    trigger: triggerInput.nullish(),
    deliveryWindow: z
      .object({ start: localTime, end: localTime })
      .refine((window) => window.start !== window.end, { message: 'start and end must differ', path: ['end'] })
      .nullish(),
    frequencyCapped: z.boolean().nullish(),
    conversion: z
      .object({ event: eventName, withinSeconds: z.number().int().min(60, 'must be at least 60').max(90 * DAY, 'must be at most 90 days') })
      .nullish(),
    variants: z
      .array(variantInput)
      .min(2, 'give at least 2 variants (or none)')
      .max(EXPERIMENT_LIMITS.variants, `at most ${EXPERIMENT_LIMITS.variants} variants`)
      .refine((variants) => new Set(variants.map((variant) => variant.name)).size === variants.length, 'variant names must differ')
      .nullish(),
    holdoutPercent: z.number().int().min(0, 'must be at least 0').max(EXPERIMENT_LIMITS.holdoutPercent, `must be at most ${EXPERIMENT_LIMITS.holdoutPercent}`).nullish(),
  });

export const campaignInput = campaignFields
  .superRefine((campaign, context) => {
    // One channel, and exactly that channel's content.
    const channel = campaign.channel ?? 'WEB_PUSH';
    if (!isAvailable(channel)) {
      context.addIssue({ code: 'custom', path: ['channel'], message: `${channel} campaigns are not available yet` });
    } else {
      for (const [other, field] of Object.entries(CONTENT_FIELD)) {
        const given = campaign[field] != null;
        if (other === channel && !given) context.addIssue({ code: 'custom', path: [field], message: `a ${channel} campaign needs ${field}` });
        if (other !== channel && given) context.addIssue({ code: 'custom', path: [field], message: `${field} is for ${other} campaigns; this campaign's channel is ${channel}` });
      }
    }
    // Each variant carries exactly its channel's content, checked as the campaign's own would be.
    if (isAvailable(channel)) {
      const field = CONTENT_FIELD[channel];
      campaign.variants?.forEach((variant, index) => {
        for (const other of Object.values(CONTENT_FIELD)) {
          if (other !== field && variant[other] != null) context.addIssue({ code: 'custom', path: ['variants', index, other], message: `${other} is for another channel; this campaign's channel is ${channel}` });
        }
        if (variant[field] == null) return context.addIssue({ code: 'custom', path: ['variants', index, field], message: `each variant of a ${channel} campaign needs ${field}` });
        const checked = variantContent(channel, variant);
        if (!checked.success) for (const issue of checked.error.issues) context.addIssue({ code: 'custom', path: ['variants', index, field, ...issue.path.map(String)], message: issue.message });
      });
    }
    if (campaign.kind === 'TRIGGERED' && !campaign.trigger) context.addIssue({ code: 'custom', path: ['trigger'], message: 'a TRIGGERED campaign needs a trigger' });
    if (campaign.kind === 'BROADCAST' && campaign.trigger) context.addIssue({ code: 'custom', path: ['trigger'], message: 'only TRIGGERED campaigns have a trigger' });
    if (campaign.startAt && campaign.endAt && campaign.endAt <= campaign.startAt) {
      context.addIssue({ code: 'custom', path: ['endAt'], message: 'must be after startAt' });
    }
  });
export type CampaignInput = z.input<typeof campaignInput>;

/** A variant's content, from its channel's field, parsed with that field's schema. */
export function variantContent(channel: Channel, variant: Record<string, unknown>) {
  const field = CONTENT_FIELD[channel as AvailableChannel];
  return campaignFields.shape[field].unwrap().safeParse(variant[field]);
}
export type ValidCampaign = z.output<typeof campaignInput>;

/** Parses a whole CampaignInput; every problem comes back at once, under `prefix`. */
export function parseCampaign(input: unknown, prefix: string[] = ['input']): ValidCampaign & { rule: ReturnType<typeof validateRule> | null } {
  const parsed = campaignInput.safeParse(input);
  const errors = parsed.success ? [] : parsed.error.issues.map((issue) => ({ path: [...prefix, ...issue.path.map(String)], message: issue.message }));
  let rule = null;
  const audienceRule = (input as { audience?: { rule?: unknown } } | null)?.audience?.rule;
  if (audienceRule != null) rule = collect(errors, () => validateRule(audienceRule, [...prefix, 'audience', 'rule']));
  const where = (input as { trigger?: { event?: unknown; where?: unknown } } | null)?.trigger?.where;
  if (Array.isArray(where) && where.length) {
    // Trigger filters are event property conditions: check them as the event rule they are.
    collect(errors, () => validateRule({ event: { name: 'trigger', where } }, [...prefix, 'trigger']), (path) =>
      path.filter((part, index) => !(index === prefix.length + 1 && part === 'event')),
    );
  }
  if (errors.length) throw new ValidationError(errors);
  return { ...parsed.data!, rule };
}

function collect<T>(errors: { path: string[]; message: string }[], check: () => T, mapPath = (path: string[]) => path): T | null {
  try {
    return check();
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    errors.push(...error.fieldErrors.map((fieldError) => ({ ...fieldError, path: mapPath(fieldError.path) })));
    return null;
  }
}
