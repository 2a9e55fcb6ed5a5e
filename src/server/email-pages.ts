import type { ServerResponse } from 'node:http';

/**
 * The few pages a person sees from an email's links: self-contained (no script, no outside
 * asset), every dynamic value escaped, and a policy that forbids anything else.
 */
const HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const STYLE = 'body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}button{font:inherit;padding:.5rem 1.25rem;cursor:pointer}';

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** `body` is HTML the caller built with escapeHtml around every value. */
export function sendPage(res: ServerResponse, status: number, title: string, body: string, headers: Record<string, string> = {}): void {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
  res.writeHead(status, { ...HEADERS, ...headers }).end(html);
}

/** The unsubscribe link's page: a form posting the RFC 8058 body back to the same address. */
export function unsubscribePage(res: ServerResponse, action: string, sender: string): void {
  sendPage(
    res,
    200,
    'Unsubscribe',
    `<p>Stop receiving emails from <strong>${escapeHtml(sender)}</strong>?</p>` +
      `<form method="post" action="${escapeHtml(action)}"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe</button></form>`,
  );
}

export function unsubscribedPage(res: ServerResponse, sender: string): void {
  sendPage(res, 200, 'You are unsubscribed', `<p>You will no longer receive these emails from <strong>${escapeHtml(sender)}</strong>.</p>`);
}

export function invalidLinkPage(res: ServerResponse, status: 400 | 404): void {
  sendPage(res, status, 'This link is not valid', '<p>The link may be incomplete: try copying the whole address from the email.</p>');
}
