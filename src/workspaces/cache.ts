import { hash } from 'node:crypto';
import type { Events } from '../events.ts';
import type { ApiKey } from '../generated/prisma/client.ts';

/** What the public path reads about a workspace on every call that names a customer. */
export interface IdentitySettings {
  id: string;
  requireIdentityVerification: boolean;
  identitySecret: string | null;
}

/**
 * A lost bus message (Redis away when a key was revoked elsewhere) is forgotten after this long:
 * the longest a revocation or setting made on another process can go unseen here.
 */
const ENTRY_TTL_MS = 30_000;
/** Entries kept per map; past it the oldest goes (a flood of keys cannot grow memory). */
const MAX_ENTRIES = 10_000;

class Entries<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();
  /** Bumped by every change: a load that began before one must not store what it read. */
  private generation = 0;

  async get(key: string, load: () => Promise<V | null>): Promise<V | null> {
    const found = this.entries.get(key);
    if (found && found.until > Date.now()) return found.value;
    const generation = this.generation;
    const value = await load();
    if (value !== null && generation === this.generation) {
      if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
      this.entries.set(key, { value, until: Date.now() + ENTRY_TTL_MS });
    }
    return value;
  }

  forget(matches: (value: V) => boolean): void {
    this.generation++;
    for (const [key, entry] of this.entries) if (matches(entry.value)) this.entries.delete(key);
  }
}

/**
 * The live API key a credential names and a workspace's identity settings, kept in this process so
 * a browser's call costs no query for them. A revocation or settings change forgets them here at
 * once (`forgetKey`, `settingsChanged`, called by the code that makes the change) and on every
 * other process through the event bus (`apiKey:revoked`, `workspace:settings`, through Redis with
 * REDIS_URL); entries also expire after 30 s in case a bus message is lost.
 */
export interface WorkspaceCache {
  /** The live key for this credential; `load` reads the database when it is not known here. */
  apiKey(credential: string, load: () => Promise<ApiKey | null>): Promise<ApiKey | null>;
  identity(workspaceId: string, load: () => Promise<IdentitySettings | null>): Promise<IdentitySettings | null>;
  /** Forgets a revoked key here (revokeApiKey's `apiKey:revoked` reaches the other processes). */
  forgetKey(apiKeyId: string): void;
  /** Forgets the workspace's identity settings here and, through the bus, everywhere. */
  settingsChanged(workspaceId: string): void;
  close(): Promise<void>;
}

export function createWorkspaceCache(events: Events): WorkspaceCache {
  const keys = new Entries<ApiKey>();
  const identities = new Entries<IdentitySettings>();
  const forgetWorkspace = (workspaceId: string) => identities.forget((settings) => settings.id === workspaceId);
  const cache: WorkspaceCache = {
    // Indexed by the credential's hash: the map holds no usable key. crypto.hash, not createHash:
    // one call per request, and createHash cost ~30 µs of it under load (issue #24's profile).
    apiKey: (credential, load) => keys.get(hash('sha256', credential, 'base64'), load),
    identity: (workspaceId, load) => identities.get(workspaceId, load),
    forgetKey: (apiKeyId) => keys.forget((key) => key.id === apiKeyId),
    settingsChanged(workspaceId) {
      forgetWorkspace(workspaceId);
      events.publish('workspace:settings', workspaceId);
    },
    async close() {
      await Promise.all([revocations.return?.(), changes.return?.()]);
      await listening;
    },
  };
  const revocations = events.subscribe('apiKey:revoked')[Symbol.asyncIterator]();
  const changes = events.subscribe('workspace:settings')[Symbol.asyncIterator]();
  const listening = Promise.all([
    (async () => {
      for (let next = await revocations.next(); !next.done; next = await revocations.next()) cache.forgetKey(next.value);
    })(),
    (async () => {
      for (let next = await changes.next(); !next.done; next = await changes.next()) forgetWorkspace(next.value);
    })(),
  ]);
  return cache;
}
