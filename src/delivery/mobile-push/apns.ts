import { createPrivateKey } from 'node:crypto';
import { SignJWT } from 'jose';
import type { ApnsCredentials } from '../../workspaces/mobile-push-settings.ts';
import type { DeliveryOutcome } from '../channel.ts';
import type { Answer, Http2Sessions } from './sessions.ts';

export const APNS_PRODUCTION = 'https://api.push.apple.com';
export const APNS_SANDBOX = 'https://api.sandbox.push.apple.com';

/**
 * Apple refuses a provider token older than an hour and one renewed more than every 20 minutes:
 * Herald signs one per key and renews it after 50 minutes.
 */
export const APNS_TOKEN_RENEW_MS = 50 * 60_000;

/** One push as APNs takes it: the device token, the JSON body and the request's headers. */
export interface ApnsPush {
  deviceToken: string;
  body: string;
  /** The ledger id: APNs echoes it, and it names the notification in Apple's delivery logs. */
  id: string;
  /** Seconds since the epoch after which APNs stops trying; 0: now or never. */
  expiration: number;
  /** A newer push with the same id replaces this one on the device. */
  collapseId: string;
}

/**
 * APNs' provider API over HTTP/2 with token authentication: an ES256 JWT (iss: team, kid: key)
 * signed with the team's .p8 key, cached per key and renewed before it ages out. A 403 saying the
 * token expired or is invalid drops it, so the retry signs a fresh one.
 */
export class ApnsClient {
  private readonly tokens = new Map<string, { jwt: Promise<string>; renewAt: number }>();

  constructor(
    private readonly sessions: Http2Sessions,
    private readonly clock: () => number = Date.now,
  ) {}

  /** The origin a workspace's pushes go to: its baseUrl, else APNs' production or sandbox host. */
  origin(apns: ApnsCredentials): string {
    return apns.baseUrl ?? (apns.production ? APNS_PRODUCTION : APNS_SANDBOX);
  }

  /** Opens the app's connection ahead of the sends (and signs its token); rejects when it cannot. */
  async ready(apns: ApnsCredentials): Promise<void> {
    await Promise.all([this.sessions.connect(this.origin(apns)), this.token(apns)]);
  }

  async send(apns: ApnsCredentials, push: ApnsPush): Promise<DeliveryOutcome> {
    const authorization = `bearer ${await this.token(apns)}`;
    const answer = await this.sessions.request(
      this.origin(apns),
      `/3/device/${encodeURIComponent(push.deviceToken)}`,
      {
        authorization,
        'apns-push-type': 'alert',
        'apns-priority': '10',
        'apns-topic': apns.bundleId,
        'apns-id': push.id,
        'apns-expiration': String(push.expiration),
        'apns-collapse-id': push.collapseId,
        'content-type': 'application/json',
      },
      push.body,
    );
    const outcome = classify(answer);
    if ('status' in answer && answer.status === 403 && /ProviderToken/.test(answer.body)) this.tokens.delete(keyOf(apns));
    return outcome;
  }

  /** The cached provider token of the app's key, signed again after APNS_TOKEN_RENEW_MS. */
  token(apns: ApnsCredentials): Promise<string> {
    const key = keyOf(apns);
    const now = this.clock();
    const cached = this.tokens.get(key);
    if (cached && cached.renewAt > now) return cached.jwt;
    const jwt = new SignJWT({ iss: apns.teamId, iat: Math.floor(now / 1000) })
      .setProtectedHeader({ alg: 'ES256', kid: apns.keyId })
      .sign(createPrivateKey(apns.privateKey));
    this.tokens.set(key, { jwt, renewAt: now + APNS_TOKEN_RENEW_MS });
    jwt.catch(() => this.tokens.delete(key));
    return jwt;
  }
}

const keyOf = (apns: ApnsCredentials) => `${apns.teamId}/${apns.keyId}/${apns.privateKey}`;

/**
 * What APNs' answer means: 410 (Unregistered, ExpiredToken) and 400 BadDeviceToken say the token
 * is dead; 429, 5xx and 403 about the provider token are worth another try; other refusals are not.
 * DeviceTokenNotForTopic is such a refusal: the workspace's bundleId is not the token's app (a
 * settings mistake would otherwise expire every iPhone), not a sign the token is dead.
 */
export function classify(answer: Answer): DeliveryOutcome {
  if ('error' in answer) return answer.refused ? { kind: 'rejected', error: answer.error, tooLarge: false } : { kind: 'retry', error: answer.error };
  if (answer.status === 200) return { kind: 'sent' };
  const reason = reasonOf(answer.body);
  const error = `APNs answered ${answer.status}${reason ? ` (${reason})` : ''}`;
  if (answer.status === 410 || (answer.status === 400 && reason === 'BadDeviceToken')) return { kind: 'gone', error };
  if (answer.status === 429 || answer.status >= 500) return { kind: 'retry', error };
  if (answer.status === 403 && /ProviderToken/.test(reason)) return { kind: 'retry', error };
  return { kind: 'rejected', error, tooLarge: answer.status === 413 };
}

/** The `reason` of APNs' JSON answer, kept only when it looks like one of Apple's reason names. */
function reasonOf(body: string): string {
  try {
    const reason = (JSON.parse(body) as { reason?: unknown }).reason;
    return typeof reason === 'string' && /^[A-Za-z]{1,64}$/.test(reason) ? reason : '';
  } catch {
    return '';
  }
}
