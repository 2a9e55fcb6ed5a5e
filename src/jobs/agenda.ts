import { Agenda } from 'agenda';
import { createHash } from 'node:crypto';
import {
  getCreateIndexesSQL,
  getCreateLogsIndexesSQL,
  getCreateLogsTableSQL,
  getCreateTableSQL,
  getUpdateTimestampTriggerSQL,
  PostgresBackend,
  PostgresNotificationChannel,
} from '@agendajs/postgres-backend';
import pg from 'pg';
import type { Logger } from '../logger.ts';

export type { Agenda };

export interface JobStoreOptions {
  databaseUrl: string;
  /** When set, Agenda keeps its jobs in MongoDB instead of PostgreSQL. */
  mongoUrl?: string | undefined;
  log: Logger;
  /** Defines the jobs this process runs (worker roles); called before Agenda starts. */
  define?: (agenda: Agenda) => void;
}

/** Serialises Agenda's own CREATE TABLE/INDEX IF NOT EXISTS, which races when processes start together. */
const AGENDA_SCHEMA_LOCK = 72707370;

/**
 * The schema Agenda's Postgres backend sets up, as the text of its statements: a new release of the
 * backend that changes its tables changes this. Its setup (`ensureSchema`) runs `ALTER TABLE`,
 * `DROP TRIGGER` and `CREATE TRIGGER` on the jobs table, which wait for every transaction using it
 * (and make every later one wait behind them): it runs only when this fingerprint is new to the
 * database (`agenda.herald_schema`) or the jobs table is gone, not at every start.
 */
export function agendaSchemaFingerprint(): string {
  const statements = [
    getCreateTableSQL('agenda_jobs'),
    ...getCreateIndexesSQL('agenda_jobs'),
    getUpdateTimestampTriggerSQL('agenda_jobs'),
    getCreateLogsTableSQL('agenda_logs'),
    ...getCreateLogsIndexesSQL('agenda_logs'),
  ];
  return createHash('sha256').update(statements.join('\n;\n')).digest('hex');
}

/**
 * A started Agenda on PostgreSQL, its tables in their own `agenda` schema so Prisma never sees
 * them as drift. Every role starts one: only a started instance sends the LISTEN/NOTIFY wake-up.
 */
export interface JobStore {
  agenda: Agenda;
  /** Starts processing jobs: called once the rest of the process is ready for them. */
  start(): Promise<void>;
  /**
   * Resolves once jobs saved from now on wake the processes at once: the LISTEN connection is up,
   * connected now if it is down (after a database outage, before the sends are resumed).
   */
  listening(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Agenda's LISTEN/NOTIFY channel, kept up for as long as the process runs. The stock one retries a
 * lost connection 10 times with a delay doubling up to 30 s and then stops for good, and a job saved
 * while it is not connected sends no wake-up at all: after an outage of a few seconds the jobs that
 * resumed sends (saved while it still waited out its back-off) ran only at the next 5 s poll, and
 * after one of 80 s every job for the rest of the process's life did. This one retries every second
 * at most, without end, and connects at once when asked (one connection attempt at a time).
 */
class LastingNotificationChannel extends PostgresNotificationChannel {
  #connecting: Promise<void> | undefined;

  constructor(pool: pg.Pool) {
    super({ pool, reconnect: { enabled: true, maxAttempts: Number.POSITIVE_INFINITY, initialDelayMs: 100, maxDelayMs: 1_000 } });
  }

  override connect(): Promise<void> {
    this.#connecting ??= super.connect().finally(() => (this.#connecting = undefined));
    return this.#connecting;
  }

  /** Connected now if not already (a failed attempt leaves the regular retries scheduled). */
  async listening(): Promise<void> {
    if (this.state !== 'connected') await this.connect();
  }
}

export async function createAgenda({ databaseUrl, mongoUrl, log, define }: JobStoreOptions): Promise<JobStore> {
  if (mongoUrl) {
    const { MongoBackend } = await import('@agendajs/mongo-backend');
    const agenda = new Agenda({ backend: new MongoBackend({ address: mongoUrl }), processEvery: '5 seconds' });
    define?.(agenda);
    log.info('Agenda jobs are stored in MongoDB');
    return { agenda, start: () => agenda.start(), listening: async () => {}, close: async () => void (await agenda.drain({ timeout: 30_000 })) };
  }

  // The LISTEN connection holds one pooled client for good, hence max ≥ 2.
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4, options: '-c search_path=agenda' });
  pool.on('error', (error) => log.warn({ error: error.message }, 'agenda pool error'));
  // Agenda's LISTEN connection stays checked out: its errors are emitted on the client itself.
  pool.on('connect', (client) => client.on('error', (error) => log.warn({ error: error.message }, 'agenda connection error')));
  // The LISTEN channel emits a lost connection, and each failed attempt to connect again, as an
  // 'error' event: one nobody listened to took the whole process down when PostgreSQL restarted.
  // Only the loss is worth a warning (the channel is still 'connected' when it reports it).
  const channel = new LastingNotificationChannel(pool);
  channel.on('error', (error: Error) =>
    channel.state === 'connected'
      ? log.warn({ error: error.message }, 'agenda notification channel lost its connection; reconnecting')
      : log.debug({ error: error.message }, 'agenda notification channel still not connected'),
  );
  const setup = new pg.Client({ connectionString: databaseUrl });
  await setup.connect();
  let agenda: Agenda;
  try {
    await setup.query('SELECT pg_advisory_lock($1)', [AGENDA_SCHEMA_LOCK]);
    await setup.query('CREATE SCHEMA IF NOT EXISTS agenda');
    await setup.query('CREATE TABLE IF NOT EXISTS agenda.herald_schema (fingerprint text NOT NULL)');
    const fingerprint = agendaSchemaFingerprint();
    const { rows } = await setup.query<{ current: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM agenda.herald_schema WHERE fingerprint = $1) AND to_regclass('agenda.agenda_jobs') IS NOT NULL AS current`,
      [fingerprint],
    );
    const current = rows[0]!.current;
    // Agenda creates its tables as soon as it is constructed, so that happens under the lock too.
    const backend = new PostgresBackend({ pool, ensureSchema: !current, disableNotifications: true });
    agenda = new Agenda({ backend, notificationChannel: channel, processEvery: '5 seconds' });
    define?.(agenda);
    await agenda.ready;
    if (!current) {
      await setup.query('WITH older AS (DELETE FROM agenda.herald_schema) INSERT INTO agenda.herald_schema (fingerprint) VALUES ($1)', [fingerprint]);
      log.info('Agenda job tables set up');
    }
  } finally {
    await setup.query('SELECT pg_advisory_unlock($1)', [AGENDA_SCHEMA_LOCK]).catch(() => {});
    await setup.end();
  }

  agenda.on('fail', (error: Error, job: { attrs: { name: string; data: unknown } }) =>
    log.error({ err: error, job: job.attrs.name, data: job.attrs.data }, 'job failed'),
  );
  return {
    agenda,
    start: () => agenda.start(),
    listening: () => channel.listening(),
    async close() {
      // Running jobs finish (up to 30 s); jobs not yet started stay queued for the next worker.
      const result = await agenda.drain({ timeout: 30_000 });
      if (result.running > 0) log.warn({ running: result.running }, 'jobs still running at shutdown; Agenda will retry them');
      await pool.end();
    },
  };
}
