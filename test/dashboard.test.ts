import { readdir } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { fromRoot } from '../src/paths.ts';
import { useHerald } from './kit/fixture.ts';

// test/global-setup.ts runs `npm run build`, which builds the dashboard into dist/app.
const h = useHerald({}, { push: false });

const page = (path: string, headers: Record<string, string> = {}) => fetch(`${h.kit.url}${path}`, { redirect: 'manual', headers });
const BROWSER = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

describe('the dashboard at /app', () => {
  it('serves index.html for /app/ and every client route, never cached, under a strict CSP', async () => {
    for (const path of ['/app/', '/app/campaigns', '/app/campaigns/Q2FtcGFpZ246eA/edit', '/app/settings']) {
      const response = await page(path);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(response.headers.get('cache-control')).toBe('no-cache');
      const csp = response.headers.get('content-security-policy')!;
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
      expect(csp).toContain("frame-ancestors 'none'");
      const html = await response.text();
      expect(html).toMatch(/<script type="module" src="\/app\/assets\/main-\w+\.js"><\/script>/);
      expect(html).not.toMatch(/<script>|<script type="module">/); // no inline script
    }
    expect((await page('/app')).headers.get('location')).toBe('/app/');
  });

  it('serves the hashed script and stylesheet gzipped for a year, and nothing else under assets', async () => {
    const html = await (await page('/app/')).text();
    const script = /src="(\/app\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const styles = /href="(\/app\/assets\/[^"]+\.css)"/.exec(html)![1]!;
    const js = await page(script, { 'accept-encoding': 'gzip' });
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(js.headers.get('content-encoding')).toBe('gzip');
    expect((await js.text()).length).toBeGreaterThan(1000); // fetch gunzips it
    expect((await page(styles)).headers.get('content-type')).toBe('text/css; charset=utf-8');
    const built = await readdir(fromRoot('dist', 'app', 'assets'));
    expect(built.some((name) => name.endsWith('.js.gz'))).toBe(true);
    for (const path of ['/app/assets/nope-123.js', '/app/assets/..%2F..%2Fpackage.json', '/app/assets/main.js%00.css', '/app/assets/main.js.gz']) {
      expect((await page(path)).status, path).toBe(404);
    }
    expect((await fetch(`${h.kit.url}/app/`, { method: 'POST' })).status).toBe(405);
  });

  it('sends a browser opening / or /graphql to /app, and leaves API clients their answers', async () => {
    for (const path of ['/', '/graphql']) {
      const response = await page(path, BROWSER);
      expect(response.status, path).toBe(302);
      expect(response.headers.get('location')).toBe('/app/');
    }
    // A GraphQL GET with a query, and a client that does not ask for HTML, are not redirected.
    const get = await page('/graphql?query=%7B__typename%7D', { accept: 'application/graphql-response+json' });
    expect(get.status).not.toBe(302);
    expect((await page('/graphql', { accept: 'application/json' })).status).not.toBe(302);
    expect((await page('/')).status).toBe(404);
  });
});
