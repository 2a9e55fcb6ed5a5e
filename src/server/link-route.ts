import type { IncomingMessage, ServerResponse } from 'node:http';
import { LINK_CODE, LINK_PATH } from '../delivery/short-links.ts';
import type { Herald } from '../herald-context.ts';
import { linkByCode, recordClick } from '../links/service.ts';
import { targetFor } from '../links/targets.ts';
import { deviceOf, isMachine } from '../links/visits.ts';
import { sendPage } from './email-pages.ts';
import type { PublicRateLimit } from './rate-limit.ts';

/**
 * `GET /l/<code>[?m=<message token>]`: a smart link. Redirects (302) to the stored target for the
 * visitor's device; the query string chooses nothing, so no address under Herald's host redirects
 * anywhere a workspace did not store (and createLink checked). A person's click is recorded, with
 * the contact when `m` is a valid token of the link's workspace; machines (HEAD, crawlers, link
 * previews) and an address past the public rate limit are redirected without being counted, so
 * a person behind a busy NAT still gets where the link goes. An unknown code is a 404 page.
 *
 * `no-store`: every click must reach Herald to be counted and routed by device. `no-referrer`: the
 * target never sees the message token in a Referer.
 */
export async function handleLink(herald: Herald, limit: PublicRateLimit, req: IncomingMessage, res: ServerResponse, address: string): Promise<void> {
  const method = req.method ?? 'GET';
  if (method !== 'GET' && method !== 'HEAD') {
    req.resume();
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('Method not allowed');
    return;
  }
  const url = new URL(req.url ?? '/', 'http://herald.invalid');
  const code = url.pathname.slice(LINK_PATH.length);
  const link = LINK_CODE.test(code) ? await linkByCode(herald, code) : null;
  if (!link) {
    sendPage(res, 404, 'This link does not exist', '<p>Check that the whole address was copied.</p>');
    return;
  }
  const userAgent = req.headers['user-agent'];
  const device = deviceOf(userAgent);
  if (!isMachine(method, userAgent) && (await limit.consume(`link:${address}`)).ok) {
    await recordClick(herald, link, { device, token: url.searchParams.get('m') }).catch((error: unknown) => herald.log.warn({ err: error, linkId: link.id }, 'link click not recorded'));
  }
  res
    .writeHead(302, {
      location: targetFor(link, device),
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
      'x-robots-tag': 'noindex',
      vary: 'User-Agent',
    })
    .end();
}
