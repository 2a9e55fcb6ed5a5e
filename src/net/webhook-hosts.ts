import { isIP } from 'node:net';
import type { Config } from '../config.ts';
import { cachedPolicy, TenantHostPolicy } from './tenant-hosts.ts';

/**
 * Where a campaign's webhooks (a URL a tenant writes, rendered per contact) may go: https to a
 * public host name. Refused unless HERALD_WEBHOOK_ALLOWED_HOSTS names them: an IP address written
 * in the URL (whatever its spelling: 2130706433, 0x7f.1 and [::ffff:7f00:1] all parse to one), and
 * a name that resolves to a loopback, private, link-local or other special address — checked on
 * the address connected to, so DNS rebinding gains nothing. The list has HERALD_PUSH_ALLOWED_HOSTS's
 * syntax: a named host (or IP, at the named port) may point anywhere; a network entry allows its
 * addresses. User names and passwords in the URL are refused: credentials go in headers.
 */
export class WebhookHostPolicy extends TenantHostPolicy {
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

  /** urlRefusal, and for a name where it points now (when the campaign is saved). */
  async saveRefusal(raw: string): Promise<string | null> {
    const refusal = this.urlRefusal(raw);
    if (refusal) return refusal;
    const { host, port } = hostOf(new URL(raw));
    return this.nameRefusal(host, port);
  }
}

/** A URL's host without IPv6 brackets or a final dot, and its port. */
export function hostOf(url: URL): { host: string; port: number } {
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, ''), port: url.port ? Number(url.port) : 443 };
}

const policies = new WeakMap<object, WebhookHostPolicy>();

/** The policy of a configuration (HERALD_WEBHOOK_ALLOWED_HOSTS; unset: public host names only), built once. */
export function webhookHostPolicy(config: Pick<Config, 'HERALD_WEBHOOK_ALLOWED_HOSTS'>): WebhookHostPolicy {
  return cachedPolicy(config, () => new WebhookHostPolicy(config.HERALD_WEBHOOK_ALLOWED_HOSTS?.split(',') ?? []), policies);
}
