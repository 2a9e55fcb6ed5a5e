import { createConnection } from 'node:net';

/** The Redis the suite's cross-process tests use (CI machines have one on loopback). */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Redis is optional for Herald and for a new user's `npm test`: tests that need it run only when it answers. */
export async function redisAvailable(): Promise<boolean> {
  const { hostname, port } = new URL(REDIS_URL);
  return new Promise((resolve) => {
    const socket = createConnection({ host: hostname, port: Number(port || 6379) });
    socket.setTimeout(500);
    const answer = (up: boolean) => {
      resolve(up);
      socket.destroy();
    };
    socket.once('connect', () => answer(true));
    socket.once('error', () => answer(false));
    socket.once('timeout', () => answer(false));
  });
}
