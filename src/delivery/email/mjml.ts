import { TypeGuards } from 'liquidjs';
import { lineAt, liquidTokens, TemplateSyntaxError } from './liquid.ts';

/**
 * MJML to HTML, strictly: an MJML error is a problem with its line, not a quietly broken layout.
 * Returns the problem as a value ("line 3: mj-column cannot be used inside mj-body, …").
 */
export async function htmlOfMjml(source: string, maxChars: number): Promise<{ html: string } | { problem: string }> {
  const include = /<mj-include\b/i.exec(source);
  if (include) return { problem: `line ${lineAt(source, include.index)}: mj-include is not allowed: templates cannot read files` };
  let html: string;
  try {
    // ignoreIncludes: MJML reads no file either (refused above; this is the second lock).
    // Loaded when first needed: MJML holds ~60 MB, which a Herald sending no MJML never pays.
    const { default: mjml2html } = await import('mjml');
    ({ html } = await mjml2html(source, { validationLevel: 'strict', ignoreIncludes: true }));
  } catch (error) {
    const errors = (error as { errors?: { line: number; message: string }[] }).errors;
    if (errors?.length) return { problem: errors.map((each) => `line ${each.line}: ${each.message}`).join('; ') };
    return { problem: `is not valid MJML: ${String(error instanceof Error ? error.message : error).split('\n')[0]}` };
  }
  if (html.length > maxChars) return { problem: `compiles to ${html.length} characters of HTML; at most ${maxChars}` };
  try {
    const dropped = droppedLiquid(source, html);
    return dropped ? { problem: dropped } : { html };
  } catch (error) {
    if (error instanceof TemplateSyntaxError) return { problem: `in the HTML compiled from MJML, ${error.message}` };
    throw error;
  }
}

/**
 * MJML silently drops text between tags that hold no content (a `{% if %}` between two
 * mj-section), which would leave its Liquid unbalanced or gone: each tag and value of the MJML
 * must still be in the HTML.
 */
function droppedLiquid(source: string, html: string): string | null {
  const compiled = new Map<string, number>();
  for (const token of liquidTokens(html)) compiled.set(token.getText(), (compiled.get(token.getText()) ?? 0) + 1);
  for (const token of liquidTokens(source)) {
    if (TypeGuards.isHTMLToken(token)) continue;
    const left = compiled.get(token.getText()) ?? 0;
    if (left === 0) return `line ${lineAt(source, token.begin)}: MJML leaves out ${token.getText()}; Liquid belongs in text, attribute values or <mj-raw>`;
    compiled.set(token.getText(), left - 1);
  }
  return null;
}
