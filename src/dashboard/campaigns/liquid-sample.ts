/**
 * What every channel's editor shows of a Liquid template before Herald renders it: its outputs as
 * a sample contact would see them, and whether a JSON template can be JSON at all.
 */

/** Liquid shown as the sample contact would see it: outputs with a default show it, others a placeholder. */
export function sample(source: string): string {
  return source.replace(/\{\{-?\s*([\s\S]*?)\s*-?\}\}/g, (_all, inner: string) => {
    const fallback = /default:\s*['"]([^'"]*)['"]/.exec(inner);
    if (fallback) return fallback[1]!;
    const name = inner.split('|')[0]!.trim().split('.').at(-1);
    return `‹${name}›`;
  });
}

/**
 * Why a JSON template can never render to JSON, or undefined when it can: checked as Herald checks
 * it on save (src/delivery/webhook/content.ts compileWebhook), with every `{{ … }}` written as 0
 * (inside a string or as a whole value, 0 keeps it JSON) and `{% … %}` tags left out.
 */
export function jsonTemplateProblem(source: string): string | undefined {
  if (source.trim() === '') return undefined;
  const probe = source.replace(/\{%-?[\s\S]*?-?%\}/g, '').replace(/\{\{-?[\s\S]*?-?\}\}/g, '0');
  try {
    JSON.parse(probe);
    return undefined;
  } catch (error) {
    return `not JSON even with every value written as 0: ${(error as Error).message}`;
  }
}

/** A JSON object typed in a text box: the object, or why it is not one. */
export function parsedObject(source: string): { value: Record<string, unknown> | null; problem?: string } {
  if (source.trim() === '') return { value: null };
  try {
    const value: unknown = JSON.parse(source);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return { value: null, problem: 'must be a JSON object, e.g. {"productId": "42"}' };
    return { value: value as Record<string, unknown> };
  } catch (error) {
    return { value: null, problem: `not JSON: ${(error as Error).message}` };
  }
}
