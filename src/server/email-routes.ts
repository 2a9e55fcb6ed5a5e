import type { IncomingMessage, ServerResponse } from 'node:http';
import { encodeGlobalID } from '@pothos/plugin-relay';
import type { Herald } from '../herald-context.ts';
import { EMAIL_PATHS } from '../delivery/email/links.ts';
import { emailMessageByToken, recordEmailClick, recordEmailOpen, unsubscribeByToken } from '../tracking/email.ts';
import type { Visit } from '../tracking/email-machines.ts';
import { recordEmailReport } from '../tracking/email-reports.ts';
import { principalFor } from './auth.ts';
import { readBodyWithin } from './body.ts';
import { handleConfirmLink } from './confirm-route.ts';
import { invalidLinkPage, sendPage, unsubscribedPage, unsubscribePage } from './email-pages.ts';
import type { PublicRateLimit } from './rate-limit.ts';

/** A transparent 1×1 GIF (42 bytes). */
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
const NO_STORE = { 'cache-control': 'no-store, no-cache, must-revalidate, private, max-age=0', pragma: 'no-cache', expires: '0' };
const TOKEN = /^[A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_-]{1,64}$/;
const MAX_UNSUBSCRIBE_BYTES = 4 * 1024;
/** Bounces usually return headers only or a truncated message; complaints the whole (small) mail. */
export const MAX_REPORT_BYTES = 1024 * 1024;

/**
 * The addresses an email carries (src/delivery/email/links.ts): `/e/o/<token>.gif`,
 * `/e/c/<token>?u=&s=`, `/e/u/<token>`, and the double opt-in's `/e/confirm/<token>`
 * (confirm-route.ts). Answers the route's name, or null when `path` is none.
 *
 * Only clicks are rate limited per address, like /track. Mail providers fetch images (Gmail's and
 * Yahoo's proxies) and send one-click unsubscribes (RFC 8058) for all their users from a few
 * addresses: a limit would drop real opens and, worse, ignore unsubscribes. Those two cost one
 * indexed read per request, and a write only the first time.
 */
export async function handleEmailLink(herald: Herald, limit: PublicRateLimit, req: IncomingMessage, res: ServerResponse, address: string): Promise<string | null> {
  const url = new URL(req.url ?? '/', 'http://herald.invalid');
  const visit: Visit = { method: req.method ?? 'GET', userAgent: req.headers['user-agent'] };
  const tokenAfter = (prefix: string, suffix = '') => {
    const rest = url.pathname.slice(prefix.length);
    const token = rest.endsWith(suffix) ? rest.slice(0, rest.length - suffix.length) : '';
    return TOKEN.test(token) ? token : null;
  };

  if (url.pathname.startsWith(EMAIL_PATHS.open)) {
    if (!readOnly(req, res)) return 'email-open';
    const token = tokenAfter(EMAIL_PATHS.open, '.gif');
    // The same image whatever the token: a caller learns nothing, and a mail never shows a broken image.
    if (token) await recordEmailOpen(herald, token, visit).catch((error: unknown) => herald.log.warn({ err: error }, 'email open not recorded'));
    res.writeHead(200, { ...NO_STORE, 'content-type': 'image/gif', 'content-length': PIXEL.length }).end(PIXEL);
    return 'email-open';
  }

  if (url.pathname.startsWith(EMAIL_PATHS.click)) {
    if (!readOnly(req, res)) return 'email-click';
    const verdict = await limit.consume(`email-click:${address}`);
    if (!verdict.ok) {
      sendPage(res, 429, 'Too many requests', '<p>Please try the link again in a minute.</p>', { 'retry-after': String(verdict.retryAfterSeconds) });
      return 'email-click';
    }
    const token = tokenAfter(EMAIL_PATHS.click);
    const target = url.searchParams.get('u');
    const signature = url.searchParams.get('s');
    const click = token && target && signature ? await recordEmailClick(herald, { token, target, signature }, visit) : { ok: false as const };
    if (!click.ok) invalidLinkPage(res, 400);
    else res.writeHead(302, { ...NO_STORE, location: click.target }).end();
    return 'email-click';
  }

  if (url.pathname.startsWith(EMAIL_PATHS.unsubscribe)) {
    const token = tokenAfter(EMAIL_PATHS.unsubscribe);
    if (req.method === 'POST') {
      const body = await readBodyWithin(req, MAX_UNSUBSCRIBE_BYTES);
      if (body === null) sendPage(res, 413, 'Request too large', '', { connection: 'close' });
      else if (!isOneClickBody(body.toString('utf8'), req.headers['content-type'])) sendPage(res, 400, 'Not an unsubscribe request', '<p>Use the button on the unsubscribe page.</p>');
      else {
        const done = token ? await unsubscribeByToken(herald, token) : null;
        if (done) unsubscribedPage(res, done.sender);
        else invalidLinkPage(res, 404);
      }
      return 'email-unsubscribe';
    }
    if (!readOnly(req, res, 'GET, HEAD, POST')) return 'email-unsubscribe';
    const message = token ? await emailMessageByToken(herald, token) : null;
    if (message) unsubscribePage(res, `${EMAIL_PATHS.unsubscribe}${token}`, message.workspaceName);
    else invalidLinkPage(res, 404);
    return 'email-unsubscribe';
  }
  return handleConfirmLink(herald, req, res, url);
}

/**
 * `POST /email/dsn` with a workspace secret key: a raw RFC 3464 delivery report, RFC 5965
 * complaint, or the mail List-Unsubscribe's mailto: sends. 202 with what it matched and recorded;
 * 400 unparseable; 404 no email of this workspace matches; 401/403 without a secret key; 413 over
 * MAX_REPORT_BYTES.
 */
export async function handleEmailReport(herald: Herald, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'POST') return json(res, 405, { error: 'use POST with the raw report as the body' }, { allow: 'POST' });
  const principal = await principalFor(herald, req.headers.authorization);
  if (principal.kind !== 'secret') {
    req.resume();
    const status = principal.kind === 'none' ? 401 : 403;
    return json(res, status, { error: 'a workspace secret key is required: Authorization: Bearer sk_…' }, { connection: 'close', 'www-authenticate': 'Bearer' });
  }
  const raw = await readBodyWithin(req, MAX_REPORT_BYTES);
  if (raw === null) return json(res, 413, { error: `the report is larger than ${MAX_REPORT_BYTES} bytes` }, { connection: 'close' });
  const result = await recordEmailReport(herald, principal.workspaceId, raw);
  if (result.kind === 'unparseable') {
    return json(res, 400, {
      error: 'not a delivery status notification (multipart/report; report-type=delivery-status), feedback report (report-type=feedback-report) or unsubscribe mail (Subject: unsubscribe)',
    });
  }
  const { report } = result;
  const summary = { kind: report.kind, action: report.action, status: report.status, feedbackType: report.feedbackType };
  if (result.kind === 'unmatched') return json(res, 404, { error: 'no email of this workspace matches the report', ...summary });
  json(res, 202, { message: encodeGlobalID('Message', result.messageId), matchedBy: result.matchedBy, ...summary, feedback: report.feedback, recorded: result.outcome });
}

/** GET and HEAD only (HEAD gets the headers, as Node sends no body for it); else 405. */
function readOnly(req: IncomingMessage, res: ServerResponse, allow = 'GET, HEAD'): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return true;
  req.resume();
  res.writeHead(405, { allow, 'content-type': 'text/plain; charset=utf-8' }).end('Method not allowed');
  return false;
}

/** RFC 8058's `List-Unsubscribe=One-Click` (form-encoded or multipart), or the empty body of a plain form. */
function isOneClickBody(body: string, contentType: string | undefined): boolean {
  if (body.trim() === '') return true;
  if (/^multipart\/form-data/i.test(contentType ?? '')) return /name="?List-Unsubscribe"?\r?\n(?:[^\r\n]+\r?\n)*\r?\nOne-Click\r?\n/i.test(body);
  return new URLSearchParams(body).get('List-Unsubscribe') === 'One-Click';
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
}
