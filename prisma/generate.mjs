// `postinstall`: generates src/generated/prisma (Prisma Client) and src/generated/pothos-types.ts
// from prisma/schema.prisma, offline and without a database (see prisma/prisma.mjs).
import { createRequire } from 'node:module';
import { runPrisma } from './prisma.mjs';

try {
  createRequire(import.meta.url).resolve('prisma/build/index.js');
} catch {
  // `npm install --omit=dev` has no Prisma CLI: say so rather than fail the whole install.
  console.warn('prisma/generate.mjs: the `prisma` devDependency is not installed; src/generated was not generated.');
  process.exit(0);
}

process.exitCode = await runPrisma(['generate']);
