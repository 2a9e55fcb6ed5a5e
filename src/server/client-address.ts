import type { IncomingMessage } from 'node:http';
import ipaddr from 'ipaddr.js';
import proxyaddr from 'proxy-addr';
import type { Config } from '../config.ts';

type Trust = (address: string, hop: number) => boolean;

const resolvers = new WeakMap<Config, (req: IncomingMessage) => string>();

/**
 * The address a request came from, for rate limits and caps: the socket's peer, or with
 * HERALD_TRUST_PROXY the first X-Forwarded-For entry not sent by a trusted proxy (so a client
 * cannot choose its own address by writing the header itself).
 */
export function clientAddress(config: Config, req: IncomingMessage): string {
  let resolve = resolvers.get(config);
  if (!resolve) {
    const trust = trustFor(config.HERALD_TRUST_PROXY);
    resolve = trust ? (request) => proxyaddr(request, trust) : (request) => request.socket.remoteAddress ?? 'unknown';
    resolvers.set(config, resolve);
  }
  return resolve(req);
}

/**
 * What a client's rate limits and caps are counted under: its IPv4 address (an IPv4-mapped IPv6
 * address is the IPv4 one), or its IPv6 address's /64. Any IPv6 host holds a whole /64 and picks
 * its source address in it freely (privacy addresses), so counting single IPv6 addresses would
 * give one machine 2^64 budgets.
 */
export function clientKey(config: Config, req: IncomingMessage): string {
  return limitKeyOf(clientAddress(config, req));
}

export function limitKeyOf(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  const parsed = ipaddr.process(address);
  if (parsed.kind() === 'ipv4') return parsed.toString();
  return `${(parsed as ipaddr.IPv6).parts.slice(0, 4).map((part) => part.toString(16)).join(':')}::/64`;
}

/** A hop count ("1": the peer is a proxy) or a list of addresses, CIDRs and proxy-addr's names. */
function trustFor(setting: string | undefined): Trust | undefined {
  if (!setting) return undefined;
  if (/^\d+$/.test(setting.trim())) {
    const hops = Number(setting);
    return (_address, hop) => hop < hops;
  }
  return proxyaddr.compile(setting.split(',').map((entry) => entry.trim()));
}

const loopback = proxyaddr.compile('loopback');

/** 127.0.0.0/8, ::1 and their IPv4-mapped forms; false for anything that is not an address. */
export function isLoopback(address: string): boolean {
  return loopback(address, 0);
}
