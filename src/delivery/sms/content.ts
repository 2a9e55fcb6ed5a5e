import type { Template } from 'liquidjs';
import { z } from 'zod';
import { firstLine, messageRenderer, parseTemplate, type RenderBudget, RenderError, templateRefusal } from '../templates.ts';
import { countSegments, isGsm7, type SegmentCount } from './segments.ts';

/**
 * An SMS: one Liquid body over `contact` and `event`, plain text (nothing is escaped). Checked
 * when the campaign is saved, its worst case against the workspace's maxSegments (worstCase
 * below), and counted again exactly for every message as it is rendered.
 */

/** Twilio refuses a body over 1,600 characters: a rendered body past it stops rendering. */
export const MAX_BODY_CHARS = 1600;
/** What one `{{ … }}` is counted as when the save-time worst case is worked out, unless it ends in `| truncate: N`. */
export const WORST_CASE_OUTPUT_CHARS = 64;
export const DEFAULT_MAX_SEGMENTS = 3;

export const smsRenderBudget: RenderBudget = { outputChars: MAX_BODY_CHARS, memoryChars: 200_000, timeMs: 50 };

const OUTPUT = /\{\{-?([\s\S]*?)-?\}\}/g;
const TAG = /\{%-?([\s\S]*?)-?%\}/g;
const LOOP = /^\s*(for|tablerow)\b/;

export const smsContentInput = z.object({
  body: z
    .string()
    .max(MAX_BODY_CHARS, `must be at most ${MAX_BODY_CHARS} characters`)
    .refine((body) => body.trim().length > 0, 'must not be empty')
    .superRefine((source, context) => {
      const refusal = templateRefusal(source);
      if (refusal) {
        context.addIssue({ code: 'custom', message: refusal });
        return;
      }
      // A loop repeats its text as often as the data says: the body's length would have no bound.
      for (const [, tag] of source.matchAll(TAG)) {
        const loop = LOOP.exec(tag!);
        if (loop) context.addIssue({ code: 'custom', message: `must not use {% ${loop[1]} %}: an SMS body's length must have a bound` });
      }
    }),
});
export type SmsContent = z.output<typeof smsContentInput>;

/**
 * The most segments a body may take, whatever the contact's data, as checked at save. Text outside
 * `{{ … }}` counts as written (both branches of an `{% if %}`, an overestimate), each `{{ … }}` as
 * WORST_CASE_OUTPUT_CHARS characters, or N when its last filter is `truncate: N` (Liquid's truncate
 * keeps at most N characters). Those characters are taken at their worst: characters outside the
 * GSM alphabet, which turn the whole message into UCS-2 (a name such as "Łucja" does), or, when
 * that costs more, GSM extension characters of two septets each. A `{% capture %}` written out
 * still counts as one output: the exact count of each rendered message (renderSms) is what never
 * lets a message over maxSegments leave.
 */
export function worstCase(body: string): SegmentCount {
  const outputs = [...body.matchAll(OUTPUT)].map(([, expression]) => outputBound(expression!));
  const text = body.replace(OUTPUT, '').replace(TAG, '');
  if (outputs.length === 0) return countSegments(text);
  const filled = (char: string) => text + outputs.map((chars) => char.repeat(chars)).join('');
  const candidates = [countSegments(filled('ж'))];
  if (isGsm7(text)) candidates.push(countSegments(filled('€')));
  return candidates.reduce((worst, count) => (count.segments > worst.segments ? count : worst));
}

/**
 * The characters one output may write: N for `… | truncate: N` (liquidjs keeps N characters, the
 * omission included; with N under the omission's length it keeps more, so that counts as unbounded),
 * else WORST_CASE_OUTPUT_CHARS.
 */
function outputBound(expression: string): number {
  const truncate = /\|\s*truncate\s*:\s*(\d+)\s*(?:,\s*(?:"([^"]*)"|'([^']*)')\s*)?$/.exec(expression.trim());
  if (!truncate) return WORST_CASE_OUTPUT_CHARS;
  const omission = truncate[2] ?? truncate[3] ?? '...';
  const chars = Number(truncate[1]);
  return chars >= omission.length ? chars : WORST_CASE_OUTPUT_CHARS;
}

/** A campaign's body parsed once, rendered per recipient. */
export class CompiledSms {
  private readonly templates: Template[];

  constructor(
    readonly content: SmsContent,
    private readonly maxSegments: number,
  ) {
    this.templates = parseTemplate(content.body);
  }

  /** The body for one recipient; an empty body or one over maxSegments is a RenderError, never sent. */
  renderFor(scope: Record<string, unknown>): { body: string; count: SegmentCount } {
    let body: string;
    try {
      // A renderer per message: its time and memory budget is this message's alone.
      body = messageRenderer(smsRenderBudget)(this.templates, scope).trim();
    } catch (error) {
      throw new RenderError('body', firstLine(error));
    }
    if (body.length === 0) throw new RenderError('body', 'rendered empty');
    const count = countSegments(body);
    if (count.segments > this.maxSegments) throw new RenderError('body', `renders to ${count.segments} segments (${count.encoding}); the workspace allows ${this.maxSegments}`);
    return { body, count };
  }
}

