import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import pg from 'pg';
import { fromRoot, ROOT } from '../../src/paths.ts';
import { TEST_SECRET_KEY } from './secret-key.ts';

/** What `npm start` runs: the bundle `npm run build` writes. */
const MAIN = fromRoot('dist', 'main.mjs');

/** `npm run build`, as `npm start` does first; test/global-setup.ts runs it once per test run. */
export function buildMain(): void {
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
}

export interface HeraldProcess {
  child: ChildProcess;
  url: string;
  graphqlUrl: string;
  adminToken: string;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Runs `npm start`'s command (node dist/main.mjs, built by `buildMain`) as a real process, as a
 * user would, and waits for the banner that says where Herald listens. With `processGroup`, Herald
 * leads a process group of its own, as under a supervisor: `process.kill(-child.pid, signal)`
 * reaches it and the embedded PostgreSQL it started.
 */
export async function spawnHerald(env: Record<string, string>, options: { processGroup?: boolean } = {}): Promise<HeraldProcess> {
  const { DATABASE_URL: _ignored, HERALD_ADMIN_TOKEN: _token, ...inherited } = process.env;
  // HERALD_NODE_ARGS adds flags NODE_OPTIONS refuses, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const nodeArgs = process.env.HERALD_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, MAIN], {
    cwd: ROOT,
    // The kit's and benches' push services listen on 127.0.0.1, which the default policy refuses.
    env: { ...inherited, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', HERALD_PUSH_ALLOWED_HOSTS: '127.0.0.1', HERALD_SECRET_KEY: TEST_SECRET_KEY, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.processGroup ?? false,
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));

  const banner = await new Promise<RegExpExecArray>((resolve, reject) => {
    // HERALD_START_PATIENCE_MS shortens the wait when hunting a start that hangs.
    const timer = setTimeout(() => {
      void whatTheDatabaseIsDoing(env.DATABASE_URL).then((activity) => {
        child.kill('SIGKILL');
        reject(new Error(`Herald did not start:\n${output}${activity}`));
      });
    }, Number(process.env.HERALD_START_PATIENCE_MS ?? 60_000));
    const check = () => {
      const match = /Herald is running at (\S+)\/graphql[\s\S]*Admin token[^:]*: (\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Herald exited with ${code}:\n${output}`));
    });
  });

  return {
    child,
    url: banner[1]!,
    graphqlUrl: `${banner[1]!}/graphql`,
    adminToken: banner[2]!,
    output: () => output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const [code] = await once(child, 'exit');
      return code as number | null;
    },
  };
}

/** What every connection to Herald's database is doing, for the message of a start that hangs. */
async function whatTheDatabaseIsDoing(databaseUrl: string | undefined): Promise<string> {
  if (!databaseUrl) return '';
  const db = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000, query_timeout: 5_000 });
  try {
    await db.connect();
    const { rows } = await db.query(
      `SELECT pid, application_name, state, wait_event_type, wait_event, pg_blocking_pids(pid) AS blocked_by, now() - query_start AS running_for, left(query, 300) AS query
       FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() ORDER BY backend_start`,
    );
    return `\nits database's connections:\n${rows.map((row) => JSON.stringify(row)).join('\n')}`;
  } catch (error) {
    return `\n(its database could not be asked: ${(error as Error).message})`;
  } finally {
    await db.end().catch(() => {});
  }
}

/** Runs Herald expecting it to refuse to start; returns its exit code and output. */
export async function runHeraldExpectingFailure(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const { DATABASE_URL: _ignored, ...inherited } = process.env;
  const child = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const [code] = await once(child, 'exit');
  return { code: code as number | null, output };
}
