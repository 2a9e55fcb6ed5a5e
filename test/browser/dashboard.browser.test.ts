/**
 * The dashboard in real Chromium (playwright-core driving Debian's chromium): a marketer's first
 * run, a segment and its live count, a push campaign sent to the test push service's recipients
 * whose display and click beacons move the live funnel, a contact's "why not sent", and a list of
 * 1,000 campaigns. Every page is checked with axe-core and kept as a screenshot
 * (test/browser/artifacts). Prints the figures the README quotes.
 */
import { readdir, stat } from 'node:fs/promises';
import { loadavg } from 'node:os';
import pg from 'pg';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromRoot } from '../../src/paths.ts';
import { subscribeBrowser } from '../kit/campaigns.ts';
import { httpClient } from '../kit/client.ts';
import { startTestHerald, type TestHerald } from '../kit/herald.ts';
import { startPushService, type TestPushService } from '../kit/push-service.ts';
import { eventually, queryAs } from './kit/api.ts';
import { launchDashboardBrowser, openPage, screenshot, seriousViolations } from './kit/dashboard.ts';

let push: TestPushService;
let kit: TestHerald;
let browser: Browser;
let page: Awaited<ReturnType<typeof openPage>>;
let secretKey = '';
const figures: Record<string, string> = {};

beforeAll(async () => {
  push = await startPushService();
  kit = await startTestHerald({ HERALD_PUSH_CA: push.caFile });
  browser = await launchDashboardBrowser();
  page = await openPage(browser);
});
afterAll(async () => {
  await browser?.close();
  await kit?.stop();
  await push?.close();
  const load = loadavg().map((value) => value.toFixed(2)).join(' ');
  console.log(`\nDashboard figures (load average ${load}):\n${Object.entries(figures).map(([name, value]) => `  ${name}: ${value}`).join('\n')}\n`);
});

const app = (path = '') => `${kit.url}/app${path}`;
/** Client-side navigation, as a click on a link does. */
const go = (path: string) => page.evaluate((to) => (history.pushState(null, '', to), dispatchEvent(new PopStateEvent('popstate'))), `/app${path}`);

async function checkPage(name: string, fullPage = true) {
  await screenshot(page, name, fullPage);
  expect(await seriousViolations(page), `axe on ${name}`).toEqual([]);
  expect(page.problems, `errors on ${name}`).toEqual([]);
}

describe('the dashboard in Chromium', () => {
  it('first run: a browser at / lands on /app, the admin token creates a workspace, its keys are shown once, then signs in', async () => {
    await page.goto(kit.url);
    expect(page.url()).toBe(app('/'));
    await page.getByRole('heading', { name: 'Sign in to Herald' }).waitFor();
    await checkPage('sign-in');

    await page.getByRole('link', { name: /Create a workspace/ }).click();
    await page.getByLabel('Admin token').fill('not-the-token');
    await page.getByLabel('Workspace name').fill('Demo shop');
    await page.getByRole('button', { name: 'Create workspace' }).click();
    await expect.poll(() => page.getByText('That is not the admin token.').count()).toBe(1);
    page.problems.length = 0; // the refused request's 401 is logged by the browser

    await page.getByLabel('Admin token').fill(kit.adminToken);
    await page.getByRole('button', { name: 'Create workspace' }).click();
    await page.getByRole('heading', { name: 'Demo shop is ready' }).waitFor();
    secretKey = await page.getByLabel(/^Secret key/).inputValue();
    expect(secretKey).toMatch(/^sk_/);
    expect(await page.getByLabel(/^Publishable key/).inputValue()).toMatch(/^pk_/);
    expect(await page.getByLabel(/^The SDK/).inputValue()).toContain(`${kit.url}/sdk/herald.js`);
    expect(await page.getByLabel(/^The service worker/).inputValue()).toBe(`importScripts('${kit.url}/sdk/herald-sw.js');`);
    await checkPage('first-run-keys');

    await page.getByRole('button', { name: /I stored the keys/ }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    expect(page.url()).not.toContain(secretKey); // the key is never in a URL
    expect(await page.evaluate(() => Object.values(sessionStorage))).toEqual([secretKey]);
    expect(await page.evaluate(() => Object.values(localStorage))).toEqual([]);
    await checkPage('overview-empty');
  });

  it('builds a segment and shows its live count and a sample, then saves it', async () => {
    const secret = httpClient(kit.graphqlUrl, secretKey);
    const query = queryAs(kit.graphqlUrl, secretKey);
    for (const [externalId, city] of [['ada', 'Berlin'], ['bob', 'Berlin'], ['cem', 'Berlin'], ['dora', 'Paris'], ['eve', 'Paris']]) {
      await query(`mutation($input: ContactInput!) { upsertContact(input: $input) { __typename } }`, { input: { externalId, firstName: externalId, attributes: { city } } });
      await subscribeBrowser(secret, push, { externalId });
    }
    // In Berlin, with no browser subscribed: the campaign cannot reach her.
    await query(`mutation($input: ContactInput!) { upsertContact(input: $input) { __typename } }`, {
      input: { externalId: 'no-browser', email: 'nobrowser@example.test', attributes: { city: 'Berlin' } },
    });

    await go('/segments');
    await page.getByRole('link', { name: 'New segment' }).click();
    await page.getByRole('heading', { name: 'New segment' }).waitFor();
    await expect.poll(() => page.getByTestId('audience-count').textContent()).toBe('6'); // no conditions: everyone
    await page.getByLabel('Name', { exact: true }).fill('Berlin');
    await page.getByLabel('Add a condition').selectOption('attribute');
    await page.getByLabel('Field or attribute', { exact: true }).fill('city');
    await page.getByLabel('Value', { exact: true }).fill('Berlin');
    await expect.poll(() => page.getByTestId('audience-count').textContent()).toBe('4');
    await expect.poll(() => page.getByText('3 with a browser subscribed to push').count()).toBe(1);
    expect(await page.getByRole('list', { name: 'Some of them' }).getByRole('listitem').count()).toBe(4);

    // A broken condition: the error shows at that condition, from Herald's field path.
    await page.getByLabel('Field or attribute', { exact: true }).fill('');
    await expect.poll(() => page.locator('.condition .error').textContent()).toContain('path');
    await page.getByLabel('Field or attribute', { exact: true }).fill('city');
    await expect.poll(() => page.getByTestId('audience-count').textContent()).toBe('4');
    await checkPage('segment-builder');

    await page.getByRole('button', { name: 'Create segment' }).click();
    await page.getByRole('heading', { name: 'Berlin' }).waitFor();
    const { segments } = await query(`{ segments(first: 5) { edges { node { name size rule } } } }`);
    expect(segments.edges).toEqual([{ node: { name: 'Berlin', size: 4, rule: { attribute: { path: 'city', op: 'EQ', value: 'Berlin' } } } }]);
  });

  it('creates and sends a push campaign, and the live funnel follows the recipients displaying and clicking it', async () => {
    await go('/campaigns/new');
    await page.getByRole('heading', { name: 'New campaign' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Berlin sale');
    await page.getByLabel('Title', { exact: true }).fill("Hi {{ contact.firstName | default: 'there' }}");
    await page.getByLabel('Body', { exact: true }).fill('Shoes 30% off today');
    await page.getByLabel('Opens (URL)').fill('https://shop.example/sale');
    await page.getByRole('button', { name: 'Add a button' }).click();
    await page.getByLabel('Button 1 label').fill('See shoes');
    // The preview shows the sample contact and the button; the meter the worst-case size.
    await expect.poll(() => page.locator('.notification .title').textContent()).toBe('Hi there');
    expect(await page.locator('.notification .actions').textContent()).toBe('See shoes');
    const bytes = Number((await page.getByTestId('payload-bytes').textContent())!.split(' ')[0]!.replace(',', ''));
    expect(bytes).toBeGreaterThan(300);
    expect(bytes).toBeLessThan(1000);
    await page.getByLabel('Segment', { exact: true }).selectOption({ label: 'Berlin' });
    await expect.poll(() => page.getByTestId('audience-count').textContent()).toBe('4');
    await checkPage('campaign-editor');

    // A field error from Herald shows at its field: an action id with a space.
    await page.getByLabel('Id', { exact: true }).fill('see shoes');
    await page.getByRole('button', { name: 'Save draft' }).click();
    await expect.poll(() => page.locator('.field.invalid').getByText(/letters, digits/).count()).toBe(1);
    await page.getByLabel('Id', { exact: true }).fill('see-shoes');

    await page.getByLabel('Send now').check();
    await page.getByRole('button', { name: 'Save and send now' }).click();
    await page.getByRole('heading', { name: 'Berlin sale' }).waitFor();
    await expect.poll(() => page.getByTestId('funnel-sent').textContent(), { timeout: 20_000 }).toBe('3');
    expect(await page.getByTestId('funnel-targeted').textContent()).toBe('4');
    await expect.poll(() => page.locator('h1 + .badge').textContent(), { timeout: 20_000 }).toBe('sent');
    expect(await page.getByRole('heading', { name: /Not sent: 1 suppressed/ }).count()).toBe(1);

    // Each recipient's service worker reports the push displayed, then clicked: the funnel moves,
    // live, and how long after each beacon is measured in the page.
    await push.waitFor(() => push.received().length === 3);
    const payloads = push.received().map((received) => received.json as { token: string; trackUrl: string; title: string });
    expect(payloads.map((payload) => payload.title).sort()).toEqual(['Hi ada', 'Hi bob', 'Hi cem']);
    const latencies: number[] = [];
    for (const [type, testId] of [['DISPLAYED', 'funnel-displayed'], ['CLICKED', 'funnel-clicked']] as const) {
      for (const [index, payload] of payloads.entries()) {
        const shown = page.evaluate(
          ([id, want]) =>
            new Promise<number>((resolve) => {
              const element = document.querySelector(`[data-testid="${id}"]`)!;
              const check = () => element.textContent === want && (observer.disconnect(), resolve(Date.now()));
              const observer = new MutationObserver(check);
              observer.observe(element, { childList: true, characterData: true, subtree: true });
              check();
            }),
          [testId, String(index + 1)] as const,
        );
        const sentAt = Date.now();
        const beacon = await fetch(payload.trackUrl, { method: 'POST', body: JSON.stringify({ token: payload.token, type }) });
        expect(beacon.status).toBe(204);
        latencies.push((await shown) - sentAt);
      }
    }
    await checkPage('campaign-live');
    latencies.sort((a, b) => a - b);
    figures['live counter after a display/click beacon'] = `median ${latencies[latencies.length >> 1]} ms, max ${latencies.at(-1)} ms (${latencies.length} beacons)`;
    expect(latencies.at(-1)).toBeLessThan(2000); // the 250 ms goal is reported, not asserted, on a shared machine

    // The messages table, filtered to those not sent, says why.
    await page.getByRole('region', { name: 'Messages' }).getByRole('combobox', { name: /^Status/ }).selectOption('SUPPRESSED');
    await expect.poll(() => page.locator('[data-message]').count()).toBe(1);
    expect(await page.locator('[data-message] .why').textContent()).toContain('no subscription');
  });

  it("shows a contact's story and why a campaign did not reach them", async () => {
    await go('/contacts');
    await page.getByLabel('Search contacts').fill('no-browser');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: 'nobrowser@example.test' }).waitFor();
    await checkPage('contacts-search');
    await page.getByRole('link', { name: 'nobrowser@example.test' }).click();
    await page.getByRole('heading', { name: 'nobrowser@example.test' }).waitFor();
    const row = page.locator('[data-message]');
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.getByRole('link').textContent()).toBe('Berlin sale');
    expect(await row.locator('.why').textContent()).toBe('no subscription: The contact has no browser subscribed to push.');
    expect(await page.getByText(/^No browser subscribed/).count()).toBe(1);
    await checkPage('contact-why-not-sent');

    await go('/');
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await expect.poll(() => page.locator('.figure').filter({ hasText: 'Sent' }).locator('strong').textContent()).toBe('3');
    await checkPage('overview');
    await go('/settings');
    await page.getByRole('heading', { name: 'API keys' }).waitFor();
    await checkPage('settings');
    // The list pages not visited above, so axe has seen every page.
    await go('/segments');
    await page.getByRole('link', { name: 'New segment' }).waitFor();
    await expect.poll(() => page.getByRole('row').count()).toBeGreaterThan(1);
    await checkPage('segments');
    await go('/journeys');
    await page.getByRole('heading', { name: 'Journeys' }).waitFor();
    await checkPage('journeys-empty');
    await go('/links');
    await page.getByRole('heading', { name: 'Smart links' }).waitFor();
    await checkPage('links-empty');
  });

  it('renders the first page of 1,000 campaigns and the next on request; reports load figures', { timeout: 180_000 }, async () => {
    const { viewer } = await queryAs(kit.graphqlUrl, secretKey)('{ viewer { id } }');
    const workspaceId = Buffer.from(viewer.id, 'base64').toString().split(':')[1];
    const db = new pg.Client({ connectionString: kit.databaseUrl });
    await db.connect();
    await db.query(
      `INSERT INTO "Campaign" (id, "workspaceId", name, kind, content, "updatedAt")
       SELECT gen_random_uuid(), $1::uuid, 'Campaign ' || n, 'BROADCAST', '{"title":"Hello","url":"https://shop.example/"}'::jsonb, now()
       FROM generate_series(1, 999) AS n`,
      [workspaceId],
    );
    await db.end();

    await go('/');
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    const rows = () => page.locator('table[aria-label="Campaigns"] tbody tr:has(td a)').count();
    let started = Date.now();
    await page.getByRole('navigation').getByRole('link', { name: 'Campaigns' }).click();
    await expect.poll(rows, { interval: 10, timeout: 30_000 }).toBe(100);
    const firstPage = Date.now() - started;
    started = Date.now();
    // One more page (Campaign.stats is loaded for a whole page in one query).
    await page.getByRole('button', { name: 'Show 100 more' }).click();
    await expect.poll(rows, { interval: 10, timeout: 60_000 }).toBe(200);
    const nextPage = Date.now() - started;
    const renders = await page.evaluate(() => performance.getEntriesByName('campaign-list-render').map((entry) => entry.duration));
    expect(await page.getByText('1,000 campaigns').count()).toBe(1);
    await checkPage('campaigns-1000', false);
    figures['campaign list, 1,000 campaigns: first 100 rows after the click'] = `${firstPage} ms`;
    figures['campaign list: the next 100 ("Show 100 more")'] = `${nextPage} ms`;
    figures['campaign list: React render of a page of 100 rows'] = `max ${Math.max(...renders).toFixed(0)} ms`;

    // Time to first render: the overview loaded afresh, until its figures are on screen. (This
    // page was on /campaigns: a reload there never shows the overview's figures, which is what
    // hung this test, waiting without a limit.)
    await page.goto(app('/'));
    const shown = await page.waitForFunction(
      () => {
        const figure = document.querySelector('.figure strong');
        return figure && figure.textContent !== '…' ? performance.now() : 0;
      },
      undefined,
      { polling: 'raf', timeout: 30_000 },
    );
    const firstRender = (await shown.jsonValue()) as number;
    const paint = await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? 0);
    figures['time to first render (load /app → overview figures shown)'] = `${firstRender.toFixed(0)} ms (first contentful paint ${paint.toFixed(0)} ms)`;

    const assets = fromRoot('dist', 'app', 'assets');
    const gzipped = await Promise.all((await readdir(assets)).filter((name) => name.endsWith('.js.gz')).map(async (name) => (await stat(`${assets}/${name}`)).size));
    const total = gzipped.reduce((sum, size) => sum + size, 0);
    figures['JavaScript shipped, gzipped'] = `${(total / 1024).toFixed(1)} KB`;
    expect(total).toBeLessThan(200 * 1024);
    await eventually('nothing left broken', async () => page.problems.length === 0);
  });
});
