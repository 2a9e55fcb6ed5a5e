/**
 * The campaign page's experiment panel in real Chromium, live from campaignStats: an A/B test
 * with a 10% holdout sent to 300 browsers (a variant needs 100 trials before a winner can be
 * named); while the page is open everyone who got B (and two of the held-out) buys, and the
 * panel's counts, rates, lift and winner follow without a reload.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaign, seedBrowsers, SendNow, waitForStatus } from '../kit/campaigns.ts';
import { dataOf } from '../kit/client.ts';
import { createWorkspace } from '../kit/flow.ts';
import { startTestHerald, type TestHerald } from '../kit/herald.ts';
import { startPushService, type TestPushService } from '../kit/push-service.ts';
import { queryAs } from './kit/api.ts';
import { launchDashboardBrowser, openPage, screenshot, seriousViolations } from './kit/dashboard.ts';

let push: TestPushService;
let kit: TestHerald;
let browser: Browser;
let page: Awaited<ReturnType<typeof openPage>>;
let key = '';

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
});

const content = (title: string) => ({ title, url: 'https://shop.example/' });

describe('the experiment panel', () => {
  it('shows each variant and the holdout, and follows conversions live to a winner', { timeout: 180_000 }, async () => {
    const { workspace, secret, secretKey } = await createWorkspace(kit, 'Experiment shop');
    key = secretKey;
    const browsers = await seedBrowsers(kit.databaseUrl, workspace.id, push, 300);
    const id = await createCampaign(secret, {
      name: 'Subject test',
      kind: 'BROADCAST',
      content: content('Own content'),
      variants: [
        { name: 'A', weight: 1, content: content('Variant A') },
        { name: 'B', weight: 1, content: content('Variant B') },
      ],
      holdoutPercent: 10,
      conversion: { event: 'purchase', withinSeconds: 3600 },
    });
    dataOf(await secret(SendNow, { id }));
    await waitForStatus(secret, id, 'SENT', 60_000);
    const got = (title: string) => browsers.filter((one) => push.received(one.id).some((received) => (received.json as { title: string }).title === title));
    const [toA, toB] = [got('Variant A'), got('Variant B')];
    const heldOut = browsers.filter((one) => push.received(one.id).length === 0);
    expect(toA.length + toB.length + heldOut.length).toBe(300);
    expect(heldOut.length).toBeGreaterThan(0);

    await page.goto(`${kit.url}/app/`);
    await page.getByLabel('Secret key').fill(secretKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.evaluate((to) => (history.pushState(null, '', to), dispatchEvent(new PopStateEvent('popstate'))), `/app/campaigns/${id}`);
    await page.getByRole('heading', { name: 'Experiment' }).waitFor();

    const cells = (variant: string) => page.locator(`[data-variant="${variant}"] > *`).allTextContents();
    await expect.poll(() => cells('A')).toEqual(['A ', String(toA.length), '0', '0', '0', '0%', expect.stringMatching(/^ 0% to \d/)]);
    expect((await cells('B')).slice(0, 5)).toEqual(['B ', String(toB.length), '0', '0', '0']);
    expect(await page.getByTestId('holdout-size').textContent()).toBe(String(heldOut.length));
    expect(await page.getByTestId('experiment-verdict').textContent()).toContain('No winner yet');
    await screenshot(page, 'experiment-before');

    // Everyone who got B buys, and two of the held-out: the panel follows over the subscription.
    const buyers = [...toB, ...heldOut.slice(0, 2)].map(({ anonymousId }) => ({ anonymousId, name: 'purchase' }));
    await queryAs(kit.graphqlUrl, secretKey)(`mutation($events: [EventInput!]!) { trackEvents(input: { events: $events }) { __typename } }`, { events: buyers });
    await expect.poll(() => page.getByTestId('variant-B-rate').textContent(), { timeout: 30_000 }).toBe('100%');
    expect((await cells('B'))[4]).toBe(String(toB.length));
    expect((await cells('holdout'))[4]).toBe('2');
    await expect.poll(() => page.getByTestId('experiment-verdict').textContent(), { timeout: 30_000 }).toContain('Winner: B.');
    expect(await page.locator('[data-variant="B"] .badge').textContent()).toBe('winner');
    expect(await page.getByTestId('experiment-verdict').textContent()).toMatch(/^Lift of the campaign over the holdout: \+\d/);

    await screenshot(page, 'experiment-live');
    expect(await seriousViolations(page)).toEqual([]);
    expect(page.problems).toEqual([]);
  });

  it('sets up an A/B test with a holdout in the campaign editor, and reads it back', async () => {
    const go = (to: string) => page.evaluate((path) => (history.pushState(null, '', path), dispatchEvent(new PopStateEvent('popstate'))), `/app${to}`);
    await go('/campaigns/new');
    await page.getByRole('heading', { name: 'New campaign' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Editor test');
    await page.getByLabel('Title', { exact: true }).fill('Hello A');
    await page.getByLabel('Opens (URL)').fill('https://shop.example/');
    await page.getByRole('button', { name: 'Add a variant' }).click();
    await page.getByLabel('Variant 2 title').fill('Hello B');
    await page.getByLabel('Variant 2 body').fill('The B side');
    await page.getByLabel(/^Holdout/).fill('60');
    await page.getByRole('button', { name: 'Save draft' }).click();
    // Over 50%: Herald's error is shown at the holdout field.
    await expect.poll(() => page.locator('.field.invalid').filter({ has: page.getByLabel(/^Holdout/) }).count()).toBe(1);
    await page.getByLabel(/^Holdout/).fill('10');
    await page.getByLabel('Conversion: the event that counts').fill('purchase');
    await screenshot(page, 'experiment-editor');
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.getByRole('heading', { name: 'Editor test' }).waitFor();
    await page.getByRole('heading', { name: 'Experiment' }).waitFor();

    const id = page.url().split('/').pop()!;
    const { campaign } = await queryAs(kit.graphqlUrl, key)(`query($id: ID!) { campaign(id: $id) { holdoutPercent variants { name weight content } } }`, { id });
    expect(campaign.holdoutPercent).toBe(10);
    expect(campaign.variants.map((variant: { name: string; weight: number; content: { title: string; body: string | null } }) => [variant.name, variant.weight, variant.content.title, variant.content.body])).toEqual([
      ['A', 1, 'Hello A', null],
      ['B', 1, 'Hello B', 'The B side'],
    ]);

    await page.getByRole('link', { name: 'Edit' }).click();
    await page.getByRole('heading', { name: 'Edit Editor test' }).waitFor();
    await expect.poll(() => page.getByLabel('Variant 2 title').inputValue()).toBe('Hello B');
    expect(await page.getByLabel(/^Holdout/).inputValue()).toBe('10');
    expect(page.problems).toEqual([]);
  });
});
