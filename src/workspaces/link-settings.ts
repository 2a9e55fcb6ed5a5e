import { z } from 'zod';
import type { Workspace } from '../generated/prisma/client.ts';

/**
 * Which app schemes (`myapp:` deep links) a workspace's smart links (src/links) may send a phone
 * to, besides http(s). A scheme must be registered here before a link can use it, so a leaked
 * secret key cannot turn Herald's short links into `javascript:` or `file:` redirects.
 */
export interface LinkSettings {
  appSchemes: string[];
}

/** Schemes no app owns: a browser runs, reads or hands them to itself. Never a deep link. */
export const RESERVED_SCHEMES = new Set([
  'http', 'https', 'javascript', 'vbscript', 'data', 'file', 'blob', 'filesystem', 'about', 'view-source',
  'chrome', 'chrome-extension', 'moz-extension', 'resource', 'jar', 'ws', 'wss', 'ftp',
]);

export const MAX_APP_SCHEMES = 20;

/** RFC 3986 scheme syntax, lower-cased (schemes are case-insensitive). */
export const appScheme = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z][a-z0-9+.-]{0,31}$/, 'must be a URL scheme: a letter, then up to 31 letters, digits, + . or - (without "://")')
  .refine((scheme) => !RESERVED_SCHEMES.has(scheme), 'is not an app scheme: http(s) needs no registering, and browser schemes are never allowed');

/** What `updateWorkspaceSettings(input: { links })` accepts; absent fields keep their values. */
export const linkSettingsInput = z.object({
  appSchemes: z
    .array(appScheme)
    .max(MAX_APP_SCHEMES, `at most ${MAX_APP_SCHEMES} schemes`)
    .transform((schemes) => [...new Set(schemes)])
    .nullish(),
});
export type LinkSettingsInput = z.input<typeof linkSettingsInput>;

export function linkSettingsOf(workspace: Pick<Workspace, 'linkSettings'>): LinkSettings {
  const stored = (workspace.linkSettings ?? {}) as Partial<LinkSettings>;
  return { appSchemes: Array.isArray(stored.appSchemes) ? stored.appSchemes : [] };
}

/** The JSON to store for `input`, or undefined when it changes nothing (null clears every link setting). */
export function linkSettingsData(input: z.output<typeof linkSettingsInput> | null | undefined): LinkSettings | undefined {
  if (input === null) return { appSchemes: [] };
  return input?.appSchemes != null ? { appSchemes: input.appSchemes } : undefined;
}
