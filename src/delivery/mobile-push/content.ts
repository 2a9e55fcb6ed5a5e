import { z } from 'zod';
import { templateField as template } from '../template-field.ts';
import { CompiledFields, type RenderBudget, RenderError } from '../templates.ts';

/**
 * What a mobile push shows: title, body, image and deep link are Liquid templates over `contact`
 * (and `event`), checked when the campaign is saved and rendered once per message; data, badge,
 * sound and category are given as they are. Rendered per platform in payloads.ts.
 */

/** APNs and FCM both refuse a notification payload over 4 KB. */
export const MAX_PAYLOAD_BYTES = 4096;
export const MAX_TTL_SECONDS = 28 * 24 * 3600;
const WORST_CASE_OUTPUT_BYTES = 64;

export const mobileRenderBudget: RenderBudget = { outputChars: MAX_PAYLOAD_BYTES, memoryChars: 1_000_000, timeMs: 50 };

/** An app's deep link (myshop://product/1) or a web link; javascript: and data: are refused. */
const linkTemplate = template(2048).superRefine((source, context) => {
  if (!isLink(worstCaseSource(source))) context.addIssue({ code: 'custom', message: 'must be an absolute URL such as https://… or an app link such as myshop://…' });
});
const imageTemplate = template(2048).superRefine((source, context) => {
  if (!/^https:\/\//i.test(worstCaseSource(source))) context.addIssue({ code: 'custom', message: 'must be an https:// URL' });
});

/** Custom data: a flat object the app reads (FCM carries only strings, so values are strings, numbers or booleans). */
const data = z
  .record(z.string().regex(/^(?!herald$)(?!google\.|gcm\.|from$|message_type$|collapse_key$)[A-Za-z0-9_.-]{1,64}$/, 'keys must be 1-64 letters, digits, _ . -, not herald or reserved by FCM'), z.union([z.string().max(1024), z.number(), z.boolean()]))
  .refine((value) => Object.keys(value).length <= 20, 'at most 20 keys');

export const mobilePushContentInput = z.object({
  title: template(250).refine((title) => title.trim().length > 0, 'must not be empty'),
  body: template(1000).nullish(),
  imageUrl: imageTemplate.nullish(),
  url: linkTemplate.nullish(),
  data: data.nullish(),
  badge: z.number().int().min(0, 'must be at least 0').max(99_999, 'must be at most 99999').nullish(),
  sound: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be a sound file name such as default or chime.caf').nullish(),
  category: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 letters, digits, _ . - (the app’s notification category)').nullish(),
  ttlSeconds: z.number().int().min(0, 'must be at least 0').max(MAX_TTL_SECONDS, `must be at most ${MAX_TTL_SECONDS} (28 days)`).nullish(),
  topic: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 letters, digits, _ . -').nullish(),
});
export type MobilePushContent = z.output<typeof mobilePushContentInput>;

/** What one message renders to, before it is shaped for APNs or FCM. */
export interface RenderedPush {
  title: string;
  body: string;
  imageUrl?: string;
  url?: string;
}

/** A campaign's templates parsed once, rendered per recipient. */
export class CompiledMobilePush {
  private readonly fields: CompiledFields<keyof RenderedPush>;

  constructor(readonly content: MobilePushContent) {
    this.fields = new CompiledFields((['title', 'body', 'imageUrl', 'url'] as const).map((key) => [key, content[key]] as const));
  }

  /** Renders every template for one recipient; throws a RenderError naming the field. */
  render(scope: Record<string, unknown>): RenderedPush {
    const text = this.fields.renderer(mobileRenderBudget, scope);
    const url = text('url')?.trim();
    if (url && !isLink(url)) throw new RenderError('url', 'did not render to an absolute URL');
    const imageUrl = text('imageUrl')?.trim();
    if (imageUrl && !/^https:\/\//i.test(imageUrl)) throw new RenderError('imageUrl', 'did not render to an https:// URL');
    return { title: text('title')!, body: text('body') ?? '', ...(imageUrl ? { imageUrl } : {}), ...(url ? { url } : {}) };
  }
}

/** The content with each `{{ … }}` as WORST_CASE_OUTPUT_BYTES characters: what a save-time size check renders. */
export function worstCase(content: MobilePushContent): RenderedPush {
  const worst = (source: string | null | undefined) => (source == null ? undefined : worstCaseSource(source));
  return { title: worst(content.title)!, body: worst(content.body) ?? '', imageUrl: worst(content.imageUrl), url: worst(content.url) };
}

function worstCaseSource(source: string): string {
  return source.replace(/\{\{-?[\s\S]*?-?\}\}/g, 'x'.repeat(WORST_CASE_OUTPUT_BYTES)).replace(/\{%-?[\s\S]*?-?%\}/g, '');
}

function isLink(value: string): boolean {
  if (!/^[a-z][a-z0-9+.-]*:/i.test(value) || /^(javascript|data|vbscript|file):/i.test(value)) return false;
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}

