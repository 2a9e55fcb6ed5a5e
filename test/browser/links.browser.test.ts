/**
 * A smart link in a push, followed in real Chromium (playwright-core driving Debian's chromium):
 * an iPhone-emulated page (Playwright's device descriptor: its User-Agent, viewport and touch), an
 * Android-emulated one and a desktop one open the same link from the same push and land on their
 * own targets, with the UTM parameters; each click is counted by device, with the contact.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser, devices } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaign, subscribeBrowser } from '../kit/campaigns.ts';
import { createWorkspace } from '../kit/flow.ts';
import { startTestHerald, type TestHerald } from '../kit/herald.ts';
import { startPushService, type TestPushService } from '../kit/push-service.ts';
import { eventually, queryAs } from './kit/api.ts';
import { launchDashboardBrowser } from './kit/dashboard.ts';

/** Chrome on Windows: a headless Chromium's own agent says "HeadlessChrome", which Herald counts as a machine. */
const DESKTOP_CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';

let push: TestPushService;
let kit: TestHerald;
let browser: Browser;
/** The shop's site: every page names its path in its title. */
let site: Server;
let siteUrl = '';

beforeAll(async () => {
  push = await startPushService();
  kit = await startTestHerald({ HERALD_PUSH_CA: push.caFile });
  browser = await launchDashboardBrowser();
  site = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://site.invalid').pathname;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(`<!doctype html><title>${path}</title><h1>${path}</h1>`);
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await browser?.close();
  await kit?.stop();
  await push?.close();
  await new Promise((resolve) => site?.close(resolve));
});

describe('a smart link in a push', () => {
  it('takes a phone and a desktop browser to different targets, and counts each by device with the contact', async () => {
    const shop = await createWorkspace(kit);
    const as = queryAs(kit.graphqlUrl, shop.secretKey);
    const made = await as(
      `mutation($input: MutationCreateLinkInput!) { createLink(input: $input) { __typename ... on MutationCreateLinkSuccess { data { id shortUrl } } } }`,
      { input: { url: `${siteUrl}/desktop`, ios: `${siteUrl}/iphone`, android: `${siteUrl}/android`, utm: { utm_source: 'herald', utm_medium: 'push' } } },
    );
    const link = made.createLink.data as { id: string; shortUrl: string };

    const { browser: subscription } = await subscribeBrowser(shop.publishable, push, { externalId: 'ada' });
    const campaignId = await createCampaign(shop.secret, { name: 'Spring', kind: 'BROADCAST', content: { title: 'Spring sale', url: link.shortUrl } });
    await as(`mutation($id: ID!) { sendCampaignNow(input: { id: $id }) { __typename } }`, { id: campaignId });
    await push.waitFor(() => push.received(subscription.id).length === 1, 20_000);
    const tapped = (push.received(subscription.id)[0]!.json as { url: string }).url;
    expect(tapped).toMatch(new RegExp(`^${link.shortUrl}\\?m=`));

    const visitors = [
      { name: 'iPhone', context: { ...devices['iPhone 14'] }, lands: '/iphone' },
      { name: 'Android', context: { ...devices['Pixel 7'] }, lands: '/android' },
      { name: 'desktop', context: { viewport: { width: 1280, height: 800 }, userAgent: DESKTOP_CHROME }, lands: '/desktop' },
    ];
    for (const visitor of visitors) {
      const context = await browser.newContext(visitor.context);
      try {
        const page = await context.newPage();
        const referers: (string | undefined)[] = [];
        page.on('request', (request) => request.url().startsWith(siteUrl) && referers.push(request.headers().referer));
        await page.goto(tapped);
        const landed = new URL(page.url());
        expect(`${landed.origin}${landed.pathname}`, visitor.name).toBe(`${siteUrl}${visitor.lands}`);
        expect(Object.fromEntries(landed.searchParams), visitor.name).toEqual({ utm_source: 'herald', utm_medium: 'push' });
        expect(await page.title()).toBe(visitor.lands);
        // The message token in the short link never reaches the target's server.
        expect(referers, visitor.name).toEqual([undefined]);
      } finally {
        await context.close();
      }
    }

    const stats = await eventually('three clicks counted', async () => {
      const data = await as(`query($id: ID!) { node(id: $id) { ... on Link { clicks clicksByDevice { device clicks } } } }`, { id: link.id });
      return data.node.clicks === 3 ? data.node : undefined;
    });
    expect(stats.clicksByDevice).toEqual([{ device: 'IOS', clicks: 1 }, { device: 'ANDROID', clicks: 1 }, { device: 'DESKTOP', clicks: 1 }]);
    const clicks = await kit.herald.prisma.linkClick.findMany({ include: { contact: { select: { externalId: true } } } });
    expect(clicks.map((click) => click.contact?.externalId)).toEqual(['ada', 'ada', 'ada']);
  });
});
