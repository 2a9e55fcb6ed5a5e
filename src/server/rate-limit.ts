import type { IncomingMessage } from 'node:http';
import { type DocumentNode, getOperationAST, GraphQLError, Kind, type SelectionSetNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { Redis } from 'ioredis';
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../config.ts';
import { RequestErrorCode } from '../errors.ts';
import type { Context } from '../graphql/context.ts';
import { clientKey } from './client-address.ts';

export interface PublicRateLimit {
  /** Resolves when the call (costing `points`, default 1) may go ahead; otherwise with the seconds to wait. */
  consume(key: string, points?: number): Promise<{ ok: true } | { ok: false; retryAfterSeconds: number }>;
  close(): Promise<void>;
}

/**
 * Limits what a publishable key, which any web page can copy, may do from one address: `perMinute`
 * points per key and address. With Redis the count is shared by every Herald process.
 */
export function createPublicRateLimit(perMinute: number, redisUrl?: string): PublicRateLimit {
  const options = { points: perMinute, duration: 60, keyPrefix: 'herald:public' };
  let redis: Redis | undefined;
  let limiter: RateLimiterAbstract;
  if (redisUrl) {
    redis = new Redis(redisUrl, { enableOfflineQueue: false });
    // If Redis is unreachable, fall back to counting in this process rather than refusing everyone.
    limiter = new RateLimiterRedis({ ...options, storeClient: redis, insuranceLimiter: new RateLimiterMemory(options) });
  } else {
    limiter = new RateLimiterMemory(options);
  }
  return {
    async consume(key, points = 1) {
      try {
        await limiter.consume(key, points);
        return { ok: true };
      } catch (result) {
        if (result instanceof RateLimiterRes) return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(result.msBeforeNext / 1000)) };
        throw result;
      }
    },
    async close() {
      redis?.disconnect();
    },
  };
}

/**
 * Charges a publishable key's operation one point per root field it runs, so twenty aliased
 * mutations in one request cost twenty. Over the limit nothing runs: 429 with Retry-After.
 */
export function limitPublicOperations(config: Config, limit: PublicRateLimit): Plugin<Context> {
  const refusal = async (args: { contextValue: Context; document: DocumentNode; operationName?: string | null }) => {
    const { principal, req } = args.contextValue as Context & { req?: IncomingMessage };
    if (principal.kind !== 'publishable') return undefined;
    const address = req ? clientKey(config, req) : 'unknown';
    const verdict = await limit.consume(`${principal.apiKeyId}:${address}`, rootFieldCount(args.document, args.operationName));
    if (verdict.ok) return undefined;
    return new GraphQLError('Too many requests for this key from this address', {
      extensions: { code: RequestErrorCode.rateLimited, http: { status: 429, headers: { 'retry-after': String(verdict.retryAfterSeconds) } } },
    });
  };
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const error = await refusal(args);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
    async onSubscribe({ args, setResultAndStopExecution }) {
      const error = await refusal(args);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
  };
}

/**
 * The root fields the operation runs: its distinct response names (alias or field name), through
 * fragments, as GraphQL merges fields with the same name. At least 1.
 */
export function rootFieldCount(document: DocumentNode, operationName?: string | null): number {
  const operation = getOperationAST(document, operationName);
  if (!operation) return 1;
  const fragments = new Map(document.definitions.flatMap((definition) => (definition.kind === Kind.FRAGMENT_DEFINITION ? [[definition.name.value, definition] as const] : [])));
  const names = new Set<string>();
  const visited = new Set<string>();
  const collect = (selectionSet: SelectionSetNode) => {
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) names.add(selection.alias?.value ?? selection.name.value);
      else if (selection.kind === Kind.INLINE_FRAGMENT) collect(selection.selectionSet);
      else if (!visited.has(selection.name.value)) {
        visited.add(selection.name.value);
        const fragment = fragments.get(selection.name.value);
        if (fragment) collect(fragment.selectionSet);
      }
    }
  };
  collect(operation.selectionSet);
  return Math.max(1, names.size);
}
