import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../src/db/embedded.ts';
import { createLogger } from '../src/logger.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A PostgreSQL server URL; each test Herald gets a fresh database on it. */
    postgresUrl: string;
  }
}

/**
 * One PostgreSQL server for the whole run: the one DATABASE_URL names, or else an embedded
 * PostgreSQL in a temporary folder, as a new user's machine would have.
 */
export default async function setup(project: TestProject) {
  if (process.env.DATABASE_URL) {
    project.provide('postgresUrl', process.env.DATABASE_URL);
    return;
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'herald-test-pg-'));
  const embedded = await startEmbeddedPostgres(dir, createLogger('warn'));
  project.provide('postgresUrl', embedded.url);
  return async () => {
    await embedded.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
