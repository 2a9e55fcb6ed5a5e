import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from './config.ts';

/**
 * Secrets at rest (VAPID private keys, tracking and identity secrets, later channel credentials)
 * are sealed with AES-256-GCM under a key-encryption key, HERALD_SECRET_KEY. A sealed value
 * describes itself, `hs1.<key id>.<iv>.<ciphertext+tag>` (base64url), so older keys listed in
 * HERALD_SECRET_KEY_PREVIOUS still open what they sealed while rows move to the current key.
 */
export interface Secrets {
  /** The current key's id (not secret: a short hash of the key), written into every sealed value. */
  keyId: string;
  seal(plain: string): string;
  /** Opens a value sealed under the current or a previous key; throws SecretKeyError otherwise. */
  open(sealed: string): string;
  /** True when `value` is sealed under the current key: nothing to re-seal. */
  isCurrent(value: string): boolean;
}

/** A secret that cannot be opened: wrong or missing key, or a damaged value. Never carries the value. */
export class SecretKeyError extends Error {}

const VERSION = 'hs1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Opened values kept in memory, by sealed value: hot paths (tracking, identity checks) skip AES. */
const CACHE_SIZE = 10_000;

export function isSealed(value: string): boolean {
  return value.startsWith(`${VERSION}.`);
}

/** 32 bytes from 64 hex characters or base64/base64url; null for anything else. */
export function parseSecretKey(text: string): Buffer | null {
  const value = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(value)) return Buffer.from(value, 'hex');
  if (!/^[A-Za-z0-9+/_-]{43}=?$/.test(value)) return null;
  const key = Buffer.from(value.replaceAll('+', '-').replaceAll('/', '_').replace(/=$/, ''), 'base64url');
  return key.length === 32 ? key : null;
}

export function secretKeyId(key: Buffer): string {
  return createHash('sha256').update('herald/secret-key-id\0').update(key).digest('base64url').slice(0, 8);
}

export function createSecrets(current: Buffer, previous: Buffer[] = []): Secrets {
  const keys = new Map<string, Buffer>();
  for (const key of [current, ...previous]) if (!keys.has(secretKeyId(key))) keys.set(secretKeyId(key), key);
  const keyId = secretKeyId(current);
  const opened = new Map<string, string>();
  const described = () =>
    `HERALD_SECRET_KEY has id ${keyId}${previous.length ? `, HERALD_SECRET_KEY_PREVIOUS ${previous.map(secretKeyId).join(', ')}` : ''}`;

  return {
    keyId,
    seal(plain) {
      const iv = randomBytes(IV_BYTES);
      const header = `${VERSION}.${keyId}`;
      const cipher = createCipheriv('aes-256-gcm', current, iv).setAAD(Buffer.from(header));
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return `${header}.${iv.toString('base64url')}.${body.toString('base64url')}`;
    },
    open(sealed) {
      const cached = opened.get(sealed);
      if (cached !== undefined) return cached;
      const parts = sealed.split('.');
      if (parts.length !== 4 || parts[0] !== VERSION) throw new SecretKeyError('the value is not a sealed secret (stored in plain text by an older Herald?)');
      const [version, id, iv, body] = parts as [string, string, string, string];
      const key = keys.get(id);
      if (!key) throw new SecretKeyError(`the value is sealed under key id ${id}, but ${described()}`);
      const bytes = Buffer.from(body, 'base64url');
      let plain: string;
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url')).setAAD(Buffer.from(`${version}.${id}`));
        decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
        plain = Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - TAG_BYTES)), decipher.final()]).toString('utf8');
      } catch {
        throw new SecretKeyError(`the value sealed under key id ${id} does not open: it was damaged, or a different key has the same id`);
      }
      if (opened.size >= CACHE_SIZE) opened.delete(opened.keys().next().value!);
      opened.set(sealed, plain);
      return plain;
    },
    isCurrent(value) {
      return value.startsWith(`${VERSION}.${keyId}.`);
    },
  };
}

/**
 * The process's Secrets: HERALD_SECRET_KEY (and HERALD_SECRET_KEY_PREVIOUS), else the key in the
 * data folder's `secret-key` file, generated (mode 0600) on first start like the admin token.
 */
export async function secretsFor(config: Config, dataDir: string): Promise<{ secrets: Secrets; generatedFile: string | null }> {
  const previous = (config.HERALD_SECRET_KEY_PREVIOUS ?? '')
    .split(',')
    .filter((text) => text.trim())
    .map((text) => parseSecretKey(text) ?? fail('HERALD_SECRET_KEY_PREVIOUS holds a value that is not 32 bytes as base64 or hex'));
  if (config.HERALD_SECRET_KEY) {
    const key = parseSecretKey(config.HERALD_SECRET_KEY) ?? fail('HERALD_SECRET_KEY must be 32 bytes as base64 or hex');
    return { secrets: createSecrets(key, previous), generatedFile: null };
  }
  const file = path.join(dataDir, 'secret-key');
  if (!existsSync(file)) {
    // 'wx': when two processes share the folder and start together, the second reads the first's key.
    await writeFile(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
  }
  const key = parseSecretKey(await readFile(file, 'utf8')) ?? fail(`${file} does not hold 32 bytes as base64 or hex`);
  return { secrets: createSecrets(key, previous), generatedFile: file };
}

function fail(message: string): never {
  throw new SecretKeyError(message);
}
