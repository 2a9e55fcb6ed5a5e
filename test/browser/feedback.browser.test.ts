/**
 * Feedback on the site, end to end in real Chromium (issue 23's "done when"): a visitor on the demo
 * shop is asked "How likely are you to recommend us?" in an on-site message triggered on the page,
 * answers 3 with a click, and the campaign counts the response and its NPS; the answer is a
 * `feedback` event, which enters the visitor in a "detractors" journey (answer ≤ 6) whose
 * follow-up appears on their next read. A promoter's answer (9, through the API with their token)
 * enters nobody in it.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspace } from '../kit/flow.ts';
import { startTestHerald, type TestHerald } from '../kit/herald.ts';
import { eventually, queryAs } from './kit/api.ts';
import { launchDashboardBrowser, openPage } from './kit/dashboard.ts';

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

const STATS = `query($id: ID!) { campaign(id: $id) { stats { sent displayed clicked responses nps answers { answer count } } } }`;
const JOURNEY_STATS = `query($id: ID!) { journey(id: $id) { stats { entered steps { key sent } } } }`;

describe('an NPS question on the site', { timeout: 120_000 }, () => {
  it('is answered with a click, counted with its NPS, and a detractor gets the journey’s follow-up', async () => {
    const shop = await createWorkspace(kit, 'Feedback shop');
    const query = queryAs(kit.graphqlUrl, shop.secretKey);
    const visitor = 'feedback-visitor-1';
    await query(`mutation { upsertContact(input: { anonymousId: "${visitor}" }) { __typename } }`);
    await query(`mutation { upsertContact(input: { anonymousId: "feedback-visitor-2" }) { __typename } }`);

    const ask = (await query(
      `mutation($input: CampaignInput!) { createCampaign(input: $input) { __typename ... on MutationCreateCampaignSuccess { data { id } } ... on Error { message } } }`,
      {
        input: {
          name: 'How are we doing?',
          kind: 'TRIGGERED',
          channel: 'IN_APP',
          trigger: { event: 'viewed_pricing' },
          inApp: { layout: 'MODAL', title: 'One question', question: { kind: 'NPS', text: 'How likely are you to recommend us?' } },
        },
      },
    )).createCampaign.data.id as string;
    expect((await query(`mutation($id: ID!) { activateCampaign(input: { id: $id }) { __typename } }`, { id: ask })).activateCampaign.__typename).toBe('MutationActivateCampaignSuccess');

    const journey = (await query(
      `mutation($input: JourneyInput!) { createJourney(input: $input) { __typename ... on MutationCreateJourneySuccess { data { id } } ... on Error { message } } }`,
      {
        input: {
          name: 'Detractors',
          entry: { event: { name: 'feedback', where: [{ path: 'answer', op: 'LTE', value: 6 }] } },
          steps: [{ key: 'sorry', send: { channel: 'IN_APP', inApp: { layout: 'BANNER', title: 'Sorry to hear that', body: 'Tell us what went wrong: we read every answer.' } } }],
        },
      },
    )).createJourney.data.id as string;
    expect((await query(`mutation($id: ID!) { publishJourney(input: { id: $id }) { __typename } }`, { id: journey })).publishJourney.__typename).toBe('MutationPublishJourneySuccess');

    const page = await openPage(browser);
    await page.addInitScript(`localStorage.setItem('herald:anonymousId', '${visitor}')`);
    await page.goto(`${kit.url}/demo/?key=${shop.publishableKey}`);
    await page.evaluate('Herald.ready');

    // Asked on the page; answered with one click.
    await page.evaluate(`Herald.track('viewed_pricing')`);
    const dialog = page.getByRole('dialog', { name: 'One question' });
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain('How likely are you to recommend us?');
    await page.getByRole('button', { name: '3 out of 10' }).click();
    await page.getByRole('status').filter({ hasText: 'Thank you!' }).waitFor();

    const counted = await eventually('the answer counted', async () => {
      const { stats } = (await query(STATS, { id: ask })).campaign;
      return stats.responses === 1 && stats;
    });
    expect(counted).toMatchObject({ sent: 1, displayed: 1, clicked: 1, responses: 1, nps: -100, answers: [{ answer: '3', count: 1 }] });

    // The detractor entered the journey; its on-site follow-up shows on the next read.
    await eventually('the follow-up sent', async () => (await query(JOURNEY_STATS, { id: journey })).journey.stats.steps[0].sent === 1);
    await page.evaluate('Herald.refreshInApp()');
    const banner = page.getByRole('region', { name: 'Sorry to hear that' });
    await banner.waitFor();
    expect(await banner.textContent()).toContain('we read every answer');

    // A promoter answers 9 (the same mutation the SDK calls, with their own message's token): counted, no follow-up.
    const promoterPage = await openPage(browser);
    await promoterPage.addInitScript(`localStorage.setItem('herald:anonymousId', 'feedback-visitor-2')`);
    await promoterPage.goto(`${kit.url}/demo/?key=${shop.publishableKey}`);
    await promoterPage.evaluate('Herald.ready');
    await promoterPage.evaluate(`Herald.track('viewed_pricing')`);
    await promoterPage.getByRole('dialog', { name: 'One question' }).waitFor();
    await promoterPage.getByRole('button', { name: '9 out of 10' }).click();
    const both = await eventually('both answers counted', async () => {
      const { stats } = (await query(STATS, { id: ask })).campaign;
      return stats.responses === 2 && stats;
    });
    expect(both).toMatchObject({ responses: 2, nps: 0 });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await query(JOURNEY_STATS, { id: journey })).journey.stats.entered).toBe(1);
  });
});
