import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Config } from './config.ts';
import { ensureDatabase } from './db/database.ts';
import { startEmbeddedPostgres } from './db/embedded.ts';
import { applyMigrations } from './db/migrate.ts';
import { watchForDatabaseReturn } from './db/outage.ts';
import { createPool, createPrisma } from './db/prisma.ts';
import { createEvents } from './events.ts';
import type { Herald } from './herald-context.ts';
import { type Agenda, createAgenda } from './jobs/agenda.ts';
import { defineCampaignJobs, listenForDueDeliveries, startCampaignSweep } from './campaigns/jobs.ts';
import { defineEmailConfirmationJob } from './delivery/email/confirm.ts';
import { defineJourneyJobs, listenForDueJourneys, startJourneyJobs } from './journeys/jobs.ts';
import { Jobs } from './delivery/queue.ts';
import { createDeliveryState } from './delivery/state.ts';
import { PushClient } from './delivery/web-push/push-client.ts';
import type { Logger } from './logger.ts';
import { createHttpServer } from './server/http.ts';
import { databaseQueries } from './server/metrics.ts';
import { createLiveStreams } from './server/live-streams.ts';
import { createPublicRateLimit } from './server/rate-limit.ts';
import { attachWebSocket } from './server/ws.ts';
import { secretsFor } from './secrets.ts';
import { createWorkspaceCache } from './workspaces/cache.ts';
import { GroupCommit } from './db/group-commit.ts';
import { sealWorkspaceSecrets } from './workspaces/secrets.ts';
import { CLAIM_SLOTS } from './delivery/claim-transaction.ts';
import { sealStoredWebhookHeaders } from './delivery/webhook/seal-rows.ts';
import { createGraphQL } from './server/yoga.ts';

/** A gathered batch of browser calls goes at once at this size. */
const PUBLIC_BATCH_MAX = 500;
/** Gathered batches of one workspace written at once, on the pipelining pool. */
const PUBLIC_BATCHES_IN_FLIGHT = 4;
/**
 * Connections of the pool gathered events and claims are written on: one workspace's batches in
 * flight and the claims' slots (more batches wait for a connection). Opened as needed: with the
 * main pool's 10, Agenda's 4 and the segment reads' 2, a process holds at most ~27 of PostgreSQL's connections.
 */
const PIPELINED_CONNECTIONS = PUBLIC_BATCHES_IN_FLIGHT + CLAIM_SLOTS;
/** Connections of the pool the API's segment reads run on, under their statement timeout (opened as needed). */
const BOUNDED_CONNECTIONS = 2;

export interface RunningHerald {
  herald: Herald;
  /** Where the HTTP server listens, e.g. http://127.0.0.1:4000 */
  url: string;
  /** The PostgreSQL database Herald uses (the embedded one unless DATABASE_URL was given). */
  databaseUrl: string;
  /** True when the admin token was generated into the data folder rather than configured. */
  adminTokenGenerated: boolean;
  stop(): Promise<void>;
}

/**
 * Starts one Herald process: database (embedded unless DATABASE_URL), migrations, Agenda, and for
 * the api role the GraphQL server. `stop()` undoes it all in reverse, letting running jobs finish.
 */
export interface StartOptions {
  /** More job definitions for this process, besides Herald's own (used by tests and extensions). */
  defineJobs?: (agenda: Agenda, herald: Herald) => void;
  /** How long a start may take before Herald says, and repeats, what it is waiting for. */
  stillStartingMs?: number;
}

/** A start longer than this is stuck on something an operator should hear about (a lock, a full server). */
const STILL_STARTING_MS = 10_000;

export async function startHerald(config: Config, log: Logger, options: StartOptions = {}): Promise<RunningHerald> {
  const dataDir = path.resolve(config.HERALD_DATA_DIR);
  await mkdir(dataDir, { recursive: true });
  const cleanup: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const step of cleanup.reverse()) {
      await step().catch((error: unknown) => log.error({ err: error }, 'error while stopping'));
    }
    cleanup.length = 0;
  };

  // A start that hangs says where: at warn, which every log level but error, fatal and silent shows.
  const began = Date.now();
  let waitingFor = config.DATABASE_URL ? 'PostgreSQL to accept a connection' : 'the embedded PostgreSQL to start';
  const stillStarting = setInterval(
    () => log.warn({ waitingFor, seconds: Math.round((Date.now() - began) / 1000) }, `Herald is still starting: waiting for ${waitingFor}`),
    options.stillStartingMs ?? STILL_STARTING_MS,
  );
  try {
    let databaseUrl = config.DATABASE_URL;
    if (databaseUrl) {
      await ensureDatabase(databaseUrl);
    } else {
      const embedded = await startEmbeddedPostgres(dataDir, log);
      cleanup.push(embedded.stop);
      databaseUrl = embedded.url;
    }
    waitingFor = 'the migrations (and their lock, held by any other process migrating this database)';
    const applied = await applyMigrations(databaseUrl, log);
    log.info({ applied: applied.length }, 'database schema is up to date');

    const runsJobs = config.HERALD_ROLE !== 'api';
    // Sends an outage cut resume as soon as the database answers again (see db/outage.ts).
    // The sweep's job wakes the workers only once Agenda listens again, so that comes first.
    const outage = watchForDatabaseReturn(databaseUrl, log, async () => {
      await jobs.listening().catch((error: Error) => log.warn({ error: error.message }, 'agenda notification channel not connected yet; the sweep runs at the next poll'));
      await herald.agenda.now(Jobs.sweep);
    });
    const poolError = (error: Error) => {
      log.warn({ error: error.message }, 'database connection lost');
      if (runsJobs) outage.lost();
    };
    const { prisma, pool } = createPrisma(databaseUrl, {
      preparedStatements: config.HERALD_PREPARED_STATEMENTS,
      onQuery: () => databaseQueries.inc(),
      onPoolError: poolError,
    });
    const pipelinedPool = createPool(databaseUrl, { max: PIPELINED_CONNECTIONS, preparedStatements: config.HERALD_PREPARED_STATEMENTS, pipeline: true, onPoolError: poolError });
    // Behind a pooler (HERALD_PREPARED_STATEMENTS=false) a connection's startup options may be refused (PgBouncer): no timeout there.
    const boundedPool = createPool(databaseUrl, {
      max: BOUNDED_CONNECTIONS,
      preparedStatements: config.HERALD_PREPARED_STATEMENTS,
      ...(config.HERALD_PREPARED_STATEMENTS ? { statementTimeoutMs: config.HERALD_SEGMENT_READ_TIMEOUT_MS } : {}),
      onPoolError: poolError,
    });
    cleanup.push(async () => {
      await prisma.$disconnect();
      await pool.end();
      await pipelinedPool.end();
      await boundedPool.end();
    });
    const events = createEvents(config.REDIS_URL, log);
    cleanup.push(events.close);
    const { token: adminToken, generated } = await adminTokenFor(config, dataDir);
    const { secrets, generatedFile: secretKeyFile } = await secretsFor(config, dataDir);
    // Processes with data folders of their own would each generate a different key.
    if (secretKeyFile && config.HERALD_ROLE !== 'all') log.warn({ file: secretKeyFile }, 'HERALD_SECRET_KEY is not set: set the same key on every Herald process');

    // `agenda` is filled in below: job definitions need the herald they run against.
    const push = new PushClient(config);
    cleanup.push(async () => push.close());
    const publicUrl = (config.HERALD_PUBLIC_URL ?? `http://localhost:${config.PORT}`).replace(/\/+$/, '');
    const cache = createWorkspaceCache(events);
    cleanup.push(cache.close);
    const gathering = new GroupCommit({ windowMs: config.HERALD_PUBLIC_BATCH_MS, maxItems: PUBLIC_BATCH_MAX, maxInFlight: PUBLIC_BATCHES_IN_FLIGHT });
    cleanup.push(() => gathering.drain());
    const herald = { config, prisma, pool, pipelinedPool, boundedPool, log, events, adminToken, publicUrl, push, secrets, cache, gathering, deliveries: createDeliveryState(config) } as Herald;
    cleanup.push(async () => herald.deliveries.mailers.close());
    cleanup.push(async () => herald.deliveries.webhooks.close());
    cleanup.push(async () => herald.deliveries.mobile.close());
    cleanup.push(async () => herald.deliveries.sms.close());
    waitingFor = 'the stored secrets to be sealed';
    await sealWorkspaceSecrets(herald);
    await sealStoredWebhookHeaders(herald);
    waitingFor = "Agenda's job tables (and their lock, held by any other process starting on this database)";
    const jobs = await createAgenda({
      databaseUrl,
      mongoUrl: config.AGENDA_MONGO_URL,
      log,
      define: (agenda) => {
        if (runsJobs) defineCampaignJobs(agenda, herald);
        if (runsJobs) defineEmailConfirmationJob(agenda, herald);
        if (runsJobs) defineJourneyJobs(agenda, herald);
        options.defineJobs?.(agenda, herald);
      },
    });
    herald.agenda = jobs.agenda;
    cleanup.push(jobs.close);
    cleanup.push(outage.stop); // before Agenda closes: nothing wakes sends on a stopping process

    let stopping = false;
    const publicRateLimit = createPublicRateLimit(config.HERALD_PUBLIC_RATE_LIMIT, config.REDIS_URL);
    cleanup.push(publicRateLimit.close);
    const streams = createLiveStreams(herald);
    cleanup.push(streams.close);
    const yoga = createGraphQL(herald, publicRateLimit, streams);
    const server = createHttpServer({
      herald,
      yoga: config.HERALD_ROLE === 'worker' ? undefined : yoga,
      ready: async () => !stopping && (await prisma.$queryRaw`SELECT 1`.then(() => true)),
      publicRateLimit,
    });
    const ws = config.HERALD_ROLE === 'worker' ? undefined : attachWebSocket(server, yoga, herald, streams);
    waitingFor = `port ${config.PORT} on ${config.HOST}`;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.PORT, config.HOST, resolve);
    });
    cleanup.push(async () => {
      stopping = true;
      await ws?.close();
      await closeServer(server);
    });

    const { port } = server.address() as AddressInfo;
    const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    if (!config.HERALD_PUBLIC_URL) herald.publicUrl = url;
    // Jobs start last: they may send pushes, whose tracking URLs need the address above.
    waitingFor = 'the job queue to start';
    await jobs.start();
    if (runsJobs) {
      await startCampaignSweep(jobs.agenda);
      cleanup.push(listenForDueDeliveries(herald));
      await startJourneyJobs(jobs.agenda);
      cleanup.push(listenForDueJourneys(herald));
    }
    log.info({ url, role: config.HERALD_ROLE }, 'Herald is listening');
    return { herald, url, databaseUrl, adminTokenGenerated: generated, stop };
  } catch (error) {
    await stop();
    throw error;
  } finally {
    clearInterval(stillStarting);
  }
}

async function adminTokenFor(config: Config, dataDir: string): Promise<{ token: string; generated: boolean }> {
  if (config.HERALD_ADMIN_TOKEN) return { token: config.HERALD_ADMIN_TOKEN, generated: false };
  const file = path.join(dataDir, 'admin-token');
  if (existsSync(file)) return { token: (await readFile(file, 'utf8')).trim(), generated: true };
  const token = `adm_${randomBytes(24).toString('base64url')}`;
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  return { token, generated: true };
}

/** Stops taking connections, lets in-flight requests end, then cuts what is left after 10 s. */
async function closeServer(server: import('node:http').Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), 10_000);
  await closed;
  clearTimeout(timer);
}
