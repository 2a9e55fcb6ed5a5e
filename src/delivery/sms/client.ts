import { readFileSync } from 'node:fs';
import https from 'node:https';
import tls from 'node:tls';
import type { EndpointPolicy } from '../../net/allowed-hosts.ts';
import { smsPolicy } from '../../net/allowed-hosts.ts';
import { checkedLookup, isAddressRefused } from '../../net/lookup.ts';
import type { SmsConfig, SmsCredentials } from '../../workspaces/sms-settings.ts';
import type { DeliveryOutcome } from '../channel.ts';
import { retryAfterMs } from '../web-push/push-client.ts';

/** One message for the provider: To, the rendered Body and where its status callbacks go. */
export interface SmsRequest {
  to: string;
  body: string;
  statusCallback: string;
}

/** Twilio's "Attempt to send to unsubscribed recipient": the person texted STOP to this sender. */
export const UNSUBSCRIBED_RECIPIENT = 21610;
/** A provider's error answer is read for its code, never kept whole. */
const MAX_ANSWER_BYTES = 16 * 1024;

/**
 * Posts to the Twilio Messages API (`POST {baseUrl}/2010-04-01/Accounts/{AccountSid}/Messages.json`,
 * form-encoded, HTTP Basic with the account SID and auth token) over one keep-alive agent per
 * provider origin. The base URL is checked against api.twilio.com and HERALD_SMS_ALLOWED_HOSTS
 * before each request, and every address as it connects.
 */
export class SmsClient {
  private readonly agents = new Map<string, https.Agent>();
  private readonly secureContext: tls.SecureContext | undefined;
  readonly policy: EndpointPolicy;

  constructor(private readonly config: SmsConfig) {
    this.policy = smsPolicy(config);
    // Node's own roots stay trusted next to the extra CA, so Twilio keeps working. One context for
    // every connection: passing `ca` instead parses ~140 root certificates per TLS handshake.
    this.secureContext = config.HERALD_PUSH_CA ? tls.createSecureContext({ ca: [...tls.rootCertificates, readFileSync(config.HERALD_PUSH_CA, 'utf8')] }) : undefined;
  }

  /** The form a message is posted as: From or MessagingServiceSid (the service wins when both are set). */
  static form(account: Pick<SmsCredentials, 'from' | 'messagingServiceSid'>, request: SmsRequest): string {
    const sender: Record<string, string> = account.messagingServiceSid ? { MessagingServiceSid: account.messagingServiceSid } : { From: account.from! };
    return new URLSearchParams({ To: request.to, ...sender, Body: request.body, StatusCallback: request.statusCallback }).toString();
  }

  /** A sender for one account: the URL and Authorization header worked out once. */
  forAccount(account: SmsCredentials): (request: SmsRequest) => Promise<DeliveryOutcome> {
    const url = new URL(`${account.baseUrl}/2010-04-01/Accounts/${encodeURIComponent(account.accountSid)}/Messages.json`);
    const authorization = `Basic ${Buffer.from(`${account.accountSid}:${account.authToken}`).toString('base64')}`;
    return (request) => this.post(url, authorization, SmsClient.form(account, request));
  }

  private post(url: URL, authorization: string, form: string): Promise<DeliveryOutcome> {
    const refusal = this.policy.endpointRefusal(url.href);
    if (refusal) return Promise.resolve({ kind: 'rejected', error: `SMS provider refused: ${refusal}`, tooLarge: false, reason: 'PROVIDER_REJECTED' });
    const timeoutMs = this.config.HERALD_PUSH_TIMEOUT_MS;
    return new Promise<DeliveryOutcome>((resolve) => {
      let settled = false;
      const done = (outcome: DeliveryOutcome) => {
        if (!settled) resolve(outcome);
        settled = true;
      };
      const req = https.request(url, {
        method: 'POST',
        agent: this.agentFor(url),
        headers: { authorization, 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(form), accept: 'application/json' },
      });
      const deadline = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      // Once the whole form has left, the provider may act on it: no idempotency key makes a retry safe.
      let written = false;
      req.on('finish', () => (written = true));
      req.on('socket', (socket) => socket.setNoDelay(true));
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes <= MAX_ANSWER_BYTES) chunks.push(chunk);
        });
        res.on('end', () => {
          clearTimeout(deadline);
          done(classify(status, res.headers['retry-after'], Buffer.concat(chunks).toString('utf8')));
        });
        res.on('error', () => {
          clearTimeout(deadline);
          done(classify(status, res.headers['retry-after'], ''));
        });
      });
      req.on('error', (error) => {
        clearTimeout(deadline);
        if (isAddressRefused(error)) done({ kind: 'rejected', error: error.message, tooLarge: false, reason: 'PROVIDER_REJECTED' });
        else if (written) done({ kind: 'unconfirmed', error: `the SMS request left but no answer came (${error.message}); not sent again, the provider may have it` });
        else done({ kind: 'retry', error: `SMS request failed: ${error.message}` });
      });
      req.end(form);
    });
  }

  close(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }

  private agentFor(url: URL): https.Agent {
    let agent = this.agents.get(url.origin);
    if (!agent) {
      agent = new https.Agent({ keepAlive: true, maxSockets: this.config.HERALD_PUSH_CONCURRENCY, secureContext: this.secureContext, lookup: checkedLookup(this.policy) });
      this.agents.set(url.origin, agent);
    }
    return agent;
  }
}

/**
 * 2xx: the provider took the message. 429 and 5xx: tried again (after Retry-After when given).
 * 21610: the recipient texted STOP to this sender, so the contact is unsubscribed. Any other 4xx
 * (a bad number, a refused body, wrong credentials): failed, not retried.
 */
export function classify(status: number, retryAfter: string | undefined, answer: string): DeliveryOutcome {
  if (status >= 200 && status < 300) return { kind: 'sent' };
  let code: number | undefined;
  let message: string | undefined;
  try {
    ({ code, message } = JSON.parse(answer) as { code?: number; message?: string });
  } catch {
    // Not JSON: the status says enough.
  }
  const error = `the SMS provider answered ${status}${code ? ` (error ${code}${message ? `: ${String(message).slice(0, 200)}` : ''})` : ''}`;
  if (status === 429 || status >= 500) return { kind: 'retry', error, retryAfterMs: retryAfterMs(retryAfter) };
  if (code === UNSUBSCRIBED_RECIPIENT) return { kind: 'gone', reason: 'UNSUBSCRIBED', error };
  return { kind: 'rejected', error, tooLarge: false, reason: 'PROVIDER_REJECTED' };
}
