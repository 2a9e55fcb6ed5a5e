/**
 * The campaign editor's SMS channel in real Chromium: the segment meter as carriers count
 * (GSM-7 160/153, UCS-2 once a character outside GSM-7 appears), the phone-style preview, an
 * empty message refused at its field, and the saved campaign's segments as Herald counts them.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspace } from '../kit/flow.ts';
import { startTestHerald, type TestHerald } from '../kit/herald.ts';
import { launchDashboardBrowser, openPage, screenshot, seriousViolations } from './kit/dashboard.ts';

let kit: TestHerald;
let browser: Browser;
let page: Awaited<ReturnType<typeof openPage>>;

beforeAll(async () => {
  kit = await startTestHerald({});
  browser = await launchDashboardBrowser();
  page = await openPage(browser);
});
afterAll(async () => {
  await browser?.close();
  await kit?.stop();
});

describe('the SMS editor', () => {
  it('counts segments as the text changes, previews it, and saves it', async () => {
    const { secretKey } = await createWorkspace(kit, 'SMS shop');
    await page.goto(`${kit.url}/app/`);
    await page.getByLabel('Secret key').fill(secretKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.evaluate(() => (history.pushState(null, '', '/app/campaigns/new'), dispatchEvent(new PopStateEvent('popstate'))));
    await page.getByRole('heading', { name: 'New campaign' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Last call');
    await page.getByLabel('Channel').selectOption('SMS');

    // Empty: Herald's error is shown at the message.
    await page.getByRole('button', { name: 'Save draft' }).click();
    await expect.poll(() => page.locator('.field.invalid textarea').count()).toBe(1);

    const message = page.getByLabel('Message', { exact: true });
    const meter = page.getByTestId('sms-segments');
    await message.fill('x'.repeat(160));
    expect(await meter.textContent()).toBe('1 segment · 160 GSM-7 characters');
    await message.fill('x'.repeat(161));
    expect(await meter.textContent()).toBe('2 segments · 161 GSM-7 characters');
    await message.fill('Sale ends tonight 🎉');
    expect(await meter.textContent()).toMatch(/^1 segment · 20 UCS-2 units/);

    const text = 'Hi {{ contact.firstName }}, the sale ends tonight. Reply STOP to opt out';
    await message.fill(text);
    expect(await page.getByTestId('sms-preview').textContent()).toBe(text);
    await screenshot(page, 'sms-editor');
    expect(await seriousViolations(page)).toEqual([]);

    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.getByRole('heading', { name: 'Last call' }).waitFor();
    expect(await page.getByTestId('sms-details').textContent()).toMatch(new RegExp(`^${text.replace(/[{}.]/g, '\\$&')} \\(1 segment as written, at most \\d+ rendered\\)$`));
    expect(page.problems).toEqual([]);
  });
});
