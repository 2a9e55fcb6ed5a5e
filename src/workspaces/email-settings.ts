import { createPrivateKey } from 'node:crypto';
import { isIP } from 'node:net';
import { z } from 'zod';
import { ValidationError } from '../errors.ts';
import type { Workspace } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';
import { smtpHostPolicy } from '../net/smtp-hosts.ts';
import { credentialFromRow } from './secrets.ts';

/**
 * A workspace's email settings: who its email comes from, and how it leaves. The plain parts live in
 * `Workspace.emailSettings`; the SMTP URL (it carries a password) and the DKIM private key live
 * sealed in their own columns and are never shown again once written.
 */
export interface EmailSettings {
  fromAddress?: string;
  fromName?: string;
  replyTo?: string;
  doubleOptIn?: boolean;
  dkim?: { domain: string; selector: string };
}

const LABEL = '[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?';
const HOST_NAME = new RegExp(`^(?=.{1,253}$)${LABEL}(?:\\.${LABEL})*$`);
const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

const emailAddress = z.email('must be an email address, e.g. news@shop.example').max(254, 'must be at most 254 characters');
const displayName = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(100, 'must be at most 100 characters')
  .regex(/^[^\p{Cc}]*$/u, 'must not contain control characters or line breaks');

/** A parsed SMTP URL: `href` rebuilt from its parts, with the host in canonical form and the port explicit. */
export interface SmtpServer {
  href: string;
  host: string;
  port: number;
}

/**
 * Reads an smtp:// or smtps:// URL, or says what is wrong with it. The stored URL is rebuilt from
 * what was understood (user and password percent-encoded, host canonical: `2130706433` is
 * 127.0.0.1), so whatever parses it later sees the same host that was checked; a path or
 * `?options` (a mailer may read `?proxy=` or TLS settings from them) are refused.
 */
export function parseSmtpUrl(text: string): SmtpServer | string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'must be a URL like smtp://user:password@mail.example.com:587';
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') return 'must start with smtp:// (STARTTLS) or smtps:// (TLS)';
  if (!url.hostname) return 'must name the SMTP server’s host';
  if ((url.pathname && url.pathname !== '/') || url.search || url.hash) return 'must be smtp(s)://user:password@host:port, without a path or ?options';
  const host = canonicalHost(url.hostname);
  if (!host) return `${url.hostname} is not a host name or IP address`;
  const port = url.port ? Number(url.port) : url.protocol === 'smtps:' ? 465 : 587;
  const user = url.username || url.password ? `${url.username}${url.password ? `:${url.password}` : ''}@` : '';
  return { href: `${url.protocol}//${user}${isIP(host) === 6 ? `[${host}]` : host}:${port}`, host, port };
}

/** A host as a connection would use it: lower case, IDNA, IPv4 in dotted form, no brackets or final dot; null if invalid. */
function canonicalHost(hostname: string): string | null {
  try {
    const host = new URL(`http://${hostname}/`).hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
    return isIP(host) || HOST_NAME.test(host) ? host : null;
  } catch {
    return null;
  }
}

/**
 * Why a PEM text is not a DKIM signing key Herald can use, or null. Only RSA: the mailer signs
 * rsa-sha256 and cannot sign with an Ed25519 key (the message would leave unsigned).
 */
export function dkimKeyProblem(pem: string): string | null {
  if (!pem.includes('-----BEGIN')) return 'must be a PEM private key (-----BEGIN PRIVATE KEY----- …)';
  let key;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    return 'is not a readable PEM private key (a key encrypted with a passphrase must be decrypted first)';
  }
  if (key.asymmetricKeyType === 'ed25519') return 'must be an RSA key: Herald signs DKIM with rsa-sha256 and cannot sign with Ed25519 yet';
  if (key.asymmetricKeyType !== 'rsa') return `must be an RSA key, not ${key.asymmetricKeyType}`;
  if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 1024) return 'must be an RSA key of at least 1024 bits (2048 recommended)';
  return null;
}

const smtpUrl = z
  .string()
  .max(2048, 'must be at most 2048 characters')
  .transform((text, context) => {
    const parsed = parseSmtpUrl(text);
    if (typeof parsed === 'string') context.addIssue({ code: 'custom', message: parsed });
    return typeof parsed === 'string' ? z.NEVER : parsed;
  });

const dkimKey = z
  .string()
  .max(16_384, 'must be at most 16384 characters')
  .transform((pem, context) => {
    const problem = dkimKeyProblem(pem);
    if (problem) context.addIssue({ code: 'custom', message: problem });
    // Stored as PKCS#8 whatever the input's form: only the key, nothing around it.
    return problem ? z.NEVER : (createPrivateKey(pem).export({ type: 'pkcs8', format: 'pem' }) as string);
  });

/** `updateWorkspaceSettings(input: { email })`: absent fields keep their values, null clears one. */
export const emailSettingsInput = z.object({
  fromAddress: emailAddress.nullish(),
  fromName: displayName.nullish(),
  replyTo: emailAddress.nullish(),
  smtpUrl: smtpUrl.nullish(),
  dkim: z
    .object({
      domain: z.string().trim().toLowerCase().regex(DOMAIN, 'must be a domain name, e.g. shop.example'),
      selector: z.string().trim().toLowerCase().regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a DNS label (letters, digits, -), e.g. herald1'),
      privateKey: dkimKey.nullish(),
    })
    .nullish(),
  doubleOptIn: z.boolean().nullish(),
});
export type ValidEmailSettings = z.output<typeof emailSettingsInput>;

const storedSettings = z.object({
  fromAddress: z.string().optional(),
  fromName: z.string().optional(),
  replyTo: z.string().optional(),
  doubleOptIn: z.boolean().optional(),
  dkim: z.object({ domain: z.string(), selector: z.string() }).optional(),
});

/** The plain email settings of a workspace row. */
export function emailSettingsOf(workspace: Pick<Workspace, 'emailSettings'>): EmailSettings {
  const parsed = storedSettings.safeParse(workspace.emailSettings);
  return parsed.success ? parsed.data : {};
}

/**
 * Checks what the input's shape cannot: that a workspace's SMTP host is one Herald may connect to
 * (HERALD_SMTP_ALLOWED_HOSTS; a name is looked up). Connections check it again.
 */
export async function checkSmtpHost(herald: Herald, email: ValidEmailSettings | null | undefined): Promise<void> {
  if (!email?.smtpUrl) return;
  const refusal = await smtpHostPolicy(herald.config).saveRefusal(email.smtpUrl.host, email.smtpUrl.port);
  if (refusal) {
    throw ValidationError.field(['input', 'email', 'smtpUrl'], `${refusal}: Herald does not connect to its own network unless HERALD_SMTP_ALLOWED_HOSTS names the host`);
  }
}

/** The columns that make a workspace's email settings what `input` says, given what is stored now. */
export function emailSettingsData(herald: Herald, current: Pick<Workspace, 'emailSettings' | 'dkimPrivateKey'>, input: ValidEmailSettings | null) {
  if (input === null) return { emailSettings: {}, smtpUrl: null, dkimPrivateKey: null };
  const settings: EmailSettings = { ...emailSettingsOf(current) };
  for (const field of ['fromAddress', 'fromName', 'replyTo', 'doubleOptIn'] as const) {
    const value = input[field];
    if (value === null) delete settings[field];
    else if (value !== undefined) (settings as Record<string, unknown>)[field] = value;
  }
  const sealed: { smtpUrl?: string | null; dkimPrivateKey?: string | null } = {};
  if (input.smtpUrl !== undefined) sealed.smtpUrl = input.smtpUrl && herald.secrets.seal(input.smtpUrl.href);
  if (input.dkim === null) {
    delete settings.dkim;
    sealed.dkimPrivateKey = null;
  } else if (input.dkim) {
    const { domain, selector, privateKey } = input.dkim;
    if (privateKey) sealed.dkimPrivateKey = herald.secrets.seal(privateKey);
    else if (!current.dkimPrivateKey) throw ValidationError.field(['input', 'email', 'dkim', 'privateKey'], 'is required: no DKIM key is stored yet');
    settings.dkim = { domain, selector };
  }
  return { emailSettings: settings as Record<string, string | boolean | { domain: string; selector: string }>, ...sealed };
}

/** What sending a workspace's email needs, secrets opened: for the email channel's sender. */
export interface EmailTransport {
  /** The workspace's own SMTP URL, else HERALD_SMTP_URL; null when neither is set. */
  smtpUrl: string | null;
  /**
   * Whose URL it is. A workspace's was set by a tenant: connect only through smtpHostPolicy
   * (src/net/smtp-hosts.ts, its lookupFor). The deployment's is the operator's own.
   */
  smtpSource: 'workspace' | 'deployment' | null;
  /** The DKIM key messages are signed with; null when the workspace has none. */
  dkim: { domainName: string; keySelector: string; privateKey: string } | null;
  fromAddress: string | null;
  fromName: string | null;
  replyTo: string | null;
}

export async function emailTransportOf(herald: Herald, workspace: Pick<Workspace, 'id' | 'emailSettings' | 'smtpUrl' | 'dkimPrivateKey'>): Promise<EmailTransport> {
  const settings = emailSettingsOf(workspace);
  const own = await credentialFromRow(herald, workspace, 'smtpUrl');
  const privateKey = await credentialFromRow(herald, workspace, 'dkimPrivateKey');
  const fallback = herald.config.HERALD_SMTP_URL ?? null;
  return {
    smtpUrl: own ?? fallback,
    smtpSource: own ? 'workspace' : fallback ? 'deployment' : null,
    dkim: settings.dkim && privateKey ? { domainName: settings.dkim.domain, keySelector: settings.dkim.selector, privateKey } : null,
    fromAddress: settings.fromAddress ?? null,
    fromName: settings.fromName ?? null,
    replyTo: settings.replyTo ?? null,
  };
}

/** What stops a workspace from sending email, in the user's words, or null when nothing does. */
export function emailSendingProblem(herald: Herald, workspace: Pick<Workspace, 'emailSettings' | 'smtpUrl'>): string | null {
  if (!emailSettingsOf(workspace).fromAddress) return "set a from address in the workspace's email settings (email.fromAddress)";
  if (!workspace.smtpUrl && !herald.config.HERALD_SMTP_URL) return "set an SMTP server in the workspace's email settings (email.smtpUrl): this Herald has no HERALD_SMTP_URL";
  return null;
}

/** The host of a workspace's own SMTP server (not secret, unlike the rest of the URL), or null. */
export async function smtpHostOf(herald: Herald, workspace: Pick<Workspace, 'id' | 'smtpUrl' | 'dkimPrivateKey'>): Promise<string | null> {
  const url = await credentialFromRow(herald, workspace, 'smtpUrl');
  const parsed = url ? parseSmtpUrl(url) : null;
  return parsed && typeof parsed !== 'string' ? parsed.host : null;
}
