/**
 * On-site messages and feedback questions in the dashboard, in real Chromium against a live Herald:
 * an IN_APP campaign with an NPS question written in the editor (previewed as the SDK draws it, a
 * missing title refused at its field), saved, read back, shown on its page, sent; two visitors
 * answer it on the demo page through the SDK, and the campaign page's responses, NPS and
 * per-answer counts follow live. A CHOICE question on an email (a single answer refused at its
 * field) and a THUMBS question on a web push are saved and read back.
 * axe-core checks each page; screenshots go to test/browser/artifacts.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspace } from '../kit/flow.ts';
import { startTestHerald, type TestHerald } from '../kit/herald.ts';
import { queryAs } from './kit/api.ts';
import { checkPage, type DashboardPage, goTo, launchDashboardBrowser, newCampaign, openPage, signedIn } from './kit/dashboard.ts';

let kit: TestHerald;
let browser: Browser;
let page: DashboardPage;
let workspace: Awaited<ReturnType<typeof createWorkspace>>;
let query: ReturnType<typeof queryAs>;
let campaignId = '';

beforeAll(async () => {
  kit = await startTestHerald({ HERALD_DEMO: '1' });
  workspace = await createWorkspace(kit, 'Feedback shop');
  query = queryAs(kit.graphqlUrl, workspace.secretKey);
  await query(`mutation { a: upsertContact(input: { anonymousId: "visitor-1" }) { __typename } b: upsertContact(input: { anonymousId: "visitor-2" }) { __typename } }`);
  browser = await launchDashboardBrowser();
  page = await signedIn(browser, kit.url, workspace.secretKey);
});
afterAll(async () => {
  await browser?.close();
  await kit?.stop();
});

const go = (path: string) => goTo(page, path);


const startCampaign = (name: string, channel: string) => newCampaign(page, name, channel);

const invalidLabels = () => page.locator('.field.invalid label').allTextContents();

describe('the on-site message editor', () => {
  it('writes an IN_APP message with an NPS question, previews it as the SDK shows it, saves it and reads it back', async () => {
    await startCampaign('How are we doing?', 'IN_APP');
    await expect.poll(() => page.locator('.preview-count p').textContent()).toBe('2 contacts · 2 shown it at their next visit to your site');

    // Neither a title nor a body: Herald's error is shown at the title.
    await page.getByRole('button', { name: 'Save draft' }).click();
    await expect.poll(invalidLabels).toEqual(['Title']);

    await page.getByLabel('Title', { exact: true }).fill("Hi {{ contact.firstName | default: 'there' }}");
    await page.getByLabel('Body', { exact: true }).fill('One question, one click.');
    await page.getByRole('button', { name: 'Add a button' }).click();
    await page.getByLabel('Button 1 label').fill('See what’s new');
    await page.getByLabel('Button 1 opens (http or https URL)').fill('https://shop.example/new');
    await page.getByLabel('Ask').selectOption('NPS');
    await page.getByLabel('Question', { exact: true }).fill('How likely are you to recommend us?');

    // The preview is the SDK's own markup and stylesheet: a modal with the question's 11 answers.
    const preview = page.getByTestId('in-app-preview');
    expect(await preview.locator('.box.modal h2').textContent()).toBe('Hi there');
    expect(await preview.locator('.box p').first().textContent()).toBe('One question, one click.');
    expect(await preview.locator('legend').textContent()).toBe('How likely are you to recommend us?');
    expect(await preview.locator('button.answer').count()).toBe(11);
    expect(await preview.locator('button.answer').last().getAttribute('aria-label')).toBe('10 out of 10');
    expect(await preview.locator('a.button').textContent()).toBe('See what’s new');
    // Drawn inside the stage, not over the dashboard: the SDK's fixed box sits within the preview.
    const stage = (await preview.boundingBox())!;
    const box = (await preview.locator('.box').boundingBox())!;
    expect(box.y).toBeGreaterThanOrEqual(stage.y);
    expect(box.y + box.height).toBeLessThanOrEqual(stage.y + stage.height + 1);
    await page.getByLabel('Shown as').selectOption('BANNER');
    expect(await preview.locator('.box.banner').count()).toBe(1);
    await page.getByLabel('Shown as').selectOption('MODAL');
    await checkPage(page, 'campaign-editor-in-app-typed');

    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.getByRole('heading', { name: 'How are we doing?' }).waitFor();
    expect(await page.getByTestId('in-app-details').textContent()).toBe(
      "modal: Hi {{ contact.firstName | default: 'there' }} One question, one click. [See what’s new → https://shop.example/new]",
    );
    campaignId = page.url().split('/').at(-1)!;
    const { campaign } = await query(`query($id: ID!) { campaign(id: $id) { channel inApp { layout question { kind text answers } ttlSeconds } } }`, { id: campaignId });
    expect(campaign).toMatchObject({ channel: 'IN_APP', inApp: { layout: 'MODAL', question: { kind: 'NPS', text: 'How likely are you to recommend us?' }, ttlSeconds: 2_592_000 } });

    // The editor reads it back as saved.
    await page.getByRole('link', { name: 'Edit' }).click();
    await page.getByRole('heading', { name: 'Edit How are we doing?' }).waitFor();
    await expect.poll(() => page.getByLabel('Channel').inputValue()).toBe('IN_APP');
    expect(await page.getByLabel('Title', { exact: true }).inputValue()).toBe("Hi {{ contact.firstName | default: 'there' }}");
    expect(await page.getByLabel('Button 1 opens (http or https URL)').inputValue()).toBe('https://shop.example/new');
    expect(await page.getByLabel('Ask').inputValue()).toBe('NPS');
    expect(await page.getByLabel('Question', { exact: true }).inputValue()).toBe('How likely are you to recommend us?');
    expect(await page.getByLabel('Waits for the visit (days; empty: 30)').inputValue()).toBe('30');
    await checkPage(page, 'campaign-editor-in-app');
  });

  it('is sent, answered by two visitors on the site, and the campaign page follows its responses and NPS live', async () => {
    await go(`/campaigns/${campaignId}`);
    await page.getByRole('heading', { name: 'How are we doing?' }).waitFor();
    const feedback = page.getByRole('region', { name: 'Feedback' });
    expect(await feedback.textContent()).toContain('Asked: “How likely are you to recommend us?”');
    await expect.poll(() => page.getByTestId('feedback-responses').textContent()).toBe('0');
    expect(await page.getByTestId('feedback-nps').textContent()).toBe('—');
    await page.getByRole('button', { name: 'Send now' }).click();
    await expect.poll(() => page.getByTestId('funnel-sent').textContent()).toBe('2');
    // Each message's "why" says what sent means for an on-site message.
    await expect.poll(() => page.locator('[data-message] .why').allTextContents()).toEqual(
      Array(2).fill('accepted: Accepted for delivery (by the push service, mail server, SMS provider or webhook receiver; an on-site message waits for the next visit).'),
    );

    /** A visitor opens the demo page; the SDK shows the message and they answer with one click. */
    const answer = async (visitor: string, score: string) => {
      const site = await openPage(browser);
      await site.addInitScript(`localStorage.setItem('herald:anonymousId', '${visitor}')`);
      await site.goto(`${kit.url}/demo/?key=${workspace.publishableKey}`);
      const dialog = site.getByRole('dialog', { name: 'Hi there' });
      await dialog.waitFor();
      expect(await dialog.textContent()).toContain('How likely are you to recommend us?');
      await site.getByRole('button', { name: `${score} out of 10` }).click();
      await site.getByRole('status').filter({ hasText: 'Thank you!' }).waitFor();
      await site.close();
    };

    // The dashboard page stays open: its figures move with the subscription, no reload.
    await answer('visitor-1', '3');
    await expect.poll(() => page.getByTestId('feedback-responses').textContent()).toBe('1');
    expect(await page.getByTestId('feedback-nps').textContent()).toBe('-100');
    expect(await page.getByTestId('feedback-detractors').textContent()).toBe('1');
    expect(await page.getByTestId('feedback-promoters').textContent()).toBe('0');

    await answer('visitor-2', '9');
    await expect.poll(() => page.getByTestId('feedback-responses').textContent()).toBe('2');
    await expect.poll(() => page.getByTestId('feedback-nps').textContent()).toBe('0');
    expect(await page.getByTestId('feedback-promoters').textContent()).toBe('1');
    expect(await page.getByTestId('feedback-passives').textContent()).toBe('0');
    expect(await page.getByTestId('feedback-detractors').textContent()).toBe('1');
    const rows = await page.getByTestId('feedback-answers').locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].slice(0, 2).map((td) => td.textContent)));
    expect(rows).toEqual([
      ['3 out of 10', '1'],
      ['9 out of 10', '1'],
    ]);
    // The figures are Herald's own.
    const { stats } = (await query(`query($id: ID!) { campaign(id: $id) { stats { responses nps displayed } } }`, { id: campaignId })).campaign;
    expect(stats).toEqual({ responses: 2, nps: 0, displayed: 2 });
    await checkPage(page, 'campaign-feedback');
  });

  it('attaches a question to an email (checked at its field) and to a web push, and reads them back', async () => {
    await startCampaign('Which one?', 'EMAIL');
    await page.getByLabel('Subject').fill('Which one do you like?');
    await page.getByLabel('HTML', { exact: true }).fill('<p>Pick one:</p>{{ question_buttons }}');
    await page.getByLabel('Ask').selectOption('CHOICE');
    await page.getByLabel('Question', { exact: true }).fill('Which colour?');
    const answers = page.getByLabel('Answers (one per line, 2 to 6)');
    await answers.fill('Red');
    await page.getByRole('button', { name: 'Save draft' }).click();
    await expect.poll(invalidLabels).toEqual(['Answers (one per line, 2 to 6)']);
    await answers.fill('Red\nGreen\nBlue');
    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.getByRole('heading', { name: 'Which one?' }).waitFor();
    const email = (await query(`query($id: ID!) { campaign(id: $id) { email { question { kind text choices } } } }`, { id: page.url().split('/').at(-1) })).campaign.email;
    expect(email.question).toEqual({ kind: 'CHOICE', text: 'Which colour?', choices: ['Red', 'Green', 'Blue'] });

    await startCampaign('Thumbs', 'WEB_PUSH');
    await page.getByLabel('Title', { exact: true }).fill('Did the parcel arrive?');
    await page.getByLabel('Opens (URL)').fill('https://shop.example/orders');
    await page.getByLabel('Ask').selectOption('THUMBS');
    await page.getByLabel('Question', { exact: true }).fill('Did it arrive in one piece?');
    // The answers are the notification's buttons.
    expect(await page.locator('.notification .actions span').allTextContents()).toEqual(['👍', '👎']);
    await checkPage(page, 'campaign-editor-push-question');
    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.getByRole('heading', { name: 'Thumbs' }).waitFor();
    const pushId = page.url().split('/').at(-1)!;
    const { campaign } = await query(`query($id: ID!) { campaign(id: $id) { content { actions { action } question { kind text } } } }`, { id: pushId });
    expect(campaign.content.question).toEqual({ kind: 'THUMBS', text: 'Did it arrive in one piece?' });
    await go(`/campaigns/${pushId}/edit`);
    await page.getByRole('heading', { name: 'Edit Thumbs' }).waitFor();
    await expect.poll(() => page.getByLabel('Ask').inputValue()).toBe('THUMBS');
  });
});
