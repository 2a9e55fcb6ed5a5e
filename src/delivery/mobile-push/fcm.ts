import { createPrivateKey } from 'node:crypto';
import { SignJWT } from 'jose';
import type { FcmCredentials } from '../../workspaces/mobile-push-settings.ts';
import type { DeliveryOutcome } from '../channel.ts';
import type { Answer, Http2Sessions } from './sessions.ts';

export const FCM_ORIGIN = 'https://fcm.googleapis.com';
const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
/** An access token is used until 5 minutes before Google says it expires. */
const EXPIRY_MARGIN_MS = 5 * 60_000;

/**
 * FCM's HTTP v1 API (`messages:send`) over HTTP/2, authorised with OAuth2 access tokens minted
 * from the workspace's service account: an RS256 JWT assertion exchanged at the account's
 * token_uri (the JWT bearer grant, RFC 7523), cached until it nears expiry. A 401 drops the
 * cached token so the retry mints a fresh one. FCM has no idempotency key: a request sent twice
 * is two notifications (the channel's `tag` makes the second replace the first on the device).
 */
export class FcmClient {
  private readonly tokens = new Map<string, { token: Promise<string>; expiresAt: number }>();

  constructor(
    private readonly sessions: Http2Sessions,
    private readonly clock: () => number = Date.now,
  ) {}

  origin(fcm: FcmCredentials): string {
    return fcm.baseUrl ?? FCM_ORIGIN;
  }

  /** Opens the connection ahead of the sends and mints the access token; rejects when it cannot. */
  async ready(fcm: FcmCredentials): Promise<void> {
    await Promise.all([this.sessions.connect(this.origin(fcm)), this.accessToken(fcm)]);
  }

  /** Sends one `message` (FCM's Message resource, `token` included). */
  async send(fcm: FcmCredentials, message: string): Promise<DeliveryOutcome> {
    let token: string;
    try {
      token = await this.accessToken(fcm);
    } catch (error) {
      return { kind: 'retry', error: `no FCM access token: ${(error as Error).message}` };
    }
    const path = `/v1/projects/${encodeURIComponent(fcm.projectId)}/messages:send`;
    const answer = await this.sessions.request(this.origin(fcm), path, { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, message);
    if ('status' in answer && answer.status === 401) this.tokens.delete(keyOf(fcm));
    return classify(answer);
  }

  /** The cached access token of the service account, minted again when it nears expiry. */
  accessToken(fcm: FcmCredentials): Promise<string> {
    const key = keyOf(fcm);
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt > this.clock()) return cached.token;
    const entry = { token: Promise.resolve(''), expiresAt: Infinity };
    entry.token = this.mint(fcm).then(({ token, expiresInS }) => {
      entry.expiresAt = this.clock() + expiresInS * 1000 - EXPIRY_MARGIN_MS;
      return token;
    });
    entry.token.catch(() => this.tokens.get(key) === entry && this.tokens.delete(key));
    this.tokens.set(key, entry);
    return entry.token;
  }

  private async mint(fcm: FcmCredentials): Promise<{ token: string; expiresInS: number }> {
    const now = Math.floor(this.clock() / 1000);
    const assertion = await new SignJWT({ scope: SCOPE })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
      .setIssuer(fcm.clientEmail)
      .setAudience(fcm.tokenUri)
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(createPrivateKey(fcm.privateKey));
    const form = new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion });
    const tokenUrl = new URL(fcm.tokenUri);
    const answer = await this.sessions.request(fcm.tokenUri, `${tokenUrl.pathname}${tokenUrl.search}`, { 'content-type': 'application/x-www-form-urlencoded' }, form.toString());
    if ('error' in answer) throw new Error(answer.error);
    const body = parseJson(answer.body) as { access_token?: unknown; expires_in?: unknown; error?: unknown };
    if (answer.status !== 200 || typeof body.access_token !== 'string') {
      throw new Error(`the token endpoint answered ${answer.status}${typeof body.error === 'string' ? ` (${body.error.slice(0, 64)})` : ''}`);
    }
    const expiresInS = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 3600;
    return { token: body.access_token, expiresInS };
  }
}

const keyOf = (fcm: FcmCredentials) => `${fcm.clientEmail}/${fcm.tokenUri}/${fcm.privateKey}`;

/**
 * What FCM's answer means: UNREGISTERED (404) says the token is dead; 429 (RESOURCE_EXHAUSTED,
 * QUOTA_EXCEEDED), 5xx and 401 (a stale access token) are worth another try, after Retry-After
 * when FCM gives one; other refusals (INVALID_ARGUMENT, SENDER_ID_MISMATCH) are not.
 */
export function classify(answer: Answer): DeliveryOutcome {
  if ('error' in answer) return answer.refused ? { kind: 'rejected', error: answer.error, tooLarge: false } : { kind: 'retry', error: answer.error };
  if (answer.status === 200) return { kind: 'sent' };
  const code = errorCodeOf(answer.body);
  const error = `FCM answered ${answer.status}${code ? ` (${code})` : ''}`;
  if (code === 'UNREGISTERED') return { kind: 'gone', error };
  if (answer.status === 429 || answer.status >= 500 || answer.status === 401) return { kind: 'retry', error, retryAfterMs: retryAfterMs(answer.headers['retry-after']) };
  return { kind: 'rejected', error, tooLarge: code === 'INVALID_ARGUMENT' && /too big|size/i.test(answer.body.slice(0, 1024)) };
}

/** FCM's most specific code: the FcmError detail's errorCode, else the error's status. */
function errorCodeOf(body: string): string {
  const error = (parseJson(body) as { error?: { status?: unknown; details?: { errorCode?: unknown }[] } }).error;
  const detail = Array.isArray(error?.details) ? error.details.find((entry) => typeof entry?.errorCode === 'string')?.errorCode : undefined;
  const code = detail ?? error?.status;
  return typeof code === 'string' && /^[A-Z_]{1,64}$/.test(code) ? code : '';
}

function retryAfterMs(value: string | string[] | undefined): number | undefined {
  const seconds = Number(Array.isArray(value) ? value[0] : value);
  return value !== undefined && Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

function parseJson(text: string): Record<string, unknown> {
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
