/**
 * Settings' frequency caps in real Chromium against a live Herald: the channel picker offers every
 * channel the API's FrequencyCapInput accepts (read from the printed schema, so a channel added to
 * the API and missing here fails this test), and a cap on each is saved as chosen.
 * axe-core checks the page; the screenshot goes to test/browser/artifacts.
 */
import { readFile } from 'node:fs/promises';
import { buildSchema, type GraphQLEnumType, type GraphQLInputObjectType, getNamedType } from 'graphql';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromRoot } from '../../src/paths.ts';
import { createWorkspace } from '../kit/flow.ts';
import { startTestHerald, type TestHerald } from '../kit/herald.ts';
import { queryAs } from './kit/api.ts';
import { checkPage, type DashboardPage, launchDashboardBrowser, signedIn } from './kit/dashboard.ts';

let kit: TestHerald;
let browser: Browser;
let page: DashboardPage;
let query: ReturnType<typeof queryAs>;

beforeAll(async () => {
  kit = await startTestHerald({});
  const workspace = await createWorkspace(kit, 'Capped shop');
  query = queryAs(kit.graphqlUrl, workspace.secretKey);
  browser = await launchDashboardBrowser();
  page = await signedIn(browser, kit.url, workspace.secretKey);
});
afterAll(async () => {
  await browser?.close();
  await kit?.stop();
});

/** The values FrequencyCapInput.channel accepts, from the schema Herald serves (schema/schema.graphql, checked against the code in CI). */
async function capChannels(): Promise<string[]> {
  const schema = buildSchema(await readFile(fromRoot('schema', 'schema.graphql'), 'utf8'));
  const input = schema.getType('FrequencyCapInput') as GraphQLInputObjectType;
  const channel = getNamedType(input.getFields().channel!.type) as GraphQLEnumType;
  return channel.getValues().map((value) => value.name);
}

describe('the frequency caps', () => {
  it('offer every channel the API accepts, and save a cap on each', async () => {
    const channels = await capChannels();
    expect(channels).toEqual(expect.arrayContaining(['WEB_PUSH', 'EMAIL', 'SMS', 'MOBILE_PUSH', 'IN_APP', 'WEBHOOK']));

    await page.getByRole('navigation').getByRole('link', { name: 'Settings' }).click();
    const form = page.getByRole('region', { name: 'Time, quiet hours and caps' });
    await form.getByRole('button', { name: 'Add a cap' }).waitFor();
    for (const _ of channels) await form.getByRole('button', { name: 'Add a cap' }).click();

    const pickers = form.getByLabel('on', { exact: true });
    expect(await pickers.count()).toBe(channels.length);
    const offered = await pickers.first().locator('option').evaluateAll((options) => options.map((option) => (option as HTMLOptionElement).value));
    expect(offered.filter(Boolean).sort()).toEqual([...channels].sort());
    expect(offered[0]).toBe(''); // every channel at once

    for (const [index, channel] of channels.entries()) {
      await form.getByLabel(`Cap ${index + 1}: at most`).fill(String(index + 1));
      await pickers.nth(index).selectOption(channel);
    }
    await form.getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(() => form.getByRole('status').textContent()).toBe(' Saved.');
    const { viewer } = await query('{ viewer { settings { frequencyCaps { limit period channel } } } }');
    expect(viewer.settings.frequencyCaps).toEqual(channels.map((channel, index) => ({ limit: index + 1, period: 'DAY', channel })));

    // Read back after a reload: each picker shows its saved channel.
    await page.reload();
    await form.getByRole('button', { name: 'Add a cap' }).waitFor();
    expect(await Promise.all(channels.map((_, index) => pickers.nth(index).inputValue()))).toEqual(channels);
    await checkPage(page, 'settings-caps');
    expect(page.problems).toEqual([]);
  });
});
