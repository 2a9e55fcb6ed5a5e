import type { Template } from 'liquidjs';
import { z } from 'zod';
import { templateField as template } from '../template-field.ts';
import { firstLine, messageRenderer, parseTemplate, type RenderBudget, RenderError } from '../templates.ts';

/**
 * An on-site message (issue #23): what the SDK shows on the customer's own site as a banner, a
 * modal or a slide-in. Title, body, image URL and each button's label and URL are Liquid over
 * `contact` and `event`, rendered when the message is "sent" (made available) and stored with
 * its ledger row. The SDK writes every text with textContent, never as HTML; URLs are checked
 * twice: as written (a literal http(s) scheme, so no value can choose `javascript:`) and as
 * rendered. The question is plain text, checked by feedback/question.ts.
 */

export const InAppLayouts = ['BANNER', 'MODAL', 'SLIDE_IN'] as const;
export type InAppLayout = (typeof InAppLayouts)[number];

const DAY = 24 * 3600;
/** How long a message waits for its visitor when the campaign sets neither ttlSeconds nor activeUntil. */
export const DEFAULT_TTL_SECONDS = 30 * DAY;
export const MAX_TTL_SECONDS = 365 * DAY;
export const MAX_BUTTONS = 2;
const MAX_TITLE = 200;
const MAX_BODY = 2000;
const MAX_LABEL = 60;
const MAX_URL = 2048;

export const inAppRenderBudget: RenderBudget = { outputChars: 4096, memoryChars: 200_000, timeMs: 50 };

/** A URL template whose scheme is written out: `https://…/{{ contact.id }}`, never `{{ url }}` or `javascript:`. */
const urlTemplate = (schemes: readonly string[]) =>
  template(MAX_URL).refine((source) => schemes.some((scheme) => source.trim().toLowerCase().startsWith(`${scheme}://`)), {
    message: `must start with ${schemes.map((scheme) => `${scheme}://`).join(' or ')}`,
  });

const button = z.object({ label: template(MAX_LABEL).refine((label) => label.trim().length > 0, 'must not be empty'), url: urlTemplate(['https', 'http']) });

/** The question's shape (feedback/question.ts's Question); checkedQuestion checks it when the campaign is saved. */
const question = z.object({
  kind: z.enum(['NPS', 'STARS', 'THUMBS', 'CHOICE']),
  text: z.string(),
  choices: z.array(z.string()).nullish(),
  freeText: z.boolean().nullish(),
});

export const inAppContentInput = z
  .object({
    layout: z.enum(InAppLayouts).nullish(),
    title: template(MAX_TITLE).nullish(),
    body: template(MAX_BODY).nullish(),
    imageUrl: urlTemplate(['https']).nullish(),
    buttons: z.array(button).max(MAX_BUTTONS, `at most ${MAX_BUTTONS} buttons`).nullish(),
    question: question.nullish(),
    ttlSeconds: z.number().int().min(60, 'must be at least 60').max(MAX_TTL_SECONDS, 'must be at most 365 days').nullish(),
  })
  .refine((content) => Boolean(content.title?.trim() || content.body?.trim()), { message: 'give a title or a body', path: ['title'] });
export type InAppContent = z.output<typeof inAppContentInput>;
export type InAppQuestion = { kind: z.output<typeof question>['kind']; text: string; choices?: string[]; freeText?: boolean };

/** What the SDK receives for one visitor: every template rendered. */
export interface RenderedInApp {
  layout: InAppLayout;
  title: string | null;
  body: string | null;
  imageUrl: string | null;
  buttons: { label: string; url: string }[];
  question: InAppQuestion | null;
}

/** A campaign's message parsed once, rendered per recipient. */
export class CompiledInApp {
  private readonly title: Template[] | null;
  private readonly body: Template[] | null;
  private readonly imageUrl: Template[] | null;
  private readonly buttons: { label: Template[]; url: Template[] }[];

  constructor(readonly content: InAppContent) {
    const parse = (source: string | null | undefined) => (source ? parseTemplate(source) : null);
    this.title = parse(content.title);
    this.body = parse(content.body);
    this.imageUrl = parse(content.imageUrl);
    this.buttons = (content.buttons ?? []).map((given) => ({ label: parseTemplate(given.label), url: parseTemplate(given.url) }));
  }

  /** The message for one recipient; a URL that renders to anything but http(s) (https for images) is a RenderError. */
  renderFor(scope: Record<string, unknown>): RenderedInApp {
    // A renderer per message: its time and memory budget is this message's alone.
    const render = messageRenderer(inAppRenderBudget);
    const field = (name: string, templates: Template[] | null) => {
      if (!templates) return null;
      try {
        return render(templates, scope).trim() || null;
      } catch (error) {
        throw new RenderError(name, firstLine(error));
      }
    };
    const url = (name: string, templates: Template[] | null, schemes: readonly string[]) => {
      const rendered = field(name, templates);
      if (rendered === null) return null;
      if (!isUrl(rendered, schemes)) throw new RenderError(name, `renders to something that is not an ${schemes.join(' or ')} URL`);
      return rendered;
    };
    const title = field('title', this.title);
    const body = field('body', this.body);
    if (!title && !body) throw new RenderError(null, 'title and body both render empty');
    const buttons = this.buttons.map((given, index) => ({
      label: field(`buttons.${index}.label`, given.label) ?? '',
      url: url(`buttons.${index}.url`, given.url, ['https', 'http'])!,
    }));
    if (buttons.some((given) => !given.label || !given.url)) throw new RenderError(null, 'a button renders without a label or URL');
    const { question } = this.content;
    return {
      layout: this.content.layout ?? 'MODAL',
      title,
      body,
      imageUrl: url('imageUrl', this.imageUrl, ['https']),
      buttons,
      question: (question as InAppQuestion | null | undefined) ?? null,
    };
  }
}

/** Whether `value` is an absolute URL with one of `schemes`, as a browser would read it. */
export function isUrl(value: string, schemes: readonly string[]): boolean {
  if (value.length > MAX_URL) return false;
  try {
    return schemes.includes(new URL(value).protocol.slice(0, -1));
  } catch {
    return false;
  }
}

/** When a message sent now stops being shown: its ttlSeconds (default 30 days) from now, and never after activeUntil. */
export function expiryOf(content: InAppContent, activeUntil: Date | null, now = Date.now()): Date {
  const ttl = now + (content.ttlSeconds ?? DEFAULT_TTL_SECONDS) * 1000;
  return new Date(activeUntil ? Math.min(ttl, activeUntil.getTime()) : ttl);
}

