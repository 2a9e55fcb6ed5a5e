import { createHash, createPrivateKey } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type SMTPPool from 'nodemailer/lib/smtp-pool';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import type { Config } from '../../config.ts';
import { type SmtpHostPolicy, smtpHostPolicy } from '../../net/smtp-hosts.ts';
import type { EmailTransport } from '../../workspaces/email-settings.ts';
import { EmailBuilds } from './builds.ts';
import { type DkimKey, dkimSignature } from './dkim.ts';
import { type BuiltEmail, isReleased, releaseBody, wireChunks } from './mime.ts';
import { loadSmtpPool, sendOnPool } from './smtp-wire.ts';

/** SMTP connections one mail server gets from this process (nodemailer's pool queues the rest). */
export const SMTP_CONNECTIONS = 10;

/** Where a message goes on the wire: MAIL FROM (the VERP address) and RCPT TO. */
export interface Envelope {
  from: string;
  to: string;
}

/** A workspace's way out: sends messages mime.ts built, DKIM-signed when the workspace has a key. */
export interface Mailer {
  send(envelope: Envelope, email: BuiltEmail): Promise<SMTPTransport.SentMessageInfo>;
}

/**
 * Pooled SMTP connections, one pool per mail server, kept for the life of the process: a send
 * reuses open connections instead of greeting the server again for every message. nodemailer's
 * pool only carries the bytes (smtp-wire.ts): Herald builds and signs each message itself
 * (mime.ts, dkim.ts).
 */
export class Mailers {
  private readonly pools = new Map<string, SMTPPool>();
  /** DKIM keys parsed once, by their PEM's hash: parsing a PEM costs about as much as signing. */
  private readonly keys = new Map<string, DkimKey>();
  /** The thread that renders and builds the messages (builds.ts). */
  readonly builds = new EmailBuilds();

  constructor(private readonly config: Pick<Config, 'HERALD_SMTP_ALLOWED_HOSTS' | 'HERALD_PUSH_TIMEOUT_MS'>) {}

  /** The mailer for a workspace's settings (their smtpUrl must be set). */
  async for(transport: EmailTransport): Promise<Mailer> {
    const pool = await this.poolFor(transport);
    const dkim = transport.dkim && this.dkimKey(transport.dkim);
    return {
      async send({ from, to }, email) {
        if (isReleased(email)) throw new Error(`the message ${email.messageId} was sent already: its body is released`);
        const signature = dkim ? await dkimSignature(email, dkim) : undefined;
        const info = await sendOnPool(pool, { from, to }, wireChunks(email, signature), email.messageId);
        // The server answered the whole message: its bytes are written, the body may be reused.
        // (After an error the socket may still hold them: that body is left to the garbage collector.)
        releaseBody(email);
        return info;
      },
    };
  }

  close(): void {
    for (const pool of this.pools.values()) pool.close();
    this.pools.clear();
    this.keys.clear();
    this.builds.close();
  }

  private async poolFor(transport: EmailTransport): Promise<SMTPPool> {
    const key = createHash('sha256').update(JSON.stringify([transport.smtpUrl, transport.smtpSource])).digest('base64url');
    let pool = this.pools.get(key);
    if (!pool) {
      const Pool = await loadSmtpPool();
      pool = this.pools.get(key) ?? new Pool(this.options(transport));
      this.pools.set(key, pool);
    }
    return pool;
  }

  private dkimKey({ domainName, keySelector, privateKey }: NonNullable<EmailTransport['dkim']>): DkimKey {
    const id = createHash('sha256').update(JSON.stringify([domainName, keySelector, privateKey])).digest('base64url');
    let key = this.keys.get(id);
    if (!key) {
      key = { domain: domainName, selector: keySelector, key: createPrivateKey(privateKey) };
      this.keys.set(id, key);
    }
    return key;
  }

  private options(transport: EmailTransport): SMTPPool.Options {
    const url = new URL(transport.smtpUrl!);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const port = Number(url.port || (url.protocol === 'smtps:' ? 465 : 587));
    const timeout = this.config.HERALD_PUSH_TIMEOUT_MS;
    return {
      url: transport.smtpUrl!,
      maxConnections: SMTP_CONNECTIONS,
      maxMessages: Infinity,
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: 3 * timeout,
      // Templates are tenants' text: nothing in a message may make nodemailer read a file or fetch a URL.
      disableFileAccess: true,
      disableUrlAccess: true,
      logger: false,
      // A tenant's mail server is reached only where HERALD_SMTP_ALLOWED_HOSTS allows (checked on
      // every connection, so a name cannot be pointed at Herald's network after it was saved).
      ...(transport.smtpSource === 'workspace' ? { getSocket: guardedSocket(smtpHostPolicy(this.config), host, port) } : {}),
    } as SMTPPool.Options;
  }
}

type GetSocket = NonNullable<SMTPTransport.Options['getSocket']>;

/**
 * nodemailer's getSocket: a plain TCP connection through the policy (an address is judged here, a
 * name by where it points when connecting); nodemailer adds TLS on top.
 */
function guardedSocket(policy: SmtpHostPolicy, host: string, port: number): GetSocket {
  const lookup = policy.lookupFor(host, port);
  return (options, callback) => {
    // Judged on every connection: the operator may have narrowed HERALD_SMTP_ALLOWED_HOSTS since the URL was saved.
    const refusal = policy.hostRefusal(host, port);
    if (refusal) return callback(new Error(`refused to connect to the workspace's SMTP server: ${refusal}`), false);
    const socket: Socket = connect({ host: String(options.host), port: Number(options.port), lookup });
    const failed = (error: Error) => callback(error, false);
    socket.once('error', failed);
    socket.once('connect', () => {
      socket.off('error', failed);
      callback(null, { connection: socket });
    });
  };
}
