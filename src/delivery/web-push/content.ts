import { z } from 'zod';
import { pushQuestionInput, storedQuestion } from '../../feedback/content.ts';
import { answerActions, answerPageUrl, fitsButtons } from '../../feedback/push.ts';
import { worstCaseLink } from '../short-links.ts';
import { trackUrlOf } from '../tokens.ts';
import { templateField as template } from '../template-field.ts';
import { CompiledFields, type RenderBudget, RenderError } from '../templates.ts';

/**
 * What a push shows. Title, body and every URL are Liquid templates over `contact` (and `event`
 * for triggered campaigns), checked when the campaign is saved and rendered once per message.
 */
export const Urgencies = ['VERY_LOW', 'LOW', 'NORMAL', 'HIGH'] as const;
export type Urgency = (typeof Urgencies)[number];

/** Push services refuse encrypted bodies over 4,096 bytes. */
export const MAX_ENCRYPTED_BYTES = 4096;
/** aes128gcm adds a 86-byte header (salt, record size, sender key), a padding delimiter and a 16-byte tag. */
export const ENCRYPTION_OVERHEAD_BYTES = 86 + 1 + 16;
/** At save time each `{{ … }}` counts as this many bytes: the worst case Herald promises to fit. */
export const WORST_CASE_OUTPUT_BYTES = 64;
export const MAX_TTL_SECONDS = 28 * 24 * 3600;

/**
 * What rendering one push may use. No field can be longer than the whole payload (a UTF-16 unit is
 * at least one UTF-8 byte), so a field past it stops there; ~2 MB of strings and 50 ms per message
 * are hundreds of times what a real notification needs.
 */
export const pushRenderBudget: RenderBudget = {
  outputChars: MAX_ENCRYPTED_BYTES - ENCRYPTION_OVERHEAD_BYTES,
  memoryChars: 1_000_000,
  timeMs: 50,
};

/** An absolute http(s) URL, possibly with Liquid in it; checked with every `{{ … }}` filled in. */
const urlTemplate = template(2048).superRefine((source, context) => {
  if (!isHttpUrl(worstCaseSource(source))) context.addIssue({ code: 'custom', message: 'must be an absolute http(s) URL' });
});

export const contentInput = z.object({
  title: template(250).refine((title) => title.trim().length > 0, 'must not be empty'),
  body: template(1000).nullish(),
  iconUrl: urlTemplate.nullish(),
  imageUrl: urlTemplate.nullish(),
  badgeUrl: urlTemplate.nullish(),
  url: urlTemplate,
  actions: z
    .array(
      z.object({
        action: z.string().regex(/^[\w-]{1,64}$/, 'must be 1-64 letters, digits, _ or -'),
        title: template(100).refine((title) => title.trim().length > 0, 'must not be empty'),
        url: urlTemplate.nullish(),
      }),
    )
    .max(2, 'at most 2 actions')
    .nullish(),
  ttlSeconds: z.number().int().min(0, 'must be at least 0').max(MAX_TTL_SECONDS, `must be at most ${MAX_TTL_SECONDS} (28 days)`).nullish(),
  urgency: z.enum(Urgencies).nullish(),
  // RFC 8030: at most 32 characters of the URL-safe base64 alphabet.
  topic: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'must be 1-32 characters of A-Z a-z 0-9 _ -').nullish(),
  requireInteraction: z.boolean().nullish(),
  /** A question answered with the notification's buttons, or on its answer page (feedback/push.ts): it replaces `actions`. */
  question: pushQuestionInput.nullish(),
}).superRefine((content, context) => {
  if (content.question && content.actions?.length) context.addIssue({ code: 'custom', path: ['actions'], message: 'a push asking a question shows its answers as the buttons: give question or actions, not both' });
});
export type Content = z.output<typeof contentInput>;

/**
 * The shape of a saved campaign's content, for reading it back: its templates were checked when it
 * was saved and are checked again as they render (a template saved before a rule tightened fails
 * that message, not the whole send), so here they are plain text.
 */
export const storedContent: z.ZodType<Content> = z.object({
  title: z.string(),
  body: z.string().nullish(),
  iconUrl: z.string().nullish(),
  imageUrl: z.string().nullish(),
  badgeUrl: z.string().nullish(),
  url: z.string(),
  actions: z.array(z.object({ action: z.string(), title: z.string(), url: z.string().nullish() })).nullish(),
  ttlSeconds: z.number().int().nullish(),
  urgency: z.enum(Urgencies).nullish(),
  topic: z.string().nullish(),
  requireInteraction: z.boolean().nullish(),
  question: storedQuestion.nullish(),
});

/** The JSON the service worker receives (API.md "Push payload"). */
export interface PushPayload {
  title: string;
  body: string;
  icon?: string;
  image?: string;
  badge?: string;
  url: string;
  actions: { action: string; title: string; url?: string }[];
  requireInteraction: boolean;
  tag: string;
  token: string;
  trackUrl: string;
}

/** A campaign's templates parsed once, rendered per recipient within `budget`. */
export class CompiledContent {
  private readonly fields: CompiledFields<string>;

  constructor(
    readonly content: Content,
    private readonly budget: RenderBudget = pushRenderBudget,
  ) {
    this.fields = new CompiledFields(templateSources(content));
  }

  /** Renders every template for one recipient; throws a RenderError naming the field. */
  render(scope: Record<string, unknown>, ids: { tag: string; token: string; trackUrl: string }): PushPayload {
    const text = this.fields.renderer(this.budget, scope);
    const url = (key: string) => {
      const value = text(key)?.trim();
      if (value !== undefined && !isHttpUrl(value)) throw new RenderError(key, 'did not render to an absolute http(s) URL');
      return value || undefined;
    };
    const { content } = this;
    return withoutUndefined({
      title: text('title')!,
      // A push that asks and says nothing else shows the question.
      body: text('body') ?? content.question?.text ?? '',
      icon: url('iconUrl'),
      image: url('imageUrl'),
      badge: url('badgeUrl'),
      url: content.question && !fitsButtons(content.question) ? answerPageUrl(ids.trackUrl, ids.token) : url('url')!,
      actions: content.question
        ? answerActions(content.question)
        : (content.actions ?? []).map((action, index) =>
            withoutUndefined({ action: action.action, title: text(`actions.${index}.title`)!, url: url(`actions.${index}.url`) }),
          ),
      requireInteraction: content.requireInteraction ?? false,
      ...ids,
    });
  }
}

/** Bytes a payload occupies once encrypted for a push service. */
export function encryptedSize(payload: PushPayload | string): number {
  return Buffer.byteLength(typeof payload === 'string' ? payload : JSON.stringify(payload)) + ENCRYPTION_OVERHEAD_BYTES;
}

/**
 * The largest payload this content can produce, with every `{{ … }}` taken as
 * WORST_CASE_OUTPUT_BYTES of text that JSON must escape, the longest token, and each link to one of
 * Herald's short links (at `publicUrl`) carrying that token.
 */
export function worstCaseSize(content: Content, publicUrl: string): number {
  const trackUrl = trackUrlOf({ publicUrl });
  const token = '0'.repeat(TOKEN_LENGTH);
  const worst = (source: string | null | undefined) => (source == null ? undefined : worstCaseSource(source));
  const link = (source: string | null | undefined) => (source == null ? undefined : worstCaseLink(source, worstCaseSource(source), publicUrl, token));
  const payload: PushPayload = {
    title: worst(content.title)!,
    body: worst(content.body) ?? content.question?.text ?? '',
    icon: worst(content.iconUrl),
    image: worst(content.imageUrl),
    badge: worst(content.badgeUrl),
    url: content.question && !fitsButtons(content.question) ? answerPageUrl(trackUrl, token) : link(content.url)!,
    actions: content.question ? answerActions(content.question) : (content.actions ?? []).map((action) => ({ action: action.action, title: worst(action.title)!, url: link(action.url) })),
    requireInteraction: content.requireInteraction ?? false,
    tag: '0'.repeat(36),
    token,
    trackUrl,
  };
  return encryptedSize(payload);
}

/** Length of a tracking token (see tracking/token.ts): 16-byte id and 16-byte MAC, base64url, a dot. */
export const TOKEN_LENGTH = 22 + 1 + 22;

function worstCaseSource(source: string): string {
  // Tags ({% … %}) render to nothing here; outputs to the worst-case filler.
  const filled = source.replace(/\{\{-?[\s\S]*?-?\}\}/g, 'x'.repeat(WORST_CASE_OUTPUT_BYTES));
  return filled.replace(/\{%-?[\s\S]*?-?%\}/g, '');
}

function* templateSources(content: Content): Generator<[string, string]> {
  for (const key of ['title', 'body', 'iconUrl', 'imageUrl', 'badgeUrl', 'url'] as const) {
    const source = content[key];
    if (source != null) yield [key, source];
  }
  for (const [index, action] of (content.actions ?? []).entries()) {
    yield [`actions.${index}.title`, action.title];
    if (action.url != null) yield [`actions.${index}.url`, action.url];
  }
}

function isHttpUrl(value: string): boolean {
  if (!/^https?:\/\//i.test(value)) return false;
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}


function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as T;
}
