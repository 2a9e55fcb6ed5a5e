import { createClient as createSocket } from 'graphql-ws';
import { cacheExchange, Client, fetchExchange, subscriptionExchange } from 'urql';

const httpUrl = () => `${location.origin}/graphql`;
const wsUrl = () => `${location.origin.replace(/^http/, 'ws')}/graphql`;

/**
 * One client per key: queries and mutations over HTTP, subscriptions (live counts) over one
 * graphql-ws socket that opens with the first subscription and reconnects when it drops.
 */
export function createHeraldClient(key: string): Client & { close(): void } {
  const socket = createSocket({
    url: wsUrl(),
    connectionParams: { authorization: `Bearer ${key}` },
    lazy: true,
    retryAttempts: Infinity,
    // A revoked key or a refused socket (4403) will not start working by retrying.
    shouldRetry: (event) => !(event && typeof event === 'object' && 'code' in event && event.code === 4403),
  });
  const client = new Client({
    url: httpUrl(),
    requestPolicy: 'cache-and-network',
    fetchOptions: { headers: { authorization: `Bearer ${key}` } },
    exchanges: [
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({ unsubscribe: socket.subscribe({ ...request, query: request.query ?? '' }, sink) }),
        }),
      }),
    ],
  });
  return Object.assign(client, { close: () => void socket.dispose() });
}

/** One request with the admin token, which is never stored: it may only create workspaces. */
export async function asAdmin<T>(adminToken: string, query: string, variables: Record<string, unknown>): Promise<T> {
  const response = await fetch(httpUrl(), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${adminToken}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json().catch(() => ({}))) as { data?: T; errors?: { message: string; extensions?: { code?: string } }[] };
  if (body.errors?.length) {
    const [first] = body.errors;
    throw new Error(first!.extensions?.code === 'UNAUTHENTICATED' || first!.extensions?.code === 'FORBIDDEN' ? 'That is not the admin token.' : first!.message);
  }
  if (!body.data) throw new Error(`Herald answered ${response.status}.`);
  return body.data;
}

/** Checks a secret key by asking for its workspace. */
export async function workspaceOf(key: string): Promise<{ id: string; name: string } | undefined> {
  const response = await fetch(httpUrl(), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query: 'query SignInCheck { viewer { id name } }' }),
  }).catch(() => undefined);
  const body = (await response?.json().catch(() => undefined)) as { data?: { viewer: { id: string; name: string } } } | undefined;
  return body?.data?.viewer;
}
