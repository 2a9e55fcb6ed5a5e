/**
 * On-site messages in real Chromium (issue 23): the demo shop's page, with Herald's SDK, shows the
 * visitor's banner on load without moving the page, counts the click on its button; then a
 * modal triggered on the page by Herald.track appears at once, takes focus, closes with Escape and
 * gives focus back; Herald counts DISPLAYED, CLICKED and CLOSED. Styled by the site's CSS
 * custom properties, and without serious axe violations.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspace } from '../kit/flow.ts';
import { startTestHerald, type TestHerald } from '../kit/herald.ts';
import { eventually, queryAs } from './kit/api.ts';
import { launchDashboardBrowser, openPage, screenshot, seriousViolations } from './kit/dashboard.ts';

let kit: TestHerald;
let browser: Browser;

beforeAll(async () => {
  kit = await startTestHerald({ HERALD_DEMO: '1' });
  browser = await launchDashboardBrowser();
});
afterAll(async () => {
  await browser?.close();
  await kit?.stop();
});

const CREATE = `mutation($input: CampaignInput!) { createCampaign(input: $input) { __typename ... on MutationCreateCampaignSuccess { data { id } } ... on Error { message } } }`;
const STATS = `query($id: ID!) { campaign(id: $id) { status stats { sent displayed clicked closed } } }`;

describe('on-site messages in real Chromium', () => {
  it('shows the banner on load without shifting the page, counts its click; a page-triggered modal takes focus, closes on Escape and gives focus back', async () => {
    const shop = await createWorkspace(kit, 'On-site shop');
    const query = queryAs(kit.graphqlUrl, shop.secretKey);
    const visitor = 'browser-visitor-1';
    await query(`mutation { upsertContact(input: { anonymousId: "${visitor}", firstName: "Fox" }) { __typename } }`);
    const banner = (await query(CREATE, {
      input: {
        name: 'Spring banner',
        kind: 'BROADCAST',
        channel: 'IN_APP',
        inApp: { layout: 'BANNER', title: 'Spring sale, {{ contact.firstName }}', body: '20% off everything', buttons: [{ label: 'See the sale', url: `${kit.url}/demo/#sale` }] },
      },
    })).createCampaign.data.id as string;
    expect((await query(`mutation($id: ID!) { sendCampaignNow(input: { id: $id }) { __typename } }`, { id: banner })).sendCampaignNow.__typename).toBe('MutationSendCampaignNowSuccess');
    await eventually('the banner was sent', async () => (await query(STATS, { id: banner })).campaign.status === 'SENT');
    const modal = (await query(CREATE, {
      input: {
        name: 'Pricing help',
        kind: 'TRIGGERED',
        channel: 'IN_APP',
        trigger: { event: 'viewed_pricing' },
        inApp: { layout: 'MODAL', title: 'Questions about pricing?', body: 'We answer within the hour.', question: { kind: 'NPS', text: 'How likely are you to recommend us?' } },
      },
    })).createCampaign.data.id as string;
    expect((await query(`mutation($id: ID!) { activateCampaign(input: { id: $id }) { __typename } }`, { id: modal })).activateCampaign.__typename).toBe('MutationActivateCampaignSuccess');

    const page = await openPage(browser);
    await page.addInitScript(`localStorage.setItem('herald:anonymousId', '${visitor}')`);
    const graphqlRequests: string[] = [];
    page.on('request', (request) => request.url().endsWith('/graphql') && graphqlRequests.push(request.postData() ?? ''));
    const missing: string[] = [];
    page.on('response', (response) => response.status() >= 400 && missing.push(response.url()));
    await page.goto(`${kit.url}/demo/?key=${shop.publishableKey}`);

    // The banner: a region at the top, styled by the site's variables, over the page rather than pushing it down.
    const region = page.getByRole('region', { name: 'Spring sale, Fox' });
    await region.waitFor();
    expect(await region.textContent()).toContain('20% off everything');
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'in-app-banner', false);
    await page.evaluate(() => document.documentElement.style.setProperty('--herald-bg', 'rgb(1, 2, 3)'));
    expect(await region.evaluate((node) => [getComputedStyle(node).position, getComputedStyle(node).backgroundColor])).toEqual(['fixed', 'rgb(1, 2, 3)']);
    await page.evaluate(() => document.documentElement.style.removeProperty('--herald-bg'));
    const headingTop = () => page.getByRole('heading', { name: 'Herald demo shop' }).evaluate((node) => node.getBoundingClientRect().top);
    const withBanner = await headingTop();
    await page.getByRole('link', { name: 'See the sale' }).click();
    await region.waitFor({ state: 'detached' });
    expect(await headingTop()).toBe(withBanner);
    expect(page.url()).toBe(`${kit.url}/demo/#sale`);
    const clicked = await eventually('the click counted', async () => {
      const { campaign } = await query(STATS, { id: banner });
      return campaign.stats.clicked === 1 && campaign.stats;
    });
    expect(clicked).toMatchObject({ sent: 1, displayed: 1, clicked: 1, closed: 0 });

    // One read on load, none for events that trigger nothing.
    const reads = () => graphqlRequests.filter((body) => body.includes('inAppMessages')).length;
    expect(reads()).toBe(1);
    await page.evaluate(`Herald.track('added_to_cart', { sku: 'hat' })`);
    expect(reads()).toBe(1);

    // Tracking the trigger on the page brings the modal at once; focus moves into it.
    await page.locator('#customer').focus();
    const start = Date.now();
    await page.evaluate(`Herald.track('viewed_pricing')`);
    const dialog = page.getByRole('dialog', { name: 'Questions about pricing?' });
    await dialog.waitFor();
    const shownAfter = Date.now() - start;
    expect(reads()).toBe(2);
    expect(await dialog.getAttribute('aria-modal')).toBe('true');
    expect(await page.getByRole('button', { name: /out of 10$/ }).count()).toBe(11);
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-herald'))).toBe('in-app');
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'in-app-modal', false);
    // Tab stays inside the modal.
    for (let press = 0; press < 14; press++) await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-herald'))).toBe('in-app');

    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('customer');
    const closed = await eventually('the close counted', async () => {
      const { campaign } = await query(STATS, { id: modal });
      return campaign.stats.closed === 1 && campaign.stats;
    });
    expect(closed).toMatchObject({ sent: 1, displayed: 1, closed: 1, clicked: 0 });

    // A new page view: nothing left to show, and nothing read from Herald again (session cache).
    await page.reload();
    await page.evaluate('Herald.ready');
    expect(await page.locator('[data-herald="in-app"]').count()).toBe(0);
    expect(reads()).toBe(2);
    // The browser asks for the demo's favicon, which it has none of; nothing else fails.
    expect(missing.filter((url) => !url.endsWith('/favicon.ico'))).toEqual([]);
    expect(page.problems.filter((problem) => !problem.includes('404'))).toEqual([]);
    expect(shownAfter).toBeLessThan(3_000);
  });
});
