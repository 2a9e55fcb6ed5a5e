import dns from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import type { Config } from '../config.ts';
import { EndpointPolicy } from './allowed-hosts.ts';
import { checkedLookup, isAddressRefused } from './lookup.ts';
import { specialPurpose } from './special-addresses.ts';

/** How long a save waits for DNS before leaving the check to the connection. */
const SAVE_LOOKUP_MS = 2_000;

/**
 * Where a workspace's own SMTP server (its smtpUrl, set by a tenant) may be: any public host, and
 * loopback, private or other special addresses only where HERALD_SMTP_ALLOWED_HOSTS names them.
 * Without it a tenant could point Herald at its own machine, its network or a cloud metadata
 * service. The list has HERALD_PUSH_ALLOWED_HOSTS's syntax and meaning per entry: a named host (at
 * the named port; a wildcard at 443 unless it names one, so write `*.mail.corp:587`) may point
 * anywhere, an IP or network entry allows those addresses. The deployment's HERALD_SMTP_URL is the
 * operator's own and is not checked.
 */
export class SmtpHostPolicy {
  private readonly listed: EndpointPolicy;
  private readonly checked: LookupFunction;

  constructor(list: readonly string[]) {
    this.listed = new EndpointPolicy(list);
    this.checked = checkedLookup(this.listed);
  }

  /** The operator named this host (and port): it may be reached wherever it points. */
  private named(host: string, port: number): boolean {
    // EndpointPolicy matches names, wildcards, addresses and ports as for push; the scheme is only its input format.
    return this.listed.endpointRefusal(`https://${isIP(host) === 6 ? `[${host}]` : host}:${port}/`) === null;
  }

  /**
   * Why Herald may not use an SMTP server at host:port (a short phrase), or null. An IP address is
   * judged here; a name by where it points, on every connection (lookupFor).
   */
  hostRefusal(host: string, port: number): string | null {
    if (!isIP(host) || this.named(host, port)) return null;
    const special = specialPurpose(host);
    return special ? `address ${host} is not allowed (${special})` : null;
  }

  /** The DNS lookup for connecting to host:port: a named host resolves as it is, any other name only to allowed addresses. */
  lookupFor(host: string, port: number): LookupFunction {
    return this.named(host, port) ? dns.lookup : this.checked;
  }

  /**
   * hostRefusal, and for a name where it points now: catches `localhost` and kin when the setting
   * is saved. A name that does not resolve (yet) is accepted; connections check it again.
   */
  async saveRefusal(host: string, port: number): Promise<string | null> {
    const refusal = this.hostRefusal(host, port);
    if (refusal || isIP(host) || this.named(host, port)) return refusal;
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), SAVE_LOOKUP_MS);
      this.checked(host, { all: true }, (error) => {
        clearTimeout(timer);
        resolve(isAddressRefused(error) ? error.message : null);
      });
    });
  }
}

const policies = new WeakMap<object, SmtpHostPolicy>();

/** The policy of a configuration (HERALD_SMTP_ALLOWED_HOSTS; unset: public hosts only), built once. */
export function smtpHostPolicy(config: Pick<Config, 'HERALD_SMTP_ALLOWED_HOSTS'>): SmtpHostPolicy {
  let policy = policies.get(config);
  if (!policy) {
    policy = new SmtpHostPolicy(config.HERALD_SMTP_ALLOWED_HOSTS?.split(',') ?? []);
    policies.set(config, policy);
  }
  return policy;
}
