import proxyaddr from 'proxy-addr';
import { z } from 'zod';
import { allowedHostsProblem } from './net/allowed-hosts.ts';

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const optionalUrl = z.url().optional();
const secretKeyPattern = /^(?:[0-9a-fA-F]{64}|[A-Za-z0-9+/_-]{43}=?)$/;
const secretKeyMessage = 'must be 32 bytes as base64 or hex, e.g. the output of: openssl rand -base64 32';

/** Every setting Herald reads from its environment, parsed once at start. */
const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  HERALD_DATA_DIR: z.string().min(1).default('./.herald'),
  HERALD_ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  HERALD_PUBLIC_URL: optionalUrl,
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').optional(),
  HERALD_ROLE: z.enum(['all', 'api', 'worker']).default('all'),
  LOG_LEVEL: z.enum(logLevels).default('info'),
  AGENDA_MONGO_URL: z.string().regex(/^mongodb(\+srv)?:\/\//, 'must be a mongodb:// URL').optional(),
  HERALD_PUBLIC_RATE_LIMIT: z.coerce.number().int().positive().default(600),
  /** How long concurrent single calls from browsers (trackEvent, beacons) wait to be written together; 0: each alone. */
  HERALD_PREPARED_STATEMENTS: z.stringbool().default(true),
  HERALD_PUBLIC_BATCH_MS: z.coerce.number().min(0).max(1000).default(2),
  /** Largest request body from a secret key (or the admin token). */
  HERALD_MAX_BODY_BYTES: z.coerce.number().int().positive().default(8 * 1024 * 1024),
  /** Largest request body from a publishable key or an unauthenticated caller, and largest WebSocket message. */
  HERALD_MAX_PUBLIC_BODY_BYTES: z.coerce.number().int().positive().default(64 * 1024),
  /** Proxies whose X-Forwarded-For is believed: a hop count, or comma-separated IPs/CIDRs (or loopback, linklocal, uniquelocal). Unset: none. */
  HERALD_TRUST_PROXY: z.string().refine(validTrustProxy, 'must be a hop count or comma-separated IP addresses or CIDRs').optional(),
  /**
   * Live streams allowed per client address and per key, counted in each process: WebSockets (over
   * the cap one is closed with 4429) and subscriptions over WebSocket or SSE (TOO_MANY_SUBSCRIPTIONS).
   */
  HERALD_MAX_SOCKETS_PER_ADDRESS: z.coerce.number().int().positive().default(50),
  HERALD_MAX_SOCKETS_PER_KEY: z.coerce.number().int().positive().default(100),
  HERALD_MAX_SUBSCRIPTIONS_PER_ADDRESS: z.coerce.number().int().positive().default(200),
  HERALD_MAX_SUBSCRIPTIONS_PER_KEY: z.coerce.number().int().positive().default(500),
  /** Lets callers that are not on loopback read /metrics with `Authorization: Bearer <token>`. */
  HERALD_METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Serves the demo shop at /demo (also served when NODE_ENV=development). */
  HERALD_DEMO: z.stringbool().default(false),
  /** Extra CA certificates (PEM file) trusted for push services: a private or test push service. */
  HERALD_PUSH_CA: z.string().min(1).optional(),
  /** Push services Herald may send to: comma-separated host names, `*.` wildcards, IPs or networks, each with an optional `:port`. Unset: the browsers' own. */
  HERALD_PUSH_ALLOWED_HOSTS: z
    .string()
    .superRefine((value, context) => {
      const problem = allowedHostsProblem(value);
      if (problem) context.addIssue({ code: 'custom', message: problem });
    })
    .optional(),
  /**
   * Hosts besides APNs and FCM (always allowed) that a workspace's apns/fcm baseUrl may name, in
   * HERALD_PUSH_ALLOWED_HOSTS's syntax: a private gateway or a test's local APNs and FCM. The CA is HERALD_PUSH_CA.
   */
  HERALD_MOBILE_PUSH_ALLOWED_HOSTS: z
    .string()
    .superRefine((value, context) => {
      const problem = allowedHostsProblem(value);
      if (problem) context.addIssue({ code: 'custom', message: problem });
    })
    .optional(),
  /**
   * Hosts besides api.twilio.com (always allowed) that a workspace's sms baseUrl may name, in
   * HERALD_PUSH_ALLOWED_HOSTS's syntax: a compatible provider or a test's local kit. The CA is HERALD_PUSH_CA.
   */
  HERALD_SMS_ALLOWED_HOSTS: z
    .string()
    .superRefine((value, context) => {
      const problem = allowedHostsProblem(value);
      if (problem) context.addIssue({ code: 'custom', message: problem });
    })
    .optional(),
  /** The SMTP server for workspaces without one of their own: smtp://user:pass@host:587, or smtps://… for TLS from the start. */
  HERALD_SMTP_URL: z.string().refine(isSmtpUrl, 'must be an smtp:// or smtps:// URL with a host, e.g. smtp://user:pass@mail.example.com:587').optional(),
  /**
   * Where a workspace's own SMTP server (its smtpUrl) may be besides the public internet: the same
   * syntax as HERALD_PUSH_ALLOWED_HOSTS; named hosts may point anywhere. Unset: no loopback or private address.
   */
  HERALD_SMTP_ALLOWED_HOSTS: z
    .string()
    .superRefine((value, context) => {
      const problem = allowedHostsProblem(value);
      if (problem) context.addIssue({ code: 'custom', message: problem });
    })
    .optional(),
  /**
   * Where webhooks may go besides public https hosts: the same syntax as HERALD_PUSH_ALLOWED_HOSTS.
   * A named host may point anywhere (and be an IP address); an IP or network entry allows those
   * addresses. Unset: public hosts only, never an IP literal, loopback or private address.
   */
  HERALD_WEBHOOK_ALLOWED_HOSTS: z
    .string()
    .superRefine((value, context) => {
      const problem = allowedHostsProblem(value);
      if (problem) context.addIssue({ code: 'custom', message: problem });
    })
    .optional(),
  /** Extra CA certificates (PEM file) trusted for webhook receivers: an internal CA, or the test kit's. */
  HERALD_WEBHOOK_CA: z.string().min(1).optional(),
  /** How long an API read of a segment (a count, a page of members, a preview) may run in PostgreSQL. */
  HERALD_SEGMENT_READ_TIMEOUT_MS: z.coerce.number().int().min(10).default(30_000),
  HERALD_PUSH_CONCURRENCY: z.coerce.number().int().min(2).max(1000).default(256),
  HERALD_PUSH_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  HERALD_PUSH_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(5),
  HERALD_PUSH_RETRY_BASE_MS: z.coerce.number().int().min(1).default(2_000),
  HERALD_ENCRYPT_THREADS: z.coerce.number().int().min(0).max(64).default(1),
  /** The VAPID `sub` claim: a mailto: or https: contact push services may use to reach you. */
  HERALD_VAPID_SUBJECT: z.string().regex(/^(mailto:|https:)/, 'must start with mailto: or https:').default('mailto:push@herald.invalid'),
  /** The key that seals secrets at rest: 32 bytes as base64 or hex (`openssl rand -base64 32`). Unset: generated into the data folder. */
  HERALD_SECRET_KEY: z.string().regex(secretKeyPattern, secretKeyMessage).optional(),
  /** Older HERALD_SECRET_KEYs, comma-separated: still open what they sealed; rows are re-sealed under the current key at start. */
  HERALD_SECRET_KEY_PREVIOUS: z.string().refine((keys) => keys.split(',').every((key) => secretKeyPattern.test(key.trim())), secretKeyMessage).optional(),
  NODE_ENV: z.string().default('production'),
});

export type Config = z.infer<typeof schema>;

function isSmtpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'smtp:' || url.protocol === 'smtps:') && url.hostname !== '';
  } catch {
    return false;
  }
}

function validTrustProxy(value: string): boolean {
  if (/^\d+$/.test(value.trim())) return true;
  try {
    proxyaddr.compile(value.split(',').map((entry) => entry.trim()));
    return true;
  } catch {
    return false;
  }
}

export class ConfigError extends Error {}

/** Parses the environment; the error names the first bad variable in one line. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable means "not set", as in most twelve-factor apps.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const result = schema.safeParse(present);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const name = String(issue.path[0]);
  // A malformed key is still likely a key, and an SMTP URL carries a password: never echo them.
  const shown = name.startsWith('HERALD_SECRET_KEY') || name === 'HERALD_SMTP_URL' ? '(not shown)' : JSON.stringify(env[name]);
  throw new ConfigError(`Invalid configuration: ${name}=${shown}: ${issue.message}`);
}
