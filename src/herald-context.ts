import type { Config } from './config.ts';
import type { PrismaClient } from './db/prisma.ts';
import type { Logger } from './logger.ts';
import type { Events } from './events.ts';
import type { Agenda } from './jobs/agenda.ts';
import type { DeliveryState } from './delivery/state.ts';
import type { PushClient } from './delivery/web-push/push-client.ts';
import type { Secrets } from './secrets.ts';
import type { WorkspaceCache } from './workspaces/cache.ts';
import type { GroupCommit } from './db/group-commit.ts';

/** The long-lived pieces every domain service may need, created once per Herald instance. */
export interface Herald {
  config: Config;
  prisma: PrismaClient;
  /** The pool under `prisma`, for the few hot queries where Prisma's overhead shows. */
  pool: import('pg').Pool;
  /**
   * The pool of the gathered browser events' transactions (`sqlTransaction`) and of delivery's
   * claim transactions: its connections pipeline, so BEGIN and COMMIT travel with statements.
   */
  pipelinedPool: import('pg').Pool;
  /** A small pool whose statements PostgreSQL stops after HERALD_SEGMENT_READ_TIMEOUT_MS: the API's reads of segments. */
  boundedPool: import('pg').Pool;
  log: Logger;
  events: Events;
  /** Background jobs; every role has a started instance so schedules wake the workers at once. */
  agenda: Agenda;
  /** HERALD_ADMIN_TOKEN, or the one generated into the data folder. */
  adminToken: string;
  /** HERALD_PUBLIC_URL, else the address this process listens on: the base of tracking URLs. */
  publicUrl: string;
  /** Keep-alive HTTPS connections to push services, shared by every send of this process. */
  push: PushClient;
  /** What this process keeps in memory about its deliveries. */
  deliveries: DeliveryState;
  /** Seals and opens secrets stored in the database (HERALD_SECRET_KEY); opened values are cached. */
  secrets: Secrets;
  /** API keys and identity settings that browsers' calls read, cached in this process. */
  cache: WorkspaceCache;
  /** Gathers concurrent single writes from browsers into batches (HERALD_PUBLIC_BATCH_MS). */
  gathering: GroupCommit;
}
