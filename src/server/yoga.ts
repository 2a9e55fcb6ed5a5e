import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import type { Context } from '../graphql/context.ts';
import { schema } from '../graphql/schema.ts';
import type { Herald } from '../herald-context.ts';
import { principalFor } from './auth.ts';
import { graphqlMetrics } from './metrics.ts';

type ServerContext = { connectionParams?: Record<string, unknown> };

/** The GraphQL endpoint: one schema for HTTP, SSE and (through ws.ts) WebSocket. */
export function createGraphQL(herald: Herald): YogaServerInstance<ServerContext, Context> {
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
    ],
    context: async ({ request, connectionParams }): Promise<Context> => {
      // WebSocket clients authenticate in connection_init; HTTP and SSE with the header.
      const fromConnection = connectionParams?.authorization ?? connectionParams?.Authorization;
      const authorization = typeof fromConnection === 'string' ? fromConnection : request.headers.get('authorization');
      return { herald, principal: await principalFor(herald, authorization) };
    },
  });
}
