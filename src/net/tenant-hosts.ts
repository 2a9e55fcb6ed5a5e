import dns from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { EndpointPolicy } from './allowed-hosts.ts';
import { checkedLookup, isAddressRefused } from './lookup.ts';

/** How long a save waits for DNS before leaving the check to the connection. */
const SAVE_LOOKUP_MS = 2_000;

/**
 * Where a host a tenant wrote (an SMTP server, a webhook URL) may be reached: public addresses,
 * and the operator's list (the syntax of HERALD_PUSH_ALLOWED_HOSTS) for the rest. A named host (at
 * the named port) may point anywhere; any other name may resolve only to addresses the list
 * allows, checked on the address connected to (lookupFor), so DNS rebinding gains nothing.
 */
export class TenantHostPolicy {
  private readonly listed: EndpointPolicy;
  private readonly checked: LookupFunction;

  constructor(list: readonly string[]) {
    this.listed = new EndpointPolicy(list);
    this.checked = checkedLookup(this.listed);
  }

  /** The operator named this host (and port): it may be reached wherever it points. */
  protected named(host: string, port: number): boolean {
    // EndpointPolicy matches names, wildcards, addresses and ports as for push; the scheme is only its input format.
    return this.listed.endpointRefusal(`https://${isIP(host) === 6 ? `[${host}]` : host}:${port}/`) === null;
  }

  /** The DNS lookup for connecting to host:port: a named host resolves as it is, any other name only to allowed addresses. */
  lookupFor(host: string, port: number): LookupFunction {
    return this.named(host, port) ? dns.lookup : this.checked;
  }

  /**
   * Where a name points now, when a tenant saves it: catches `localhost` and kin early. A name that
   * does not resolve (yet) is accepted, and so is an address or a named host (judged elsewhere);
   * every connection checks again.
   */
  protected async nameRefusal(host: string, port: number): Promise<string | null> {
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

/** One policy per configuration object and setting, built on first use. */
export function cachedPolicy<P>(config: object, build: () => P, cache: WeakMap<object, P>): P {
  let policy = cache.get(config);
  if (!policy) {
    policy = build();
    cache.set(config, policy);
  }
  return policy;
}
