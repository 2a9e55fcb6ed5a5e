import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { MigrationList } from '@prisma/schema-engine-wasm';
import { openSchemaEngine } from '../../prisma/wasm-engine.mjs';
import { fromRoot } from '../paths.ts';

const PRISMA_DIR = fromRoot('prisma');

export interface MigrationsDriftOptions {
  /** Any database on the PostgreSQL server to use: the temporary shadow database is created there. */
  databaseUrl: string;
  schemaPath?: string;
  migrationsDir?: string;
}

/**
 * The SQL that would take a database built from the migrations in `migrationsDir` to the schema in
 * `schemaPath`; '' when they match, i.e. nobody forgot `npm run prisma -- migrate dev`.
 * Uses Prisma's wasm schema engine (what `migrate diff --from-migrations … --to-schema …` runs):
 * the migrations are replayed in a shadow database on the same server, dropped afterwards.
 */
export async function migrationsDrift({
  databaseUrl,
  schemaPath = path.join(PRISMA_DIR, 'schema.prisma'),
  migrationsDir = path.join(PRISMA_DIR, 'migrations'),
}: MigrationsDriftOptions): Promise<string> {
  const schema = { path: schemaPath, content: await readFile(schemaPath, 'utf8') };
  const migrations = await readMigrationsList(migrationsDir);
  const { engine, close } = await openSchemaEngine({ url: databaseUrl, datamodels: [[schema.path, schema.content]] });
  try {
    const { exitCode, stdout } = await engine.diff({
      from: { tag: 'migrations', ...migrations },
      to: { tag: 'schemaDatamodel', files: [schema] },
      script: true,
      exitCode: true, // 2 when there is a difference, 0 when none (the script is then a comment)
      filters: { externalTables: [], externalEnums: [] },
    });
    return exitCode === 0 ? '' : (stdout ?? '');
  } finally {
    await close();
  }
}

/** The migrations directory as the Prisma CLI hands it to the schema engine. */
export async function readMigrationsList(dir: string): Promise<MigrationList> {
  const lockfile = 'migration_lock.toml';
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort((a, b) => a.localeCompare(b));
  return {
    baseDir: dir,
    lockfile: { path: lockfile, content: await readFile(path.join(dir, lockfile), 'utf8').catch(() => null) },
    shadowDbInitScript: '',
    migrationDirectories: await Promise.all(
      names.map(async (name) => ({
        path: name,
        migrationFile: {
          path: 'migration.sql',
          content: await readFile(path.join(dir, name, 'migration.sql'), 'utf8').then(
            (value) => ({ tag: 'ok' as const, value }),
            (error: Error) => ({ tag: 'error' as const, value: error.message }),
          ),
        },
      })),
    ),
  };
}
