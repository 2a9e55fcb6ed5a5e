import { escapeHtml } from './liquid.ts';

/**
 * The few edits Herald makes to an email's rendered HTML: tracked links, the preheader, the open
 * pixel. A scan of `<a` start tags' attributes the way the HTML tokenizer reads them (any order,
 * any case, double, single or no quotes) is all this needs; no HTML parser runs per recipient.
 */

export interface Anchor {
  /** The href as a browser reads it: character references decoded, surrounding whitespace removed. */
  href: string;
  /** Another attribute of the start tag, decoded (names are case-insensitive). */
  attribute(name: string): string | undefined;
}

/** Rewrites the href of every `<a>` for which `rewrite` returns a new URL (null leaves it). */
export function rewriteLinks(html: string, rewrite: (anchor: Anchor) => string | null): string {
  const parts: string[] = [];
  let done = 0;
  for (const { attributes } of anchorTags(html)) {
    const href = attributes.get('href');
    if (!href) continue;
    const target = rewrite(anchorOf(href, attributes));
    if (target === null) continue;
    parts.push(html.slice(done, href.start), `"${escapeHtml(target)}"`);
    done = href.end;
  }
  if (done === 0) return html;
  parts.push(html.slice(done));
  return parts.join('');
}

/** An `<a>` start tag as rewriteLinks reads it: where it starts and ends, its attributes. */
export interface AnchorTag {
  start: number;
  end: number;
  attributes: Map<string, Attribute>;
}

/** Every `<a>` start tag, in order, as the HTML tokenizer finds them (see readAttributes). */
export function* anchorTags(html: string): Generator<AnchorTag> {
  const anchors = /<a(?=[\t\n\f\r />])/gi;
  for (let match = anchors.exec(html); match; match = anchors.exec(html)) {
    const { attributes, end } = readAttributes(html, match.index + 2);
    // The next tag starts after this one: an attribute's value may hold "<a href=…>" as text.
    anchors.lastIndex = end;
    yield { start: match.index, end, attributes };
  }
}

/** What a rewrite sees of an anchor with this href. */
export function anchorOf(href: Attribute, attributes: Map<string, Attribute>): Anchor {
  return {
    href: hrefOf(href.value),
    attribute: (name) => {
      const attribute = attributes.get(name.toLowerCase());
      return attribute && decodeEntities(attribute.value);
    },
  };
}

/** An href attribute's value as a browser reads it: references decoded, surrounding whitespace removed. */
export const hrefOf = (value: string): string => decodeEntities(value).replace(/^[\t\n\f\r ]+|[\t\n\f\r ]+$/g, '');

export interface Attribute {
  value: string;
  /** Where the value starts and ends in the HTML, quotes included. */
  start: number;
  end: number;
}

// HTML's whitespace: tab, line feed, form feed, carriage return, space.
const isSpace = (code: number) => code === 32 || code === 9 || code === 10 || code === 12 || code === 13;
const SLASH = 47;
const EQUALS = 61;
const GREATER = 62;

/**
 * Reads a start tag's attributes, from just past its name to its `>`, as the HTML tokenizer does:
 * a name ends at whitespace, `/`, `>` or `=`; a value is quoted ("…" or '…') or runs to whitespace
 * or `>`; a name's first occurrence wins.
 */
function readAttributes(html: string, from: number): { attributes: Map<string, Attribute>; end: number } {
  const attributes = new Map<string, Attribute>();
  const length = html.length;
  let at = from;
  while (at < length) {
    while (at < length && (isSpace(html.charCodeAt(at)) || html.charCodeAt(at) === SLASH)) at++;
    if (at >= length || html.charCodeAt(at) === GREATER) break;
    const nameStart = at;
    at++; // A name's first character may be '='.
    for (let code = html.charCodeAt(at); at < length && !isSpace(code) && code !== SLASH && code !== GREATER && code !== EQUALS; code = html.charCodeAt(++at));
    const name = html.slice(nameStart, at).toLowerCase();
    while (at < length && isSpace(html.charCodeAt(at))) at++;
    let attribute: Attribute = { value: '', start: at, end: at };
    if (html.charCodeAt(at) === EQUALS) {
      at++;
      while (at < length && isSpace(html.charCodeAt(at))) at++;
      const quote = html[at];
      if (quote === '"' || quote === "'") {
        const close = html.indexOf(quote, at + 1);
        const end = close === -1 ? length : close + 1;
        attribute = { value: html.slice(at + 1, close === -1 ? length : close), start: at, end };
        at = end;
      } else {
        const start = at;
        for (let code = html.charCodeAt(at); at < length && !isSpace(code) && code !== GREATER; code = html.charCodeAt(++at));
        attribute = { value: html.slice(start, at), start, end: at };
      }
    }
    if (!attributes.has(name)) attributes.set(name, attribute);
  }
  return { attributes, end: at };
}

const NAMED_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

/**
 * Decodes the character references a URL in an attribute realistically holds (`&amp;`, numeric
 * ones, the few named ones above); others stay as written, as a browser leaves an unknown one.
 */
export function decodeEntities(value: string): string {
  if (!value.includes('&')) return value;
  return value.replace(/&(?:#(\d{1,7})|#x([0-9a-f]{1,6})|(amp|lt|gt|quot|apos|nbsp));/gi, (reference, decimal?: string, hex?: string, name?: string) => {
    if (name) return NAMED_ENTITIES[name.toLowerCase()] ?? reference;
    const code = decimal ? Number(decimal) : Number.parseInt(hex!, 16);
    return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff) ? String.fromCodePoint(code) : '\ufffd';
  });
}

/**
 * Inserts the preview text mailbox lists show next to the subject, hidden in the message itself,
 * right after `<body…>`. The padding keeps the body's first words from following it in that list.
 */
export function withPreheader(html: string, preheader: string): string {
  if (!preheader) return html;
  const at = preheaderAt(html);
  return html.slice(0, at) + preheaderElement(preheader) + html.slice(at);
}

/** Where withPreheader puts the preview text: after the first `<body…>`, else at the start. */
export function preheaderAt(html: string): number {
  const body = /<body\b[^>]*>/i.exec(html);
  return body ? body.index + body[0].length : 0;
}

export function preheaderElement(preheader: string): string {
  return (
    '<div style="display:none;font-size:1px;color:#ffffff;line-height:1px;max-height:0px;max-width:0px;opacity:0;overflow:hidden;mso-hide:all;">' +
    `${escapeHtml(preheader)}${'&#847;&zwnj;&nbsp;'.repeat(30)}</div>`
  );
}

/** Places the open pixel before `</body>`, or at the end of a document without one. */
export function withOpenPixel(html: string, pixelUrl: string): string {
  const at = pixelAt(html);
  return html.slice(0, at) + pixelImage(pixelUrl) + html.slice(at);
}

/** Where withOpenPixel puts the pixel: before the last `</body>`, else at the end. */
export function pixelAt(html: string): number {
  let at = html.lastIndexOf('</body>');
  if (at === -1) {
    for (const match of html.matchAll(/<\/body\s*>/gi)) at = match.index;
  }
  return at === -1 ? html.length : at;
}

export const pixelImage = (pixelUrl: string): string => `<img src="${escapeHtml(pixelUrl)}" width="1" height="1" alt="" style="display:none">`;
