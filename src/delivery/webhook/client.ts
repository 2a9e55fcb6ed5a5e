import { readFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import type { Config } from '../../config.ts';
import { isAddressRefused } from '../../net/lookup.ts';
import { hostOf, type WebhookHostPolicy, webhookHostPolicy } from '../../net/webhook-hosts.ts';
import type { DeliveryOutcome } from '../channel.ts';
import { retryAfterMs } from '../web-push/push-client.ts';

/** One webhook request, headers signed and final. */
export interface WebhookRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string;
}

/** A receiver's answer is read to keep its connection, never kept, and cut off past this size. */
export const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * Posts webhooks over one keep-alive HTTPS agent per receiver origin, so a campaign to one
 * endpoint reuses a few hundred connections instead of opening one per message. Every URL is
 * checked against HERALD_WEBHOOK_ALLOWED_HOSTS before it is requested (a rendered URL may name
 * any host) and every connection's address as it connects; redirects are never followed.
 */
export class WebhookClient {
  private readonly agents = new Map<string, https.Agent>();
  private readonly secureContext: tls.SecureContext | undefined;
  readonly policy: WebhookHostPolicy;

  constructor(private readonly config: Pick<Config, 'HERALD_WEBHOOK_CA' | 'HERALD_WEBHOOK_ALLOWED_HOSTS' | 'HERALD_PUSH_CONCURRENCY' | 'HERALD_PUSH_TIMEOUT_MS'>) {
    this.policy = webhookHostPolicy(config);
    // Node's own roots stay trusted next to the extra CA.
    this.secureContext = config.HERALD_WEBHOOK_CA
      ? tls.createSecureContext({ ca: [...tls.rootCertificates, readFileSync(config.HERALD_WEBHOOK_CA, 'utf8')] })
      : undefined;
  }

  /**
   * Sends one request and answers what its status means. The answer counts as soon as its status
   * line arrives; the body is then drained (for the connection's sake) within MAX_RESPONSE_BYTES
   * and the timeout, or the connection is dropped.
   */
  send(request: WebhookRequest): Promise<DeliveryOutcome> {
    const refusal = this.policy.urlRefusal(request.url);
    if (refusal) return Promise.resolve({ kind: 'rejected', error: `URL refused: ${refusal}`, tooLarge: false, reason: 'PROVIDER_REJECTED' });
    const url = new URL(request.url);
    const timeoutMs = this.config.HERALD_PUSH_TIMEOUT_MS;
    return new Promise<DeliveryOutcome>((resolve) => {
      let settled = false;
      const done = (outcome: DeliveryOutcome) => {
        if (!settled) resolve(outcome);
        settled = true;
      };
      const req = https.request(url, {
        method: request.method,
        agent: this.agentFor(url),
        headers: { ...request.headers, 'content-length': Buffer.byteLength(request.body) },
      });
      // The whole exchange, connection to last byte, has one deadline: a receiver dripping its answer cannot hold a slot.
      const deadline = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      req.on('socket', (socket) => socket.setNoDelay(true));
      req.on('response', (res) => {
        done(classify(res.statusCode ?? 0, res.headers['retry-after']));
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes > MAX_RESPONSE_BYTES) req.destroy();
        });
        res.on('error', () => {});
        res.on('close', () => clearTimeout(deadline));
      });
      // Node reports a 101 (Switching Protocols) as neither a response nor an error: unheard, the request would never settle.
      req.on('upgrade', (res, socket) => {
        clearTimeout(deadline);
        socket.destroy();
        done(classify(res.statusCode ?? 101, undefined));
      });
      req.on('error', (error) => {
        clearTimeout(deadline);
        done(isAddressRefused(error) ? { kind: 'rejected', error: error.message, tooLarge: false, reason: 'PROVIDER_REJECTED' } : { kind: 'retry', error: `webhook request failed: ${error.message}` });
      });
      req.end(request.body);
    });
  }

  close(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }

  private agentFor(url: URL): https.Agent {
    let agent = this.agents.get(url.origin);
    if (!agent) {
      const { host, port } = hostOf(url);
      agent = new https.Agent({
        keepAlive: true,
        maxSockets: this.config.HERALD_PUSH_CONCURRENCY,
        secureContext: this.secureContext,
        lookup: this.policy.lookupFor(host, port),
      });
      this.agents.set(url.origin, agent);
    }
    return agent;
  }
}

/** 2xx delivered; 408, 429 and 5xx tried again (after Retry-After when given); anything else, redirects included, refused for good. */
export function classify(status: number, retryAfter: string | undefined): DeliveryOutcome {
  if (status >= 200 && status < 300) return { kind: 'sent' };
  const meaning = status >= 300 && status < 400 ? 'a redirect, not followed' : (STATUS_CODES[status]?.toLowerCase() ?? 'unknown status');
  const error = `the receiver answered ${status} (${meaning})`;
  if (status === 408 || status === 429 || status >= 500) return { kind: 'retry', error, retryAfterMs: retryAfterMs(retryAfter) };
  return { kind: 'rejected', error, tooLarge: status === 413, reason: 'PROVIDER_REJECTED' };
}
