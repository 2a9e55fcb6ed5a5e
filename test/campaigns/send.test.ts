import { describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import { campaignState, createCampaign, SendNow, subscribeBrowser, waitForStatus } from '../kit/campaigns.ts';
import { dataOf } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';

const Upsert = graphql(`
  mutation SendUpsert($input: ContactInput!) {
    upsertContact(input: $input) { __typename ... on MutationUpsertContactSuccess { data { id } } ... on Error { message } }
  }
`);

const Messages = graphql(`
  query SendMessages($id: ID!, $status: MessageStatus, $reason: MessageReason) {
    campaign(id: $id) {
      messages(first: 100, status: $status, reason: $reason) {
        totalCount
        edges { node { status reason error attempts test contact { externalId } subscription { id status } } }
      }
    }
  }
`);

const TestPush = graphql(`
  mutation SendTestPush($campaignId: ID!, $contactId: ID!) {
    sendTestPush(input: { campaignId: $campaignId, contactId: $contactId }) {
      __typename
      ... on MutationSendTestPushSuccess { data { status reason test } }
      ... on Error { code message }
    }
  }
`);

const Identify = graphql(`
  mutation SendIdentify($anonymousId: String!, $externalId: String!, $identityToken: String) {
    identifyContact(input: { anonymousId: $anonymousId, externalId: $externalId, identityToken: $identityToken }) { __typename }
  }
`);
const ContactMessages = graphql(`
  query SendContactMessages($externalId: String!) {
    contact(externalId: $externalId) { messages(first: 10) { totalCount edges { node { status campaign { name } } } } }
  }
`);

const h = useHerald({ HERALD_PUSH_RETRY_BASE_MS: '50', HERALD_PUSH_TIMEOUT_MS: '1000' });


const content = {
  title: 'Hi {{ contact.firstName | default: "there" }}',
  body: 'Your {{ contact.attributes.plan }} plan has news',
  url: 'https://shop.example/news?c={{ contact.externalId }}',
  imageUrl: 'https://cdn.example/sale.png',
  iconUrl: 'https://cdn.example/icon.png',
  actions: [{ action: 'open', title: 'Open', url: 'https://shop.example/open' }],
  ttlSeconds: 3600,
  urgency: 'HIGH',
  topic: 'spring-sale',
};

describe('a broadcast sent now', () => {
  it('reaches every subscribed browser once, personalised and decryptable, and explains who got nothing', async () => {
    const { secret, publishable } = await h.workspace();
    await secret(Upsert, { input: { externalId: 'ada', firstName: 'Ada', attributes: { plan: 'gold' } } });
    const ada = await subscribeBrowser(publishable, h.push, { externalId: 'ada' });
    const adaLaptop = await subscribeBrowser(publishable, h.push, { externalId: 'ada' });
    const bob = await subscribeBrowser(publishable, h.push, { externalId: 'bob' });
    await secret(Upsert, { input: { externalId: 'carol' } }); // no browser

    const id = await createCampaign(secret, { name: 'Spring sale', kind: 'BROADCAST', content });
    const sent = dataOf(await secret(SendNow, { id })).sendCampaignNow;
    expect(sent).toMatchObject({ __typename: 'MutationSendCampaignNowSuccess', data: { status: 'SENDING' } });

    const campaign = await waitForStatus(secret, id);
    expect(campaign.stats).toMatchObject({ targeted: 4, queued: 0, sent: 3, failed: 0, suppressed: 1, suppressedBy: [{ reason: 'NO_SUBSCRIPTION', count: 1 }] });

    for (const browser of [ada, adaLaptop, bob]) expect(h.push.received(browser.browser.id)).toHaveLength(1);
    const [toAda] = h.push.received(ada.browser.id);
    expect(toAda!.json).toMatchObject({
      title: 'Hi Ada',
      body: 'Your gold plan has news',
      url: 'https://shop.example/news?c=ada',
      image: 'https://cdn.example/sale.png',
      icon: 'https://cdn.example/icon.png',
      actions: [{ action: 'open', title: 'Open', url: 'https://shop.example/open' }],
      requireInteraction: false,
      trackUrl: `${h.kit.url}/track`,
    });
    expect((toAda!.json as { token: string }).token).toMatch(/^[\w-]{22}\.[\w-]{22}$/);
    expect(toAda).toMatchObject({ urgency: 'high', topic: 'spring-sale' });
    expect(toAda!.ttl).toBeGreaterThan(3590);
    expect(toAda!.ttl).toBeLessThanOrEqual(3600);
    expect(h.push.received(bob.browser.id)[0]!.json).toMatchObject({ title: 'Hi there', body: 'Your  plan has news' });

    const suppressed = dataOf(await secret(Messages, { id, status: 'SUPPRESSED' })).campaign!.messages;
    expect(suppressed.edges.map((edge) => edge.node)).toEqual([
      { status: 'SUPPRESSED', reason: 'NO_SUBSCRIPTION', error: null, attempts: 0, test: false, contact: { externalId: 'carol' }, subscription: null },
    ]);
    const all = dataOf(await secret(Messages, { id })).campaign!.messages;
    expect(all.totalCount).toBe(4);
  });

  it('handles each push service answer: gone, too large, rejected, rate limited, failing, resetting', async () => {
    const { secret, publishable } = await h.workspace();
    const browsers = {
      gone: await subscribeBrowser(publishable, h.push, { externalId: 'gone' }),
      large: await subscribeBrowser(publishable, h.push, { externalId: 'large' }),
      bad: await subscribeBrowser(publishable, h.push, { externalId: 'bad' }),
      limited: await subscribeBrowser(publishable, h.push, { externalId: 'limited' }),
      flaky: await subscribeBrowser(publishable, h.push, { externalId: 'flaky' }),
      broken: await subscribeBrowser(publishable, h.push, { externalId: 'broken' }),
      reset: await subscribeBrowser(publishable, h.push, { externalId: 'reset' }),
      slow: await subscribeBrowser(publishable, h.push, { externalId: 'slow' }),
    };
    h.push.behave({ status: 410 }, { subscriptionId: browsers.gone.browser.id });
    h.push.behave({ status: 413 }, { subscriptionId: browsers.large.browser.id });
    h.push.behave({ status: 400 }, { subscriptionId: browsers.bad.browser.id });
    h.push.behave({ status: 429, retryAfterSeconds: 1 }, { subscriptionId: browsers.limited.browser.id, times: 1 });
    h.push.behave({ status: 500 }, { subscriptionId: browsers.flaky.browser.id, times: 2 });
    h.push.behave({ status: 503 }, { subscriptionId: browsers.broken.browser.id });
    h.push.behave({ reset: true }, { subscriptionId: browsers.reset.browser.id, times: 1 });
    h.push.behave({ hang: true }, { subscriptionId: browsers.slow.browser.id, times: 1 });

    const id = await createCampaign(secret, { name: 'Faults', kind: 'BROADCAST', content: { title: 'Hello', url: 'https://shop.example/' } });
    const started = Date.now();
    await secret(SendNow, { id });
    const campaign = await waitForStatus(secret, id);
    expect(campaign.stats).toMatchObject({ targeted: 8, sent: 4, failed: 4, queued: 0 });

    const byContact = new Map(
      dataOf(await secret(Messages, { id })).campaign!.messages.edges.map(({ node }) => [node.contact.externalId, node]),
    );
    expect(byContact.get('gone')).toMatchObject({ status: 'FAILED', reason: 'SUBSCRIPTION_GONE', attempts: 1, subscription: { status: 'EXPIRED' } });
    expect(byContact.get('large')).toMatchObject({ status: 'FAILED', reason: 'PAYLOAD_TOO_LARGE', attempts: 1 });
    expect(byContact.get('bad')).toMatchObject({ status: 'FAILED', reason: 'PUSH_SERVICE_REJECTED', attempts: 1 });
    expect(byContact.get('broken')).toMatchObject({ status: 'FAILED', reason: 'RETRIES_EXHAUSTED', attempts: 5 });
    expect(byContact.get('broken')!.error).toContain('503');
    for (const [name, attempts] of [['limited', 2], ['flaky', 3], ['reset', 2], ['slow', 2]] as const) {
      expect(byContact.get(name)).toMatchObject({ status: 'SENT', reason: 'ACCEPTED', attempts });
      expect(h.push.received(browsers[name].browser.id)).toHaveLength(1);
    }
    // Retry-After: 1 was honoured: the second try came at least a second after the first.
    expect(h.push.received(browsers.limited.browser.id)[0]!.receivedAt - started).toBeGreaterThanOrEqual(1000);
    // Not retried: one request each for gone, too large and rejected.
    expect(h.push.rejected().filter((r) => [browsers.gone, browsers.large, browsers.bad].some((b) => b.browser.id === r.subscriptionId))).toHaveLength(3);
  });

  it('sends a test push to one contact outside the stats', async () => {
    const { secret, publishable } = await h.workspace();
    const upserted = dataOf(await secret(Upsert, { input: { externalId: 'tess', firstName: 'Tess' } })).upsertContact;
    if (upserted.__typename !== 'MutationUpsertContactSuccess') throw new Error('upsert failed');
    const tess = await subscribeBrowser(publishable, h.push, { externalId: 'tess' });
    const id = await createCampaign(secret, { name: 'Draft', kind: 'BROADCAST', content });
    const result = dataOf(await secret(TestPush, { campaignId: id, contactId: upserted.data.id })).sendTestPush;
    expect(result).toMatchObject({ data: { status: 'SENT', reason: 'ACCEPTED', test: true } });
    expect(h.push.received(tess.browser.id)[0]!.json).toMatchObject({ title: 'Hi Tess' });
    const campaign = await campaignState(secret, id);
    expect(campaign).toMatchObject({ status: 'DRAFT', stats: { targeted: 0, sent: 0 } });
  });

  it('caps the TTL at activeUntil and expires what could not go out before it', async () => {
    const { secret, publishable } = await h.workspace();
    const soon = await subscribeBrowser(publishable, h.push, { externalId: 'soon' });
    const late = await subscribeBrowser(publishable, h.push, { externalId: 'late' });
    // The push service asks Herald to come back for `late` in 2 s: by then the campaign is over.
    h.push.behave({ status: 429, retryAfterSeconds: 2 }, { subscriptionId: late.browser.id, times: 1 });
    const activeUntil = new Date(Date.now() + 1_500);
    const id = await createCampaign(secret, { name: 'Flash', kind: 'BROADCAST', content: { ...content, ttlSeconds: 7200 }, activeUntil: activeUntil.toISOString() });
    await secret(SendNow, { id });
    const campaign = await waitForStatus(secret, id);
    expect(campaign.stats).toMatchObject({ targeted: 2, sent: 1, expired: 1, failed: 0 });
    expect(h.push.received(soon.browser.id)[0]!.ttl).toBeLessThanOrEqual(2);
    expect(h.push.received(late.browser.id)).toHaveLength(0);
    const expired = dataOf(await secret(Messages, { id, status: 'EXPIRED' })).campaign!.messages.edges;
    expect(expired.map(({ node }) => node)).toMatchObject([{ reason: 'EXPIRED', contact: { externalId: 'late' }, attempts: 1 }]);
  });

  it("keeps a visitor's message history when the visitor logs in and merges into a known contact", async () => {
    const { secret, publishable } = await h.workspace();
    await secret(Upsert, { input: { externalId: 'known' } });
    await subscribeBrowser(publishable, h.push, { anonymousId: 'visitor-1' });
    const id = await createCampaign(secret, { name: 'Welcome', kind: 'BROADCAST', content });
    await secret(SendNow, { id });
    await waitForStatus(secret, id);
    expect(dataOf(await publishable(Identify, { anonymousId: 'visitor-1', externalId: 'known', identityToken: publishable.identityTokenFor('known') })).identifyContact.__typename).toBe('MutationIdentifyContactSuccess');
    const messages = dataOf(await secret(ContactMessages, { externalId: 'known' })).contact!.messages;
    expect(messages.edges.map(({ node }) => node).sort((a, b) => a.status.localeCompare(b.status))).toEqual([
      { status: 'SENT', campaign: { name: 'Welcome' } },
      { status: 'SUPPRESSED', campaign: { name: 'Welcome' } },
    ]);
    expect((await campaignState(secret, id)).stats).toMatchObject({ targeted: 2, sent: 1, suppressed: 1 });
  });
});
