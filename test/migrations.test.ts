import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, expect } from 'vitest';
import { migrationsDrift } from '../src/db/schema-engine.ts';

const databaseUrl = process.env.HERALD_TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const prismaDir = fileURLToPath(new URL('../prisma', import.meta.url));

describe('prisma/migrations', () => {
  it('build exactly prisma/schema.prisma (else: npm run prisma -- migrate dev --name <change>)', async () => {
    expect(await migrationsDrift({ databaseUrl })).toBe('');
  });

  it('drift is detected when the schema gains a field no migration creates', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'herald-drift-'));
    try {
      const schema = await readFile(path.join(prismaDir, 'schema.prisma'), 'utf8');
      const changed = schema.replace(/^model Workspace \{\n/m, '$&  driftProbe String?\n');
      expect(changed).not.toBe(schema);
      const schemaPath = path.join(dir, 'schema.prisma');
      await writeFile(schemaPath, changed);
      await cp(path.join(prismaDir, 'migrations'), path.join(dir, 'migrations'), { recursive: true });

      const drift = await migrationsDrift({ databaseUrl, schemaPath, migrationsDir: path.join(dir, 'migrations') });
      expect(drift).toContain('"driftProbe"');
      expect(drift).toMatch(/ALTER TABLE "Workspace" ADD COLUMN/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
