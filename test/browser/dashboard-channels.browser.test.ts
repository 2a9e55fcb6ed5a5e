/**
 * The campaign editor's webhook and phone-push channels in real Chromium against a live Herald:
 * the webhook's JSON body checked as typed, its request previewed, and the saved campaign sent to
 * a real HTTPS receiver that verifies the signature and sees the header and the rendered body; the
 * phone push previewed as iOS and Android show it, its data checked as JSON, saved and read back;
 * the APNs and FCM settings, their keys write-only (only "configured" ever shows).
 * axe-core checks each page; screenshots go to test/browser/artifacts.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspace } from '../kit/flow.ts';
import { startTestHerald, type TestHerald } from '../kit/herald.ts';
import { startWebhookReceiver, type TestWebhookReceiver } from '../kit/webhook-receiver.ts';
import { queryAs } from './kit/api.ts';
import { checkPage, type DashboardPage, goTo, launchDashboardBrowser, newCampaign, signedIn } from './kit/dashboard.ts';

let receiver: TestWebhookReceiver;
let kit: TestHerald;
let browser: Browser;
let page: DashboardPage;
let workspace: Awaited<ReturnType<typeof createWorkspace>>;
let query: ReturnType<typeof queryAs>;

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  kit = await startTestHerald({ HERALD_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', HERALD_WEBHOOK_CA: receiver.caFile });
  workspace = await createWorkspace(kit, 'Channel shop');
  query = queryAs(kit.graphqlUrl, workspace.secretKey);
  browser = await launchDashboardBrowser();
  page = await signedIn(browser, kit.url, workspace.secretKey);
});
afterAll(async () => {
  await browser?.close();
  await kit?.stop();
  await receiver?.close();
});

const go = (path: string) => goTo(page, path);


const startCampaign = (name: string, channel: string) => newCampaign(page, name, channel);

describe('the webhook editor', () => {
  it('checks the JSON body as typed, previews the request, and the sent webhook carries the header and the rendered body', async () => {
    const { viewer } = await query('{ viewer { webhookSigningSecret } }');
    receiver.trust(viewer.webhookSigningSecret);
    await query(`mutation { upsertContact(input: { externalId: "ada", firstName: "Ada", tags: ["vip"] }) { __typename } }`);

    await startCampaign('Tell the CRM', 'WEBHOOK');
    await expect.poll(() => page.locator('.preview-count p').textContent()).toBe('1 contacts · 1 reached by the webhook');
    await page.getByLabel('Method').selectOption('PUT');
    await page.getByLabel('URL', { exact: true }).fill(receiver.url('/hook/{{ contact.externalId }}'));
    await page.getByRole('button', { name: 'Add a header' }).click();
    await page.getByLabel('Header 1 name').fill('Authorization');
    await page.getByLabel('Header 1 value').fill('Bearer s3cret');

    const body = page.getByLabel(/^Body/);
    const check = page.getByTestId('webhook-json');
    expect(await check.textContent()).toBe('Herald’s own JSON payload');
    await body.fill('{"name": "{{ contact.firstName }}", "tags": {{ contact.tags | json }}');
    expect(await check.textContent()).toBe('Not JSON yet');
    await expect.poll(() => page.locator('.field.invalid label').allTextContents()).toEqual(['Body (a JSON template; empty: Herald’s own payload)']);
    await body.fill('{"name": "{{ contact.firstName }}", "tags": {{ contact.tags | json }}, "source": "herald"}');
    expect(await check.textContent()).toBe('JSON ✓');
    expect(await page.locator('.field.invalid').count()).toBe(0);

    const preview = await page.getByTestId('webhook-preview').textContent();
    expect(preview).toContain(`PUT ${receiver.origin}/hook/‹externalId›\n`);
    expect(preview).toContain('webhook-signature: v1,‹signature›');
    expect(preview).toContain('Authorization: ••••••');
    expect(preview).not.toContain('s3cret');
    expect(preview).toContain('{"name": "‹firstName›", "tags": ‹tags›, "source": "herald"}');
    await checkPage(page, 'campaign-editor-webhook');

    await page.getByRole('radio', { name: 'Send now' }).check();
    await page.getByRole('button', { name: 'Save and send now' }).click();
    await page.getByRole('heading', { name: 'Tell the CRM' }).waitFor();
    await receiver.waitFor(() => receiver.received().length === 1);
    const [request] = receiver.received();
    expect(request).toMatchObject({ method: 'PUT', path: '/hook/ada', json: { name: 'Ada', tags: ['vip'], source: 'herald' } });
    expect(request!.headers.authorization).toBe('Bearer s3cret');

    // The editor reads the saved request back: the header by name, its value never shown.
    const { campaigns } = await query('{ campaigns(first: 1) { edges { node { id } } } }');
    await go(`/campaigns/${campaigns.edges[0].node.id}/edit`);
    await page.getByRole('heading', { name: 'Edit Tell the CRM' }).waitFor();
    expect(await page.getByLabel('URL', { exact: true }).inputValue()).toBe(receiver.url('/hook/{{ contact.externalId }}'));
    expect(await page.getByLabel('Method').inputValue()).toBe('PUT');
    expect(await page.getByLabel('Header 1 name').inputValue()).toBe('Authorization');
    expect(await page.getByLabel(/^Body/).inputValue()).toBe('{"name": "{{ contact.firstName }}", "tags": {{ contact.tags | json }}, "source": "herald"}');
    expect(await page.getByTestId('webhook-preview').textContent()).not.toContain('s3cret');

    // A test from the editor: an unknown contact is named at the field; Ada gets the saved request again.
    const who = page.getByLabel('Contact’s email or external id');
    await who.fill('nobody');
    await page.getByRole('button', { name: 'Send test' }).click();
    await page.getByText('No contact with external id “nobody”.').waitFor();
    await who.fill('ada');
    await page.getByRole('button', { name: 'Send test' }).click();
    await page.getByRole('status').filter({ hasText: /^Test sent/ }).waitFor();
    await receiver.waitFor(() => receiver.received().length === 2);
    expect(receiver.received()[1]).toMatchObject({ method: 'PUT', path: '/hook/ada', json: { name: 'Ada', tags: ['vip'], source: 'herald' } });
  });
});

describe('the phone push editor', () => {
  it('previews the push as iOS and Android show it, checks its data as JSON, and saves every field', async () => {
    await startCampaign('Shoe sale', 'MOBILE_PUSH');
    await page.getByLabel('Title').fill("Hi {{ contact.firstName | default: 'there' }}");
    await page.getByLabel('Body', { exact: true }).fill('Shoes are 30% off until midnight');
    await page.getByLabel('Image URL (https)').fill('https://cdn.example/shoe.png');
    await page.getByLabel('Deep link (opens in the app)').fill('myshop://product/42');
    await page.getByLabel('Badge count').fill('3');
    await page.getByLabel('Sound').fill('default');
    await page.getByLabel('Category (buttons)').fill('SALE');
    const data = page.getByLabel(/^Data for the app/);
    await data.fill('{"productId": "42",');
    await expect.poll(() => page.locator('.field.invalid label').allTextContents()).toEqual(['Data for the app (a JSON object of strings, numbers and booleans)']);
    await data.fill('["42"]');
    expect(await page.locator('.field.invalid small.error').textContent()).toBe('must be a JSON object, e.g. {"productId": "42"}');
    await data.fill('{"productId": "42", "sale": true}');
    expect(await page.locator('.field.invalid').count()).toBe(0);

    const preview = page.getByTestId('mobile-preview');
    expect(await preview.getAttribute('aria-label')).toBe('The push as iOS shows it');
    expect(await preview.locator('.title').textContent()).toBe('Hi there');
    expect(await preview.locator('.body').textContent()).toBe('Shoes are 30% off until midnight');
    expect(await preview.getByLabel('badge 3').textContent()).toBe('3');
    expect(await preview.locator('img.thumb').getAttribute('src')).toBe('https://cdn.example/shoe.png');
    expect(await page.getByTestId('mobile-opens').textContent()).toBe('Tapping it opens myshop://product/42. Sound: default.');
    await checkPage(page, 'campaign-editor-mobile-ios');
    await page.getByRole('radio', { name: 'Android' }).check();
    expect(await preview.getAttribute('aria-label')).toBe('The push as Android shows it');
    expect(await preview.locator('img.image').getAttribute('src')).toBe('https://cdn.example/shoe.png');
    expect(await preview.locator('img.thumb').count()).toBe(0);
    await checkPage(page, 'campaign-editor-mobile-android');

    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.getByRole('heading', { name: 'Shoe sale' }).waitFor();
    const { campaigns } = await query('{ campaigns(first: 5) { edges { node { id name channel mobilePush { title body imageUrl url data badge sound category topic ttlSeconds } } } } }');
    const saved = campaigns.edges.map(({ node }: { node: { name: string } }) => node).find((node: { name: string }) => node.name === 'Shoe sale');
    expect(saved).toMatchObject({
      channel: 'MOBILE_PUSH',
      mobilePush: {
        title: "Hi {{ contact.firstName | default: 'there' }}",
        body: 'Shoes are 30% off until midnight',
        imageUrl: 'https://cdn.example/shoe.png',
        url: 'myshop://product/42',
        data: { productId: '42', sale: true },
        badge: 3,
        sound: 'default',
        category: 'SALE',
        topic: null,
        ttlSeconds: null,
      },
    });

    // Read back into the editor as written.
    await go(`/campaigns/${saved.id}/edit`);
    await page.getByRole('heading', { name: 'Edit Shoe sale' }).waitFor();
    expect(await page.getByLabel('Channel').inputValue()).toBe('MOBILE_PUSH');
    expect(JSON.parse(await page.getByLabel(/^Data for the app/).inputValue())).toEqual({ productId: '42', sale: true });
    expect(await page.getByLabel('Badge count').inputValue()).toBe('3');
    expect(await page.getByLabel('Deep link (opens in the app)').inputValue()).toBe('myshop://product/42');
  });
});

/** The key body of a PEM (what must never come back), without its armour lines. */
const keyBody = (pem: string) => pem.split('\n').filter((line) => line && !line.startsWith('-----')).join('');

describe('the APNs and FCM settings', () => {
  it('saves the APNs key write-only: a bad team id refused at its field, then only "configured" shows', async () => {
    const p8 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    await go('/settings');
    const form = page.getByRole('region', { name: 'Push to iPhones (APNs)' });
    await form.getByLabel('Team ID').waitFor();
    expect(await page.getByTestId('apns-state').textContent()).toBe('not configured');
    await form.getByLabel('Team ID').fill('nope');
    await form.getByLabel('Key ID').fill('KEY1234567');
    await form.getByLabel('Bundle ID').fill('com.shop.app');
    await form.getByLabel(/^Private key/).fill(p8);
    await form.getByRole('checkbox', { name: /Production/ }).uncheck();
    await form.getByRole('button', { name: 'Save APNs settings' }).click();
    await expect.poll(() => form.locator('.field.invalid label').allTextContents()).toEqual(['Team ID']);

    await form.getByLabel('Team ID').fill('ABCDE12345');
    await form.getByRole('button', { name: 'Save APNs settings' }).click();
    await expect.poll(() => form.getByRole('status').textContent()).toBe(' Saved.');
    await expect.poll(() => page.getByTestId('apns-state').textContent()).toBe('configured');
    expect(await form.getByLabel(/^Private key/).inputValue()).toBe('');
    expect(await form.getByText('A key is stored; paste a new one to replace it.').count()).toBe(1);
    expect(await page.content()).not.toContain(keyBody(p8).slice(0, 40));

    // Saved again without a key: the stored one stays.
    await form.getByLabel('Bundle ID').fill('com.shop.app2');
    await form.getByRole('button', { name: 'Save APNs settings' }).click();
    await expect.poll(async () => (await query('{ viewer { settings { apns { teamId keyId bundleId production baseUrl } } } }')).viewer.settings.apns).toEqual({
      teamId: 'ABCDE12345',
      keyId: 'KEY1234567',
      bundleId: 'com.shop.app2',
      production: false,
      baseUrl: null,
    });
    await checkPage(page, 'settings-apns');
  });

  it('saves the FCM service account write-only: its project and client shown, its key never; removing it forgets it', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const account = { type: 'service_account', project_id: 'shop-app-123', client_email: 'herald@shop-app-123.iam.gserviceaccount.com', private_key: rsa };
    const form = page.getByRole('region', { name: 'Push to Android phones (FCM)' });
    expect(await page.getByTestId('fcm-state').textContent()).toBe('not configured');
    const field = form.getByLabel(/^Service account/);
    await field.fill('{"type": "service_account"');
    await form.getByRole('button', { name: 'Save FCM settings' }).click();
    await expect.poll(() => form.locator('.field.invalid label').allTextContents()).toEqual(['Service account (its JSON key file)']);

    await field.fill(JSON.stringify(account));
    await form.getByRole('button', { name: 'Save FCM settings' }).click();
    await expect.poll(() => page.getByTestId('fcm-state').textContent()).toBe('configured project shop-app-123 as herald@shop-app-123.iam.gserviceaccount.com');
    expect(await field.inputValue()).toBe('');
    expect(await page.content()).not.toContain(keyBody(rsa).slice(0, 40));
    const settings = await query('{ viewer { settings { fcm { projectId clientEmail baseUrl } } } }');
    expect(settings.viewer.settings.fcm).toEqual({ projectId: 'shop-app-123', clientEmail: 'herald@shop-app-123.iam.gserviceaccount.com', baseUrl: null });
    await checkPage(page, 'settings-fcm');

    page.once('dialog', (dialog) => dialog.accept());
    await form.getByRole('button', { name: 'Remove FCM settings' }).click();
    await expect.poll(() => page.getByTestId('fcm-state').textContent()).toBe('not configured');
    expect((await query('{ viewer { settings { fcm { projectId } apns { teamId } } } }')).viewer.settings).toEqual({ fcm: null, apns: { teamId: 'ABCDE12345' } });
  });
});
