import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { PothosValidationError } from '@pothos/core';
import { GraphQLError } from 'graphql';
import type { IncomingMessage } from 'node:http';
import { createYoga, maskError, type YogaServerInstance } from 'graphql-yoga';
import { RequestErrorCode } from '../errors.ts';
import { compiledExecution } from './compiled-execution.ts';
import { rejectUnstorableText } from './text-input.ts';
import type { Context } from '../graphql/context.ts';
import { usePublicSurface } from '../graphql/public-surface.ts';
import { validationCache } from './validation-cache.ts';
import { schema } from '../graphql/schema.ts';
import type { Herald } from '../herald-context.ts';
import { authorizationOf, principalFor, rememberedPrincipal } from './auth.ts';
import { openCors } from './cors.ts';
import { introspectionForSecretKeys } from './introspection.ts';
import type { LiveStreams } from './live-streams.ts';
import { graphqlMetrics } from './metrics.ts';
import { limitPublicOperations, type PublicRateLimit } from './rate-limit.ts';

type ServerContext = { connectionParams?: Record<string, unknown>; req?: IncomingMessage };

/** The GraphQL endpoint: one schema for HTTP, SSE and (through ws.ts) WebSocket. */
export function createGraphQL(herald: Herald, publicRateLimit: PublicRateLimit, streams: LiveStreams): YogaServerInstance<ServerContext, Context> {
  const development = herald.config.NODE_ENV === 'development';
  return createYoga<ServerContext, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql: development ? { title: 'Herald' } : false,
    landingPage: false,
    cors: false, // openCors() below
    // Unexpected errors reach the client as "Unexpected error."; the log keeps the cause.
    maskedErrors: { maskError: (error, message, isDev) => asBadUserInput(error) ?? maskError(error, message, isDev) },
    logging: {
      debug: (...args) => herald.log.debug({ args }, 'yoga'),
      info: (...args) => herald.log.info({ args }, 'yoga'),
      warn: (...args) => herald.log.warn({ args }, 'yoga'),
      error: (...args) => herald.log.error({ err: args[0], args: args.slice(1) }, 'graphql error'),
    },
    // Parsed documents are still cached by Yoga; their validation by validationCache() instead.
    parserAndValidationCache: { validationCache: false },
    plugins: [
      validationCache(),
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
      openCors(),
      introspectionForSecretKeys(),
      limitPublicOperations(herald.config, publicRateLimit),
      streams.plugin(),
      usePublicSurface(),
      // Last, so that a plugin above that ends a call early (the rate limit) ends it before compiling.
      compiledExecution(),
    ],
    context: async ({ request, connectionParams, req }): Promise<Context> => {
      // WebSocket clients authenticate in connection_init; HTTP and SSE with the header (a POST's
      // caller was already found by http.ts, to choose its body limit).
      const principal =
        rememberedPrincipal(req) ?? (await principalFor(herald, authorizationOf(connectionParams) ?? request.headers.get('authorization')));
      return { herald, principal };
    },
  });
}

/**
 * Pothos' own checks of a call's arguments (a cursor that does not decode, `before` with `first`)
 * are the caller's mistake: said with their message, as BAD_USER_INPUT like Herald's own.
 */
function asBadUserInput(error: unknown): GraphQLError | undefined {
  if (!(error instanceof GraphQLError) || !(error.originalError instanceof PothosValidationError)) return undefined;
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: { ...error.extensions, code: RequestErrorCode.badUserInput },
  });
}
