import { Redis } from 'ioredis';
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

export interface PublicRateLimit {
  /** Resolves when the call may go ahead; otherwise with the seconds to wait. */
  consume(key: string): Promise<{ ok: true } | { ok: false; retryAfterSeconds: number }>;
  close(): Promise<void>;
}

/**
 * Limits what a publishable key, which any web page can copy, may do from one address: `perMinute`
 * calls per key and address. With Redis the count is shared by every Herald process.
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
    async consume(key) {
      try {
        await limiter.consume(key);
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
