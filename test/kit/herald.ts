import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { type RunningHerald, type StartOptions, startHerald } from '../../src/herald.ts';
import { createLogger } from '../../src/logger.ts';
import { TEST_SECRET_KEY } from './secret-key.ts';

export interface TestHerald extends RunningHerald {
  graphqlUrl: string;
  wsUrl: string;
  adminToken: string;
}

/** A database of its own on the run's PostgreSQL server, dropped by `dropDatabase`. */
export async function freshDatabase(): Promise<string> {
  const server = new URL(inject('postgresUrl'));
  const name = `herald_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: withDatabase(server, 'postgres') });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return withDatabase(server, name);
}

export async function dropDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const admin = new pg.Client({ connectionString: withDatabase(new URL(url), 'postgres') });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}

function withDatabase(server: URL, name: string): string {
  const url = new URL(server);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Starts Herald in this process on a random port with a fresh database. */
export async function startTestHerald(env: Record<string, string> = {}, options: StartOptions = {}): Promise<TestHerald> {
  const databaseUrl = env.DATABASE_URL ?? (await freshDatabase());
  const dataDir = await mkdtemp(path.join(tmpdir(), 'herald-test-'));
  const adminToken = `test-admin-${randomBytes(12).toString('hex')}`;
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    HERALD_DATA_DIR: dataDir,
    HERALD_ADMIN_TOKEN: adminToken,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    NODE_ENV: 'test',
    HERALD_SECRET_KEY: TEST_SECRET_KEY,
    // The kit's push services listen on 127.0.0.1, and push-keys.ts's browserSubscription() names a
    // made-up host for tests that register browsers but never send; the default policy allows
    // only the browsers' push services.
    HERALD_PUSH_ALLOWED_HOSTS: '127.0.0.1,push.example.test',
    ...env,
    DATABASE_URL: databaseUrl,
  });
  const running = await startHerald(config, createLogger(config.LOG_LEVEL), options);
  return {
    ...running,
    graphqlUrl: `${running.url}/graphql`,
    wsUrl: `${running.url.replace(/^http/, 'ws')}/graphql`,
    adminToken,
    databaseUrl,
    async stop() {
      await running.stop();
      if (!env.DATABASE_URL) await dropDatabase(databaseUrl);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
