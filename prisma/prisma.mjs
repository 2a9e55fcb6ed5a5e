// `npm run prisma -- <args>`: the Prisma CLI, made to work offline.
// - PRISMA_SCHEMA_ENGINE_BINARY points at prisma/schema-engine.mjs (the wasm schema engine), so the
//   CLI neither downloads its native engine nor silently does nothing without it.
// - CHECKPOINT_DISABLE / PRISMA_HIDE_UPDATE_MESSAGE stop the telemetry and update-check requests.
// - `--config prisma/prisma.config.ts` is added unless given, so it works from any directory.
// - node_modules/.bin joins PATH, where generators such as `prisma-pothos-types` live, also when run
//   with plain `node` rather than through npm.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

export const prismaEnv = {
  PRISMA_SCHEMA_ENGINE_BINARY: path.join(here, 'schema-engine.mjs'),
  CHECKPOINT_DISABLE: '1',
  PRISMA_HIDE_UPDATE_MESSAGE: '1',
};

/** Runs the Prisma CLI with `args`, inheriting stdio; resolves to its exit code. */
export function runPrisma(args) {
  const hasConfig = args.some((arg) => arg === '--config' || arg.startsWith('--config='));
  const configArgs = hasConfig ? [] : ['--config', path.join(here, 'prisma.config.ts')];
  const child = spawn(process.execPath, [require.resolve('prisma/build/index.js'), ...args, ...configArgs], {
    stdio: 'inherit',
    env: {
      ...process.env,
      ...prismaEnv,
      PATH: [path.join(here, '..', 'node_modules', '.bin'), process.env.PATH].filter(Boolean).join(path.delimiter),
    },
  });
  // Ctrl-C reaches the CLI too (same process group): wait for it to finish instead of dying first.
  const ignore = () => {};
  process.on('SIGINT', ignore);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      process.off('SIGINT', ignore);
      resolve(code ?? 128 + (constants.signals[signal] ?? 0));
    });
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await runPrisma(process.argv.slice(2));
}
