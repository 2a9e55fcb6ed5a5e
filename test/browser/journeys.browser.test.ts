/**
 * The dashboard's journeys in real Chromium: a journey written in the editor (a problem shown by
 * its path first), published, its per-step counts moving live as contacts enter, the list with
 * its status, and a backtest over the stored events. axe-core checks every page; screenshots go
 * to test/browser/artifacts.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subscribeBrowser } from '../kit/campaigns.ts';
import { createWorkspace } from '../kit/flow.ts';
import { startTestHerald, type TestHerald } from '../kit/herald.ts';
import { startPushService, type TestPushService } from '../kit/push-service.ts';
import { queryAs } from './kit/api.ts';
import { launchDashboardBrowser, openPage, screenshot, seriousViolations } from './kit/dashboard.ts';

let push: TestPushService;
let kit: TestHerald;
let browser: Browser;
let page: Awaited<ReturnType<typeof openPage>>;
let workspace: Awaited<ReturnType<typeof createWorkspace>>;

beforeAll(async () => {
  push = await startPushService();
  kit = await startTestHerald({ HERALD_PUSH_CA: push.caFile });
  workspace = await createWorkspace(kit, 'Journey shop');
  browser = await launchDashboardBrowser();
  page = await openPage(browser);
});
afterAll(async () => {
  await browser?.close();
  await kit?.stop();
  await push?.close();
});

async function checkPage(name: string) {
  await screenshot(page, name);
  expect(await seriousViolations(page), `axe on ${name}`).toEqual([]);
  expect(page.problems, `errors on ${name}`).toEqual([]);
}

const go = (path: string) => page.evaluate((to) => (history.pushState(null, '', to), dispatchEvent(new PopStateEvent('popstate'))), `/app${path}`);
const track = (externalId: string, name: string) =>
  queryAs(kit.graphqlUrl, workspace.secretKey)(`mutation($input: EventInput!) { trackEvent(input: $input) { __typename } }`, { input: { externalId, name } });

const journey = {
  name: 'Onboarding',
  entry: { event: { name: 'signed_up' } },
  steps: [
    { key: 'welcome', send: { channel: 'WEB_PUSH', content: { title: 'Welcome!', url: 'https://shop.example/' }, next: 'hold' } },
    { key: 'hold', wait: { seconds: 3600 } },
  ],
};

describe('journeys in the dashboard', () => {
  it('writes a journey, publishes it, and its step counts move live as contacts enter', async () => {
    for (const externalId of ['ada', 'bob']) await subscribeBrowser(workspace.publishable, push, { externalId });

    await page.goto(`${kit.url}/app/`);
    await page.getByLabel('Secret key').fill(workspace.secretKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();

    await page.getByRole('navigation').getByRole('link', { name: 'Journeys' }).click();
    await page.getByText('No journeys yet.').waitFor();
    await page.getByRole('link', { name: 'New journey' }).click();
    await page.getByRole('heading', { name: 'New journey' }).waitFor();
    await checkPage('journey-editor');

    // A step leading nowhere: Herald's problem is shown with its path.
    await page.getByRole('radio', { name: 'JSON (advanced)' }).check();
    const editor = page.getByLabel('Journey (JourneyInput as JSON)');
    const broken = { ...journey, steps: [{ ...journey.steps[0], send: { ...journey.steps[0]!.send, next: 'nowhere' } }, journey.steps[1]] };
    await editor.fill(JSON.stringify(broken));
    await page.getByRole('button', { name: 'Create journey' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('steps.0.send: no step has the key "nowhere"');

    await editor.fill(JSON.stringify(journey));
    await page.getByRole('button', { name: 'Create journey' }).click();
    await page.getByRole('heading', { name: 'Onboarding' }).waitFor();
    expect(await page.locator('h1 + .badge').textContent()).toBe('draft');
    expect(await page.locator('[data-step]').evaluateAll((steps) => steps.map((step) => step.getAttribute('data-step')))).toEqual(['welcome', 'hold']);
    expect(await page.locator('[data-step="welcome"] .edges').textContent()).toBe('then → hold');
    expect(await page.locator('[data-step="hold"] .edges').textContent()).toBe('then → completes');
    // The same steps drawn as a graph: a box per step, an arrow per way on.
    expect(await page.locator('[data-graph-step]').evaluateAll((steps) => steps.map((step) => step.getAttribute('data-graph-step')))).toEqual(['welcome', 'hold']);
    expect(await page.locator('[data-edge]').evaluateAll((edges) => edges.map((edge) => `${edge.getAttribute('data-edge')} ${edge.textContent}`))).toEqual(['welcome->hold then']);

    await page.getByRole('button', { name: 'Publish' }).click();
    await expect.poll(() => page.locator('h1 + .badge').textContent()).toBe('active');

    // Contacts enter while the page is open: the figures follow over the journeyStats subscription.
    await track('ada', 'signed_up');
    await expect.poll(() => page.getByTestId('step-hold-waiting').textContent()).toBe('1');
    await track('bob', 'signed_up');
    await expect.poll(() => page.getByTestId('step-hold-waiting').textContent()).toBe('2');
    expect(await page.getByTestId('step-welcome-sent').textContent()).toBe('2');
    expect(await page.getByTestId('journey-entered').textContent()).toBe('2');
    expect(await page.getByTestId('journey-active').textContent()).toBe('2');
    expect(await page.getByTestId('graph-hold-figures').textContent()).toBe('2 arrived · 2 here');
    expect(await page.getByTestId('graph-welcome-figures').textContent()).toBe('2 arrived · 0 here');
    await push.waitFor(() => push.received().length === 2);
    await checkPage('journey-live');
  });

  it('lists journeys with their status, and backtests one over the stored events', async () => {
    await go('/journeys');
    const row = page.getByRole('row').filter({ hasText: 'Onboarding' });
    await expect.poll(() => row.locator('.badge').textContent()).toBe('active');
    await checkPage('journeys');

    await row.getByRole('link', { name: 'Onboarding' }).click();
    await page.getByRole('heading', { name: 'Onboarding' }).waitFor();
    await page.getByRole('button', { name: 'Run backtest' }).click();
    await page.getByTestId('backtest-result').waitFor();
    // Over the last 30 days: the two sign-ups enter, get the welcome, and are still waiting now.
    expect(await page.getByTestId('backtest-entered').textContent()).toBe('2');
    expect(await page.getByTestId('backtest-active').textContent()).toBe('2');
    const welcome = page.locator('[data-backtest-step="welcome"] td');
    expect(await welcome.allTextContents()).toEqual(['welcome', ' 2', '2', '0', '2', '0', '0']);
    expect(await page.getByRole('img', { name: /^2 messages would have gone out from/ }).count()).toBe(1);
    await checkPage('journey-backtest');
  });

  it("shows a contact's path through the journey, and their phone, on their page", async () => {
    const query = queryAs(kit.graphqlUrl, workspace.secretKey);
    // Her phone too, listed beside her browser.
    const device = await query(`mutation($input: MutationRegisterDeviceInput!) { registerDevice(input: $input) { __typename } }`, {
      input: { externalId: 'ada', platform: 'IOS', appId: 'com.shop.app', appVersion: '2.1', token: 'ab'.repeat(32) },
    });
    expect(device.registerDevice.__typename).toBe('MutationRegisterDeviceSuccess');
    const { contact } = await query('{ contact(externalId: "ada") { id } }');
    await go(`/contacts/${contact.id}`);
    await page.getByRole('heading', { name: 'Journeys (1)' }).waitFor();
    const enrolment = page.locator('[data-enrolment="Onboarding"]');
    expect(await enrolment.locator('.badge').textContent()).toBe('active');
    const path = enrolment.getByRole('list', { name: 'Path through Onboarding' }).getByRole('listitem');
    expect(await path.locator('strong').allTextContents()).toEqual(['welcome', 'hold']);
    expect(await path.locator('.outcome').allTextContents()).toEqual(['sent by web push', 'waiting']);
    expect(await path.nth(1).textContent()).toMatch(/ until /);
    expect(await page.getByRole('list', { name: 'Phones' }).getByRole('listitem').textContent()).toMatch(/^active iOS · com\.shop\.app 2\.1, since /);
    await checkPage('contact-journey-path');
  });

  it("lists each journey's figures, read together, and they follow contacts live", async () => {
    await go('/journeys');
    const figures = () => page.getByRole('row').filter({ hasText: 'Onboarding' }).locator('td.num').allTextContents();
    // Version, entered, in it now, completed, exited, converted.
    await expect.poll(figures).toEqual(['1', '2', '2', '0', '0', '0']);
    await subscribeBrowser(workspace.publishable, push, { externalId: 'cem' });
    await track('cem', 'signed_up');
    // Her welcome push moves the workspace's deliveries, and the open list reads its figures again.
    await expect.poll(figures).toEqual(['1', '3', '3', '0', '0', '0']);
    await checkPage('journeys-live');
  });

  it('edits a journey as a form per step, the JSON tab showing the same JourneyInput, and saves it', async () => {
    await go('/journeys/new');
    await page.getByRole('heading', { name: 'New journey' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Structured');
    const steps = page.getByRole('list', { name: 'Steps' });
    expect(await steps.locator('[data-step-form]').evaluateAll((items) => items.map((item) => item.getAttribute('data-step-form')))).toEqual(['welcome', 'wait', 'clicked', 'reminder']);
    await page.getByLabel('wait: wait (seconds)').fill('7200');
    await page.getByLabel('New step').selectOption('wait');
    await page.getByRole('button', { name: 'Add a step' }).click();
    await page.getByLabel('Step 5 key').fill('cooldown');
    await page.getByLabel('cooldown: wait (seconds)').fill('60');
    await page.getByLabel('reminder: then').selectOption('cooldown');
    await page.getByLabel('clicked: yes').selectOption('cooldown');
    await checkPage('journey-editor-steps');

    await page.getByRole('radio', { name: 'JSON (advanced)' }).check();
    const json = JSON.parse(await page.getByLabel('Journey (JourneyInput as JSON)').inputValue());
    expect(json.name).toBe('Structured');
    expect(json.steps.map((step: { key: string }) => step.key)).toEqual(['welcome', 'wait', 'clicked', 'reminder', 'cooldown']);
    expect(json.steps[1].wait).toEqual({ seconds: 7200, next: 'clicked' });
    expect(json.steps[2].engagement).toEqual({ step: 'welcome', did: 'CLICKED', withinSeconds: 86400, no: 'reminder', yes: 'cooldown' });
    expect(json.steps[3].send.next).toBe('cooldown');
    expect(json.steps[4]).toEqual({ key: 'cooldown', wait: { seconds: 60 } });
    // A change in the JSON shows in the forms.
    json.steps[4].wait.seconds = 90;
    await page.getByLabel('Journey (JourneyInput as JSON)').fill(JSON.stringify(json));
    await page.getByRole('radio', { name: 'Steps' }).check();
    expect(await page.getByLabel('cooldown: wait (seconds)').inputValue()).toBe('90');

    await page.getByRole('button', { name: 'Create journey' }).click();
    await page.getByRole('heading', { name: 'Structured' }).waitFor();
    expect(await page.locator('[data-step]').evaluateAll((items) => items.map((item) => item.getAttribute('data-step')))).toEqual(['welcome', 'wait', 'clicked', 'reminder', 'cooldown']);
    expect(await page.locator('[data-edge]').evaluateAll((edges) => edges.map((edge) => `${edge.getAttribute('data-edge')} ${edge.textContent}`))).toEqual([
      'welcome->wait then',
      'wait->clicked then',
      'clicked->cooldown yes',
      'clicked->reminder no',
      'reminder->cooldown then',
    ]);
    await checkPage('journey-graph');
    const { journeys } = await queryAs(kit.graphqlUrl, workspace.secretKey)('{ journeys(first: 10) { edges { node { name draft } } } }');
    const saved = journeys.edges.find(({ node }: { node: { name: string } }) => node.name === 'Structured').node.draft;
    expect(saved.steps).toEqual(json.steps);
  });

  it('sends a step on any channel the API has: an on-site message with a question, saved as written', async () => {
    await go('/journeys/new');
    await page.getByRole('heading', { name: 'New journey' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Ask on the site');
    const channel = page.getByLabel('welcome: channel');
    const offered = await channel.locator('option').evaluateAll((options) => options.map((option) => (option as HTMLOptionElement).value));
    expect([...offered].sort()).toEqual(['EMAIL', 'IN_APP', 'MOBILE_PUSH', 'SMS', 'WEBHOOK', 'WEB_PUSH']);
    await channel.selectOption('IN_APP');
    const inApp = { layout: 'SLIDE_IN', title: 'Welcome!', question: { kind: 'STARS', text: 'How was signing up?' } };
    await page.getByLabel('welcome: message (inApp, JSON)').fill(JSON.stringify(inApp));
    await page.getByRole('button', { name: 'Create journey' }).click();
    await page.getByRole('heading', { name: 'Ask on the site' }).waitFor();
    const { journeys } = await queryAs(kit.graphqlUrl, workspace.secretKey)('{ journeys(first: 10) { edges { node { name draft } } } }');
    const saved = journeys.edges.find(({ node }: { node: { name: string } }) => node.name === 'Ask on the site').node.draft;
    // The web push the template started with is gone: a step sends on one channel.
    expect(saved.steps[0]).toEqual({ key: 'welcome', send: { channel: 'IN_APP', inApp, next: 'wait' } });
    await checkPage('journey-on-site-step');
  });
});
