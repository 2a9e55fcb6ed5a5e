import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { type ExecutionResult, print } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';

export type Result<T> = ExecutionResult<T, { code?: string }>;

/** A GraphQL-over-HTTP client for one credential (or none). */
export function httpClient(graphqlUrl: string, credential?: string) {
  return async function request<TData, TVariables>(
    document: TypedDocumentNode<TData, TVariables>,
    ...[variables]: TVariables extends Record<string, never> ? [] : [TVariables]
  ): Promise<Result<TData>> {
    const response = await fetch(graphqlUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json',
        ...(credential ? { authorization: `Bearer ${credential}` } : {}),
      },
      body: JSON.stringify({ query: print(document), variables }),
    });
    return (await response.json()) as Result<TData>;
  };
}

/** Data of a successful response; fails the test with the errors otherwise. */
export function dataOf<T>(result: Result<T>): T {
  if (result.errors?.length || !result.data) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
  return result.data;
}

export function errorCodes(result: Result<unknown>): (string | undefined)[] {
  return (result.errors ?? []).map((error) => error.extensions?.code as string | undefined);
}

/** A graphql-ws client (graphql-transport-ws) that authenticates in connection_init. */
export function wsClient(wsUrl: string, credential?: string): Client {
  return createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: credential ? { authorization: `Bearer ${credential}` } : {},
    retryAttempts: 0,
    lazy: true,
  });
}

/** Collects the first `count` results of a subscription, then unsubscribes. */
export function take<TData, TVariables extends Record<string, unknown>>(
  client: Client,
  document: TypedDocumentNode<TData, TVariables>,
  variables: TVariables,
  count: number,
  onFirst?: () => void,
): Promise<Result<TData>[]> {
  return new Promise((resolve, reject) => {
    const results: Result<TData>[] = [];
    const subscription = client.iterate<TData>({ query: print(document), variables });
    (async () => {
      for await (const result of subscription) {
        results.push(result as Result<TData>);
        if (results.length === 1) onFirst?.();
        if (results.length >= count) break;
      }
      resolve(results);
    })().catch(reject);
  });
}

/** A GraphQL answer read as it came: its raw text (to look for what must never appear) and its parsed body. */
export type RawAnswer = { data?: Record<string, any> | null; errors?: { message: string; extensions?: { code?: string } }[] };

/** POSTs a query with a bearer credential and answers the raw text with the parsed body (security tests). */
export async function postRaw(graphqlUrl: string, credential: string, query: string, variables: Record<string, unknown> = {}): Promise<{ text: string; body: RawAnswer }> {
  const response = await fetch(graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${credential}` },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  return { text, body: JSON.parse(text) as RawAnswer };
}

/** "success", or what went wrong with a mutation: the typed error's message, a refused row, or the masked message of a bug. */
export function outcome(answer: Result<Record<string, { __typename: string; message?: string; data?: { failed?: unknown[] } }>>): string {
  if (answer.errors?.length) return `error: ${answer.errors[0]!.message}`;
  const [result] = Object.values(answer.data!);
  if (result!.data?.failed?.length) return `failed rows: ${JSON.stringify(result!.data.failed)}`;
  return result!.__typename.endsWith('Success') ? 'success' : `${result!.__typename}: ${result!.message}`;
}
