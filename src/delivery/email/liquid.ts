import { randomBytes } from 'node:crypto';
import { type Context, CycleTag, EchoTag, type Emitter, LiquidError, Output, type Template, Tokenizer, type TopLevelToken, toValueSync, TypeGuards, type Value } from 'liquidjs';
import { parseTemplate, refusedFileTag, stringify } from '../templates.ts';

/**
 * An email's Liquid, parsed once by the sandbox (templates.ts). Two things differ from a push:
 *  - Bodies are long (a compiled MJML newsletter is ~100 KB) but the sandbox parses at most 10,000
 *    characters per template, a bound that suits a push. So the long runs of plain text between
 *    Liquid tags are taken out before parsing and put back into the parsed template: Liquid parses
 *    only the tags, and errors name the line of the source.
 *  - In HTML, what a value writes is escaped (`&`, `<`, `>`, quotes): a contact's name comes from a
 *    web page and must not become markup in a company's email. `| raw` writes trusted HTML as is.
 */

export class TemplateSyntaxError extends Error {
  constructor(
    readonly line: number | null,
    detail: string,
  ) {
    super(line === null ? detail : `line ${line}: ${detail}`);
  }
}

/**
 * Parses a template of any length; throws TemplateSyntaxError with the source's line. Each long
 * run of text goes to the parser as a marked `{{ … | raw }}` whose render is then replaced by
 * writing the text, so the parsed template renders exactly as the source would.
 */
export function parseLong(source: string): Template[] {
  const tokens = liquidTokens(source);
  // The mark is new for every parse, so no template can write one on purpose.
  const mark = `__h${randomBytes(6).toString('hex')}_`;
  const runs: string[] = [];
  let skeleton = '';
  // Where each token starts in the skeleton and in the source, to place a parse error.
  const starts: { skeleton: number; source: number }[] = [];
  let rawContent = false;
  for (const token of tokens) {
    starts.push({ skeleton: skeleton.length, source: token.begin });
    const placeholder = `{{ ${mark}${runs.length} | raw }}`;
    // A run shorter than its placeholder stays: the skeleton is what the sandbox's limit counts.
    if (TypeGuards.isHTMLToken(token) && token.end - token.begin > placeholder.length && !rawContent) {
      // getContent() applies the neighbouring tags' whitespace control ({%- … -%}).
      runs.push(token.getContent());
      skeleton += placeholder;
    } else {
      skeleton += token.getText();
    }
    rawContent = TypeGuards.isTagToken(token) && token.name === 'raw';
  }
  let templates: Template[];
  try {
    templates = parseTemplate(skeleton);
  } catch (error) {
    if (!LiquidError.is(error) && /parse length limit/.test(String(error))) {
      const liquid = tokens.reduce((sum, token) => sum + (TypeGuards.isHTMLToken(token) ? 0 : token.end - token.begin), 0);
      throw new TemplateSyntaxError(null, `has ${liquid} characters of Liquid tags and values; the template sandbox parses at most 10,000 (with the text between them)`);
    }
    throw syntaxError(error, source, (offset) => {
      const start = starts.findLast((entry) => entry.skeleton <= offset) ?? { skeleton: 0, source: 0 };
      return start.source + (offset - start.skeleton);
    });
  }
  const marked = new RegExp(`^\\{\\{ ${mark}(\\d+) \\| raw \\}\\}$`);
  for (const leaf of leaves(templates)) {
    const run = leaf instanceof Output ? marked.exec(leaf.token.getText()) : null;
    if (!run) continue;
    const text = runs[Number(run[1])]!;
    leaf.render = (_context: Context, emitter: Emitter) => emitter.write(text);
    textRuns.add(leaf);
  }
  return templates;
}

/** Liquid's own tokens of a source (text, tags, outputs); throws TemplateSyntaxError. */
export function liquidTokens(source: string): TopLevelToken[] {
  try {
    return new Tokenizer(source).readTopLevelTokens();
  } catch (error) {
    throw syntaxError(error, source, (offset) => offset);
  }
}

function syntaxError(error: unknown, source: string, sourceOffset: (offset: number) => number): Error {
  if (!LiquidError.is(error)) return error as Error;
  const offset = Math.min(source.length, Math.max(0, sourceOffset(error.token.begin)));
  const line = lineAt(source, offset);
  const tag = refusedFileTag(error);
  if (tag) return new TemplateSyntaxError(line, `{% ${tag} %} is not allowed: templates cannot read files`);
  const detail = (error.originalError?.message ?? error.message).replace(/, line:\d+, col:\d+$/, '');
  return new TemplateSyntaxError(line, detail.split('\n')[0]!);
}

export function lineAt(source: string, offset: number): number {
  let line = 1;
  for (let index = source.indexOf('\n'); index !== -1 && index < offset; index = source.indexOf('\n', index + 1)) line++;
  return line;
}

/**
 * Makes every value these templates write HTML-escaped (or escaped by `escape`: a webhook's JSON
 * body, its URL): `{{ … }}`, `{% echo %}` and `{% cycle %}`, in every branch and loop. A value
 * whose last filter `writesAsIs` (`| raw`, and `{% raw %}`) is written as it is.
 */
export function escapeValues(
  templates: Template[],
  escape: (text: string) => string = escapeHtml,
  writesAsIs: (filter: { name: string; raw: boolean } | undefined) => boolean = (filter) => Boolean(filter?.raw),
): void {
  for (const leaf of leaves(templates)) {
    if (leaf instanceof Output || leaf instanceof EchoTag) {
      const value = (leaf as { value?: Value }).value;
      if (value && !writesAsIs(value.filters.at(-1))) writeEscaped(leaf, escape);
    } else if (leaf instanceof CycleTag) {
      writeEscaped(leaf, escape);
    }
  }
}

/** The outputs parseLong put in place of long runs of text: they write the source's text. */
const textRuns = new WeakSet<Template>();

/** Whether any value of these templates is written as it is (`| raw`), unescaped (parseLong's text runs aside). */
export function writesUnescaped(templates: Template[]): boolean {
  for (const leaf of leaves(templates)) {
    if ((leaf instanceof Output && !textRuns.has(leaf)) || leaf instanceof EchoTag) {
      if ((leaf as { value?: Value }).value?.filters.at(-1)?.raw) return true;
    }
  }
  return false;
}

/** The templates that write, in every branch and loop: a tag with templates inside is walked into. */
function* leaves(templates: Template[]): Generator<Template> {
  for (const template of templates) {
    if (template.children) yield* leaves(toValueSync(template.children(false, true)));
    else yield template;
  }
}

function writeEscaped(template: Template, escape: (text: string) => string): void {
  const render = template.render.bind(template);
  template.render = function* (context, emitter: Emitter) {
    const escaped: Emitter = {
      buffer: '',
      write: (html: unknown) => emitter.write(escape(stringify(html))),
    };
    // A tag may also return what it writes (cycle does): the renderer writes that.
    const returned: unknown = yield render(context, escaped);
    return returned == null ? returned : escape(stringify(returned));
  };
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return /[&<>"']/.test(text) ? text.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char]!) : text;
}
