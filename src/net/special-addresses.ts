import { BlockList, isIP } from 'node:net';

/**
 * Address ranges that are not somebody's public server (IANA's special-purpose registries,
 * RFC 6890 and successors): Herald's own host, its network, cloud metadata services. A push
 * service on the internet is never in one, so connecting to one needs an explicit allowance.
 */
const IPV4: [label: string, network: string, prefix: number][] = [
  ['unspecified', '0.0.0.0', 8],
  ['private', '10.0.0.0', 8],
  ['shared (CGNAT)', '100.64.0.0', 10],
  ['loopback', '127.0.0.0', 8],
  ['link-local', '169.254.0.0', 16],
  ['private', '172.16.0.0', 12],
  ['IETF protocol assignment', '192.0.0.0', 24],
  ['documentation', '192.0.2.0', 24],
  ['6to4 relay', '192.88.99.0', 24],
  ['private', '192.168.0.0', 16],
  ['benchmarking', '198.18.0.0', 15],
  ['documentation', '198.51.100.0', 24],
  ['documentation', '203.0.113.0', 24],
  ['multicast', '224.0.0.0', 4],
  ['reserved', '240.0.0.0', 4], // includes broadcast 255.255.255.255
];

/** Within global unicast (2000::/3), the parts that are not (everything outside 2000::/3 is refused). */
const IPV6: [label: string, network: string, prefix: number][] = [
  ['IETF protocol assignment', '2001::', 23], // Teredo, benchmarking, ORCHID
  ['documentation', '2001:db8::', 32],
  ['6to4', '2002::', 16],
  ['documentation', '3fff::', 20],
];

const ranges = [
  ...IPV4.map(([label, network, prefix]) => ({ label, list: subnet(network, prefix, 'ipv4') })),
  ...IPV6.map(([label, network, prefix]) => ({ label, list: subnet(network, prefix, 'ipv6') })),
];
const globalUnicastV6 = subnet('2000::', 3, 'ipv6');

function subnet(network: string, prefix: number, family: 'ipv4' | 'ipv6'): BlockList {
  const list = new BlockList();
  list.addSubnet(network, prefix, family);
  return list;
}

/**
 * What kind of special address this is (`loopback`, `private`, `link-local`, …), or null for a
 * public one. IPv6 outside global unicast (loopback ::1, unspecified ::, fe80::/10 link-local,
 * fc00::/7 unique-local, ff00::/8 multicast, ::ffff:0:0/96 IPv4-mapped, 64:ff9b::/96 NAT64) is
 * `not global unicast`: a mapped or translated IPv4 address is refused whatever it maps to.
 */
export function specialPurpose(address: string): string | null {
  const family = isIP(address);
  if (family === 0) return 'not an IP address';
  if (family === 6) {
    // BlockList would match an IPv4-mapped address against the IPv4 rules too; refuse it outright.
    if (!globalUnicastV6.check(address, 'ipv6')) return 'not global unicast';
    return ranges.find(({ list }) => list.check(address, 'ipv6'))?.label ?? null;
  }
  return ranges.find(({ list }) => list.check(address, 'ipv4'))?.label ?? null;
}
