import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { fromRoot } from '../../../src/paths.ts';

const require = createRequire(import.meta.url);
/** Screenshots of each page the tests visit (gitignored), kept for a person to look at. */
export const ARTIFACTS = fromRoot('test', 'browser', 'artifacts');

/** Debian's Chromium driven by playwright-core (never a downloaded browser). */
export async function launchDashboardBrowser(): Promise<Browser> {
  await mkdir(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: process.env.HERALD_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * A page that records what went wrong in it: uncaught errors, console errors (a CSP violation is
 * one) and failed requests, so a test can assert there were none.
 */
export async function openPage(browser: Browser): Promise<Page & { problems: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, deviceScaleFactor: 1 });
  const page = Object.assign(await context.newPage(), { problems: [] as string[] });
  page.on('pageerror', (error) => page.problems.push(`page error: ${error.message}`));
  page.on('console', (message) => message.type() === 'error' && page.problems.push(`console: ${message.text()}`));
  return page;
}

export async function screenshot(page: Page, name: string, fullPage = true): Promise<string> {
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage });
  return file;
}

let axeSource: string | undefined;

/**
 * Runs axe-core on the page as it is now and returns its serious and critical violations. Axe is
 * evaluated over the DevTools protocol, so the page's own Content-Security-Policy stays in force.
 */
export async function seriousViolations(page: Page): Promise<string[]> {
  axeSource ??= await readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
  if (!(await page.evaluate('typeof window.axe !== "undefined"'))) await page.evaluate(axeSource);
  const violations = await page.evaluate<{ id: string; impact: string; help: string; nodes: { target: string[] }[] }[]>(
    `axe.run(document, { resultTypes: ['violations'] }).then((result) => result.violations)`,
  );
  return violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => `${violation.id} (${violation.impact}): ${violation.help} at ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`);
}

export type DashboardPage = Page & { problems: string[] };

/** A new tab signed in to the dashboard at `url` with a workspace's secret key, on the overview. */
export async function signedIn(browser: Browser, url: string, secretKey: string): Promise<DashboardPage> {
  const page = await openPage(browser);
  await page.goto(`${url}/app/`);
  await page.getByLabel('Secret key').fill(secretKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  return page;
}

/** Moves the app to `/app<path>` as its own links do (no reload). */
export const goTo = (page: Page, path: string) =>
  page.evaluate((to) => (history.pushState(null, '', to), dispatchEvent(new PopStateEvent('popstate'))), `/app${path}`);

/** A screenshot of the page as it is, then: no serious axe violation, no error in it (images it could not fetch aside: no internet here). */
export async function checkPage(page: DashboardPage, name: string): Promise<void> {
  await screenshot(page, name);
  expect(await seriousViolations(page), `axe on ${name}`).toEqual([]);
  expect(
    page.problems.filter((problem) => !problem.includes('Failed to load resource')),
    `errors on ${name}`,
  ).toEqual([]);
}

/** The campaign editor, new, with a name and a channel chosen. */
export async function newCampaign(page: Page, name: string, channel: string): Promise<void> {
  await goTo(page, '/campaigns/new');
  await page.getByRole('heading', { name: 'New campaign' }).waitFor();
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Channel').selectOption(channel);
}
