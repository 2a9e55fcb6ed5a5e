import type { Plugin } from 'graphql-yoga';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Herald } from '../herald-context.ts';
import { sameSecret } from '../workspaces/api-keys.ts';
import { isLoopback } from './client-address.ts';

/** Prometheus metrics served at /metrics; one registry per process. */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'herald_' });

/**
 * Who may read /metrics: a caller on this machine (a scraper beside Herald), or, when
 * HERALD_METRICS_TOKEN is set, anyone who sends it as a bearer token.
 */
export function mayReadMetrics({ address, authorization, token }: { address: string; authorization: string | undefined; token: string | undefined }): boolean {
  if (isLoopback(address)) return true;
  const presented = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
  return Boolean(token && presented && sameSecret(presented, token));
}

const messagesSent = new Counter({
  name: 'herald_messages_sent_total',
  help: 'Messages this process handed to a provider that accepted them, by channel',
  labelNames: ['channel'] as const,
  registers: [registry],
});

/** The registry's text, with the delivery figures of this process's Herald. */
export async function metricsOf(herald: Pick<Herald, 'deliveries'>): Promise<string> {
  messagesSent.reset();
  for (const [channel, count] of herald.deliveries.sent) messagesSent.inc({ channel }, count);
  return registry.metrics();
}

export const httpRequests = new Counter({
  name: 'herald_http_requests_total',
  help: 'HTTP requests by route and status',
  labelNames: ['route', 'status'] as const,
  registers: [registry],
});

export const httpDuration = new Histogram({
  name: 'herald_http_request_duration_seconds',
  help: 'HTTP request duration by route',
  labelNames: ['route'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [registry],
});

export const databaseQueries = new Counter({
  name: 'herald_db_queries_total',
  help: 'SQL statements sent to PostgreSQL through Prisma',
  registers: [registry],
});

export const compiledDocuments = new Counter({
  name: 'herald_graphql_documents_compiled_total',
  help: "Browsers' hot GraphQL documents compiled to functions (graphql-jit, server/compiled-execution.ts)",
  registers: [registry],
});

export const compiledKept = new Gauge({
  name: 'herald_graphql_compiled_documents',
  help: 'Compiled documents kept now (at most COMPILED_MAX, the most recently run)',
  registers: [registry],
});

const compiledRuns = new Counter({
  name: 'herald_graphql_compiled_runs_total',
  help: 'Runs of compiled documents, by who answered: the compiled function, or graphql-js (variables that did not coerce)',
  labelNames: ['answered'] as const,
  registers: [registry],
});
export const compiledAnswered = compiledRuns.labels('compiled');
export const compiledHandedBack = compiledRuns.labels('graphql-js');
// Both series from the start, at 0.
compiledAnswered.inc(0);
compiledHandedBack.inc(0);

const graphqlOperations = new Counter({
  name: 'herald_graphql_operations_total',
  help: 'GraphQL operations executed, by type and whether they returned errors',
  labelNames: ['type', 'errors'] as const,
  registers: [registry],
});

export function graphqlMetrics(): Plugin {
  return {
    onExecute: ({ args }) => {
      const operation = args.document.definitions.find((definition: { kind: string }) => definition.kind === 'OperationDefinition');
      const type = operation && 'operation' in operation ? operation.operation : 'unknown';
      return {
        onExecuteDone: ({ result }) => {
          const errors = 'errors' in result && result.errors?.length ? 'yes' : 'no';
          graphqlOperations.inc({ type, errors });
        },
      };
    },
  };
}
