import { BlockList, isIP } from 'node:net';
import type { Config } from '../config.ts';
import { specialPurpose } from './special-addresses.ts';

/**
 * The browsers' push services (Chrome and Edge through FCM, Firefox, Safari, Windows), on 443
 * only. HERALD_PUSH_ALLOWED_HOSTS replaces the list.
 */
export const BROWSER_PUSH_SERVICES = [
  'fcm.googleapis.com:443',
  'updates.push.services.mozilla.com:443',
  '*.push.services.mozilla.com',
  'web.push.apple.com:443',
  '*.push.apple.com',
  '*.notify.windows.com',
];

/** APNs (production and sandbox), FCM and Google's OAuth2 token endpoint for FCM's access tokens, on 443. */
export const MOBILE_PUSH_SERVICES = ['api.push.apple.com:443', 'api.sandbox.push.apple.com:443', 'fcm.googleapis.com:443', 'oauth2.googleapis.com:443'];

/**
 * One allowed push service. `port` null: any port. An exact name or IP allows any port unless it
 * names one (`push.example.com:8443`); a wildcard (`*.example.com`, subdomains at any depth, not
 * example.com itself) allows 443 unless it names another.
 */
type Entry =
  | { kind: 'name'; name: string; port: number | null }
  | { kind: 'suffix'; suffix: string; port: number | null }
  | { kind: 'address'; list: BlockList; port: number | null };

const LABEL = '[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?';
const HOST_NAME = new RegExp(`^(?=.{1,253}$)${LABEL}(?:\\.${LABEL})*$`);

/** Parses one entry of HERALD_PUSH_ALLOWED_HOSTS, or says what is wrong with it. */
function parseEntry(raw: string): Entry | string {
  const text = raw.trim().toLowerCase();
  const cidr = /^\[?([^\]/]+)\]?\/(\d{1,3})$/.exec(text);
  if (cidr) {
    const family = isIP(cidr[1]!);
    const prefix = Number(cidr[2]);
    if (!family || prefix > (family === 4 ? 32 : 128)) return `"${raw}" is not a network like 10.1.0.0/16`;
    const list = new BlockList();
    list.addSubnet(cidr[1]!, prefix, family === 4 ? 'ipv4' : 'ipv6');
    return { kind: 'address', list, port: null };
  }
  // [v6], [v6]:port, bare v6 (no port), or host[:port].
  const split = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? (isIP(text) === 6 ? [text, text] : /^([^:]*)(?::(\d+))?$/.exec(text));
  if (!split) return `"${raw}" is not a host name, *.domain, IP address or network`;
  const port = split[2] === undefined ? null : Number(split[2]);
  if (port !== null && (port < 1 || port > 65535)) return `"${raw}" has no valid port`;
  const wildcard = split[1]!.startsWith('*.');
  const host = normalise(wildcard ? split[1]!.slice(2) : split[1]!);
  if (host === null || (!isIP(host) && !HOST_NAME.test(host))) return `"${raw}" is not a host name, *.domain, IP address or network`;
  if (isIP(host)) {
    if (wildcard) return `"${raw}": a wildcard needs a domain, not an IP address`;
    const list = new BlockList();
    list.addAddress(host, isIP(host) === 4 ? 'ipv4' : 'ipv6');
    return { kind: 'address', list, port };
  }
  return wildcard ? { kind: 'suffix', suffix: host, port: port ?? 443 } : { kind: 'name', name: host, port };
}

/** A host as a URL parser sees it: lower case, IPv4 in dotted form (2130706433 → 127.0.0.1), no brackets or final dot. */
function normalise(host: string): string | null {
  try {
    const hostname = new URL(`https://${isIP(host) === 6 ? `[${host}]` : host}/`).hostname;
    return hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  } catch {
    return null;
  }
}

/** Why HERALD_PUSH_ALLOWED_HOSTS is unusable, or undefined when it is fine (for the config schema). */
export function allowedHostsProblem(value: string): string | undefined {
  const entries = value.split(',').filter((entry) => entry.trim());
  if (entries.length === 0) return 'must list at least one host';
  return entries.map(parseEntry).find((entry): entry is string => typeof entry === 'string');
}

/** Which push-service endpoints and addresses Herald may connect to. */
export class EndpointPolicy {
  private readonly entries: Entry[];

  constructor(list: readonly string[]) {
    this.entries = list.filter((entry) => entry.trim()).map((entry) => {
      const parsed = parseEntry(entry);
      if (typeof parsed === 'string') throw new Error(`HERALD_PUSH_ALLOWED_HOSTS: ${parsed}`);
      return parsed;
    });
  }

  /** Why Herald may not send to this endpoint (a short phrase), or null when it may. */
  endpointRefusal(endpoint: string): string | null {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      return 'it is not a URL';
    }
    if (url.protocol !== 'https:') return 'it is not https';
    if (url.username || url.password) return 'it contains a user name or password';
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
    const port = url.port ? Number(url.port) : 443;
    const family = isIP(host);
    const matching = this.entries.filter((entry) => {
      if (entry.kind === 'address') return family !== 0 && entry.list.check(host, family === 4 ? 'ipv4' : 'ipv6');
      if (family !== 0) return false;
      return entry.kind === 'name' ? entry.name === host : host.endsWith(`.${entry.suffix}`);
    });
    if (matching.length === 0) return family ? `the IP address ${host} is not an allowed push service` : `${host} is not an allowed push service`;
    if (!matching.some((entry) => entry.port === null || entry.port === port)) return `port ${port} is not allowed for ${host}`;
    return null;
  }

  /**
   * Why Herald may not connect to this resolved address, or null when it may: a special address
   * (loopback, private, link-local, …) only when an IP or network entry names it.
   */
  addressRefusal(address: string): string | null {
    const family = isIP(address);
    if (this.entries.some((entry) => entry.kind === 'address' && family !== 0 && entry.list.check(address, family === 4 ? 'ipv4' : 'ipv6'))) return null;
    const special = specialPurpose(address);
    return special ? `address ${address} is not allowed (${special})` : null;
  }
}

const policies = new WeakMap<object, EndpointPolicy>();

/** The policy of a configuration (HERALD_PUSH_ALLOWED_HOSTS, else the browsers' push services), built once. */
export function endpointPolicy(config: Pick<Config, 'HERALD_PUSH_ALLOWED_HOSTS'>): EndpointPolicy {
  let policy = policies.get(config);
  if (!policy) {
    policy = new EndpointPolicy(config.HERALD_PUSH_ALLOWED_HOSTS?.split(',') ?? BROWSER_PUSH_SERVICES);
    policies.set(config, policy);
  }
  return policy;
}

const mobilePolicies = new WeakMap<object, EndpointPolicy>();

/** Where mobile pushes and their tokens may go: APNs and FCM, plus HERALD_MOBILE_PUSH_ALLOWED_HOSTS. */
export function mobilePushPolicy(config: Pick<Config, 'HERALD_MOBILE_PUSH_ALLOWED_HOSTS'>): EndpointPolicy {
  let policy = mobilePolicies.get(config);
  if (!policy) {
    policy = new EndpointPolicy([...MOBILE_PUSH_SERVICES, ...(config.HERALD_MOBILE_PUSH_ALLOWED_HOSTS?.split(',') ?? [])]);
    mobilePolicies.set(config, policy);
  }
  return policy;
}

const smsPolicies = new WeakMap<object, EndpointPolicy>();

/** Where SMS requests (and their auth token) may go: Twilio's API, plus HERALD_SMS_ALLOWED_HOSTS. */
export function smsPolicy(config: Pick<Config, 'HERALD_SMS_ALLOWED_HOSTS'>): EndpointPolicy {
  let policy = smsPolicies.get(config);
  if (!policy) {
    policy = new EndpointPolicy(['api.twilio.com:443', ...(config.HERALD_SMS_ALLOWED_HOSTS?.split(',') ?? [])]);
    smsPolicies.set(config, policy);
  }
  return policy;
}
