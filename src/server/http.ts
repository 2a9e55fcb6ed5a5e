import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { YogaServerInstance } from 'graphql-yoga';
import type { Context } from '../graphql/context.ts';
import type { Herald } from '../herald-context.ts';
import { demoEnabled, isBrowserFile, isDemoFile, serveBrowserFile } from '../sdk/serve.ts';
import { handleDemoIdentityToken } from './demo-identity.ts';
import { principalFor, rememberPrincipal } from './auth.ts';
import { readBodyWithin } from './body.ts';
import { clientAddress, clientKey } from './client-address.ts';
import { isDashboardPath, serveDashboard, wantsPage } from './dashboard.ts';
import { handleEmailLink, handleEmailReport } from './email-routes.ts';
import { handleAnswerLink } from './feedback-routes.ts';
import { answerPageOperation } from './page-operations.ts';
import { handleLink } from './link-route.ts';
import { LINK_PATH } from '../delivery/short-links.ts';
import { handleSmsCallback } from './sms-routes.ts';
import { httpDuration, httpRequests, mayReadMetrics, metricsOf, registry } from './metrics.ts';
import type { PublicRateLimit } from './rate-limit.ts';
import { handleTrack } from './track.ts';

export interface HttpOptions {
  herald: Herald;
  /** Absent for the worker role, which serves only health and metrics. */
  yoga: YogaServerInstance<any, Context> | undefined;
  /** Answers /readyz: whether this instance should get traffic now. */
  ready: () => Promise<boolean>;
  /** Limits tracking beacons per address. */
  publicRateLimit: PublicRateLimit;
}

class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`Request body is larger than ${limit} bytes`);
  }
}

/**
 * Routes: /graphql (Yoga), /track (service worker beacons), an email's /e/o/ /e/c/ /e/u/ links,
 * its one-tap answers /f/<token>/<answer>, and POST /email/dsn (bounce and complaint reports), POST /sms/status/… and /sms/inbound/…
 * (the SMS provider's callbacks), smart links at /l/<code>, /sdk/* and /demo (with its
 * development-only /demo/identity-token), the dashboard at /app (where a browser opening / or,
 * outside development, /graphql is sent), /healthz, /readyz, /metrics. Request bodies are capped:
 * HERALD_MAX_BODY_BYTES for a secret key or the admin token, HERALD_MAX_PUBLIC_BODY_BYTES for anyone
 * else, decided before the body is read.
 */
export function createHttpServer({ herald, yoga, ready, publicRateLimit }: HttpOptions): Server {
  const { config } = herald;
  const serveDemo = demoEnabled(config);
  // In development /graphql shows GraphiQL to a browser instead.
  const pageAtGraphql = config.NODE_ENV !== 'development';

  async function route(req: IncomingMessage, res: ServerResponse): Promise<string> {
    const path = (req.url ?? '/').split('?')[0];
    switch (path) {
      case '/healthz':
        sendJson(res, 200, { status: 'ok' });
        return 'healthz';
      case '/readyz': {
        const ok = await ready().catch(() => false);
        sendJson(res, ok ? 200 : 503, { status: ok ? 'ready' : 'unavailable' });
        return 'readyz';
      }
      case '/metrics':
        if (!mayReadMetrics({ address: clientAddress(config, req), authorization: req.headers.authorization, token: config.HERALD_METRICS_TOKEN })) {
          sendJson(res, 403, { error: 'metrics are served to this machine, or with Authorization: Bearer $HERALD_METRICS_TOKEN' });
          return 'metrics';
        }
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(await metricsOf(herald));
        return 'metrics';
      case '/':
        if (!yoga || !wantsPage(req)) break;
        res.writeHead(302, { location: '/app/' }).end();
        return 'dashboard';
      case '/graphql': {
        if (!yoga) break;
        if (pageAtGraphql && wantsPage(req)) {
          res.writeHead(302, { location: '/app/' }).end();
          return 'dashboard';
        }
        if (req.method === 'POST') {
          // Find the caller first (one indexed lookup) so only a real secret key may send a large
          // body; then read the body ourselves so an oversized one is refused before any parsing.
          // Yoga's node adapter uses a body that is already there.
          const principal = await principalFor(herald, req.headers.authorization);
          rememberPrincipal(req, principal);
          const trusted = principal.kind === 'secret' || principal.kind === 'admin';
          const body = await readBody(req, trusted ? config.HERALD_MAX_BODY_BYTES : config.HERALD_MAX_PUBLIC_BODY_BYTES);
          if (principal.kind === 'publishable' && (await answerPageOperation(yoga, req, res, body))) return 'graphql';
          (req as IncomingMessage & { body?: Buffer }).body = body;
        }
        await yoga.requestListener(req, res);
        return 'graphql';
      }
      case '/track':
        if (!yoga) break;
        await handleTrack(herald, publicRateLimit, req, res, clientKey(config, req));
        return 'track';
      case '/email/dsn':
        if (!yoga) break;
        await handleEmailReport(herald, req, res);
        return 'email-dsn';
      case '/demo/identity-token':
        if (!yoga || !serveDemo) break;
        await handleDemoIdentityToken(herald, req, res);
        return 'demo';
    }
    if (yoga && isDashboardPath(path!)) {
      await serveDashboard(path!, req, res);
      return 'dashboard';
    }
    const sms = yoga && path!.startsWith('/sms/') ? await handleSmsCallback(herald, req, res, path!) : null;
    if (sms) return sms;
    const email = yoga && path!.startsWith('/e/') ? await handleEmailLink(herald, publicRateLimit, req, res, clientKey(config, req)) : null;
    if (email) return email;
    if (yoga && path!.startsWith(LINK_PATH)) {
      await handleLink(herald, publicRateLimit, req, res, clientKey(config, req));
      return 'link';
    }
    if (yoga && path!.startsWith('/f/')) {
      await handleAnswerLink(herald, publicRateLimit, req, res, clientKey(config, req));
      return 'feedback';
    }
    if (yoga && isBrowserFile(path!) && (serveDemo || !isDemoFile(path!))) {
      await serveBrowserFile(path!, req, res);
      return path!.startsWith('/sdk/') ? 'sdk' : 'demo';
    }
    sendJson(res, 404, { error: 'not found' });
    return 'other';
  }

  return createServer((req, res) => {
    const stop = httpDuration.startTimer();
    route(req, res)
      .then((name) => {
        stop({ route: name });
        httpRequests.inc({ route: name, status: res.statusCode });
      })
      .catch((error: unknown) => {
        if (error instanceof BodyTooLarge) {
          res.setHeader('connection', 'close');
          sendJson(res, 413, { errors: [{ message: error.message }] });
          req.resume();
        } else {
          herald.log.error({ err: error }, 'request failed');
          if (!res.headersSent) sendJson(res, 500, { errors: [{ message: 'Unexpected error.' }] });
          else res.destroy();
        }
        httpRequests.inc({ route: 'error', status: res.statusCode });
      });
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const body = await readBodyWithin(req, limit);
  if (!body) throw new BodyTooLarge(limit);
  return body;
}
