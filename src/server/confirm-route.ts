import type { IncomingMessage, ServerResponse } from 'node:http';
import { CONFIRM_PATH } from '../delivery/email/confirm-link.ts';
import { confirmationByToken, confirmByToken } from '../delivery/email/confirm.ts';
import type { Herald } from '../herald-context.ts';
import { escapeHtml, invalidLinkPage, sendPage } from './email-pages.ts';

const TOKEN = /^[A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_-]{1,64}$/;

/**
 * `/e/confirm/<token>`, the double opt-in link (src/delivery/email/confirm-link.ts). GET shows a
 * Confirm button and changes nothing: mail security scanners follow every link in a message, and
 * must not subscribe anyone. The button POSTs back to the same address, which confirms (again:
 * the same page, nothing more). A malformed, forged or changed-address link is 404; an expired
 * one, or one an opt-out, bounce or complaint since has overtaken, 410. Answers the route's name,
 * or null when `url` is not this route.
 */
export async function handleConfirmLink(herald: Herald, req: IncomingMessage, res: ServerResponse, url: URL): Promise<string | null> {
  if (!url.pathname.startsWith(CONFIRM_PATH)) return null;
  const rest = url.pathname.slice(CONFIRM_PATH.length);
  const token = TOKEN.test(rest) ? rest : null;

  if (req.method === 'POST') {
    // The form sends nothing worth reading: the token in the address is the whole request.
    req.resume();
    const { link, outcome } = token ? await confirmByToken(herald, token) : { link: { kind: 'invalid' as const }, outcome: null };
    if (link.kind === 'invalid' || outcome === 'not-found') invalidLinkPage(res, 404);
    else if (link.kind === 'expired' || outcome === 'refused') noLongerValidPage(res, link.sender);
    else confirmedPage(res, link.sender);
    return 'email-confirm';
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    req.resume();
    res.writeHead(405, { allow: 'GET, HEAD, POST', 'content-type': 'text/plain; charset=utf-8' }).end('Method not allowed');
    return 'email-confirm';
  }
  const link = token ? await confirmationByToken(herald, token) : { kind: 'invalid' as const };
  if (link.kind === 'invalid') invalidLinkPage(res, 404);
  else if (link.kind === 'expired') noLongerValidPage(res, link.sender);
  else confirmPage(res, `${CONFIRM_PATH}${token}`, link.sender);
  return 'email-confirm';
}

function confirmPage(res: ServerResponse, action: string, sender: string): void {
  sendPage(
    res,
    200,
    'Confirm your subscription',
    `<p>Do you want to receive emails from <strong>${escapeHtml(sender)}</strong>?</p>` +
      `<form method="post" action="${escapeHtml(action)}"><button type="submit">Confirm</button></form>`,
  );
}

function confirmedPage(res: ServerResponse, sender: string): void {
  sendPage(res, 200, 'Subscription confirmed', `<p>Thank you: you will receive emails from <strong>${escapeHtml(sender)}</strong>.</p>`);
}

function noLongerValidPage(res: ServerResponse, sender: string): void {
  sendPage(
    res,
    410,
    'This link is no longer valid',
    `<p>This confirmation link has expired or was replaced. To receive emails from <strong>${escapeHtml(sender)}</strong>, sign up again.</p>`,
  );
}
