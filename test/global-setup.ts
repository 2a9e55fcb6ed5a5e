import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../src/db/embedded.ts';
import { createLogger } from '../src/logger.ts';
import { buildMain } from './kit/process.ts';
import { tallyTable } from './kit/tally-table.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A PostgreSQL server URL; each test Herald gets a fresh database on it. */
    postgresUrl: string;
  }
}

/**
 * One PostgreSQL server for the whole run: the one DATABASE_URL names, or else an embedded
 * PostgreSQL in a temporary folder, as a new user's machine would have. Also a file where the
 * reliability checks tally what they did; its totals are printed at the end of the run.
 */
export default async function setup(project: TestProject) {
  buildMain(); // tests that run Herald as a process run what `npm start` runs
  const tallyDir = await mkdtemp(path.join(tmpdir(), 'herald-tally-'));
  const tallyFile = path.join(tallyDir, 'tally.jsonl');
  project.provide('tallyFile', tallyFile);
  const printTally = async () => {
    const table = tallyTable(tallyFile);
    if (table) console.log(`\nReliability and security checks in this run (test/reliability, test/security):\n${table}\n`);
    await rm(tallyDir, { recursive: true, force: true });
  };

  if (process.env.DATABASE_URL) {
    project.provide('postgresUrl', process.env.DATABASE_URL);
    return printTally;
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'herald-test-pg-'));
  const embedded = await startEmbeddedPostgres(dir, createLogger('warn'));
  project.provide('postgresUrl', embedded.url);
  return async () => {
    await printTally();
    await embedded.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
