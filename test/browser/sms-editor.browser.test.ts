/**
 * The campaign editor's SMS channel in real Chromium: the segment meter as carriers count
 * (GSM-7 160/153, UCS-2 once a character outside GSM-7 appears), the phone-style preview, an
 * empty message refused at its field, and the saved campaign's segments as Herald counts them;
 * the SMS settings (provider account, write-only token, sender) with a bad sender refused at its field.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspace } from '../kit/flow.ts';
import { queryAs } from './kit/api.ts';
import { startTestHerald, type TestHerald } from '../kit/herald.ts';
import { launchDashboardBrowser, openPage, screenshot, seriousViolations } from './kit/dashboard.ts';

let kit: TestHerald;
let browser: Browser;
let page: Awaited<ReturnType<typeof openPage>>;
let key = '';

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
    key = secretKey;
    await queryAs(kit.graphqlUrl, secretKey)(`mutation { a: upsertContact(input: { externalId: "ann", phone: "+15017122661" }) { __typename } b: upsertContact(input: { externalId: "bo" }) { __typename } }`);
    await page.goto(`${kit.url}/app/`);
    await page.getByLabel('Secret key').fill(secretKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.evaluate(() => (history.pushState(null, '', '/app/campaigns/new'), dispatchEvent(new PopStateEvent('popstate'))));
    await page.getByRole('heading', { name: 'New campaign' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Last call');
    await page.getByLabel('Channel').selectOption('SMS');
    // The audience's reach is counted for the channel: a phone number, not a browser.
    await expect.poll(() => page.locator('.preview-count p').textContent()).toBe('2 contacts · 1 with a phone number');

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

  it('saves the SMS provider settings, the auth token write-only', async () => {
    await page.evaluate(() => (history.pushState(null, '', '/app/settings'), dispatchEvent(new PopStateEvent('popstate'))));
    const form = page.getByRole('region', { name: 'SMS' });
    await form.getByLabel('Account SID').waitFor();
    expect(await page.getByTestId('sms-inbound-url').textContent()).toMatch(/^http:\/\/.+\/sms\//);
    await form.getByLabel('Account SID').fill('AC0123456789abcdef0123456789abcdef');
    await form.getByLabel('Auth token').fill('a-secret-token');
    await form.getByLabel(/^From/).fill('not a sender!');
    await form.getByRole('button', { name: 'Save SMS settings' }).click();
    await expect.poll(() => form.locator('.field.invalid label').allTextContents()).toEqual(['From (E.164 number or sender id)']);

    await form.getByLabel(/^From/).fill('+15017122661');
    await form.getByRole('button', { name: 'Save SMS settings' }).click();
    await expect.poll(() => form.getByRole('status').textContent()).toBe(' Saved.');
    await expect.poll(() => form.getByText('Set; type a new one to replace it.').count()).toBe(1);
    expect(await form.getByLabel('Auth token').inputValue()).toBe('');
    const { viewer } = await queryAs(kit.graphqlUrl, key)('{ viewer { settings { sms { accountSid from authTokenConfigured maxSegments } } } }');
    expect(viewer.settings.sms).toEqual({ accountSid: 'AC0123456789abcdef0123456789abcdef', from: '+15017122661', authTokenConfigured: true, maxSegments: 3 });
    await screenshot(page, 'settings-sms');
    expect(await seriousViolations(page)).toEqual([]);
  });
});
