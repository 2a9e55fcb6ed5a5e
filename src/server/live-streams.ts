import type { IncomingMessage } from 'node:http';
import { GraphQLError } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { RequestErrorCode } from '../errors.ts';
import type { Context, Principal } from '../graphql/context.ts';
import type { Herald } from '../herald-context.ts';
import { clientKey } from './client-address.ts';

/** A counted place in a cap; `release` gives it back (once, however often it is called). */
export interface Lease {
  release(): void;
}

/**
 * The open WebSockets and subscriptions (WebSocket or SSE) of this process: counted against caps
 * per client address and per key, and ended when their key is revoked on any process (the
 * `apiKey:revoked` event, through Redis when REDIS_URL is set).
 */
export interface LiveStreams {
  /** A socket just opened from `address`, before it says who it is; undefined over the cap. */
  openSocket(address: string): Lease | undefined;
  /** The socket's connection_init named `principal`; `end` closes it if that key is revoked. Undefined over the cap. */
  authenticateSocket(principal: Principal, end: () => void): Lease | undefined;
  /** The Yoga plugin that counts subscriptions and ends them when their key is revoked. */
  plugin(): Plugin<Context>;
  close(): Promise<void>;
}

/** How often the streams' keys are checked against the database, in case a revocation event was lost. */
const RECHECK_MS = 30_000;

export function createLiveStreams(herald: Herald): LiveStreams {
  const { config } = herald;
  const socketsByAddress = tally(config.HERALD_MAX_SOCKETS_PER_ADDRESS);
  const socketsByKey = tally(config.HERALD_MAX_SOCKETS_PER_KEY);
  const subscriptionsByAddress = tally(config.HERALD_MAX_SUBSCRIPTIONS_PER_ADDRESS);
  const subscriptionsByKey = tally(config.HERALD_MAX_SUBSCRIPTIONS_PER_KEY);
  /** apiKeyId → what ends each stream opened with it. */
  const enders = new Map<string, Set<() => void>>();

  const endStreamsOf = (apiKeyId: string) => {
    const ends = enders.get(apiKeyId);
    enders.delete(apiKeyId);
    for (const end of ends ?? []) end();
  };
  const onRevoked = (principal: Principal, end: () => void): (() => void) => {
    if (principal.kind !== 'secret' && principal.kind !== 'publishable') return () => {};
    const { apiKeyId } = principal;
    const ends = enders.get(apiKeyId) ?? new Set();
    enders.set(apiKeyId, ends.add(end));
    return () => {
      ends.delete(end);
      if (!ends.size && enders.get(apiKeyId) === ends) enders.delete(apiKeyId);
    };
  };

  const revocations = herald.events.subscribe('apiKey:revoked');
  const listening = (async () => {
    for await (const apiKeyId of revocations) endStreamsOf(apiKeyId);
  })().catch((error: unknown) => herald.log.error({ err: error }, 'revocation listener stopped'));

  const recheck = setInterval(() => {
    const ids = [...enders.keys()];
    if (!ids.length) return;
    herald.prisma.apiKey
      .findMany({ where: { id: { in: ids }, revokedAt: { not: null } }, select: { id: true } })
      .then((revoked) => revoked.forEach(({ id }) => endStreamsOf(id)))
      .catch((error: unknown) => herald.log.warn({ err: error }, 'could not recheck the keys of live streams'));
  }, RECHECK_MS);
  recheck.unref();

  /** Takes a place in both tallies, or neither. */
  const claim = (address: string, key: string | undefined, byAddress: Tally, byKey: Tally): 'address' | 'key' | Lease => {
    if (!byAddress.take(address)) return 'address';
    if (key !== undefined && !byKey.take(key)) {
      byAddress.give(address);
      return 'key';
    }
    return once(() => {
      byAddress.give(address);
      if (key !== undefined) byKey.give(key);
    });
  };

  return {
    openSocket(address) {
      const lease = claim(address, undefined, socketsByAddress, socketsByKey);
      return typeof lease === 'string' ? undefined : lease;
    },

    authenticateSocket(principal, end) {
      const key = capKeyOf(principal);
      if (key === undefined || !socketsByKey.take(key)) return undefined;
      const forget = onRevoked(principal, end);
      return once(() => {
        forget();
        socketsByKey.give(key);
      });
    },

    plugin: () => ({
      onSubscribe: () => ({
        onSubscribeResult({ args, result, setResult }) {
          if (!isAsyncIterable(result)) return;
          const context = args.contextValue as Context & { req?: IncomingMessage };
          const address = context.req ? clientKey(config, context.req) : 'unknown';
          const lease = claim(address, capKeyOf(context.principal), subscriptionsByAddress, subscriptionsByKey);
          if (typeof lease === 'string') {
            void result[Symbol.asyncIterator]().return?.();
            setResult({ errors: [tooManySubscriptions(lease)] });
            return;
          }
          let stop!: () => void;
          const stopped = new Promise<void>((resolve) => (stop = resolve));
          const forget = onRevoked(context.principal, stop);
          setResult(
            endWhen(result, stopped, () => {
              forget();
              lease.release();
            }),
          );
        },
      }),
    }),

    async close() {
      clearInterval(recheck);
      await revocations.return?.();
      await listening;
    },
  };
}

/** The admin token's streams count together; a caller without a credential is counted by address only. */
function capKeyOf(principal: Principal): string | undefined {
  if (principal.kind === 'admin') return 'admin';
  return principal.kind === 'none' ? undefined : principal.apiKeyId;
}

function tooManySubscriptions(over: 'address' | 'key'): GraphQLError {
  return new GraphQLError(`Too many open subscriptions ${over === 'key' ? 'for this key' : 'from this address'}; end one first`, {
    extensions: { code: RequestErrorCode.tooManySubscriptions },
  });
}

interface Tally {
  take(name: string): boolean;
  give(name: string): void;
}

function tally(limit: number): Tally {
  const counts = new Map<string, number>();
  return {
    take(name) {
      const count = counts.get(name) ?? 0;
      if (count >= limit) return false;
      counts.set(name, count + 1);
      return true;
    },
    give(name) {
      const count = (counts.get(name) ?? 1) - 1;
      if (count > 0) counts.set(name, count);
      else counts.delete(name);
    },
  };
}

function once(release: () => void): Lease {
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      release();
    },
  };
}

/**
 * `source`, ending as soon as `stop` resolves, even while it waits for its next value (a plain
 * async generator could not: its `return` would wait behind that value). `onEnd` runs once.
 */
function endWhen<T>(source: AsyncIterable<T>, stop: Promise<void>, onEnd: () => void): AsyncIterableIterator<T> {
  const iterator = source[Symbol.asyncIterator]();
  const done: IteratorReturnResult<undefined> = { done: true, value: undefined };
  const stopped = stop.then(() => done);
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    onEnd();
    // Not awaited: the source may be waiting for an event that never comes.
    Promise.resolve(iterator.return?.()).catch(() => {});
  };
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      if (finished) return done;
      try {
        const result = await Promise.race([iterator.next(), stopped]);
        if (result.done) finish();
        return result;
      } catch (error) {
        finish();
        throw error;
      }
    },
    async return() {
      finish();
      return done;
    },
    async throw(error) {
      finish();
      throw error;
    },
  };
}
