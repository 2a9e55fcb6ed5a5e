import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { NotFoundError, ValidationError } from '../errors.ts';
import type { Herald } from '../herald-context.ts';
import { ANSWER_PATH, answerLabel } from '../feedback/email.ts';
import { answersOf, type Question } from '../feedback/question.ts';
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
  if (req.method === 'POST') return link.answer === null ? invalidLinkPage(res, 404) : recordAnswer(herald, req, res, { token: link.token, answer: link.answer });

  const message = await askedMessageOf(herald, link.token);
  if (!message?.question) return invalidLinkPage(res, 404);
  if (link.answer !== null && !answersOf(message.question).includes(link.answer)) return notAnAnswer(res);
  if (message.answeredAt) return sendPage(res, 200, 'Thank you', '<p>Your answer is already recorded.</p>');
  if (link.answer === null) return answerPage(res, link.path, message.question);
  const label = escapeHtml(answerLabel(message.question, link.answer));
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

/**
 * `/f/<token>`: every answer of the question, each a button posting it (no script), for a push
 * whose question has more answers than a notification has buttons (feedback/push.ts).
 */
function answerPage(res: ServerResponse, path: string, question: Question): void {
  const buttons = answersOf(question)
    .map((answer) => `<form method="post" action="${escapeHtml(`${path}/${encodeURIComponent(answer)}`)}" style="display:inline"><button type="submit" title="${escapeHtml(answer)}">${escapeHtml(answerLabel(question, answer))}</button></form>`)
    .join(' ');
  const ends = question.kind === 'NPS' ? '<p>0 = not at all likely, 10 = extremely likely</p>' : '';
  sendPage(res, 200, 'Your answer', `<p>${escapeHtml(question.text)}</p><div>${buttons}</div>${ends}`, { 'content-security-policy': PAGE_POLICY });
}

function notAnAnswer(res: ServerResponse): void {
  sendPage(res, 400, 'This answer is not one of the choices', '<p>Use one of the buttons in the email.</p>');
}

/** `/f/<token>/<answer>`'s parts (answer null for the answer page, `/f/<token>`), or null when the address is not one. */
function parseLink(url: string): { token: string; answer: string | null; path: string } | null {
  const path = url.split('?')[0]!;
  const [token, encoded, ...rest] = path.slice(ANSWER_PATH.length).split('/');
  if (!token || !TOKEN.test(token) || rest.length) return null;
  if (encoded === undefined) return { token, answer: null, path };
  try {
    const answer = decodeURIComponent(encoded);
    return answer && answer.length <= MAX_ANSWER_CHARS ? { token, answer, path } : null;
  } catch {
    return null;
  }
}
