import { ValidationError } from '../../errors.ts';
import { isSealed, SecretKeyError, type Secrets } from '../../secrets.ts';
import { WebhookContentError } from './content.ts';

/**
 * A webhook's headers are the tenant's credentials for its own systems (`Authorization: Bearer …`,
 * an API key), so their values are write-only, like the SMS auth token: sealed at rest (bound to
 * the workspace, so a sealed value means nothing in another), opened only to send, and shown as
 * names with null values. Given back as null, a header keeps the value stored for it, so a client
 * can save what it read (the dashboard's editor) without knowing the secrets.
 */

/** Header name → value, sealed once saved; null in an input: keep the stored value. */
export type WebhookHeaders = Record<string, string | null>;

/** The header names with their values hidden: what the API shows of stored headers. */
export function redactedHeaders(headers: WebhookHeaders | null | undefined): Record<string, null> | null {
  return headers ? Object.fromEntries(Object.keys(headers).map((name) => [name, null])) : null;
}

/**
 * The headers to store: a new value sealed, a null one replaced by `stored`'s value for that name
 * (any case). A sealed value is accepted only if it is this workspace's, so the API cannot be fed
 * a value sealed for another one. Throws a ValidationError naming the header under `path`.
 */
export function sealedHeaders(
  secrets: Secrets,
  workspaceId: string,
  given: WebhookHeaders,
  stored: WebhookHeaders | null | undefined,
  path: string[],
): Record<string, string> {
  const sealed: Record<string, string> = {};
  for (const [name, kept] of Object.entries(keptHeaders(given, stored))) {
    if (kept === null) throw ValidationError.field([...path, name], 'null keeps the stored value, and this header has none: give its value');
    if (isSealed(kept)) {
      if (openHeader(secrets, workspaceId, kept) === null) throw ValidationError.field([...path, name], 'is not a value Herald stored for this header');
      sealed[name] = secrets.isCurrent(kept) ? kept : seal(secrets, workspaceId, openHeader(secrets, workspaceId, kept)!);
    } else {
      sealed[name] = seal(secrets, workspaceId, kept);
    }
  }
  return sealed;
}

/** `given` with each null value replaced by the value `stored` has for that name (any case), if any. */
export function keptHeaders(given: WebhookHeaders, stored: WebhookHeaders | null | undefined): WebhookHeaders {
  const previous = new Map(Object.entries(stored ?? {}).map(([name, value]) => [name.toLowerCase(), value]));
  return Object.fromEntries(Object.entries(given).map(([name, value]) => [name, value ?? previous.get(name.toLowerCase()) ?? null]));
}

/**
 * The headers to send, opened; WebhookContentError (the messages fail) for one that does not open.
 * A value an older Herald stored in plain text is sent as it is.
 */
export function openedHeaders(secrets: Secrets, workspaceId: string, headers: WebhookHeaders | null | undefined): Record<string, string> {
  const opened: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === null) continue;
    const plain = isSealed(value) ? openHeader(secrets, workspaceId, value) : value;
    if (plain === null) throw new WebhookContentError(['headers', name], 'was sealed for another workspace or under a key Herald no longer has: save the header again');
    opened[name] = plain;
  }
  return opened;
}

/** The same headers with every plain value sealed (for rows an older Herald stored); null when none was plain. */
export function sealPlainHeaders(secrets: Secrets, workspaceId: string, headers: WebhookHeaders | null | undefined): Record<string, string> | null {
  if (!headers || Object.values(headers).every((value) => value === null || isSealed(value))) return null;
  return Object.fromEntries(
    Object.entries(headers)
      .filter((entry): entry is [string, string] => entry[1] !== null)
      .map(([name, value]) => [name, isSealed(value) ? value : seal(secrets, workspaceId, value)]),
  );
}

// Header values are one line (content.ts refuses line breaks), so a newline separates the workspace.
const seal = (secrets: Secrets, workspaceId: string, value: string) => secrets.seal(`${workspaceId}\n${value}`);

function openHeader(secrets: Secrets, workspaceId: string, sealed: string): string | null {
  let plain: string;
  try {
    plain = secrets.open(sealed);
  } catch (error) {
    if (error instanceof SecretKeyError) return null;
    throw error;
  }
  const prefix = `${workspaceId}\n`;
  return plain.startsWith(prefix) ? plain.slice(prefix.length) : null;
}
