import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { build } from 'esbuild';
import type { Config } from '../config.ts';
import { fromRoot } from '../paths.ts';

/** The browser files Herald serves, compiled from TypeScript once, on first request. */
const SDK_FILES = {
  '/sdk/herald.js': { entry: 'herald.ts', format: 'esm' },
  '/sdk/herald.global.js': { entry: 'herald.ts', format: 'iife' },
  '/sdk/herald-sw.js': { entry: 'herald-sw.ts', format: 'iife' },
  /** The on-site message renderer: herald.js imports it when it has a message to show. */
  '/sdk/herald-in-app.js': { entry: 'in-app.ts', format: 'esm' },
} as const;

type SdkPath = keyof typeof SDK_FILES;
const compiled = new Map<SdkPath, Promise<string>>();

function compile(path: SdkPath): Promise<string> {
  let code = compiled.get(path);
  if (!code) {
    const { entry, format } = SDK_FILES[path];
    code = build({
      entryPoints: [fromRoot('src', 'sdk', entry)],
      bundle: true,
      format,
      minify: true,
      target: 'es2020',
      write: false,
      legalComments: 'none',
    }).then((result) => result.outputFiles[0]!.text);
    compiled.set(path, code);
    code.catch(() => compiled.delete(path)); // a failed build is tried again next time
  }
  return code;
}

/** The demo shop (src/demo): its page and its one-line service worker. */
const DEMO_FILES: Record<string, { file: string; type: string }> = {
  '/demo/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/demo/herald-sw.js': { file: 'herald-sw.js', type: 'text/javascript; charset=utf-8' },
};

export function isBrowserFile(path: string): boolean {
  return path in SDK_FILES || isDemoFile(path);
}

export function isDemoFile(path: string): boolean {
  return path in DEMO_FILES || path === '/demo';
}

/** The demo shop is for trying Herald out, not for a production server: off unless asked for. */
export function demoEnabled(config: Pick<Config, 'NODE_ENV' | 'HERALD_DEMO'>): boolean {
  return config.NODE_ENV === 'development' || config.HERALD_DEMO;
}

/** Serves /sdk/* (any origin may load them) and /demo. */
export async function serveBrowserFile(path: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  if (path in SDK_FILES) {
    const code = await compile(path as SdkPath);
    res.writeHead(200, {
      'content-type': 'text/javascript; charset=utf-8',
      'access-control-allow-origin': '*',
      'cache-control': 'public, max-age=300',
    });
    res.end(req.method === 'HEAD' ? undefined : code);
    return;
  }
  if (path === '/demo') {
    // The page must sit inside its worker's scope (/demo/).
    const query = req.url?.includes('?') ? req.url.slice(req.url.indexOf('?')) : '';
    res.writeHead(301, { location: `/demo/${query}` }).end();
    return;
  }
  const { file, type } = DEMO_FILES[path]!;
  const body = await readFile(fromRoot('src', 'demo', file));
  res.writeHead(200, { 'content-type': type, 'cache-control': 'no-cache' });
  res.end(req.method === 'HEAD' ? undefined : body);
}
