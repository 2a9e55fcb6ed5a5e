/**
 * The dashboard's smart links page in real Chromium against a live Herald: a deep link refused at
 * its field until its app scheme is registered in the link settings, a link created with UTM
 * parameters, followed over real HTTP by an iPhone and a desktop, and its clicks per device shown
 * on the open page without a reload.
 * axe-core checks each page; screenshots go to test/browser/artifacts.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspace } from '../kit/flow.ts';
import { startTestHerald, type TestHerald } from '../kit/herald.ts';
import { queryAs } from './kit/api.ts';
import { checkPage, type DashboardPage, launchDashboardBrowser, signedIn } from './kit/dashboard.ts';

const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1';
const DESKTOP_CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';

let kit: TestHerald;
let browser: Browser;
let page: DashboardPage;
let query: ReturnType<typeof queryAs>;

beforeAll(async () => {
  kit = await startTestHerald({});
  const workspace = await createWorkspace(kit, 'Link shop');
  query = queryAs(kit.graphqlUrl, workspace.secretKey);
  browser = await launchDashboardBrowser();
  page = await signedIn(browser, kit.url, workspace.secretKey);
});
afterAll(async () => {
  await browser?.close();
  await kit?.stop();
});


const invalidLabels = () => page.locator('.field.invalid label').allTextContents();

describe('the smart links page', () => {
  it('creates a link, and counts its clicks per device live', async () => {
    await page.getByRole('navigation').getByRole('link', { name: 'Links' }).click();
    await page.getByRole('heading', { name: 'Smart links' }).waitFor();
    expect(await page.getByRole('heading', { name: '0 links' }).count()).toBe(1);

    // A deep link in a scheme the workspace has not registered: refused at its field.
    await page.getByLabel(/^Goes to/).fill('https://shop.example/spring');
    await page.getByLabel('iPhone and iPad').fill('shopapp://sale/42');
    await page.getByLabel('utm_source').fill('herald');
    await page.getByLabel('utm_campaign').fill('spring');
    await page.getByRole('button', { name: 'Create the link' }).click();
    await expect.poll(invalidLabels).toEqual(['iPhone and iPad']);

    // A browser scheme is never an app scheme; "shopapp" is.
    const schemes = page.getByLabel('App schemes (comma separated)');
    await schemes.fill('shopapp, javascript');
    await page.getByRole('button', { name: 'Save link settings' }).click();
    await expect.poll(invalidLabels).toEqual(['iPhone and iPad', 'App schemes (comma separated)']);
    await schemes.fill('shopapp');
    await page.getByRole('button', { name: 'Save link settings' }).click();
    await expect.poll(() => page.getByRole('region', { name: 'Link settings' }).getByRole('status').textContent()).toBe(' Saved.');

    await page.getByRole('button', { name: 'Create the link' }).click();
    const shortUrl = page.getByRole('textbox', { name: 'The new short link' });
    await shortUrl.waitFor();
    const url = await shortUrl.inputValue();
    expect(url).toMatch(new RegExp(`^${kit.url}/l/[0-9A-Za-z]{8}$`));
    await expect.poll(() => page.getByRole('heading', { name: '1 link' }).count()).toBe(1);
    const row = page.getByTestId('links').locator('tbody tr');
    expect(await row.locator('code').textContent()).toBe(url);
    expect(await row.locator('.targets').textContent()).toContain('iOS: shopapp://sale/42');
    expect(await row.getByTestId('link-clicks').textContent()).toBe('0');

    // Followed by an iPhone and a desktop: each to its own target.
    const follow = (agent: string) => fetch(url, { redirect: 'manual', headers: { 'user-agent': agent } });
    expect((await follow(IPHONE)).headers.get('location')).toBe('shopapp://sale/42');
    expect((await follow(DESKTOP_CHROME)).headers.get('location')).toBe('https://shop.example/spring?utm_source=herald&utm_campaign=spring');

    // The open page catches up by itself.
    await expect.poll(() => row.getByTestId('link-clicks').textContent()).toBe('2');
    const byDevice = await row.locator('td[data-device]').evaluateAll((cells) => cells.map((cell) => [cell.getAttribute('data-device'), cell.textContent]));
    expect(byDevice).toEqual([
      ['IOS', '1'],
      ['ANDROID', '0'],
      ['DESKTOP', '1'],
    ]);
    const { links } = await query('{ links(first: 10) { edges { node { shortUrl clicks clicksByDevice { device clicks } } } } }');
    expect(links.edges[0].node).toEqual({
      shortUrl: url,
      clicks: 2,
      clicksByDevice: [
        { device: 'IOS', clicks: 1 },
        { device: 'ANDROID', clicks: 0 },
        { device: 'DESKTOP', clicks: 1 },
      ],
    });
    await checkPage(page, 'links');
  });
});
