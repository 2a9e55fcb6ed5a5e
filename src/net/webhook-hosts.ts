import dns from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import type { Config } from '../config.ts';
import { EndpointPolicy } from './allowed-hosts.ts';
import { checkedLookup, isAddressRefused } from './lookup.ts';

/** How long a save waits for DNS before leaving the check to the connection. */
const SAVE_LOOKUP_MS = 2_000;

/**
 * Where a campaign's webhooks (a URL a tenant writes, rendered per contact) may go: https to a
 * public host name. Refused unless HERALD_WEBHOOK_ALLOWED_HOSTS names them: an IP address written
 * in the URL (whatever its spelling: 2130706433, 0x7f.1 and [::ffff:7f00:1] all parse to one), and
 * a name that resolves to a loopback, private, link-local or other special address — checked on
 * the address connected to, so DNS rebinding gains nothing. The list has HERALD_PUSH_ALLOWED_HOSTS's
 * syntax: a named host (or IP, at the named port) may point anywhere; a network entry allows its
 * addresses. User names and passwords in the URL are refused: credentials go in headers.
 */
export class WebhookHostPolicy {
  private readonly listed: EndpointPolicy;
  private readonly checked: LookupFunction;

  constructor(list: readonly string[]) {
    this.listed = new EndpointPolicy(list);
    this.checked = checkedLookup(this.listed);
  }

  /** The operator named this host (and port): it may be reached wherever it points. */
  private named(host: string, port: number): boolean {
    return this.listed.endpointRefusal(`https://${isIP(host) === 6 ? `[${host}]` : host}:${port}/`) === null;
  }

  /** Why Herald may not send a webhook to this URL (a short phrase), or null; a name is judged again where it points, at connect. */
  urlRefusal(raw: string): string | null {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return 'it is not a URL';
    }
    if (url.protocol !== 'https:') return 'it is not https';
    if (url.username || url.password) return 'it contains a user name or password (send credentials in a header)';
    const { host, port } = hostOf(url);
    if (this.named(host, port)) return null;
    if (isIP(host)) return `the IP address ${host} is not allowed (name it in HERALD_WEBHOOK_ALLOWED_HOSTS)`;
    return null;
  }

  /** The DNS lookup for connecting to host:port: a named host resolves as it is, any other name only to public addresses. */
  lookupFor(host: string, port: number): LookupFunction {
    return this.named(host, port) ? dns.lookup : this.checked;
  }

  /**
   * urlRefusal, and for a name where it points now: catches `localhost` and kin when the campaign
   * is saved. A name that does not resolve (yet) is accepted; every connection checks it again.
   */
  async saveRefusal(raw: string): Promise<string | null> {
    const refusal = this.urlRefusal(raw);
    if (refusal) return refusal;
    const { host, port } = hostOf(new URL(raw));
    if (isIP(host) || this.named(host, port)) return null;
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), SAVE_LOOKUP_MS);
      this.checked(host, { all: true }, (error) => {
        clearTimeout(timer);
        resolve(isAddressRefused(error) ? error.message : null);
      });
    });
  }
}

/** A URL's host without IPv6 brackets or a final dot, and its port. */
export function hostOf(url: URL): { host: string; port: number } {
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, ''), port: url.port ? Number(url.port) : 443 };
}

const policies = new WeakMap<object, WebhookHostPolicy>();

/** The policy of a configuration (HERALD_WEBHOOK_ALLOWED_HOSTS; unset: public host names only), built once. */
export function webhookHostPolicy(config: Pick<Config, 'HERALD_WEBHOOK_ALLOWED_HOSTS'>): WebhookHostPolicy {
  let policy = policies.get(config);
  if (!policy) {
    policy = new WebhookHostPolicy(config.HERALD_WEBHOOK_ALLOWED_HOSTS?.split(',') ?? []);
    policies.set(config, policy);
  }
  return policy;
}
