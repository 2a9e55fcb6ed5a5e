import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import type { IncomingMessage } from 'node:http';
import { GraphQLError } from 'graphql';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import { rejectUnstorableText } from './text-input.ts';
import type { Context } from '../graphql/context.ts';
import { usePublicSurface } from '../graphql/public-surface.ts';
import { schema } from '../graphql/schema.ts';
import type { Herald } from '../herald-context.ts';
import { principalFor } from './auth.ts';
import { graphqlMetrics } from './metrics.ts';
import type { PublicRateLimit } from './rate-limit.ts';

type ServerContext = { connectionParams?: Record<string, unknown>; req?: IncomingMessage };

/** The GraphQL endpoint: one schema for HTTP, SSE and (through ws.ts) WebSocket. */
export function createGraphQL(herald: Herald, publicRateLimit: PublicRateLimit): YogaServerInstance<ServerContext, Context> {
  const development = herald.config.NODE_ENV === 'development';
  return createYoga<ServerContext, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql: development ? { title: 'Herald' } : false,
    landingPage: false,
    // Unexpected errors reach the client as "Unexpected error."; the log keeps the cause.
    maskedErrors: true,
    logging: {
      debug: (...args) => herald.log.debug({ args }, 'yoga'),
      info: (...args) => herald.log.info({ args }, 'yoga'),
      warn: (...args) => herald.log.warn({ args }, 'yoga'),
      error: (...args) => herald.log.error({ err: args[0], args: args.slice(1) }, 'graphql error'),
    },
    plugins: [
      EnvelopArmorPlugin({
        maxDepth: { n: 12, ignoreIntrospection: true, flattenFragments: true },
        costLimit: { maxCost: 10000, ignoreIntrospection: true },
        maxAliases: { n: 20 },
        maxDirectives: { n: 20 },
        maxTokens: { n: 4000 },
        blockFieldSuggestion: { enabled: !development },
      }),
      graphqlMetrics(),
      rejectUnstorableText(),
      usePublicSurface(),
    ],
    context: async ({ request, connectionParams, req }): Promise<Context> => {
      // WebSocket clients authenticate in connection_init; HTTP and SSE with the header.
      const fromConnection = connectionParams?.authorization ?? connectionParams?.Authorization;
      const authorization = typeof fromConnection === 'string' ? fromConnection : request.headers.get('authorization');
      const principal = await principalFor(herald, authorization);
      if (principal.kind === 'publishable') {
        const verdict = await publicRateLimit.consume(`${principal.apiKeyId}:${req?.socket.remoteAddress ?? 'unknown'}`);
        if (!verdict.ok) {
          throw new GraphQLError('Too many requests for this key from this address', {
            extensions: {
              code: 'RATE_LIMITED',
              http: { status: 429, headers: { 'retry-after': String(verdict.retryAfterSeconds) } },
            },
          });
        }
      }
      return { herald, principal };
    },
  });
}
