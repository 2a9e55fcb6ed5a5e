import type { Template } from 'liquidjs';
import { z } from 'zod';
import { escapeValues, parseLong, TemplateSyntaxError } from '../email/liquid.ts';
import { isSealed } from '../../secrets.ts';
import { firstLine, messageRenderer, type RenderBudget, RenderError } from '../templates.ts';

/**
 * What a webhook campaign sends: a request to `url` (Liquid) with `method`, the tenant's static
 * `headers` and a JSON `body` (Liquid over `contact` and `event`; absent: Herald's own payload).
 *
 * Values written into the templates are escaped for where they land, so contact data cannot change
 * a request's shape: in the body each `{{ … }}` writes the inside of a JSON string (a name `"}`
 * becomes `\"}`), so `"name": "{{ contact.firstName }}"` is always one string; `| json` as the
 * last filter writes a whole JSON value (`"tags": {{ contact.tags | json }}`). In the URL each
 * value is percent-encoded, so `@evil.example` or `../admin` from a contact stays inside its path
 * segment or query value. `| raw` writes as is in both: the tenant's own trusted text.
 */

const KB = 1024;
export const WebhookMethods = ['POST', 'PUT', 'PATCH'] as const;
export type WebhookMethod = (typeof WebhookMethods)[number];

/** What rendering one webhook may use: bodies are small JSON documents. */
export const webhookRenderBudget: RenderBudget = { outputChars: 256 * KB, memoryChars: 1_000_000, timeMs: 50 };

/** Headers a tenant may not set: the request's framing, hop-by-hop headers and the signature's own. */
const RESERVED_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'upgrade',
  'expect',
]);
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/;
// A header value is one line of visible characters, spaces and tabs (RFC 9110 field-value).
const HEADER_VALUE = /^[^\x00-\x08\x0a-\x1f\x7f]*$/;
const MAX_HEADERS = 32;

/** Why a tenant may not set this header, or null. */
export function headerRefusal(name: string): string | null {
  const lower = name.toLowerCase();
  if (!HEADER_NAME.test(name)) return 'is not a header name (letters, digits and !#$%&\'*+.^_`|~-, at most 100)';
  if (RESERVED_HEADERS.has(lower)) return `${name} is set by Herald (it frames the request or concerns only the next hop)`;
  if (lower.startsWith('webhook-')) return `${name}: webhook-* headers carry Herald's signature (Standard Webhooks)`;
  return null;
}

// A null value keeps the header's stored value (values are write-only: headers.ts).
const headers = z.record(z.string(), z.string({ error: 'must be a string' }).nullable()).superRefine((given, context) => {
  const names = Object.keys(given);
  if (names.length > MAX_HEADERS) context.addIssue({ code: 'custom', message: `at most ${MAX_HEADERS} headers` });
  const seen = new Set<string>();
  for (const [name, value] of Object.entries(given)) {
    const refusal = headerRefusal(name);
    if (refusal) context.addIssue({ code: 'custom', path: [name], message: refusal });
    if (seen.has(name.toLowerCase())) context.addIssue({ code: 'custom', path: [name], message: 'is given twice (header names ignore case)' });
    seen.add(name.toLowerCase());
    if (value === null) continue;
    if (!HEADER_VALUE.test(value)) context.addIssue({ code: 'custom', path: [name], message: 'must not contain line breaks or control characters' });
    // A value read back sealed is longer than the 4 KB it was given as.
    if (!isSealed(value) && value.length > 4 * KB) context.addIssue({ code: 'custom', path: [name], message: 'must be at most 4 KB' });
  }
});

export const webhookContentInput = z.object({
  url: z.string().trim().min(1, 'must not be empty').max(2 * KB, 'must be at most 2,048 characters'),
  method: z
    .string()
    .transform((method) => method.toUpperCase())
    .pipe(z.enum(WebhookMethods, { error: 'must be POST, PUT or PATCH' }))
    .nullish(),
  headers: headers.nullish(),
  body: z
    .string()
    .max(64 * KB, 'must be at most 64 KB')
    .refine((body) => body.trim().length > 0, 'must not be empty; leave it out for Herald’s own payload')
    .nullish(),
});
export type WebhookContent = z.output<typeof webhookContentInput>;

/** Content that cannot become a webhook; `path` is the field inside the webhook input. */
export class WebhookContentError extends Error {
  constructor(
    readonly path: string[],
    message: string,
  ) {
    super(message);
  }
}

/** What Herald's own payload carries besides the event: the ids and the contact as stored. */
export interface MessageFacts {
  messageId: string;
  campaignId: string;
  contact: Record<string, unknown>;
}

export interface RenderedWebhook {
  url: string;
  body: string;
}

/** A campaign's webhook with its templates parsed, rendered once per message. */
export class CompiledWebhook {
  readonly method: WebhookMethod;
  readonly headers: Record<string, string>;
  private readonly url: Template[];
  private readonly body: Template[] | null;

  /** `headers`: the content's headers opened (headers.ts); the content keeps them sealed. */
  constructor(
    readonly content: WebhookContent,
    headers: Record<string, string> = {},
  ) {
    this.method = content.method ?? 'POST';
    this.headers = headers;
    this.url = parsed('url', content.url, encodeURIComponent, isRaw);
    this.body = content.body == null ? null : parsed('body', content.body, jsonStringInside, (filter) => isRaw(filter) || filter?.name === 'json');
  }

  /** The URL and body for one message; throws a RenderError when a template fails or the body is not JSON. */
  renderFor(scope: { contact: Record<string, unknown>; event: Record<string, unknown> | null }, facts: MessageFacts): RenderedWebhook {
    // One budget for the whole message, URL and body together.
    const render = messageRenderer(webhookRenderBudget);
    let url: string;
    let body: string;
    try {
      url = render(this.url, scope).trim();
      body = this.body ? render(this.body, scope) : heraldPayload(facts, scope.event);
    } catch (error) {
      throw new RenderError(null, `the template failed: ${firstLine(error)}`);
    }
    if (this.body) {
      try {
        JSON.parse(body);
      } catch (error) {
        throw new RenderError(null, `the body did not render to JSON: ${(error as Error).message}`);
      }
    }
    return { url, body };
  }
}

/**
 * Compiles a webhook and proves what can be known before sending: its templates parse, the body
 * is JSON for a sample contact with every value written as 0 (`| raw` ones as the sample's; so a body that could never be JSON
 * — a missing brace, a trailing comma — is refused; one that breaks only for some data fails
 * those messages), and the URL for that contact is a URL. Throws WebhookContentError.
 */
export function compileWebhook(content: WebhookContent): { compiled: CompiledWebhook; sampleUrl: string } {
  const compiled = new CompiledWebhook(content);
  const probe = messageRenderer(webhookRenderBudget);
  const scope = { contact: SAMPLE_CONTACT, event: SAMPLE_EVENT };
  let sampleUrl: string;
  try {
    sampleUrl = probe(parsed('url', content.url, () => 'x', isRaw), scope).trim();
  } catch (error) {
    throw new WebhookContentError(['url'], `does not render for a sample contact: ${(error as Error).message.split('\n')[0]}`);
  }
  if (!URL.canParse(sampleUrl)) throw new WebhookContentError(['url'], `does not render to a URL for a sample contact (${JSON.stringify(sampleUrl.slice(0, 200))})`);
  if (content.body != null) {
    let sample: string;
    try {
      sample = probe(parsed('body', content.body, () => '0', isRaw), scope);
    } catch (error) {
      throw new WebhookContentError(['body'], `does not render for a sample contact: ${(error as Error).message.split('\n')[0]}`);
    }
    try {
      JSON.parse(sample);
    } catch (error) {
      throw new WebhookContentError(['body'], `does not render to JSON even with every value written as 0: ${(error as Error).message}`);
    }
  }
  return { compiled, sampleUrl };
}

type LastFilter = { name: string; raw: boolean } | undefined;
const isRaw = (filter: LastFilter) => Boolean(filter?.raw);

/** Parses a template and escapes what its values write (see escapeValues); `| raw` always writes as is. */
function parsed(field: 'url' | 'body', source: string, escape: (text: string) => string, writesAsIs: (filter: LastFilter) => boolean): Template[] {
  try {
    const templates = parseLong(source);
    escapeValues(templates, escape, writesAsIs);
    return templates;
  } catch (error) {
    if (error instanceof TemplateSyntaxError) throw new WebhookContentError([field], error.message);
    throw error;
  }
}

/** What a value writes inside a JSON string: JSON's own escaping without the quotes. */
export function jsonStringInside(text: string): string {
  return JSON.stringify(text).slice(1, -1);
}

/**
 * The body when a campaign gives none, in Standard Webhooks' recommended shape: `type`,
 * `timestamp` and `data` with the message, campaign, contact and (triggered) event.
 */
function heraldPayload(facts: MessageFacts, event: Record<string, unknown> | null): string {
  return JSON.stringify({
    type: 'campaign.message',
    timestamp: new Date().toISOString(),
    data: { messageId: facts.messageId, campaignId: facts.campaignId, contact: facts.contact, event },
  });
}

const SAMPLE_CONTACT: Record<string, unknown> = {
  id: '00000000-0000-7000-8000-000000000000',
  externalId: 'sample',
  email: 'sample@example.com',
  phone: '+15555550100',
  firstName: 'Sam',
  lastName: 'Sample',
  locale: 'en',
  timezone: 'UTC',
  tags: ['sample'],
  identified: true,
  attributes: {},
};
const SAMPLE_EVENT = { name: 'sample', properties: {}, occurredAt: '2026-01-01T00:00:00.000Z' };
