import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { StartOptions } from '../../src/herald.ts';
import { createWorkspace } from './flow.ts';
import { dropDatabase, freshDatabase, startTestHerald, type TestHerald } from './herald.ts';
import { type HeraldProcess, spawnHerald } from './process.ts';
import { startPushService, type TestPushService } from './push-service.ts';

export type Workspace = Awaited<ReturnType<typeof createWorkspace>>;

export interface PushFixture {
  /** The HTTPS push service; filled once the scope's beforeAll has run. */
  readonly push: TestPushService;
}

export interface HeraldFixture extends PushFixture {
  /** The running Herald; filled once the scope's beforeAll has run. */
  readonly kit: TestHerald;
  /** A new workspace with its keys and clients (call it in a test or a hook). */
  workspace(name?: string): Promise<Workspace>;
  /** A workspace shared by the tests of the calling scope, created in its beforeAll. */
  useWorkspace(name?: string): Workspace;
}

/**
 * Starts a push service for the calling scope (file or describe block) in beforeAll and closes it
 * in afterAll. Several Heralds can share it: `useHerald(env, { push: fixture })`.
 */
export function usePushService(): PushFixture {
  let push: TestPushService | undefined;
  beforeAll(async () => {
    push = await startPushService();
  });
  afterAll(() => push?.close());
  return {
    get push() {
      return filled(push, 'the push service');
    },
  };
}

/**
 * A Herald on a fresh database for the calling scope, with the test push service it trusts
 * (`HERALD_PUSH_CA`) unless `push: false`, started in beforeAll and stopped in afterAll:
 *
 *   const h = useHerald({ HERALD_PUSH_RETRY_BASE_MS: '50' });
 *   it('…', async () => { const { secret, publishable } = await h.workspace(); … h.push.received() … });
 */
export function useHerald(env: Record<string, string> = {}, options: { push?: boolean | PushFixture; start?: StartOptions } = {}): HeraldFixture {
  const { push: withPush = true, start } = options;
  let own: TestPushService | undefined; // started here unless shared or not wanted
  let kit: TestHerald | undefined;
  const pushService = () => (typeof withPush === 'object' ? withPush.push : own);
  beforeAll(async () => {
    if (withPush === true) own = await startPushService();
    const push = pushService();
    kit = await startTestHerald(push ? { HERALD_PUSH_CA: push.caFile, ...env } : env, start);
  });
  afterAll(async () => {
    await kit?.stop();
    await own?.close();
  });
  const fixture: HeraldFixture = {
    get kit() {
      return filled(kit, 'Herald');
    },
    get push() {
      if (withPush === false) throw new Error('useHerald(…, { push: false }) has no push service');
      return filled(pushService(), 'the push service');
    },
    workspace: (name) => createWorkspace(fixture.kit, name),
    useWorkspace(name) {
      let shared: Workspace | undefined;
      beforeAll(async () => {
        shared = await createWorkspace(fixture.kit, name);
      });
      const get = () => filled(shared, `workspace ${name ?? 'Test shop'}`);
      // Getters, so a file can name its shared workspace at the top and use it in its tests.
      return {
        get workspace() { return get().workspace; },
        get secretKey() { return get().secretKey; },
        get publishableKey() { return get().publishableKey; },
        get identitySecret() { return get().identitySecret; },
        get secret() { return get().secret; },
        get publishable() { return get().publishable; },
      };
    },
  };
  return fixture;
}

function filled<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} is not started yet: use it inside a test or a hook, after beforeAll`);
  return value;
}

export interface ProcessesFixture {
  /** The scope's own database; filled once its beforeAll has run. */
  readonly databaseUrl: string;
  /** Spawns one more Herald (`npm start`'s bundle) on the scope's database and data folder, with `env()`. */
  start(): Promise<HeraldProcess>;
}

/**
 * Herald processes for the calling scope (a crash test's file): a fresh database and data folder
 * in beforeAll; in afterAll every process it started killed, the database dropped, the folder
 * removed. `env` is read at each start, so it may name servers the scope's own hooks start.
 */
export function useHeraldProcesses(name: string, env: () => Record<string, string>): ProcessesFixture {
  let databaseUrl: string | undefined;
  let dataDir: string | undefined;
  const processes: HeraldProcess[] = [];
  beforeAll(async () => {
    databaseUrl = await freshDatabase();
    dataDir = await mkdtemp(path.join(tmpdir(), `herald-${name}-`));
  });
  afterAll(async () => {
    for (const herald of processes) await herald.stop('SIGKILL');
    if (databaseUrl) await dropDatabase(databaseUrl);
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });
  return {
    get databaseUrl() {
      return filled(databaseUrl, 'the database');
    },
    async start() {
      const started = await spawnHerald({ DATABASE_URL: filled(databaseUrl, 'the database'), HERALD_DATA_DIR: filled(dataDir, 'the data folder'), ...env() });
      processes.push(started);
      return started;
    },
  };
}
