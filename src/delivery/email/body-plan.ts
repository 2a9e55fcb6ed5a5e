import { randomBytes } from 'node:crypto';
import { type Template, TypeGuards } from 'liquidjs';
import { anchorTags, decodeEntities, hrefOf, pixelAt, pixelImage, preheaderAt, preheaderElement } from './html.ts';
import { escapeHtml, escapeValues, liquidTokens, parseLong, writesUnescaped } from './liquid.ts';
import { isTracked, openPixelUrl, trackedTarget } from './links.ts';

/**
 * An email's HTML split once per campaign into what every recipient gets alike and what each gets
 * of their own, so that a recipient's HTML is assembled from bytes instead of rendered, scanned
 * and edited whole (a 53 KB newsletter has ~40 places that differ). The fixed parts are kept as
 * UTF-8; per recipient only the Liquid regions (a value, or a whole `{% if %}…{% endif %}`),
 * the tracked links, the preheader and the open pixel are written.
 *
 * The result must be byte for byte what the full path (content.ts: render, rewriteLinks,
 * withPreheader, withOpenPixel) gives, so a template is planned only when that holds by
 * construction; otherwise planBody answers null and the full path renders it:
 *  - only tags whose ends are known (below), no `| raw` value, no `{% raw %}`;
 *  - a region's own text holds no `<` or `>`, and a value is HTML-escaped: no region can start,
 *    end or hide a tag, so the `<a>` tags, `<body…>` and `</body>` of every recipient's HTML are
 *    those of the template with its regions blanked out;
 *  - a region inside an `<a>` tag sits in a quoted attribute value (not data-herald-track), and
 *    its text holds no such quote; elsewhere it does not follow a `<` and a tag name's letters;
 *  - the preheader's and the pixel's places are not inside a link or a region.
 * content.ts also compares both paths on a campaign's first recipient before trusting the plan.
 */

// Tags whose output is only their values and text: not tablerow (writes <tr>), not liquid (its
// echo is not escaped), not raw or comment (text that is not Liquid).
const BLOCKS = new Set(['if', 'unless', 'case', 'for', 'capture']);
const INLINE = new Set(['elsif', 'else', 'when', 'assign', 'echo', 'cycle', 'increment', 'decrement', 'break', 'continue', '#']);

type Piece = { text: string } | { region: number };

type Op =
  | { kind: 'fixed'; bytes: Buffer }
  | { kind: 'region'; index: number }
  /** An `<a>` href: its text as written (quotes included), and what isTracked can know of it now. */
  | { kind: 'link'; pieces: Piece[]; open: number; close: number; optedOut: boolean }
  | { kind: 'preheader' }
  | { kind: 'pixel' };

export interface BodyPlan {
  /** The regions' Liquid, joined by a mark: rendered per recipient in one context, in order. */
  regions: Template[];
  regionCount: number;
  mark: string;
  ops: Op[];
  fixedBytes: number;
}

export interface BodyLinks {
  token: string;
  publicUrl: string;
  trackingSecret: string;
  unsubscribe: string;
}

/** The plan of an HTML template (escaped values, as compileEmail parses it), or null when it must be rendered whole. */
export function planBody(source: string): BodyPlan | null {
  const tokens = liquidTokens(source);
  // Items: fixed text (as Liquid writes it, whitespace control applied) or a region of the source.
  const items: ({ text: string } | { begin: number; end: number; inner: string })[] = [];
  let depth = 0;
  let region: { begin: number; end: number; inner: string } | null = null;
  for (const token of tokens) {
    if (TypeGuards.isHTMLToken(token)) {
      if (depth === 0) items.push({ text: token.getContent() });
      else region!.inner += token.getContent();
      continue;
    }
    if (depth === 0) region = { begin: token.begin, end: token.end, inner: '' };
    if (TypeGuards.isTagToken(token)) {
      const { name } = token;
      if (BLOCKS.has(name)) depth++;
      else if (name.startsWith('end') && BLOCKS.has(name.slice(3))) depth--;
      else if (!INLINE.has(name)) return null;
      if (depth < 0) return null;
    } else if (!TypeGuards.isOutputToken(token)) {
      return null;
    }
    region!.end = token.end;
    if (depth === 0) items.push(region!);
  }
  if (depth !== 0) return null;
  const regions = items.filter((item) => 'begin' in item);
  if (regions.some((item) => /[<>]/.test(item.inner))) return null;

  // The template with each region as one letter: what every recipient's HTML looks like to the scans.
  let masked = '';
  const at: number[] = [];
  for (const item of items) {
    if ('text' in item) masked += item.text;
    else {
      at.push(masked.length);
      masked += 'x';
    }
  }
  const regionAt = new Map(at.map((position, index) => [position, index]));
  const regionText = (index: number) => (regions[index] as { inner: string }).inner;

  type Cut = { start: number; end: number; op: Op };
  const cuts: Cut[] = [];
  const inLink = new Set<number>();
  for (const { start, end, attributes } of anchorTags(masked)) {
    const inside = at.filter((position) => position > start && position < end);
    const href = attributes.get('href');
    for (const position of inside) {
      const holder = [...attributes].find(([, attribute]) => attribute.start < position && position < attribute.end - 1);
      const quote = holder && masked[holder[1].start];
      if (!holder || (quote !== '"' && quote !== "'") || holder[0] === 'data-herald-track' || regionText(regionAt.get(position)!).includes(quote)) return null;
      if (holder[1] === href) inLink.add(position);
    }
    if (!href) continue;
    // The quotes around the value (an unterminated one runs to the end).
    const quote = masked[href.start] === '"' || masked[href.start] === "'" ? masked[href.start]! : '';
    const open = quote ? 1 : 0;
    const close = quote && href.end - href.start >= 2 && masked[href.end - 1] === quote ? 1 : 0;
    const pieces: Piece[] = [];
    let from = href.start;
    for (let position = href.start; position < href.end; position++) {
      if (!inLink.has(position)) continue;
      pieces.push({ text: masked.slice(from, position) }, { region: regionAt.get(position)! });
      from = position + 1;
    }
    pieces.push({ text: masked.slice(from, href.end) });
    const optedOut = attributes.get('data-herald-track') && decodeEntities(attributes.get('data-herald-track')!.value).trim().toLowerCase() === 'false';
    cuts.push({ start: href.start, end: href.end, op: { kind: 'link', pieces, open, close, optedOut: Boolean(optedOut) } });
  }
  // Elsewhere a region must not complete a tag's start ("<" or "<a" before it).
  for (const position of at) {
    if (!inLink.has(position) && /<[!/]?[A-Za-z0-9]*$/.test(masked.slice(Math.max(0, position - 64), position))) return null;
  }
  for (const [position, kind] of [
    [preheaderAt(masked), 'preheader'],
    [pixelAt(masked), 'pixel'],
  ] as const) {
    if (cuts.some((cut) => cut.start < position && position < cut.end)) return null;
    cuts.push({ start: position, end: position, op: { kind } });
  }
  // Inserts before a cut at the same place; the preheader before the pixel (their order in content.ts).
  cuts.sort((a, b) => a.start - b.start || a.end - b.end);

  const ops: Op[] = [];
  let fixedBytes = 0;
  const fixed = (from: number, to: number) => {
    for (let position = from; position < to; ) {
      const next = at.find((region) => region >= position && region < to) ?? to;
      if (next > position) {
        const bytes = Buffer.from(masked.slice(position, next), 'utf8');
        fixedBytes += bytes.length;
        ops.push({ kind: 'fixed', bytes });
      }
      if (next < to) ops.push({ kind: 'region', index: regionAt.get(next)! });
      position = next + 1;
    }
  };
  let done = 0;
  for (const cut of cuts) {
    fixed(done, cut.start);
    ops.push(cut.op);
    done = cut.end;
  }
  fixed(done, masked.length);

  const mark = `herald${randomBytes(8).toString('hex')}region`;
  const parsed = parseLong(regions.map((item) => source.slice((item as { begin: number }).begin, (item as { end: number }).end)).join(mark));
  escapeValues(parsed);
  if (writesUnescaped(parsed)) return null;
  return { regions: parsed, regionCount: regions.length, mark, ops: merge(ops), fixedBytes };
}

/** Neighbouring fixed parts as one buffer. */
function merge(ops: Op[]): Op[] {
  const merged: Op[] = [];
  for (const op of ops) {
    const last = merged.at(-1);
    if (op.kind === 'fixed' && last?.kind === 'fixed') merged[merged.length - 1] = { kind: 'fixed', bytes: Buffer.concat([last.bytes, op.bytes]) };
    else merged.push(op);
  }
  return merged;
}

let scratch = Buffer.allocUnsafe(128 * 1024);

/**
 * One recipient's HTML as UTF-8 (valid until the next call): `rendered` is what the plan's
 * regions rendered to (split by its mark), or null when that output cannot be split (then the
 * caller renders the template whole).
 */
export function assembleBody(plan: BodyPlan, rendered: string, links: BodyLinks, preheader: string): Buffer | null {
  const values = plan.regionCount === 0 ? [] : rendered.split(plan.mark);
  if (values.length !== plan.regionCount || (plan.regionCount === 0 && rendered !== '')) return null;
  const written: (Buffer | string)[] = [];
  let size = 0;
  const add = (part: Buffer | string) => {
    written.push(part);
    size += typeof part === 'string' ? Buffer.byteLength(part) : part.length;
  };
  for (const op of plan.ops) {
    switch (op.kind) {
      case 'fixed':
        add(op.bytes);
        break;
      case 'region':
        add(values[op.index]!);
        break;
      case 'link': {
        const text = op.pieces.map((piece) => ('text' in piece ? piece.text : values[piece.region]!)).join('');
        const href = hrefOf(text.slice(op.open, text.length - op.close));
        add(isTracked(href, links.unsubscribe, op.optedOut) ? `"${escapeHtml(trackedTarget(href, links))}"` : text);
        break;
      }
      case 'preheader':
        if (preheader) add(preheaderElement(preheader));
        break;
      case 'pixel':
        add(pixelImage(openPixelUrl(links.publicUrl, links.token)));
        break;
    }
  }
  if (size > scratch.length) scratch = Buffer.allocUnsafe(Math.max(size, 2 * scratch.length));
  let offset = 0;
  for (const part of written) offset += typeof part === 'string' ? scratch.write(part, offset, 'utf8') : part.copy(scratch, offset);
  return scratch.subarray(0, offset);
}
