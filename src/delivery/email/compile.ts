import { randomBytes } from 'node:crypto';
import type { Template } from 'liquidjs';
import { answerUrl, questionButtonsHtml, questionButtonsText } from '../../feedback/email.ts';
import type { Question } from '../../feedback/kinds.ts';
import { firstLine, messageRenderer, type RenderBudget, RenderError } from '../templates.ts';
import { assembleBody, type BodyPlan, planBody } from './body-plan.ts';
import type { EmailContent } from './content.ts';
import { rewriteLinks, withOpenPixel, withPreheader, type Anchor } from './html.ts';
import { clickUrl, isTracked, openPixelUrl, trackedTarget, unsubscribeUrl } from './links.ts';
import { escapeValues, parseLong, TemplateSyntaxError } from './liquid.ts';
import { htmlOfMjml } from './mjml.ts';
import { type HtmlToText, loadHtmlToText, textTemplateOf, tidyText } from './text.ts';

/**
 * An email compiled (MJML to HTML, every template parsed) and rendered for each recipient with its
 * links tracked. Apart from content.ts (the input's schema), so that the thread building messages
 * (build-thread.ts) loads what rendering needs and not the GraphQL schema the input pulls in.
 */

export const KB = 1024;
/** Gmail shows messages whose HTML is larger than this cut off, behind "View entire message". */
export const GMAIL_CLIP_BYTES = 102 * KB;

/**
 * What rendering one email may use. The HTML is the large field (a newsletter ~100 KB, at most
 * 1M characters); its text is charged twice as it renders (read, then written), hence the memory.
 */
export const emailRenderBudget: RenderBudget = { outputChars: 1_000_000, memoryChars: 4_000_000, timeMs: 100 };
/** A rendered subject longer than this fails its message: it is a template writing something it should not. */
export const MAX_RENDERED_SUBJECT = 2_000;

/**
 * What saving an email keeps beside its source: the HTML its MJML compiled to and the text part's
 * template derived from that HTML (null when none could be). A sender compiles from these and so
 * never loads MJML (~66 MB) or html-to-text (~11 MB).
 */
export interface CompiledSource {
  html: string;
  text: string | null;
}

/** Content that cannot become an email; `path` is the field inside the email input. */
export class EmailContentError extends Error {
  constructor(
    readonly path: string[],
    message: string,
  ) {
    super(message);
  }
}

export interface EmailLinks {
  token: string;
  publicUrl: string;
  trackingSecret: string;
}

export interface RenderedEmail {
  subject: string;
  html: string;
  text: string;
}

/** A RenderedEmail whose HTML may be UTF-8 bytes, valid only until the next render (build the message at once). */
export interface EmailToSend {
  subject: string;
  html: string | Buffer;
  text: string;
}

export interface CompiledEmail {
  /** The HTML with its Liquid still in it: what a preview shows before personalisation. */
  readonly html: string;
  readonly warnings: string[];
  /** What to save with the campaign, so that its senders compile from it (see CompiledSource). */
  readonly source: CompiledSource;
  /** The content it was compiled from (with `source`, what another thread compiles it again from). */
  readonly content: EmailContent;
  render(scope: object, links: EmailLinks): RenderedEmail;
  /** The same email for the wire: its HTML assembled from the campaign's fixed parts when it can be (body-plan.ts). */
  renderToSend(scope: object, links: EmailLinks): EmailToSend;
  /** Whether renderToSend assembles the HTML (false: the template is rendered whole, see body-plan.ts). */
  readonly assembles: boolean;
}

type Field = 'subject' | 'preheader' | 'mjml' | 'html' | 'text';

/**
 * Compiles MJML to HTML and parses every template; throws EmailContentError. With `saved`, what an
 * earlier compile of the same content gave, the MJML and the text part are not converted again.
 */
export async function compileEmail(content: EmailContent, saved?: CompiledSource | null): Promise<CompiledEmail> {
  const parse = (field: Field, source: string, context = ''): Template[] => {
    try {
      return parseLong(source);
    } catch (error) {
      if (error instanceof TemplateSyntaxError) throw new EmailContentError([field], `${context}${error.message}`);
      throw error;
    }
  };
  if ((content.mjml == null) === (content.html == null)) throw new EmailContentError(['mjml'], 'give either mjml or html');
  const warnings: string[] = [];

  const subject = parse('subject', content.subject);
  const preheader = content.preheader ? parse('preheader', content.preheader) : null;
  let html: string;
  let body: Template[];
  if (content.mjml != null && saved) {
    html = saved.html;
    body = parse('mjml', html, 'in the HTML compiled from MJML, ');
  } else if (content.mjml != null) {
    // Liquid errors name the MJML's lines, before MJML moves anything.
    parse('mjml', content.mjml);
    const compiled = await htmlOfMjml(content.mjml, emailRenderBudget.outputChars);
    if ('problem' in compiled) throw new EmailContentError(['mjml'], compiled.problem);
    html = compiled.html;
    body = parse('mjml', html, 'in the HTML compiled from MJML, ');
  } else {
    html = content.html!;
    body = parse('html', html);
  }
  escapeValues(body);

  let text: Template[] | null = null;
  let textSource: string | null = null;
  let toText: HtmlToText | null = null;
  const derived = content.text == null;
  if (!derived) {
    text = parse('text', content.text!);
  } else {
    try {
      // Saved as null: derived again, which fails again and says why.
      textSource = saved?.text ?? textTemplateOf(html, await loadHtmlToText());
      text = parseLong(textSource);
    } catch (error) {
      if (!(error instanceof TemplateSyntaxError)) throw error;
      textSource = null;
      toText = await loadHtmlToText();
      warnings.push(`the text part could not be derived from the HTML once (${error.message}), so it is converted for each recipient, which is slower`);
    }
  }

  // The fast path for senders; never for a question (its buttons are placed after rendering).
  let plan: BodyPlan | null = null;
  if (!content.question && !toText) {
    try {
      plan = planBody(html);
    } catch {
      plan = null; // a template the plan cannot take is rendered whole
    }
  }

  const size = trackedSize(html, content.preheader ?? '');
  if (size > GMAIL_CLIP_BYTES) {
    warnings.push(
      `the HTML is about ${Math.ceil(size / KB)} KB with its links tracked; Gmail clips messages over ${GMAIL_CLIP_BYTES / KB} KB and hides the rest behind "View entire message"`,
    );
  }
  return new CompiledTemplates(html, warnings, { html, text: textSource }, content, { subject, preheader, body, text, derived, toText, question: content.question ?? null }, plan);
}

interface Templates {
  subject: Template[];
  preheader: Template[] | null;
  body: Template[];
  /** Null: the text part is converted from each recipient's HTML (with toText). */
  text: Template[] | null;
  derived: boolean;
  toText: HtmlToText | null;
  question: Question | null;
}

/**
 * What `{{ question_buttons }}` writes while rendering: a mark of letters and digits (escaping
 * leaves it as is, new in every process), replaced by the buttons once the links are tracked.
 */
const QUESTION_MARK = `herald${randomBytes(8).toString('hex')}question`;

class CompiledTemplates implements CompiledEmail {
  /** Whether the plan gave the full render's bytes for a recipient yet (checked once per process). */
  private checked = false;

  constructor(
    readonly html: string,
    readonly warnings: string[],
    readonly source: CompiledSource,
    readonly content: EmailContent,
    private readonly templates: Templates,
    private plan: BodyPlan | null = null,
  ) {}

  get assembles(): boolean {
    return this.plan !== null;
  }

  // A render that runs out of its (wall-clock) time gets one more try inside messageRenderer.
  render(scope: object, links: EmailLinks): RenderedEmail {
    return this.renderOnce(scope, links);
  }

  renderToSend(scope: object, links: EmailLinks): EmailToSend {
    const { plan } = this;
    if (!plan) return this.renderOnce(scope, links);
    const fields = this.fields(scope, links);
    const html = assembleBody(plan, fields.render('html', plan.regions), { ...links, unsubscribe: fields.unsubscribe }, fields.previewText);
    if (!html) return this.renderOnce(scope, links);
    const email = { subject: fields.subject, html, text: fields.text() };
    if (this.checked) return email;
    // The first recipient's email is rendered both ways: a template the plan gets wrong is rendered whole from then on.
    const whole = this.renderOnce(scope, links);
    if (!html.equals(Buffer.from(whole.html))) {
      this.plan = null;
      return whole;
    }
    this.checked = true;
    return email;
  }

  /** What every render of one recipient's email shares: the scope, the budget, subject, preview text, text part. */
  private fields(scope: object, links: EmailLinks) {
    const unsubscribe = unsubscribeUrl(links.publicUrl, links.token);
    const { question } = this.templates;
    const variables = { ...scope, unsubscribe_url: unsubscribe, ...(question && { question_buttons: QUESTION_MARK }) };
    const renderField = messageRenderer(emailRenderBudget);
    const render = (field: string, templates: Template[]) => {
      try {
        return renderField(templates, variables);
      } catch (error) {
        throw new RenderError(field, liquidDetail(error));
      }
    };
    const { subject, preheader, text, derived, toText } = this.templates;
    const subjectLine = oneLine(render('subject', subject));
    if (subjectLine.length > MAX_RENDERED_SUBJECT) throw new RenderError('subject', `rendered to ${subjectLine.length} characters; at most ${MAX_RENDERED_SUBJECT}`);
    const previewText = preheader ? oneLine(render('preheader', preheader)) : '';
    return {
      unsubscribe,
      render,
      subject: subjectLine,
      previewText,
      /** The text part (from the recipient's HTML when the campaign has no text template). */
      text: (html?: string) => {
        if (!text) return tidyText(toText!(html!));
        return derived ? tidyText(render('text', text)) : render('text', text);
      },
    };
  }

  private renderOnce(scope: object, links: EmailLinks): RenderedEmail {
    const fields = this.fields(scope, links);
    const { unsubscribe, render } = fields;
    const { body, question } = this.templates;
    const urlOf = (answer: string) => answerUrl(links.publicUrl, links.token, answer);
    const html = render('html', body);
    let textPart = fields.text(html);
    // The text part shows the links as written; the HTML's go through Herald to count clicks.
    let tracked = rewriteLinks(html, (anchor) => (tracks(anchor, unsubscribe) ? trackedTarget(anchor.href, links) : null));
    if (question) {
      // The answer links are not click-tracked: an answer counts as the click (tracking/answers.ts).
      tracked = placeQuestion(tracked, questionButtonsHtml(question, urlOf), (html, row) => withBeforeBodyEnd(html, row));
      textPart = placeQuestion(textPart, questionButtonsText(question, urlOf), (text, row) => `${text}\n\n${row}`);
    }
    return { subject: fields.subject, html: withOpenPixel(withPreheader(tracked, fields.previewText), openPixelUrl(links.publicUrl, links.token)), text: textPart };
  }
}

/** The question's row where the template wrote `{{ question_buttons }}`, else where `append` puts it. */
function placeQuestion(rendered: string, row: string, append: (rendered: string, row: string) => string): string {
  return rendered.includes(QUESTION_MARK) ? rendered.replaceAll(QUESTION_MARK, () => row) : append(rendered, row);
}

/** Before the last `</body>`, or at the end of a fragment without one. */
function withBeforeBodyEnd(html: string, row: string): string {
  const end = html.toLowerCase().lastIndexOf('</body>');
  return end === -1 ? html + row : html.slice(0, end) + row + html.slice(end);
}

/** Whether an anchor's link is tracked (links.ts isTracked). */
function tracks(anchor: Anchor, unsubscribe: string): boolean {
  return isTracked(anchor.href, unsubscribe, anchor.attribute('data-herald-track')?.trim().toLowerCase() === 'false');
}

/** A header's text: every run of whitespace or control characters (CR, LF…) becomes one space. */
function oneLine(value: string): string {
  return value.replace(/[\s\p{Cc}]+/gu, ' ').trim();
}

/** Bytes of the HTML as sent, near enough: links tracked, preheader and pixel in place. */
function trackedSize(html: string, preheader: string): number {
  const publicUrl = 'https://herald.example.com';
  const token = 'x'.repeat(45);
  const tracked = rewriteLinks(html, (anchor) => (tracks(anchor, unsubscribeUrl(publicUrl, token)) ? clickUrl(publicUrl, token, anchor.href, 'size') : null));
  return Buffer.byteLength(withOpenPixel(withPreheader(tracked, preheader), openPixelUrl(publicUrl, token)));
}

/** liquidjs' message without its position (a line of the parsed skeleton, not of the source). */
function liquidDetail(error: unknown): string {
  const cause = (error as { originalError?: Error }).originalError ?? error;
  return firstLine(cause).replace(/, line:\d+, col:\d+$/, '');
}
