import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { PRISMA_ADVISORY_LOCK } from '../src/db/migrate.ts';
import { agendaSchemaFingerprint } from '../src/jobs/agenda.ts';
import { startHerald } from '../src/herald.ts';
import { graphql } from './generated/index.ts';
import { dataOf, httpClient } from './kit/client.ts';
import { dropDatabase, freshDatabase } from './kit/herald.ts';
import { runHeraldExpectingFailure, spawnHerald } from './kit/process.ts';
import { TEST_SECRET_KEY } from './kit/secret-key.ts';

const CreateWorkspace = graphql(`
  mutation StartupCreateWorkspace($name: String!) {
    createWorkspace(input: { name: $name }) {
      ... on MutationCreateWorkspaceSuccess { data { secretKey workspace { id } } }
    }
  }
`);
const Workspaces = graphql(`query StartupWorkspaces { workspaces { id name } }`);
const Viewer = graphql(`query StartupViewer { viewer { id name } }`);

let dataDir: string;
beforeAll(async () => {
  // Under /tmp: embedded PostgreSQL runs as user `postgres`, which must be able to read the folder.
  dataDir = await mkdtemp(path.join(tmpdir(), 'herald-startup-'));
});
afterAll(() => rm(dataDir, { recursive: true, force: true }));

describe('zero-setup start on embedded PostgreSQL', () => {
  it('starts, prints the admin token, and keeps data across a restart', async () => {
    const first = await spawnHerald({ HERALD_DATA_DIR: dataDir });
    expect(first.output()).toContain('Create your first workspace');
    // The dashboard comes first in the banner.
    expect(first.output()).toContain(`  Dashboard: ${first.url}/app\n  Herald is running at ${first.url}/graphql`);
    expect(existsSync(path.join(dataDir, 'postgres', 'PG_VERSION'))).toBe(true);
    expect((await readFile(path.join(dataDir, 'admin-token'), 'utf8')).trim()).toBe(first.adminToken);
    // JSON logs never carry the token.
    const logLines = first.output().split('\n').filter((line) => line.startsWith('{'));
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.join('\n')).not.toContain(first.adminToken);

    const created = dataOf(await httpClient(`${first.url}/graphql`, first.adminToken)(CreateWorkspace, { name: 'Kept' }))
      .createWorkspace;
    if (!('data' in created)) throw new Error('createWorkspace failed');
    expect(await first.stop('SIGTERM')).toBe(0);
    expect(first.output()).toMatch(/"msg":"shutting down"/);

    const second = await spawnHerald({ HERALD_DATA_DIR: dataDir });
    try {
      expect(second.adminToken).toBe(first.adminToken);
      const { workspaces } = dataOf(await httpClient(`${second.url}/graphql`, second.adminToken)(Workspaces));
      expect(workspaces).toEqual([{ id: created.data.workspace.id, name: 'Kept' }]);
      const { viewer } = dataOf(await httpClient(`${second.url}/graphql`, created.data.secretKey)(Viewer));
      expect(viewer.id).toBe(created.data.workspace.id);
    } finally {
      expect(await second.stop('SIGINT')).toBe(0);
    }
  }, 120_000);
});

describe('configuration', () => {
  it('refuses a bad value with one line naming the variable', async () => {
    const { code, output } = await runHeraldExpectingFailure({ PORT: 'eighty', HERALD_DATA_DIR: dataDir });
    expect(code).toBe(1);
    expect(output.trim().split('\n')).toHaveLength(1);
    expect(output).toMatch(/^Invalid configuration: PORT="eighty"/);
  });

  it.each([
    ['PORT', '70000'],
    ['DATABASE_URL', 'mysql://localhost/x'],
    ['HERALD_PUBLIC_URL', 'not a url'],
    ['REDIS_URL', 'localhost:6379'],
    ['HERALD_ROLE', 'scheduler'],
    ['LOG_LEVEL', 'loud'],
    ['HERALD_ADMIN_TOKEN', 'short'],
  ])('names %s when it is %s', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^Invalid configuration: ${name}=`));
  });

  it('has defaults for everything', () => {
    expect(loadConfig({})).toMatchObject({ PORT: 4000, HERALD_DATA_DIR: './.herald', HERALD_ROLE: 'all', LOG_LEVEL: 'info' });
  });
});

describe('a start held up', () => {
  it('says, and repeats, what it is waiting for, and goes on once it is free', async () => {
    const databaseUrl = await freshDatabase();
    const folder = await mkdtemp(path.join(tmpdir(), 'herald-held-'));
    // Another process migrating the same database holds Prisma Migrate's advisory lock.
    const other = new pg.Client({ connectionString: databaseUrl });
    await other.connect();
    await other.query('SELECT pg_advisory_lock($1)', [PRISMA_ADVISORY_LOCK]);
    const lines: { level: number; msg: string; waitingFor?: string }[] = [];
    const log = pino({ level: 'warn' }, new Writable({ write: (chunk, _encoding, done) => done(void lines.push(JSON.parse(String(chunk)))) }));
    const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', HERALD_DATA_DIR: folder, HERALD_SECRET_KEY: TEST_SECRET_KEY, DATABASE_URL: databaseUrl });
    const starting = startHerald(config, log, { stillStartingMs: 100 });
    try {
      // Said again and again while the lock is held (a busy machine may first say it waits for the connection).
      const held = () => lines.filter((line) => line.waitingFor?.startsWith('the migrations'));
      await expect.poll(() => held().length, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
      expect(held()[0]).toMatchObject({ level: 40, msg: expect.stringMatching(/^Herald is still starting: waiting for the migrations \(and their lock/) });
      expect(lines.slice(lines.indexOf(held()[0]!)).every((line) => line.waitingFor === held()[0]!.waitingFor)).toBe(true);
      expect(lines.every((line) => line.waitingFor === held()[0]!.waitingFor || line.waitingFor === 'PostgreSQL to accept a connection')).toBe(true);
      await other.query('SELECT pg_advisory_unlock($1)', [PRISMA_ADVISORY_LOCK]);
      const running = await starting;
      const said = lines.length;
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(lines, 'a started Herald keeps quiet').toHaveLength(said);
    } finally {
      // Ending the session frees the lock: a Herald still starting then starts, and is stopped here.
      await other.end();
      await (await starting.catch(() => undefined))?.stop();
      await dropDatabase(databaseUrl);
      await rm(folder, { recursive: true, force: true });
    }
  });
});

describe("Agenda's job tables", () => {
  it('are set up on the first start and when their schema changes, and left alone by the starts between', async () => {
    const databaseUrl = await freshDatabase();
    const folder = await mkdtemp(path.join(tmpdir(), 'herald-agenda-'));
    const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', HERALD_DATA_DIR: folder, HERALD_SECRET_KEY: TEST_SECRET_KEY, DATABASE_URL: databaseUrl });
    const quiet = pino({ level: 'silent' });
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    const other = new pg.Client({ connectionString: databaseUrl });
    await other.connect();
    let starting: ReturnType<typeof startHerald> | undefined;
    const indexes = async () =>
      (await db.query<{ name: string }>(`SELECT indexname AS name FROM pg_indexes WHERE schemaname = 'agenda' AND tablename = 'agenda_jobs' ORDER BY 1`)).rows.map((row) => row.name);
    try {
      await (await startHerald(config, quiet)).stop();
      expect((await db.query('SELECT fingerprint FROM agenda.herald_schema')).rows).toEqual([{ fingerprint: agendaSchemaFingerprint() }]);
      const created = await indexes();
      expect(created).toContain('agenda_jobs_find_and_lock_idx');

      // A transaction writing jobs (another process's) holds the table: setting it up again would
      // wait for it (ALTER TABLE, CREATE TRIGGER), and a start that leaves it alone does not.
      await other.query('BEGIN');
      await other.query('LOCK TABLE agenda.agenda_jobs IN ROW EXCLUSIVE MODE');
      starting = startHerald(config, quiet);
      const second = await Promise.race([
        starting,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the second start waited for the jobs table')), 20_000)),
      ]);
      starting = undefined;
      await second.stop();
      await other.query('COMMIT');

      // A release whose schema differs (another fingerprint) sets the tables up again: the index
      // dropped here comes back.
      await db.query(`UPDATE agenda.herald_schema SET fingerprint = 'an older release'`);
      await db.query('DROP INDEX agenda.agenda_jobs_find_and_lock_idx');
      await (await startHerald(config, quiet)).stop();
      expect(await indexes()).toEqual(created);
      expect((await db.query('SELECT fingerprint FROM agenda.herald_schema')).rows).toEqual([{ fingerprint: agendaSchemaFingerprint() }]);
    } finally {
      // Ending the session frees the table: a Herald still starting then starts, and is stopped here.
      await other.end();
      await (await starting?.catch(() => undefined))?.stop();
      await db.end();
      await dropDatabase(databaseUrl);
      await rm(folder, { recursive: true, force: true });
    }
  }, 120_000);
});
