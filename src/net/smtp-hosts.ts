import { isIP } from 'node:net';
import type { Config } from '../config.ts';
import { specialPurpose } from './special-addresses.ts';
import { cachedPolicy, TenantHostPolicy } from './tenant-hosts.ts';

/**
 * Where a workspace's own SMTP server (its smtpUrl, set by a tenant) may be: any public host, and
 * loopback, private or other special addresses only where HERALD_SMTP_ALLOWED_HOSTS names them.
 * Without it a tenant could point Herald at its own machine, its network or a cloud metadata
 * service. The list has HERALD_PUSH_ALLOWED_HOSTS's syntax and meaning per entry: a named host (at
 * the named port; a wildcard at 443 unless it names one, so write `*.mail.corp:587`) may point
 * anywhere, an IP or network entry allows those addresses. The deployment's HERALD_SMTP_URL is the
 * operator's own and is not checked.
 */
export class SmtpHostPolicy extends TenantHostPolicy {
  /**
   * Why Herald may not use an SMTP server at host:port (a short phrase), or null. An IP address is
   * judged here; a name by where it points, on every connection (lookupFor).
   */
  hostRefusal(host: string, port: number): string | null {
    if (!isIP(host) || this.named(host, port)) return null;
    const special = specialPurpose(host);
    return special ? `address ${host} is not allowed (${special})` : null;
  }

  /** hostRefusal, and for a name where it points now (when the setting is saved). */
  async saveRefusal(host: string, port: number): Promise<string | null> {
    return this.hostRefusal(host, port) ?? (await this.nameRefusal(host, port));
  }
}

const policies = new WeakMap<object, SmtpHostPolicy>();

/** The policy of a configuration (HERALD_SMTP_ALLOWED_HOSTS; unset: public hosts only), built once. */
export function smtpHostPolicy(config: Pick<Config, 'HERALD_SMTP_ALLOWED_HOSTS'>): SmtpHostPolicy {
  return cachedPolicy(config, () => new SmtpHostPolicy(config.HERALD_SMTP_ALLOWED_HOSTS?.split(',') ?? []), policies);
}
