import { describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import { activateCampaign, CreateCampaign, createCampaign, SendNow, subscribeBrowser, waitForStatus } from '../kit/campaigns.ts';
import { dataOf, errorCodes } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';

/**
 * Smart links (issue 23): createLink and links(first, after) over GraphQL, and /l/<code> followed
 * over real HTTP by the User-Agents of an iPhone, an Android phone, desktop Chrome and machines.
 */

export const AGENTS = {
  iphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  android: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36',
  desktop: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
};

const CreateLink = graphql(`
  mutation TestCreateLink($input: MutationCreateLinkInput!) {
    createLink(input: $input) {
      __typename
      ... on MutationCreateLinkSuccess { data { id code shortUrl url ios android fallback utm clicks clicksByDevice { device clicks } createdAt } }
      ... on ValidationError { fieldErrors { path message } }
      ... on Error { code message }
    }
  }
`);

const Links = graphql(`
  query TestLinks($first: Int, $after: String) {
    links(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor node { id shortUrl url clicks clicksByDevice { device clicks } } }
    }
  }
`);

const LinkById = graphql(`
  query TestLinkById($id: ID!) {
    node(id: $id) { ... on Link { id clicks clicksByDevice { device clicks } } }
  }
`);

const SetAppSchemes = graphql(`
  mutation TestSetAppSchemes($schemes: [String!]) {
    updateWorkspaceSettings(input: { links: { appSchemes: $schemes } }) {
      __typename
      ... on MutationUpdateWorkspaceSettingsSuccess { data { settings { links { appSchemes } } } }
      ... on ValidationError { fieldErrors { path message } }
    }
  }
`);

const IdentifyForLinks = graphql(`
  mutation TestIdentifyForLinks($input: MutationIdentifyContactInput!) {
    identifyContact(input: $input) { __typename ... on Error { message } }
  }
`);

const UpsertForLinks = graphql(`
  mutation TestUpsertForLinks($input: ContactInput!) {
    upsertContact(input: $input) { __typename }
  }
`);

const h = useHerald();
const shop = h.useWorkspace('Links shop');

type Client = typeof shop.secret;

async function created(client: Client, input: Record<string, unknown>) {
  const result = dataOf(await client(CreateLink, { input } as never)).createLink;
  if (result.__typename !== 'MutationCreateLinkSuccess') throw new Error(`createLink failed: ${JSON.stringify(result)}`);
  return result.data;
}

/** Follows a short link once, as `agent` would, without following the redirect. */
async function follow(url: string, agent?: string, method = 'GET') {
  const response = await fetch(url, { method, redirect: 'manual', headers: agent === undefined ? {} : { 'user-agent': agent } });
  await response.arrayBuffer();
  return { status: response.status, location: response.headers.get('location'), headers: response.headers };
}

async function clicksOf(client: Client, id: string) {
  const node = dataOf(await client(LinkById, { id })).node;
  if (!node || !('clicks' in node)) throw new Error('link not found');
  return { clicks: node.clicks, byDevice: Object.fromEntries(node.clicksByDevice.map((entry) => [entry.device, entry.clicks])) };
}

async function linkCount() {
  return h.kit.herald.prisma.link.count();
}

describe('createLink and links', () => {
  it('creates a short link under Herald’s public address and lists it, page by page', async () => {
    const first = await created(shop.secret, { url: 'https://shop.example/spring', utm: { utm_source: 'herald', utm_campaign: 'spring' } });
    expect(first.shortUrl).toBe(`${h.kit.url}/l/${first.code}`);
    expect(first.code).toMatch(/^[A-Za-z0-9]{8}$/);
    expect(first).toMatchObject({ url: 'https://shop.example/spring', ios: null, android: null, fallback: null, clicks: 0, utm: { utm_source: 'herald', utm_campaign: 'spring' } });
    expect(first.clicksByDevice).toEqual([{ device: 'IOS', clicks: 0 }, { device: 'ANDROID', clicks: 0 }, { device: 'DESKTOP', clicks: 0 }]);
    const second = await created(shop.secret, { url: 'https://shop.example/summer' });
    expect(second.code).not.toBe(first.code);

    const page1 = dataOf(await shop.secret(Links, { first: 1 })).links;
    expect(page1.totalCount).toBeGreaterThanOrEqual(2);
    expect(page1.pageInfo.hasNextPage).toBe(true);
    const page2 = dataOf(await shop.secret(Links, { first: 100, after: page1.pageInfo.endCursor })).links;
    const ids = [...page1.edges, ...page2.edges].map((edge) => edge.node.id);
    expect(ids).toEqual(expect.arrayContaining([first.id, second.id]));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('refuses a publishable key, and a publishable key lists nothing', async () => {
    const before = await linkCount();
    const made = await shop.publishable(CreateLink, { input: { url: 'https://shop.example/' } });
    expect(errorCodes(made)).toEqual(['FORBIDDEN']);
    expect(made.data ?? null).toBeNull();
    const listed = await shop.publishable(Links, { first: 10 });
    expect(errorCodes(listed)).toEqual(['FORBIDDEN']);
    expect(listed.data ?? null).toBeNull();
    expect(await linkCount()).toBe(before);
  });

  it('does not list or show another workspace’s link', async () => {
    const other = await h.workspace('Other links shop');
    const theirs = await created(other.secret, { url: 'https://other.example/' });
    const mine = dataOf(await shop.secret(Links, { first: 1000 })).links;
    expect(mine.edges.map((edge) => edge.node.id)).not.toContain(theirs.id);
    expect(JSON.stringify(mine)).not.toContain(theirs.code);
    expect(dataOf(await shop.secret(LinkById, { id: theirs.id })).node).toBeNull();
    // Their own list has it, and only it.
    expect(dataOf(await other.secret(Links, { first: 1000 })).links.edges.map((edge) => edge.node.id)).toEqual([theirs.id]);
  });

  it('refuses unsafe and malformed targets with a typed ValidationError, storing nothing', async () => {
    const before = await linkCount();
    const cases: [Record<string, unknown>, string[]][] = [
      [{ url: 'javascript:alert(document.cookie)' }, ['input', 'url']],
      [{ url: 'data:text/html,<script>alert(1)</script>' }, ['input', 'url']],
      [{ url: 'file:///etc/passwd' }, ['input', 'url']],
      [{ url: '//evil.example/' }, ['input', 'url']],
      [{ url: 'shop.example/no-scheme' }, ['input', 'url']],
      [{ url: 'https://shop.example@evil.example/' }, ['input', 'url']],
      [{ url: 'https://shop.example/\r\nSet-Cookie: a=b' }, ['input', 'url']],
      [{ url: 'not a url at all' }, ['input', 'url']],
      [{ url: `https://shop.example/${'x'.repeat(3000)}` }, ['input', 'url']],
      [{ url: 'https://shop.example/', ios: 'javascript:alert(1)' }, ['input', 'ios']],
      [{ url: 'https://shop.example/', android: 'data:text/html,hi' }, ['input', 'android']],
      [{ url: 'https://shop.example/', ios: 'unregistered://product/1' }, ['input', 'ios']],
      [{ url: 'https://shop.example/', android: 'intent://scan/#Intent;scheme=zxing;end' }, ['input', 'android']],
      [{ url: 'https://shop.example/', fallback: 'myapp://home' }, ['input', 'fallback']],
      [{ url: 'https://shop.example/', utm: { utm_source: 'x', ref: 'evil' } }, ['input', 'utm', 'ref']],
      [{ url: 'https://shop.example/', utm: { utm_medium: 42 } }, ['input', 'utm', 'utm_medium']],
      [{ url: 'https://shop.example/', utm: ['utm_source'] }, ['input', 'utm']],
    ];
    for (const [input, path] of cases) {
      const result = dataOf(await shop.secret(CreateLink, { input } as never)).createLink;
      expect(result.__typename, JSON.stringify(input).slice(0, 100)).toBe('ValidationError');
      if (result.__typename !== 'ValidationError') continue;
      expect(result.fieldErrors.map((error) => error.path)).toContainEqual(path);
    }
    expect(await linkCount()).toBe(before);
  });
});

describe('following a short link', () => {
  it('sends an iPhone, an Android phone and a desktop to their own targets, with UTM on web targets only', async () => {
    expect(dataOf(await shop.secret(SetAppSchemes, { schemes: ['myapp'] })).updateWorkspaceSettings.__typename).toBe('MutationUpdateWorkspaceSettingsSuccess');
    const link = await created(shop.secret, {
      url: 'https://shop.example/sale?ref=a%20b&utm_source=newsletter#top',
      ios: 'https://apps.apple.com/app/id123456789',
      android: 'myapp://sale/42',
      utm: { utm_source: 'herald', utm_medium: 'push', utm_campaign: 'spring sale' },
    });
    const desktop = await follow(link.shortUrl, AGENTS.desktop);
    expect(desktop.status).toBe(302);
    // The target's own utm_source stays; its query keeps its encoding; the fragment stays last.
    expect(desktop.location).toBe('https://shop.example/sale?ref=a%20b&utm_source=newsletter&utm_medium=push&utm_campaign=spring%20sale#top');
    expect(desktop.headers.get('cache-control')).toBe('no-store');
    expect(desktop.headers.get('referrer-policy')).toBe('no-referrer');
    expect((await follow(link.shortUrl, AGENTS.iphone)).location).toBe('https://apps.apple.com/app/id123456789?utm_source=herald&utm_medium=push&utm_campaign=spring%20sale');
    // A deep link is the app's own URL: left exactly as stored.
    expect((await follow(link.shortUrl, AGENTS.android)).location).toBe('myapp://sale/42');
    // iPadOS asking for the desktop site looks like a Mac: desktop target.
    const ipadAsMac = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15';
    expect((await follow(link.shortUrl, ipadAsMac)).location).toMatch(/^https:\/\/shop\.example\/sale/);
  });

  it('sends a phone without a target of its own to the fallback, else to url', async () => {
    const both = await created(shop.secret, { url: 'https://shop.example/desk', fallback: 'https://m.shop.example/', ios: 'https://shop.example/ios' });
    expect((await follow(both.shortUrl, AGENTS.android)).location).toBe('https://m.shop.example/');
    expect((await follow(both.shortUrl, AGENTS.iphone)).location).toBe('https://shop.example/ios');
    expect((await follow(both.shortUrl, AGENTS.desktop)).location).toBe('https://shop.example/desk');
    const plain = await created(shop.secret, { url: 'https://shop.example/only' });
    expect((await follow(plain.shortUrl, AGENTS.android)).location).toBe('https://shop.example/only');
  });

  it('counts one click per person’s request, by device; machines are redirected but not counted', async () => {
    const link = await created(shop.secret, { url: 'https://shop.example/count', ios: 'https://shop.example/ios' });
    for (const agent of [AGENTS.iphone, AGENTS.iphone, AGENTS.android, AGENTS.desktop]) expect((await follow(link.shortUrl, agent)).status).toBe(302);
    expect(await clicksOf(shop.secret, link.id)).toEqual({ clicks: 4, byDevice: { IOS: 2, ANDROID: 1, DESKTOP: 1 } });

    const machines = [
      'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
      'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)',
      'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)',
      'WhatsApp/2.23.20.0',
      'TelegramBot (like TwitterBot)',
      'curl/8.5.0',
      'python-requests/2.31',
      '',
    ];
    for (const agent of machines) expect((await follow(link.shortUrl, agent)).status).toBe(302);
    expect((await follow(link.shortUrl, AGENTS.iphone, 'HEAD')).status).toBe(302);
    expect(await clicksOf(shop.secret, link.id)).toEqual({ clicks: 4, byDevice: { IOS: 2, ANDROID: 1, DESKTOP: 1 } });
    expect(await h.kit.herald.prisma.linkClick.count({ where: { link: { code: link.code } } })).toBe(4);
  });

  it('counts a person’s click in the in-app browsers of LinkedIn, Pinterest and Snapchat; not their preview fetchers', async () => {
    const link = await created(shop.secret, { url: 'https://shop.example/social' });
    const people = [
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [LinkedInApp]/9.29.8653',
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [Pinterest/iOS]',
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Snapchat/12.80.0.39 (like Safari/8617.1.17.10.9, panda)',
    ];
    const fetchers = [
      'LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)',
      'Pinterest/0.2 (+https://www.pinterest.com/bot.html)',
      'Mozilla/5.0 (compatible; Snap URL Preview Service; bot; snapchat; +https://developers.snap.com/robots)',
    ];
    for (const agent of [...people, ...fetchers]) expect((await follow(link.shortUrl, agent)).status).toBe(302);
    expect(await clicksOf(shop.secret, link.id)).toEqual({ clicks: 3, byDevice: { IOS: 3, ANDROID: 0, DESKTOP: 0 } });
  });

  it('answers 404 for an unknown code and chooses nothing from the query string', async () => {
    const link = await created(shop.secret, { url: 'https://shop.example/safe' });
    for (const path of ['/l/AAAAAAAA', '/l/', '/l/short', `/l/${link.code}x`, `/l/${link.code}/`, '/l/..%2f..%2fgraphql']) {
      const answer = await follow(`${h.kit.url}${path}`, AGENTS.desktop);
      expect(answer.status, path).toBe(404);
      expect(answer.location).toBeNull();
      expect(answer.headers.get('content-type')).toMatch(/^text\/html/);
    }
    for (const query of ['?url=https://evil.example/', '?u=https://evil.example/&s=x', '?redirect=//evil.example', '?m=https://evil.example/']) {
      expect((await follow(`${link.shortUrl}${query}`, AGENTS.desktop)).location, query).toBe('https://shop.example/safe');
    }
    expect((await fetch(link.shortUrl, { method: 'POST', redirect: 'manual' })).status).toBe(405);
  });
});

describe('a smart link in a message', () => {
  it('carries the message token in a push, so the click names the contact; a forged or foreign token names nobody', async () => {
    const link = await created(shop.secret, { url: 'https://shop.example/desk', ios: 'https://shop.example/phone' });
    const { browser } = await subscribeBrowser(shop.publishable, h.push, { externalId: 'ada-links' });
    const campaignId = await createCampaign(shop.secret, {
      name: 'Smart link push',
      kind: 'BROADCAST',
      content: { title: 'Spring sale', url: link.shortUrl, actions: [{ action: 'open', title: 'Open', url: link.shortUrl }] },
    });
    expect(dataOf(await shop.secret(SendNow, { id: campaignId })).sendCampaignNow.__typename).toBe('MutationSendCampaignNowSuccess');
    await waitForStatus(shop.secret, campaignId);
    await h.push.waitFor(() => h.push.received(browser.id).length === 1);
    const payload = h.push.received(browser.id)[0]!.json as { url: string; token: string; actions: { url: string }[] };
    expect(payload.url).toBe(`${link.shortUrl}?m=${payload.token}`);
    expect(payload.actions[0]!.url).toBe(payload.url);

    expect((await follow(payload.url, AGENTS.iphone)).location).toBe('https://shop.example/phone');
    const contact = await h.kit.herald.prisma.contact.findFirstOrThrow({ where: { externalId: 'ada-links' } });
    const message = await h.kit.herald.prisma.message.findFirstOrThrow({ where: { contactId: contact.id } });
    const clicks = () => h.kit.herald.prisma.linkClick.findMany({ where: { link: { code: link.code } }, orderBy: { at: 'asc' } });
    expect(await clicks()).toMatchObject([{ device: 'IOS', contactId: contact.id, messageId: message.id }]);

    // A token with a broken MAC, junk, and a real token of another workspace's message: the person
    // still gets there, and the click is counted without a contact.
    const forged = `${payload.token.split('.')[0]}.${'A'.repeat(22)}`;
    const other = await h.workspace('Other sender');
    const theirs = await subscribeBrowser(other.publishable, h.push, { externalId: 'bob-links' });
    const theirCampaign = await createCampaign(other.secret, { name: 'Theirs', kind: 'BROADCAST', content: { title: 'Hi', url: 'https://other.example/' } });
    dataOf(await other.secret(SendNow, { id: theirCampaign }));
    await h.push.waitFor(() => h.push.received(theirs.browser.id).length === 1);
    const foreignToken = (h.push.received(theirs.browser.id)[0]!.json as { token: string }).token;
    for (const token of [forged, 'junk', foreignToken]) {
      expect((await follow(`${link.shortUrl}?m=${encodeURIComponent(token)}`, AGENTS.desktop)).location).toBe('https://shop.example/desk');
    }
    const recorded = await clicks();
    expect(recorded).toHaveLength(4);
    expect(recorded.slice(1).map((click) => [click.device, click.contactId, click.messageId])).toEqual([
      ['DESKTOP', null, null],
      ['DESKTOP', null, null],
      ['DESKTOP', null, null],
    ]);
    expect(await clicksOf(shop.secret, link.id)).toEqual({ clicks: 4, byDevice: { IOS: 1, ANDROID: 0, DESKTOP: 3 } });
  });

  it('stores a click that names the contact as its link_clicked event, which a triggered campaign follows up; a forged token stores none', async () => {
    const link = await created(shop.secret, { url: 'https://shop.example/boots', android: 'https://m.shop.example/boots', utm: { utm_source: 'herald' } });
    const { browser } = await subscribeBrowser(shop.publishable, h.push, { externalId: 'cleo-links' });
    const broadcast = await createCampaign(shop.secret, { name: 'Boots', kind: 'BROADCAST', content: { title: 'New boots', url: link.shortUrl } });
    const followUp = await createCampaign(shop.secret, {
      name: 'Clicked the boots',
      kind: 'TRIGGERED',
      trigger: { event: 'link_clicked', where: [{ path: 'link', op: 'EQ', value: link.code }] },
      content: { title: 'Still thinking about the boots? ({{ event.properties.device }})', body: 'You looked at {{ event.properties.url }}', url: 'https://shop.example/boots' },
    });
    await activateCampaign(shop.secret, followUp);
    dataOf(await shop.secret(SendNow, { id: broadcast }));
    await h.push.waitFor(() => h.push.received(browser.id).length === 1);
    const { url, token } = h.push.received(browser.id)[0]!.json as { url: string; token: string };

    // Clicked on an Android phone: redirected to its page, and the click is the contact's event.
    const phonePage = 'https://m.shop.example/boots?utm_source=herald';
    expect((await follow(url, AGENTS.android)).location).toBe(phonePage);
    await h.push.waitFor(() => h.push.received(browser.id).length === 2);
    expect(h.push.received(browser.id)[1]!.json).toMatchObject({ title: 'Still thinking about the boots? (ANDROID)', body: `You looked at ${phonePage}` });

    const contact = await h.kit.herald.prisma.contact.findFirstOrThrow({ where: { externalId: 'cleo-links' } });
    const message = await h.kit.herald.prisma.message.findFirstOrThrow({ where: { contactId: contact.id, campaign: { name: 'Boots' } } });
    const events = () => h.kit.herald.prisma.event.findMany({ where: { contactId: contact.id, name: 'link_clicked' } });
    expect(await events()).toMatchObject([
      {
        properties: {
          link: link.code,
          url: phonePage,
          device: 'ANDROID',
          messageId: Buffer.from(`Message:${message.id}`).toString('base64'),
          campaignId: Buffer.from(`Campaign:${message.campaignId}`).toString('base64'),
        },
      },
    ]);

    // A forged token and a machine's fetch store no event; a second click by the person stores a second one.
    const forged = `${token.split('.')[0]}.${'A'.repeat(22)}`;
    await follow(`${link.shortUrl}?m=${encodeURIComponent(forged)}`, AGENTS.desktop);
    await follow(url, 'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)');
    expect(await events()).toHaveLength(1);
    expect((await follow(url, AGENTS.desktop)).location).toBe('https://shop.example/boots?utm_source=herald');
    expect((await events()).map((event) => (event.properties as { url: string }).url).sort()).toEqual(['https://m.shop.example/boots?utm_source=herald', 'https://shop.example/boots?utm_source=herald']);
  });

  it('counts the token a short link gains in a push when it checks the payload size at save', async () => {
    const link = await created(shop.secret, { url: 'https://shop.example/size' });
    // A link as long as the short one, elsewhere: it gains no token.
    const plain = link.shortUrl.replace(/^https?:\/\/[^/]+/, (origin) => `https://${'s'.repeat(origin.length - 'https://'.length)}`);
    expect(plain).toHaveLength(link.shortUrl.length);
    const sizeWith = async (url: string) => {
      const content = { title: 'Sale', body: '{{ x }}'.repeat(140), url, actions: [{ action: 'a', title: 'A', url }, { action: 'b', title: 'B', url }] };
      const result = dataOf(await shop.secret(CreateCampaign, { input: { name: 'Too big', kind: 'BROADCAST', content } })).createCampaign;
      expect(result.__typename).toBe('ValidationError');
      return Number(/could reach (\d+) bytes/.exec(result.__typename === 'ValidationError' ? result.fieldErrors[0]!.message : '')![1]);
    };
    // Each of the three links gains `?m=` and a 45-character token when sent.
    expect((await sizeWith(link.shortUrl)) - (await sizeWith(plain))).toBe(3 * (3 + 45));
  });
});

describe('a visitor’s clicks', () => {
  it('follow them when identify merges the visitor into the customer', async () => {
    const link = await created(shop.secret, { url: 'https://shop.example/merge' });
    const { browser } = await subscribeBrowser(shop.publishable, h.push, { anonymousId: 'visitor-links-merge' });
    const campaignId = await createCampaign(shop.secret, { name: 'Merge push', kind: 'BROADCAST', content: { title: 'Hi', url: link.shortUrl } });
    dataOf(await shop.secret(SendNow, { id: campaignId }));
    await h.push.waitFor(() => h.push.received(browser.id).length === 1);
    await follow((h.push.received(browser.id)[0]!.json as { url: string }).url, AGENTS.desktop);
    const visitor = await h.kit.herald.prisma.contact.findFirstOrThrow({ where: { anonymousId: 'visitor-links-merge' } });
    const clicks = () => h.kit.herald.prisma.linkClick.findMany({ where: { link: { code: link.code } } });
    expect((await clicks()).map((click) => click.contactId)).toEqual([visitor.id]);

    expect(dataOf(await shop.secret(UpsertForLinks, { input: { externalId: 'customer-links-merge' } })).upsertContact.__typename).toBe('MutationUpsertContactSuccess');
    const identified = dataOf(
      await shop.publishable(IdentifyForLinks, {
        input: { anonymousId: 'visitor-links-merge', externalId: 'customer-links-merge', identityToken: shop.publishable.identityTokenFor('customer-links-merge') },
      } as never),
    ).identifyContact;
    expect(identified.__typename).toBe('MutationIdentifyContactSuccess');
    const customer = await h.kit.herald.prisma.contact.findFirstOrThrow({ where: { externalId: 'customer-links-merge' } });
    expect(customer.id).not.toBe(visitor.id);
    expect((await clicks()).map((click) => click.contactId)).toEqual([customer.id]);
  });
});

describe('settings.links.appSchemes', () => {
  it('registers app schemes, refuses browser schemes, and a link may use only what is registered', async () => {
    const refused = dataOf(await shop.secret(SetAppSchemes, { schemes: ['javascript', 'ok-app', 'data', 'my app', 'https'] })).updateWorkspaceSettings;
    expect(refused.__typename).toBe('ValidationError');
    if (refused.__typename === 'ValidationError') {
      expect(refused.fieldErrors.map((error) => error.path.join('.'))).toEqual(['input.links.appSchemes.0', 'input.links.appSchemes.2', 'input.links.appSchemes.3', 'input.links.appSchemes.4']);
    }
    const saved = dataOf(await shop.secret(SetAppSchemes, { schemes: ['ShopApp', 'shopapp', 'fb123'] })).updateWorkspaceSettings;
    expect(saved.__typename === 'MutationUpdateWorkspaceSettingsSuccess' && saved.data.settings.links.appSchemes).toEqual(['shopapp', 'fb123']);
    expect((await created(shop.secret, { url: 'https://shop.example/', ios: 'shopapp://cart', android: 'FB123://page' })).ios).toBe('shopapp://cart');
    // myapp was replaced: no longer allowed.
    const gone = dataOf(await shop.secret(CreateLink, { input: { url: 'https://shop.example/', ios: 'myapp://x' } })).createLink;
    expect(gone.__typename).toBe('ValidationError');
  });
});
