import { z } from 'zod';

/**
 * Where a smart link may send someone, checked when the link is created: `url` and `fallback` are
 * absolute http(s) addresses; `ios` and `android` may also be a deep link in an app scheme the
 * workspace registered (settings.links.appSchemes). Nothing else is ever stored, so /l/ can only
 * redirect to what passed here.
 */

export const UTM_KEYS = ['utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content'] as const;
export type Utm = Partial<Record<(typeof UTM_KEYS)[number], string>>;

const MAX_URL_CHARS = 2048;
const MAX_UTM_CHARS = 200;

/** The URL's scheme in lower case (without ":"), or null when `text` is not an absolute URL. */
function schemeOf(text: string): string | null {
  return /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(text)?.[1]?.toLowerCase() ?? null;
}

/** Text a browser would read differently from what was checked: spaces, controls, backslashes. */
function hasHiddenCharacters(text: string): boolean {
  return /[\s\u0000-\u001f\u007f\\]/.test(text);
}

/** An absolute http(s) URL with a host and no user:password@ (a classic way to disguise a host). */
export function isWebTarget(text: string): boolean {
  if (hasHiddenCharacters(text)) return false;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  return (url.protocol === 'https:' || url.protocol === 'http:') && url.hostname !== '' && url.username === '' && url.password === '';
}

/** A deep link such as `myapp://product/42` in one of `schemes`. */
function isAppTarget(text: string, schemes: readonly string[]): boolean {
  const scheme = schemeOf(text);
  return scheme !== null && schemes.includes(scheme) && !hasHiddenCharacters(text) && text.length > scheme.length + 1;
}

const webTarget = z.string().max(MAX_URL_CHARS, `must be at most ${MAX_URL_CHARS} characters`).refine(isWebTarget, 'must be an absolute http(s) URL');

function deviceTarget(schemes: readonly string[]) {
  const allowed = schemes.length ? `, or a deep link in a registered app scheme (${schemes.join(', ')})` : '; register an app scheme in settings.links.appSchemes to use a deep link';
  return z
    .string()
    .max(MAX_URL_CHARS, `must be at most ${MAX_URL_CHARS} characters`)
    .refine((text) => isWebTarget(text) || isAppTarget(text, schemes), `must be an absolute http(s) URL${allowed}`);
}

const utmInput = z
  .record(z.string(), z.unknown())
  .nullish()
  .superRefine((utm, context) => {
    for (const [key, value] of Object.entries(utm ?? {})) {
      if (!(UTM_KEYS as readonly string[]).includes(key)) context.addIssue({ code: 'custom', path: [key], message: `is not a UTM parameter: use ${UTM_KEYS.join(', ')}` });
      else if (typeof value !== 'string' || value.trim() === '' || value.length > MAX_UTM_CHARS) context.addIssue({ code: 'custom', path: [key], message: `must be text of 1-${MAX_UTM_CHARS} characters` });
    }
  })
  .transform((utm) => (utm ?? {}) as Utm);

/** createLink's input, for a workspace whose registered app schemes are `schemes`. */
export function linkInput(schemes: readonly string[]) {
  return z.object({
    url: webTarget,
    ios: deviceTarget(schemes).nullish(),
    android: deviceTarget(schemes).nullish(),
    fallback: webTarget.nullish(),
    // JSON arrives as anything: an object of UTM parameters, or nothing.
    utm: z.unknown().optional().pipe(utmInput),
  });
}
export type LinkInput = z.input<ReturnType<typeof linkInput>>;

export type Device = 'IOS' | 'ANDROID' | 'DESKTOP';

export interface Targets {
  url: string;
  ios: string | null;
  android: string | null;
  fallback: string | null;
  utm: unknown;
}

/**
 * Where a device goes: a phone to its own target, else to `fallback` (e.g. a mobile page), else to
 * `url`; anything else to `url`. UTM parameters join an http(s) target, never replacing one the
 * target already has; a deep link is left as it is (an app parses its own URLs).
 */
export function targetFor(link: Targets, device: Device): string {
  const own = device === 'IOS' ? link.ios : device === 'ANDROID' ? link.android : null;
  const target = device === 'DESKTOP' ? link.url : (own ?? link.fallback ?? link.url);
  return withUtm(target, link.utm as Utm);
}

export function withUtm(target: string, utm: Utm): string {
  const scheme = schemeOf(target);
  const entries = UTM_KEYS.flatMap((key) => (typeof utm?.[key] === 'string' ? [[key, utm[key]!] as const] : []));
  if ((scheme !== 'http' && scheme !== 'https') || entries.length === 0) return target;
  const url = new URL(target);
  // Added as text, so the target's own query keeps its exact encoding (searchParams would rewrite it).
  const added = entries.filter(([key]) => !url.searchParams.has(key)).map(([key, value]) => `${key}=${encodeURIComponent(value)}`);
  if (added.length) url.search = url.search ? `${url.search}&${added.join('&')}` : `?${added.join('&')}`;
  return url.href;
}
