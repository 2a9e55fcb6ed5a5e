import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // Node loads graphql's CommonJS build for Yoga and Pothos; Vite would hand our own files the
    // .mjs build, and graphql-js refuses to mix two copies of itself.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['test/**/*.test.ts'],
    // Real-browser tests need Firefox and Chromium installed: `npm run test:browser`.
    exclude: ['test/browser/**', '**/node_modules/**'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each file starts its own Herald servers; two cores do not gain from more parallel files.
    maxWorkers: 2,
  },
});
