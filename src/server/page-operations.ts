import type { IncomingMessage, ServerResponse } from 'node:http';
import { getOperationAST } from 'graphql';
import { isAsyncIterable, processRegularResult, type YogaServerInstance } from 'graphql-yoga';
import type { Context } from '../graphql/context.ts';

/** The POST body Yoga accepts as one operation: these keys only, each of its type. */
interface Params {
  query: string;
  variables?: Record<string, unknown> | null;
  operationName?: string | null;
  extensions?: Record<string, unknown> | null;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** One operation in the shape Yoga accepts without complaint, or undefined for Yoga to answer. */
function paramsOf(body: Buffer): Params | undefined {
  let params: unknown;
  try {
    params = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isObject(params) || typeof params.query !== 'string') return undefined;
  for (const [key, value] of Object.entries(params)) {
    if (value == null || key === 'query') continue;
    if ((key === 'variables' || key === 'extensions') && isObject(value)) continue;
    if (key === 'operationName' && typeof value === 'string') continue;
    return undefined;
  }
  return params as unknown as Params;
}

/** A Response-shaped capture for processRegularResult: the body and status it would send. */
class Captured {
  constructor(
    readonly body: string,
    readonly init: { status: number; headers: Record<string, string> },
  ) {}
}

/**
 * A page's call, lighter (issue #24): a publishable key's JSON POST of a query or mutation runs
 * through Yoga's own envelop — the same parse and validation caches, context, plugins (rate limit,
 * public surface, text checks, masking, metrics) and JSON answer — but without the Fetch-API
 * request, headers, abort signal and response objects Yoga's HTTP layer builds for every call,
 * which cost a single browser call more than its share of the batch it joins. Answers false,
 * having sent nothing, for anything Yoga must answer itself: another content type or Accept, a
 * body Yoga would refuse, a document that fails to parse or validate, a subscription.
 */
export async function answerPageOperation(yoga: YogaServerInstance<any, Context>, req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<boolean> {
  if (!/^application\/json\s*(;\s*charset=utf-8\s*)?$/i.test(req.headers['content-type'] ?? '')) return false;
  const accept = req.headers.accept;
  if (accept !== undefined && accept !== '*/*' && !/^application\/json\s*(;\s*charset=utf-8\s*)?$/i.test(accept)) return false;
  const params = paramsOf(body);
  if (!params) return false;
  // Yoga's context function finds the caller http.ts remembered for `req`; `request` stands in
  // for the Fetch request no plugin of a query or mutation reads.
  const enveloped = yoga.getEnveloped({ req, params, request: { headers: new Headers() } });
  let document;
  try {
    document = enveloped.parse(params.query);
  } catch {
    return false;
  }
  if (enveloped.validate(enveloped.schema, document).length) return false;
  const operation = getOperationAST(document, params.operationName);
  if (!operation || operation.operation === 'subscription') return false;
  const result = await enveloped.execute({
    schema: enveloped.schema,
    document,
    contextValue: await enveloped.contextFactory(),
    variableValues: params.variables,
    operationName: params.operationName,
  });
  if (isAsyncIterable(result)) throw new Error('a query or mutation answered a stream');
  const answer = processRegularResult(result, { Response: Captured } as never, 'application/json') as unknown as Captured;
  res.writeHead(answer.init.status, { ...answer.init.headers, 'access-control-allow-origin': '*', 'content-length': Buffer.byteLength(answer.body) });
  res.end(answer.body);
  return true;
}
