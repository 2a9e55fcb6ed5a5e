import { Agenda } from 'agenda';
import { PostgresBackend } from '@agendajs/postgres-backend';
import pg from 'pg';
import type { Logger } from '../logger.ts';

export type { Agenda };

export interface JobStoreOptions {
  databaseUrl: string;
  /** When set, Agenda keeps its jobs in MongoDB instead of PostgreSQL. */
  mongoUrl?: string | undefined;
  log: Logger;
}

/**
 * Agenda on PostgreSQL, its tables in their own `agenda` schema so Prisma never sees them as drift.
 * Every role starts it: only a started instance sends the LISTEN/NOTIFY wake-up to workers.
 */
export async function createAgenda({ databaseUrl, mongoUrl, log }: JobStoreOptions): Promise<{ agenda: Agenda; close(): Promise<void> }> {
  if (mongoUrl) {
    const { MongoBackend } = await import('@agendajs/mongo-backend');
    const agenda = new Agenda({ backend: new MongoBackend({ address: mongoUrl }), processEvery: '5 seconds' });
    log.info('Agenda jobs are stored in MongoDB');
    return { agenda, close: () => agenda.stop() };
  }

  const setup = new pg.Client({ connectionString: databaseUrl });
  await setup.connect();
  await setup.query('CREATE SCHEMA IF NOT EXISTS agenda').finally(() => setup.end());

  // The LISTEN connection holds one pooled client for good, hence max ≥ 2.
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4, options: '-c search_path=agenda' });
  pool.on('error', (error) => log.warn({ err: error }, 'agenda pool error'));
  const agenda = new Agenda({ backend: new PostgresBackend({ pool }), processEvery: '5 seconds' });
  return {
    agenda,
    async close() {
      await agenda.stop();
      await pool.end();
    },
  };
}
