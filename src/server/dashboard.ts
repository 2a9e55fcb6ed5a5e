import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fromRoot } from '../paths.ts';

/**
 * The dashboard's files, built by `npm run build` (src/dashboard/build.mjs) into dist/app. Pages
 * load only scripts and styles from here and talk only to this origin: no inline script, no
 * framing. Inline styles are allowed for the email preview, whose mail HTML carries its own.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' https: data:",
  "font-src 'self'",
  "connect-src 'self'",
  "frame-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const HEADERS = {
  'content-security-policy': DASHBOARD_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

/** /app, /app/ and every client route under it answer index.html; /app/assets/* the hashed files. */
export function isDashboardPath(path: string): boolean {
  return path === '/app' || path.startsWith('/app/');
}

export async function serveDashboard(path: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  if (path === '/app') {
    res.writeHead(301, { location: '/app/' }).end();
    return;
  }
  const asset = /^\/app\/assets\/([\w-]+(\.js|\.css))$/.exec(path);
  if (asset) {
    // Hashed names: a file under a name never changes, so browsers keep it for a year.
    const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const body = await readFile(fromRoot('dist', 'app', 'assets', gzip ? `${asset[1]}.gz` : asset[1]!)).catch(() => undefined);
    if (!body) return notFound(res);
    res.writeHead(200, {
      ...HEADERS,
      'content-type': TYPES[asset[2]!]!,
      'cache-control': 'public, max-age=31536000, immutable',
      vary: 'Accept-Encoding',
      ...(gzip ? { 'content-encoding': 'gzip' } : {}),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return;
  }
  if (path.startsWith('/app/assets/')) return notFound(res);
  const page = await readFile(fromRoot('dist', 'app', 'index.html')).catch(() => undefined);
  if (!page) {
    res.writeHead(503, { ...HEADERS, 'content-type': 'text/plain; charset=utf-8' });
    res.end('The dashboard is not built: run `npm run build` (npm start does).\n');
    return;
  }
  // Always asked again, so a new build's script names reach the browser at once.
  res.writeHead(200, { ...HEADERS, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' });
  res.end(req.method === 'HEAD' ? undefined : page);
}

/** A person's browser asking for a page (a top-level navigation), not an API client. */
export function wantsPage(req: IncomingMessage): boolean {
  return req.method === 'GET' && /\btext\/html\b/.test(String(req.headers.accept ?? '')) && !(req.url ?? '').includes('?');
}

function notFound(res: ServerResponse): void {
  res.writeHead(404, { ...HEADERS, 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
}
