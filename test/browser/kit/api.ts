import { setTimeout as sleep } from 'node:timers/promises';

/** Polls `check` every 100 ms until it returns a value, or fails saying what did not happen. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** Untyped GraphQL over HTTP with a workspace key (these tests read results loosely). */
export const queryAs =
  (graphqlUrl: string, key: string) =>
  async (text: string, variables: Record<string, unknown> = {}): Promise<any> => {
    const response = await fetch(graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query: text, variables }),
    });
    return ((await response.json()) as { data: unknown }).data;
  };
