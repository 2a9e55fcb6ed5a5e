import dns from 'node:dns';
import type { LookupFunction } from 'node:net';
import type { EndpointPolicy } from './allowed-hosts.ts';

/** A connection refused because of where the name pointed: not worth retrying. */
export class AddressRefused extends Error {
  readonly code = 'ERR_HERALD_ADDRESS_REFUSED';
}

export const isAddressRefused = (error: unknown): error is AddressRefused => (error as { code?: unknown } | null)?.code === 'ERR_HERALD_ADDRESS_REFUSED';

/**
 * A `lookup` for sockets that resolves the name and keeps only the addresses the policy allows,
 * so a name that passed the endpoint check cannot point Herald at its own network (DNS
 * rebinding): the check applies to the address actually connected to. A name with no allowed
 * address fails with AddressRefused.
 */
export function checkedLookup(policy: EndpointPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '');
      const allowed = addresses.filter(({ address }) => policy.addressRefusal(address) === null);
      if (allowed.length === 0) {
        const refusal = addresses.length ? policy.addressRefusal(addresses[0]!.address) : 'no address';
        return callback(new AddressRefused(`refused to connect to ${hostname}: ${refusal}`), '');
      }
      if (options.all) return callback(null, allowed);
      callback(null, allowed[0]!.address, allowed[0]!.family);
    });
  };
}
