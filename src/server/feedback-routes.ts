import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { NotFoundError, ValidationError } from '../errors.ts';
import type { Herald } from '../herald-context.ts';
import { ANSWER_PATH, answerLabel } from '../feedback/email.ts';
import { answersOf } from '../feedback/question.ts';
import { answerQuestion, askedMessageOf } from '../tracking/answers.ts';
import { readBodyWithin } from './body.ts';
import { escapeHtml, invalidLinkPage, sendPage } from './email-pages.ts';
import type { PublicRateLimit } from './rate-limit.ts';

const TOKEN = /^[A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_-]{1,64}$/;
const MAX_ANSWER_CHARS = 200;
const MAX_BODY_BYTES = 1024;

/**
 * The page posts itself at once. Its one script is allowed by its hash, so the page keeps the
 * email pages' policy (nothing else runs, nothing is loaded); without script the button posts.
 */
const SUBMIT_SCRIPT = "document.getElementById('answer').submit();";
const PAGE_POLICY = `default-src 'none'; script-src 'sha256-${createHash('sha256').update(SUBMIT_SCRIPT).digest('base64')}'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`;

/**
 * An email's one-tap answer, `/f/<token>/<answer>` (feedback/email.ts). A GET (which link scanners
 * and mail gateways send for every link) records nothing: it answers a page whose form posts the
 * answer back to the same address. The POST records it as answerQuestion does, once per message.
 * Both are rate limited per address, like an email's tracked links.
 */
export async function handleAnswerLink(herald: Herald, limit: PublicRateLimit, req: IncomingMessage, res: ServerResponse, address: string): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'POST') {
    req.resume();
    return void res.writeHead(405, { allow: 'GET, HEAD, POST', 'content-type': 'text/plain; charset=utf-8' }).end('Method not allowed');
  }
  const verdict = await limit.consume(`feedback:${address}`);
  if (!verdict.ok) {
    req.resume();
    return sendPage(res, 429, 'Too many requests', '<p>Please try again in a minute.</p>', { 'retry-after': String(verdict.retryAfterSeconds) });
  }
  const link = parseLink(req.url ?? '/');
  if (!link) return invalidLinkPage(res, 404);
  if (req.method === 'POST') return recordAnswer(herald, req, res, link);

  const message = await askedMessageOf(herald, link.token);
  if (!message?.question) return invalidLinkPage(res, 404);
  if (!answersOf(message.question).includes(link.answer)) return notAnAnswer(res);
  const label = escapeHtml(answerLabel(message.question, link.answer));
  if (message.answeredAt) return sendPage(res, 200, 'Thank you', '<p>Your answer is already recorded.</p>');
  sendPage(
    res,
    200,
    'Your answer',
    `<p>${escapeHtml(message.question.text)}</p><form id="answer" method="post" action="${escapeHtml(link.path)}"><button type="submit">Send my answer: ${label}</button></form><script>${SUBMIT_SCRIPT}</script>`,
    { 'content-security-policy': PAGE_POLICY },
  );
}

async function recordAnswer(herald: Herald, req: IncomingMessage, res: ServerResponse, link: { token: string; answer: string }): Promise<void> {
  // The form has no fields: the address says everything. A large body is refused unread.
  if ((await readBodyWithin(req, MAX_BODY_BYTES)) === null) return sendPage(res, 413, 'Request too large', '', { connection: 'close' });
  try {
    await answerQuestion(herald, link);
  } catch (error) {
    if (error instanceof NotFoundError) return invalidLinkPage(res, 404);
    if (error instanceof ValidationError) return notAnAnswer(res);
    throw error;
  }
  sendPage(res, 200, 'Thank you', '<p>Your answer is recorded.</p>');
}

function notAnAnswer(res: ServerResponse): void {
  sendPage(res, 400, 'This answer is not one of the choices', '<p>Use one of the buttons in the email.</p>');
}

/** `/f/<token>/<answer>`'s parts, or null when the address is not one. */
function parseLink(url: string): { token: string; answer: string; path: string } | null {
  const path = url.split('?')[0]!;
  const [token, encoded, ...rest] = path.slice(ANSWER_PATH.length).split('/');
  if (!token || !TOKEN.test(token) || encoded === undefined || rest.length) return null;
  try {
    const answer = decodeURIComponent(encoded);
    return answer && answer.length <= MAX_ANSWER_CHARS ? { token, answer, path } : null;
  } catch {
    return null;
  }
}
