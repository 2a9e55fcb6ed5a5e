import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Herald's folder (the one holding package.json): files Herald reads at run time (migrations, the
 * SDK's sources, the demo) are found from it, whether this code runs from src/ as TypeScript or
 * bundled into dist/ by `npm start`.
 */
export const ROOT = rootOf(path.dirname(fileURLToPath(import.meta.url)));

function rootOf(dir: string): string {
  for (let current = dir; ; current = path.dirname(current)) {
    if (existsSync(path.join(current, 'package.json'))) return current;
    if (path.dirname(current) === current) throw new Error(`no package.json above ${dir}`);
  }
}

/** A path inside Herald's folder, e.g. `fromRoot('prisma', 'migrations')`. */
export const fromRoot = (...parts: string[]) => path.join(ROOT, ...parts);
