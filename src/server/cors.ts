import type { Plugin } from 'graphql-yoga';

/**
 * Any web page may call the API, and none with the visitor's cookies: Herald authenticates with
 * bearer keys only, so `*` without credentials gives pages everything they need and nothing more.
 * Yoga's own CORS (which reflects the Origin and allows credentials) is turned off for this.
 */
export function openCors(): Plugin {
  return {
    onRequest({ request, endResponse, fetchAPI }) {
      if (request.method === 'OPTIONS') endResponse(new fetchAPI.Response(null, { status: 204, headers: { 'content-length': '0' } }));
    },
    onResponse({ request, response }) {
      response.headers.set('access-control-allow-origin', '*');
      if (request.method !== 'OPTIONS') return;
      response.headers.set('access-control-allow-methods', 'GET, POST, OPTIONS');
      response.headers.set('access-control-allow-headers', request.headers.get('access-control-request-headers') ?? 'authorization, content-type, accept');
      response.headers.set('access-control-max-age', '86400');
      response.headers.set('vary', 'Access-Control-Request-Headers');
    },
  };
}
