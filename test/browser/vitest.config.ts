import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

/** Real-browser tests only (`*.browser.test.ts`): one file at a time, generous timeouts for browser start-up. */
export default defineConfig({
  resolve: {
    // As in test/vitest.config.ts: one copy of graphql (its CommonJS build) for Yoga, Pothos and us.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/browser/**/*.browser.test.ts'],
    // Herald under test gets a fresh database on the run's PostgreSQL, as in the main suite.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // expect.poll waits for a page to catch up: 1 s (the default) is short on a busy machine.
    expect: { poll: { timeout: 15_000 } },
    // A browser, a D-Bus daemon and a push server per file: two cores run one file at a time.
    maxWorkers: 1,
  },
});
