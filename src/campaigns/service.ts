import { Prisma } from '../db/prisma.ts';
import { ConflictError, ErrorCode, NotFoundError, ValidationError } from '../errors.ts';
import type { Campaign } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';
import { contentOf, triggerOf } from '../delivery/campaign-fields.ts';
import { type CompiledSource, compileEmail, type EmailContent, EmailContentError } from '../delivery/email/content.ts';
import { type Content, MAX_ENCRYPTED_BYTES, worstCaseSize } from '../delivery/web-push/content.ts';
import { compileWebhook, type WebhookContent, WebhookContentError } from '../delivery/webhook/content.ts';
import { sealedHeaders } from '../delivery/webhook/headers.ts';
import { emailSendingProblem } from '../workspaces/email-settings.ts';
import type { StoredVariant } from '../delivery/experiment.ts';
import { type CampaignInput, type CampaignKind, type CampaignStatus, contentField, parseCampaign, variantContent } from './validation.ts';
import { checkedMobilePush, mobilePushOf } from './mobile-push.ts';
import type { MobilePushContent } from '../delivery/mobile-push/content.ts';
import { mobilePushSendingProblem } from '../workspaces/mobile-push-settings.ts';
import { smsSendingProblem } from '../workspaces/sms-settings.ts';
import type { SmsContent } from '../delivery/sms/content.ts';
import { checkedSms, smsOf } from './sms.ts';
import type { InAppContent } from '../delivery/in-app/content.ts';
import { checkedInApp, inAppOf } from './in-app.ts';

export type { Campaign };

/**
 * Saves a new DRAFT campaign. Its templates parse and its content can be sent on its channel (a
 * push's worst-case payload fits a push service's limit, an email's MJML compiles), or nothing is
 * saved.
 */
export async function createCampaign(herald: Herald, workspaceId: string, input: CampaignInput): Promise<Campaign> {
  const data = await campaignData(herald, workspaceId, input);
  return herald.prisma.campaign.create({ data: { workspaceId, ...data } });
}

/** Changes a campaign that has not started sending; fields left out keep their values. */
export async function updateCampaign(herald: Herald, workspaceId: string, id: string, changes: Partial<CampaignInput>): Promise<Campaign> {
  const campaign = await getCampaign(herald, workspaceId, id);
  requireStatus(campaign, ['DRAFT', 'SCHEDULED'], 'edited');
  const stored = inputOf(campaign);
  // Moving to another channel leaves the old channel's content behind.
  if (changes.channel && changes.channel !== campaign.channel) stored.content = stored.email = stored.webhook = stored.mobilePush = stored.sms = stored.inApp = stored.variants = undefined;
  const merged = { ...stored, ...withoutUndefined(changes) } as CampaignInput;
  const data = await campaignData(herald, workspaceId, merged, stored);
  // Only while it is still DRAFT or SCHEDULED: a send that started meanwhile wins.
  const { count } = await herald.prisma.campaign.updateMany({ where: { id, workspaceId, status: { in: ['DRAFT', 'SCHEDULED'] } }, data });
  if (count === 0) return conflictNow(herald, workspaceId, id, 'edited');
  return getCampaign(herald, workspaceId, id);
}

/** A new DRAFT with the same content, audience and settings. */
export async function duplicateCampaign(herald: Herald, workspaceId: string, id: string): Promise<Campaign> {
  const campaign = await getCampaign(herald, workspaceId, id);
  const input = { ...inputOf(campaign), name: `${campaign.name} (copy)`.slice(0, 200) };
  return herald.prisma.campaign.create({ data: { workspaceId, ...(await campaignData(herald, workspaceId, input)) } });
}

export async function getCampaign(herald: Herald, workspaceId: string, id: string): Promise<Campaign> {
  // A journey's own campaigns are the journey's to change (src/journeys).
  const campaign = await herald.prisma.campaign.findFirst({ where: { id, workspaceId, kind: { not: 'JOURNEY' } } });
  if (!campaign) throw new NotFoundError(ErrorCode.campaignNotFound, 'No campaign with this id');
  return campaign;
}

export function requireStatus(campaign: Campaign, allowed: readonly CampaignStatus[], action: string): void {
  if (!allowed.includes(campaign.status)) throw illegal(campaign.status, action, allowed);
}

export function requireKind(campaign: Campaign, kind: CampaignKind, action: string): void {
  if (campaign.kind !== kind) {
    throw new ValidationError([{ path: ['input', 'id'], message: `only ${kind} campaigns can be ${action}; this one is ${campaign.kind}` }]);
  }
}

/**
 * An email campaign starts (is sent, scheduled, activated or resumed, or tested) only when its
 * workspace can send email: a from address and an SMTP server. `path` is the mutation's id field.
 */
export async function requireSendable(herald: Herald, campaign: Campaign, path: string[] = ['input', 'id']): Promise<void> {
  if (campaign.channel === 'MOBILE_PUSH') {
    const workspace = await herald.prisma.workspace.findUniqueOrThrow({ where: { id: campaign.workspaceId }, select: { mobilePushSettings: true, apnsPrivateKey: true, fcmServiceAccount: true } });
    const problem = mobilePushSendingProblem(workspace);
    if (problem) throw ValidationError.field(path, problem);
  }
  if (campaign.channel === 'SMS') {
    const workspace = await herald.prisma.workspace.findUniqueOrThrow({ where: { id: campaign.workspaceId }, select: { smsSettings: true, smsAuthToken: true } });
    const problem = smsSendingProblem(workspace);
    if (problem) throw ValidationError.field(path, problem);
  }
  if (campaign.channel !== 'EMAIL') return;
  const workspace = await herald.prisma.workspace.findUniqueOrThrow({ where: { id: campaign.workspaceId }, select: { emailSettings: true, smtpUrl: true } });
  const problem = emailSendingProblem(herald, workspace);
  if (problem) throw ValidationError.field(path, problem);
}

/** Re-reads a campaign whose conditional update matched nothing, and answers why. */
export async function conflictNow(herald: Herald, workspaceId: string, id: string, action: string): Promise<never> {
  const campaign = await getCampaign(herald, workspaceId, id);
  throw illegal(campaign.status, action, []);
}

function illegal(status: CampaignStatus, action: string, allowed: readonly CampaignStatus[]) {
  const hint = allowed.length ? ` (only ${allowed.join(', ')})` : '';
  return new ConflictError(`A ${status} campaign cannot be ${action}${hint}`, ErrorCode.campaignIllegalTransition);
}

/**
 * The columns of a journey's send step on one channel: a JOURNEY campaign, checked exactly as a
 * campaign on that channel would be (problems point under `input`, as for createCampaign).
 */
export async function journeyCampaignData(herald: Herald, workspaceId: string, input: Omit<CampaignInput, 'kind'>) {
  return { ...(await campaignData(herald, workspaceId, { ...input, kind: 'BROADCAST' })), kind: 'JOURNEY' as const };
}

/**
 * Validates a whole CampaignInput and turns it into the row's columns; `stored`, the campaign as
 * saved before an edit, gives the values of write-only fields the edit leaves null (webhook headers).
 */
async function campaignData(herald: Herald, workspaceId: string, input: CampaignInput, stored?: CampaignInput) {
  const campaign = parseCampaign(input);
  const segmentId = campaign.audience?.segmentId ?? null;
  let audienceType = campaign.audience?.type ?? null;
  if (segmentId) {
    const segment = await herald.prisma.segment.findFirst({ where: { id: segmentId, workspaceId }, select: { audience: true } });
    if (!segment) throw ValidationError.field(['input', 'audience', 'segmentId'], 'no segment with this id');
    audienceType ??= segment.audience;
  }
  // parseCampaign made sure the channel's own content is there.
  const channel = campaign.channel ?? 'WEB_PUSH';
  const field = contentField(channel) as 'content' | 'email' | 'webhook' | 'mobilePush' | 'sms' | 'inApp';
  const content = await checkedContent(herald, workspaceId, channel, campaign[field], ['input', field], stored?.[field]);
  const variants: StoredVariant[] | null = campaign.variants?.length ? [] : null;
  for (const [index, variant] of (campaign.variants ?? []).entries()) {
    const path = ['input', 'variants', String(index), field];
    const before = stored?.variants?.find((old) => old.name === variant.name)?.[field];
    // A variant's content is the API's (Campaign.variants): without the compiled email kept for its sender.
    const { compiled: _compiled, ...checked } = await checkedContent(herald, workspaceId, channel, variantContent(channel, variant).data, path, before);
    variants!.push({ name: variant.name, weight: variant.weight, content: checked });
  }
  const json = (value: unknown) => (value == null ? Prisma.DbNull : (value as Prisma.InputJsonValue));
  return {
    name: campaign.name,
    kind: campaign.kind,
    channel,
    content: content as Prisma.InputJsonObject,
    segmentId,
    audienceRule: json(campaign.rule),
    audienceType: audienceType ?? 'ALL',
    activeUntil: campaign.activeUntil ?? null,
    startAt: campaign.startAt ?? null,
    endAt: campaign.endAt ?? null,
    trigger: json(campaign.trigger ? withoutUndefined(campaign.trigger) : null),
    deliveryWindowStart: campaign.deliveryWindow?.start ?? null,
    deliveryWindowEnd: campaign.deliveryWindow?.end ?? null,
    frequencyCapped: campaign.frequencyCapped ?? true,
    conversion: json(campaign.conversion),
    variants: json(variants),
    holdoutPercent: campaign.holdoutPercent ?? 0,
  };
}

/**
 * The channel's content checked for sending (for the campaign's own and each variant's), at `path`;
 * `stored`: the same content as saved before an edit.
 */
async function checkedContent(
  herald: Herald,
  workspaceId: string,
  channel: Campaign['channel'],
  content: unknown,
  path: string[],
  stored?: unknown,
): Promise<Record<string, unknown>> {
  const checked =
    channel === 'EMAIL'
      ? await checkedEmail(content as EmailContent, path)
      : channel === 'WEBHOOK'
        ? await checkedWebhook(herald, workspaceId, content as WebhookContent, path, stored as WebhookContent | undefined)
        : channel === 'MOBILE_PUSH'
          ? checkedMobilePush(content as MobilePushContent, herald.publicUrl, path)
          : channel === 'SMS'
            ? await checkedSms(herald, workspaceId, content as SmsContent, path)
            : channel === 'IN_APP'
              ? checkedInApp(content as InAppContent, path)
              : checkedPush(herald, content as Content, path);
  return withoutUndefined(checked) as Record<string, unknown>;
}

/** A push's worst-case payload must fit what push services accept. */
function checkedPush(herald: Herald, content: Content, path: string[]): Content {
  const size = worstCaseSize(content, herald.publicUrl);
  if (size > MAX_ENCRYPTED_BYTES) {
    throw ValidationError.field(
      path,
      `the push could reach ${size} bytes encrypted (each {{ … }} counted as 64 characters); push services accept at most ${MAX_ENCRYPTED_BYTES}`,
    );
  }
  return content;
}

/**
 * An email's MJML compiles and its templates parse; a problem points at its field (and MJML's
 * line). Saved with what compiling gave (`compiled`), so its senders do not compile MJML again.
 */
async function checkedEmail(email: EmailContent, path: string[]): Promise<EmailContent & { compiled: CompiledSource }> {
  try {
    return { ...email, compiled: (await compileEmail(email)).source };
  } catch (error) {
    if (error instanceof EmailContentError) throw ValidationError.field([...path, ...error.path], error.message);
    throw error;
  }
}

/**
 * A webhook's templates parse, its body renders to JSON for a sample contact and its URL is one
 * Herald may send to (HERALD_WEBHOOK_ALLOWED_HOSTS, and where its host points now); the URL as
 * rendered is checked again for every message. Its header values are saved sealed (headers.ts).
 */
async function checkedWebhook(herald: Herald, workspaceId: string, webhook: WebhookContent, path: string[], stored?: WebhookContent): Promise<WebhookContent> {
  const headers = webhook.headers && sealedHeaders(herald.secrets, workspaceId, webhook.headers, stored?.headers, [...path, 'headers']);
  let sampleUrl: string;
  try {
    sampleUrl = compileWebhook(webhook).sampleUrl;
  } catch (error) {
    if (error instanceof WebhookContentError) throw ValidationError.field([...path, ...error.path], error.message);
    throw error;
  }
  const refusal = await herald.deliveries.webhooks.policy.saveRefusal(sampleUrl);
  if (refusal) throw ValidationError.field([...path, 'url'], `Herald may not send webhooks here: ${refusal}`);
  return { ...webhook, method: webhook.method ?? 'POST', headers };
}

/** The webhook a WEBHOOK campaign sends, as saved; null for other channels. */
export function webhookOf(campaign: Campaign): WebhookContent | null {
  return campaign.channel === 'WEBHOOK' ? (campaign.content as WebhookContent) : null;
}

/** The email an EMAIL campaign sends, as saved (checked then); null for other channels. */
export function emailOf(campaign: Campaign): EmailContent | null {
  if (campaign.channel !== 'EMAIL') return null;
  const { compiled: _compiled, ...email } = campaign.content as EmailContent & { compiled?: unknown };
  return email;
}

/** A stored campaign as the CampaignInput that would create it again. */
export function inputOf(campaign: Campaign): CampaignInput {
  return {
    name: campaign.name,
    // getCampaign never answers a JOURNEY campaign.
    kind: campaign.kind as CampaignKind,
    channel: campaign.channel,
    content: campaign.channel === 'WEB_PUSH' ? contentOf(campaign) : undefined,
    email: emailOf(campaign) ?? undefined,
    webhook: webhookOf(campaign) ?? undefined,
    mobilePush: mobilePushOf(campaign) ?? undefined,
    sms: smsOf(campaign) ?? undefined,
    inApp: inAppOf(campaign) ?? undefined,
    audience: { segmentId: campaign.segmentId, rule: campaign.audienceRule ?? undefined, type: campaign.audienceType },
    activeUntil: campaign.activeUntil,
    startAt: campaign.startAt,
    endAt: campaign.endAt,
    trigger: triggerOf(campaign),
    deliveryWindow: campaign.deliveryWindowStart && campaign.deliveryWindowEnd ? { start: campaign.deliveryWindowStart, end: campaign.deliveryWindowEnd } : null,
    frequencyCapped: campaign.frequencyCapped,
    conversion: campaign.conversion as CampaignInput['conversion'],
    variants: (campaign.variants as StoredVariant[] | null)?.map(({ name, weight, content }) => ({ name, weight, [contentField(campaign.channel)]: content })) ?? null,
    holdoutPercent: campaign.holdoutPercent,
  };
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as T;
}
