import { describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import { dataOf, take, wsClient } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';
import { ledgerRow, sentEmailCampaign } from './sent-emails.ts';

const Stats = graphql(`
  query EmailTrackingStats($id: ID!) {
    campaign(id: $id) { stats { sent delivered displayed opened machineOpened clicked unsubscribed conversions clickRate } }
  }
`);
const LiveStats = graphql(`
  subscription EmailLiveStats($id: ID!) { campaignStats(campaignId: $id) { opened clicked } }
`);
const Purchase = graphql(`
  mutation EmailPurchase($externalId: String!) {
    trackEvent(input: { externalId: $externalId, name: "purchase" }) { __typename }
  }
`);

// Real agents: a person's Apple Mail, Gmail's image proxy (fetches only on open), Apple Mail
// Privacy Protection's prefetch (a bare Mozilla/5.0), Microsoft's link scanner.
const APPLE_MAIL = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)';
const GMAIL_PROXY = 'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)';
const APPLE_PRIVACY_PROXY = 'Mozilla/5.0';
const LINK_SCANNER = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) BingPreview/1.0b';

const h = useHerald({}, { push: false });

const get = (url: string, userAgent = APPLE_MAIL, method = 'GET') => fetch(url, { method, redirect: 'manual', headers: { 'user-agent': userAgent } });

describe('email opens', () => {
  it('answers the same no-store GIF for any token and counts a person’s open once', async () => {
    const { secret, workspace } = await h.workspace();
    const campaign = await sentEmailCampaign(h.kit, workspace.id, [{ externalId: 'ada' }]);
    const [ada] = campaign.messages;

    for (let i = 0; i < 3; i++) {
      const response = await get(ada!.pixel);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('image/gif');
      expect(response.headers.get('cache-control')).toContain('no-store');
      const gif = Buffer.from(await response.arrayBuffer());
      expect([gif.subarray(0, 6).toString(), gif.readUInt16LE(6), gif.readUInt16LE(8)]).toEqual(['GIF89a', 1, 1]);
    }
    const row = await ledgerRow(h.kit, ada!.id);
    expect(row.openedAt).toBeInstanceOf(Date);
    expect(row.displayedAt).toBeInstanceOf(Date);
    expect(dataOf(await secret(Stats, { id: campaign.globalId })).campaign!.stats).toMatchObject({ opened: 1, displayed: 1, machineOpened: 0, sent: 1, delivered: 1 });

    // A forged or foreign token gets the very same image, and changes nothing.
    const forged = ada!.pixel.replace(/\.[A-Za-z0-9_-]+\.gif$/, '.AAAAAAAAAAAAAAAAAAAAAA.gif');
    for (const url of [forged, `${h.kit.url}/e/o/nonsense.gif`, `${h.kit.url}/e/o/${ada!.token}`]) {
      const response = await get(url);
      expect(response.status).toBe(200);
      expect(Buffer.from(await response.arrayBuffer())).toEqual(Buffer.from(await (await get(ada!.pixel)).arrayBuffer()));
    }
    expect(dataOf(await secret(Stats, { id: campaign.globalId })).campaign!.stats.opened).toBe(1);
  });

  it('counts privacy-proxy prefetches and loads seconds after sending apart, not as opens; Gmail’s proxy is a person', async () => {
    const { secret, workspace } = await h.workspace();
    const campaign = await sentEmailCampaign(h.kit, workspace.id, [
      { externalId: 'early' }, // loaded right after sending
      { externalId: 'apple' }, // Apple Mail Privacy Protection, an hour later
      { externalId: 'gmail' }, // Gmail's proxy, right after sending: Gmail fetches only when opened
      { externalId: 'scanned' }, // HEAD from a gateway, then the person an hour later
    ].map((recipient, index) => ({ ...recipient, sentSecondsAgo: index % 2 === 0 ? 1 : 3600 })));
    const [early, apple, gmail, scanned] = campaign.messages;

    await get(early!.pixel);
    await get(apple!.pixel, APPLE_PRIVACY_PROXY);
    await get(apple!.pixel, APPLE_PRIVACY_PROXY);
    await get(gmail!.pixel, GMAIL_PROXY);
    await get(scanned!.pixel, APPLE_MAIL, 'HEAD');
    await get(scanned!.pixel, APPLE_MAIL);

    expect((await ledgerRow(h.kit, early!.id)).openedAt).toBeNull();
    expect((await ledgerRow(h.kit, apple!.id)).openedAt).toBeNull();
    expect((await ledgerRow(h.kit, gmail!.id)).openedAt).toBeInstanceOf(Date);
    expect((await ledgerRow(h.kit, scanned!.id)).openedAt).toBeInstanceOf(Date);
    expect(dataOf(await secret(Stats, { id: campaign.globalId })).campaign!.stats).toMatchObject({ opened: 2, machineOpened: 3, displayed: 4 });
  });
});

describe('email clicks', () => {
  it('redirects a signed link, counts the click once and the open it implies, and updates live stats', async () => {
    const { secret, secretKey, workspace } = await h.workspace();
    const campaign = await sentEmailCampaign(h.kit, workspace.id, [{ externalId: 'ada' }, { externalId: 'bob' }]);
    const [ada] = campaign.messages;
    const target = 'https://shop.example/sale?utm_source=email&x=<1>';

    const client = wsClient(h.kit.wsUrl, secretKey);
    let subscribed!: () => void;
    const snapshotIn = new Promise<void>((resolve) => (subscribed = resolve));
    const live = take(client, LiveStats, { id: campaign.globalId }, 2, () => subscribed());
    await snapshotIn;
    const first = await get(ada!.link(target));
    expect(first.status).toBe(302);
    expect(first.headers.get('location')).toBe(new URL(target).href);
    expect((await live).map((result) => result.data?.campaignStats)).toEqual([{ opened: 0, clicked: 0 }, { opened: 1, clicked: 1 }]);
    await client.dispose();

    const again = await get(ada!.link(target));
    expect(again.status).toBe(302);
    const row = await ledgerRow(h.kit, ada!.id);
    expect(row.clickedAt).toBeInstanceOf(Date);
    expect(row.openedAt).toBeInstanceOf(Date);
    expect(dataOf(await secret(Stats, { id: campaign.globalId })).campaign!.stats).toMatchObject({ clicked: 1, opened: 1, delivered: 2, clickRate: 0.5 });
  });

  it('never redirects a link whose signature, target or token does not verify', async () => {
    const { secret, workspace } = await h.workspace();
    const campaign = await sentEmailCampaign(h.kit, workspace.id, [{ externalId: 'ada' }]);
    const [ada] = campaign.messages;
    const good = new URL(ada!.link('https://shop.example/'));

    const tampered = new URL(good);
    tampered.searchParams.set('u', 'https://evil.example/');
    const badSignature = new URL(good);
    badSignature.searchParams.set('s', 'AAAAAAAAAAAAAAAAAAAAAA');
    const unsigned = new URL(good);
    unsigned.searchParams.delete('s');
    const otherToken = new URL(good.href.replace(ada!.token, `${ada!.token.split('.')[0]}.AAAAAAAAAAAAAAAAAAAAAA`));
    // Even a correctly signed target is refused unless it is http(s).
    const script = new URL(ada!.link('javascript:alert(document.domain)'));

    for (const url of [tampered, badSignature, unsigned, otherToken, script]) {
      const response = await get(url.href);
      expect(response.status).toBe(400);
      expect(response.headers.get('location')).toBeNull();
      expect(response.headers.get('content-type')).toContain('text/html');
    }
    expect((await ledgerRow(h.kit, ada!.id)).clickedAt).toBeNull();
    expect(dataOf(await secret(Stats, { id: campaign.globalId })).campaign!.stats).toMatchObject({ clicked: 0, opened: 0 });
  });

  it('redirects link scanners without counting them: HEAD, known scanner agents, seconds after delivery', async () => {
    const { secret, workspace } = await h.workspace();
    const campaign = await sentEmailCampaign(h.kit, workspace.id, [{ externalId: 'old', sentSecondsAgo: 3600 }, { externalId: 'fresh', sentSecondsAgo: 1 }]);
    const [old, fresh] = campaign.messages;
    const target = 'https://shop.example/';

    for (const response of [await get(old!.link(target), APPLE_MAIL, 'HEAD'), await get(old!.link(target), LINK_SCANNER), await get(fresh!.link(target))]) {
      expect(response.status).toBe(302);
      expect(response.headers.get('location')).toBe(target);
    }
    expect((await ledgerRow(h.kit, old!.id)).clickedAt).toBeNull();
    expect((await ledgerRow(h.kit, fresh!.id)).clickedAt).toBeNull();
    expect(dataOf(await secret(Stats, { id: campaign.globalId })).campaign!.stats).toMatchObject({ clicked: 0, opened: 0, machineOpened: 0 });

    // The person's own click later counts.
    expect((await get(old!.link(target))).status).toBe(302);
    expect(dataOf(await secret(Stats, { id: campaign.globalId })).campaign!.stats).toMatchObject({ clicked: 1, opened: 1 });
  });

  it('credits conversions to an email as to a push', async () => {
    const { secret, workspace } = await h.workspace();
    const campaign = await sentEmailCampaign(h.kit, workspace.id, [{ externalId: 'ada' }], { conversion: { event: 'purchase', withinSeconds: 7200 } });
    expect(dataOf(await secret(Purchase, { externalId: 'ada' })).trackEvent.__typename).toBe('MutationTrackEventSuccess');
    expect((await ledgerRow(h.kit, campaign.messages[0]!.id)).convertedAt).toBeInstanceOf(Date);
    expect(dataOf(await secret(Stats, { id: campaign.globalId })).campaign!.stats.conversions).toBe(1);
  });
});

describe('unsubscribe', () => {
  it('shows a self-contained confirmation page on GET and changes nothing', async () => {
    const { workspace } = await h.workspace('Fox & <Sons>');
    const campaign = await sentEmailCampaign(h.kit, workspace.id, [{ externalId: 'ada' }]);
    const [ada] = campaign.messages;

    const page = await get(ada!.unsubscribe);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await page.text();
    expect(html).toContain('Fox &#38; &#60;Sons&#62;');
    expect(html).not.toContain('<Sons>');
    expect(html).toContain(`<form method="post" action="/e/u/${ada!.token}">`);
    expect(html).not.toMatch(/<script|src=|href=/);
    expect((await ledgerRow(h.kit, ada!.id)).contact.emailStatus).toBe('SUBSCRIBED');
  });

  it('unsubscribes at once on RFC 8058 one-click and on the page’s own POST, once per message', async () => {
    const { secret, workspace } = await h.workspace();
    const campaign = await sentEmailCampaign(h.kit, workspace.id, [{ externalId: 'ada' }, { externalId: 'bob' }, { externalId: 'cy' }]);
    const [ada, bob, cy] = campaign.messages;
    const oneClick = () =>
      fetch(ada!.unsubscribe, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });

    const first = await oneClick();
    expect(first.status).toBe(200);
    expect(await first.text()).toContain('You are unsubscribed');
    const { contact } = await ledgerRow(h.kit, ada!.id);
    expect(contact).toMatchObject({ emailStatus: 'UNSUBSCRIBED', emailStatusSource: 'unsubscribe-link', emailStatusAt: expect.any(Date) });
    expect((await oneClick()).status).toBe(200);
    expect((await ledgerRow(h.kit, ada!.id)).contact.emailStatusAt).toEqual(contact.emailStatusAt);

    // The page's form (its hidden field) and an empty POST; a multipart one-click as RFC 8058 also allows.
    const form = new FormData();
    form.set('List-Unsubscribe', 'One-Click');
    expect((await fetch(bob!.unsubscribe, { method: 'POST', body: '' })).status).toBe(200);
    expect((await fetch(cy!.unsubscribe, { method: 'POST', body: form })).status).toBe(200);
    expect((await ledgerRow(h.kit, bob!.id)).contact.emailStatus).toBe('UNSUBSCRIBED');
    expect((await ledgerRow(h.kit, cy!.id)).contact.emailStatus).toBe('UNSUBSCRIBED');
    expect(dataOf(await secret(Stats, { id: campaign.globalId })).campaign!.stats.unsubscribed).toBe(3);
  });

  it('answers 404 for an invalid token and 400 for another body, and changes nothing', async () => {
    const { secret, workspace } = await h.workspace();
    const campaign = await sentEmailCampaign(h.kit, workspace.id, [{ externalId: 'ada' }]);
    const [ada] = campaign.messages;
    const forged = ada!.unsubscribe.replace(ada!.token, `${ada!.token.split('.')[0]}.AAAAAAAAAAAAAAAAAAAAAA`);

    expect((await get(forged)).status).toBe(404);
    expect((await fetch(forged, { method: 'POST', body: 'List-Unsubscribe=One-Click' })).status).toBe(404);
    expect((await fetch(`${h.kit.url}/e/u/<script>`, { method: 'POST', body: '' })).status).toBe(404);
    expect((await fetch(ada!.unsubscribe, { method: 'POST', body: 'List-Unsubscribe=Later' })).status).toBe(400);
    expect((await fetch(ada!.unsubscribe, { method: 'PUT', body: '' })).status).toBe(405);
    expect((await ledgerRow(h.kit, ada!.id)).contact.emailStatus).toBe('SUBSCRIBED');
    expect(dataOf(await secret(Stats, { id: campaign.globalId })).campaign!.stats.unsubscribed).toBe(0);
  });
});
