import type { IncomingMessage, ServerResponse } from 'node:http';
import { NotFoundError, ValidationError } from '../errors.ts';
import type { Herald } from '../herald-context.ts';
import { answerQuestion } from '../tracking/answers.ts';
import { type MessageEventType, MessageEventTypes, recordMessageEvent } from '../tracking/service.ts';
import { readBodyWithin } from './body.ts';
import type { PublicRateLimit } from './rate-limit.ts';

const MAX_BEACON_BYTES = 2048;
const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'POST, OPTIONS',
  'access-control-allow-headers': 'content-type',
  'access-control-max-age': '86400',
};

/**
 * `POST /track { token, type }`: the service worker's beacon, from any origin (CORS). Accepts
 * JSON with any content type, as `navigator.sendBeacon` sends text/plain. Answers 204, or 400 for
 * a malformed beacon, 404 for a token that is not Herald's, 429 when one address (the client's,
 * as http.ts finds it) sends too many. `{ token, answer }` answers the push's question (a click on
 * one of its answer buttons), as answerQuestion does; 400 for an answer the question does not offer.
 */
export async function handleTrack(herald: Herald, limit: PublicRateLimit, req: IncomingMessage, res: ServerResponse, address: string): Promise<void> {
  if (req.method === 'OPTIONS') return void res.writeHead(204, CORS).end();
  if (req.method !== 'POST') return reply(res, 405, { error: 'use POST' });
  const verdict = await limit.consume(`track:${address}`);
  if (!verdict.ok) return reply(res, 429, { error: 'too many beacons from this address' }, { 'retry-after': String(verdict.retryAfterSeconds) });

  const body = (await readBodyWithin(req, MAX_BEACON_BYTES))?.toString('utf8') ?? null;
  let beacon: { token?: unknown; type?: unknown; answer?: unknown };
  try {
    beacon = body === null ? {} : (JSON.parse(body) as typeof beacon);
  } catch {
    return reply(res, 400, { error: 'the body must be JSON: { "token": "…", "type": "DISPLAYED" | "CLICKED" | "CLOSED" }' });
  }
  const answer = typeof beacon?.token === 'string' && typeof beacon.answer === 'string' ? { token: beacon.token, answer: beacon.answer } : null;
  if (!answer && (typeof beacon?.token !== 'string' || !MessageEventTypes.includes(beacon.type as MessageEventType))) {
    return reply(res, 400, { error: 'expected { "token": "…", "type": "DISPLAYED" | "CLICKED" | "CLOSED" } or { "token": "…", "answer": "…" }' });
  }
  try {
    if (answer) await answerQuestion(herald, answer);
    else await recordMessageEvent(herald, { token: beacon.token as string, type: beacon.type as MessageEventType });
    res.writeHead(204, CORS).end();
  } catch (error) {
    if (error instanceof NotFoundError) return reply(res, 404, { error: error.message });
    if (error instanceof ValidationError) return reply(res, 400, { error: error.message });
    throw error;
  }
}

function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...CORS, ...headers, 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
}
