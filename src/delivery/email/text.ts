import { TypeGuards } from 'liquidjs';
import { liquidTokens } from './liquid.ts';

/**
 * The plain-text part when a campaign gives none, derived from its HTML. html-to-text takes ~1 ms
 * for a 50 KB newsletter, too slow to run for every recipient, so it runs once per campaign: the
 * HTML template is converted with each Liquid tag and value standing in as an opaque mark, and the
 * marks are put back in the text, giving a Liquid template for the text part.
 */

export type HtmlToText = (html: string) => string;
let converter: Promise<HtmlToText> | undefined;

/**
 * Readable text: 78 columns, links as `text [url]`, images and hidden preview text left out.
 * Loaded when first needed (~11 MB): a sender reads the text template saved with its campaign.
 */
export function loadHtmlToText(): Promise<HtmlToText> {
  converter ??= import('html-to-text').then(({ compile }) =>
    compile({
      wordwrap: 78,
      selectors: [
        { selector: 'a', options: { linkBrackets: ['[', ']'], hideLinkHrefIfSameAsText: true, noAnchorUrl: true } },
        { selector: 'img', format: 'skip' },
        { selector: '[style*="display:none"]', format: 'skip' },
        { selector: '[style*="display: none"]', format: 'skip' },
        // A heading's personalised words are not upper-cased either (they are rendered later).
        ...['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map((selector) => ({ selector, options: { uppercase: false } })),
      ],
    }),
  );
  return converter;
}

const MARK = /\uE000(\d+)\uE001/g;
/** Captures the tags html-to-text left out (those in <head>, in attributes): they still assign. */
const LEFT_OUT = '__herald_left_out';

/** The text part's Liquid source, derived from the HTML template's source. */
export function textTemplateOf(htmlSource: string, htmlToText: HtmlToText): string {
  const liquid: string[] = [];
  let html = '';
  let rawContent = false;
  for (const token of liquidTokens(htmlSource)) {
    if (TypeGuards.isHTMLToken(token)) {
      // {% raw %} content is text of the HTML like any other.
      html += (rawContent ? token.getText() : token.getContent()).replace(/[\uE000\uE001]/g, '');
    } else if (TypeGuards.isTagToken(token) && (token.name === 'raw' || token.name === 'endraw')) {
      rawContent = token.name === 'raw';
    } else {
      // HTML a value writes `| raw` shows as text here.
      const source = token.getText();
      const written = TypeGuards.isOutputToken(token) ? source.replace(/\|\s*raw\s*(-?\}\})$/, '| strip_html $1') : source;
      html += `\uE000${liquid.push(written) - 1}\uE001`;
    }
  }
  const kept = new Set<number>();
  const text = htmlToText(html)
    // Braces that were text in the HTML (`&#123;&#123;`) stay text.
    .replace(/\{(?=[{%])/g, '{{ "{" }}')
    .replace(MARK, (_, index: string) => {
      kept.add(Number(index));
      return liquid[Number(index)]!;
    });
  const leftOut = liquid.filter((_, index) => !kept.has(index));
  return leftOut.length === 0 ? text : `{% capture ${LEFT_OUT} %}${leftOut.join('')}{% endcapture %}${text}`;
}

/** Blank lines where a tag stood, trailing spaces: gone. */
export function tidyText(text: string): string {
  return text.replace(/[ \t]+$/gm, '').replace(/\n{3,}/g, '\n\n').trim();
}
