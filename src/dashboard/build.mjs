// Builds the dashboard (src/dashboard) into dist/app: one hashed script and stylesheet, each also
// gzipped, and an index.html naming them. Run by `npm run build` (so by `npm start` and the tests).
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const outdir = path.join(root, 'dist', 'app');

export async function buildDashboard() {
  await rm(outdir, { recursive: true, force: true });
  const result = await build({
    entryPoints: [path.join(root, 'src', 'dashboard', 'main.tsx')],
    bundle: true,
    format: 'esm',
    minify: true,
    target: 'es2022',
    jsx: 'automatic',
    define: { 'process.env.NODE_ENV': '"production"' },
    outdir: path.join(outdir, 'assets'),
    entryNames: '[name]-[hash]',
    legalComments: 'none',
    metafile: true,
    write: false,
    logLevel: 'warning',
  });
  await mkdir(path.join(outdir, 'assets'), { recursive: true });
  const names = {};
  for (const file of result.outputFiles) {
    await writeFile(file.path, file.contents);
    await writeFile(`${file.path}.gz`, gzipSync(file.contents, { level: 9 }));
    names[path.extname(file.path)] = path.basename(file.path);
  }
  // No inline script or style: the server's Content-Security-Policy allows only files from /app.
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Herald</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/app/assets/${names['.css']}">
<script type="module" src="/app/assets/${names['.js']}"></script>
</head>
<body>
<div id="root"></div>
<noscript>The Herald dashboard needs JavaScript.</noscript>
</body>
</html>
`;
  await writeFile(path.join(outdir, 'index.html'), html);
  const js = result.outputFiles.find((file) => file.path.endsWith('.js'));
  return { js: js.contents.length, jsGzip: gzipSync(js.contents, { level: 9 }).length };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildDashboard();
