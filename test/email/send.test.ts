import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import { createCampaign, SendNow, subscribeBrowser, waitForStatus } from '../kit/campaigns.ts';
import { dataOf } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';
import { generateDkimKeys, startSmtpServer, type TestSmtpServer } from '../kit/smtp-server.ts';

const Settings = graphql(`
  mutation EmailSendSettings($input: MutationUpdateWorkspaceSettingsInput!) {
    updateWorkspaceSettings(input: $input) {
      __typename
      ... on ValidationError { message fieldErrors { path message } }
    }
  }
`);

const Upsert = graphql(`
  mutation EmailSendUpsert($input: ContactInput!) {
    upsertContact(input: $input) { __typename ... on MutationUpsertContactSuccess { data { id emailStatus } } ... on Error { message } }
  }
`);

const Stats = graphql(`
  query EmailSendStats($id: ID!) {
    campaign(id: $id) {
      status
      channel
      stats { targeted sent failed suppressed suppressedBy { reason count } opened machineOpened clicked bounced unsubscribed }
      messages(first: 20) { edges { node { id status reason error attempts channel contact { externalId emailStatus } } } }
    }
  }
`);

const Activate = graphql(`
  mutation EmailSendActivate($id: ID!) {
    activateCampaign(input: { id: $id }) { __typename ... on Error { message } }
  }
`);

const Track = graphql(`
  mutation EmailSendTrack($input: EventInput!) {
    trackEvent(input: $input) { __typename ... on Error { message } }
  }
`);

const ContactStatus = graphql(`
  query EmailSendContact($externalId: String!) {
    contact(externalId: $externalId) { emailStatus }
  }
`);

const h = useHerald({ HERALD_SMTP_ALLOWED_HOSTS: '127.0.0.1', HERALD_PUSH_RETRY_BASE_MS: '50', HERALD_PUSH_TIMEOUT_MS: '2000' });
let smtp: TestSmtpServer;
beforeAll(async () => {
  smtp = await startSmtpServer();
});
afterAll(() => smtp?.close());

const email = {
  subject: 'Hello {{ contact.firstName | default: "there" }}, your {{ contact.plan }} news',
  preheader: 'What is new this week',
  mjml: `<mjml><mj-body><mj-section><mj-column>
    <mj-text>Hi {{ contact.firstName }}, see <a href="https://shop.example/news?c={{ contact.externalId }}">the news</a>.</mj-text>
    <mj-text><a href="{{ unsubscribe_url }}">Unsubscribe</a></mj-text>
  </mj-column></mj-section></mj-body></mjml>`,
};

async function emailWorkspace(dkim = false) {
  const workspace = await h.workspace();
  const keys = generateDkimKeys();
  if (dkim) smtp.publishDkimKey('shop.example', 'herald', keys.publicKey);
  const settings = {
    fromAddress: 'news@shop.example',
    fromName: 'Shop',
    smtpUrl: smtp.url,
    ...(dkim ? { dkim: { domain: 'shop.example', selector: 'herald', privateKey: keys.privateKey } } : {}),
  };
  expect(dataOf(await workspace.secret(Settings, { input: { email: settings } })).updateWorkspaceSettings.__typename).toBe('MutationUpdateWorkspaceSettingsSuccess');
  return workspace;
}

async function messagesOf(secret: Awaited<ReturnType<typeof emailWorkspace>>['secret'], id: string) {
  const campaign = dataOf(await secret(Stats, { id })).campaign!;
  return { ...campaign, messages: campaign.messages.edges.map((edge) => edge.node) };
}

describe('an email broadcast', () => {
  it('reaches subscribed contacts once, personalised, tracked, DKIM-signed, with one-click unsubscribe; explains who got nothing', async () => {
    const { secret } = await emailWorkspace(true);
    const fox = `fox-${Date.now()}@mail.example`;
    await secret(Upsert, { input: { externalId: 'fox', email: fox, firstName: 'Fox', emailOptIn: true, attributes: { plan: 'gold' } } });
    await secret(Upsert, { input: { externalId: 'nomail', firstName: 'No' } });
    await secret(Upsert, { input: { externalId: 'quiet', email: `quiet-${Date.now()}@mail.example`, emailOptIn: false } });
    await secret(Upsert, { input: { externalId: 'never', email: `never-${Date.now()}@mail.example` } });

    const id = await createCampaign(secret, { name: 'Weekly news', kind: 'BROADCAST', channel: 'EMAIL', email });
    await secret(SendNow, { id });
    await waitForStatus(secret, id);
    const campaign = await messagesOf(secret, id);
    expect(campaign.channel).toBe('EMAIL');
    expect(campaign.stats).toMatchObject({ targeted: 4, sent: 1, failed: 0, suppressed: 3 });
    expect(Object.fromEntries(campaign.stats.suppressedBy.map((entry) => [entry.reason, entry.count]))).toEqual({ NO_EMAIL: 1, UNSUBSCRIBED: 2 });

    const [mail, ...more] = smtp.to(fox);
    expect(more).toHaveLength(0);
    const sent = campaign.messages.find((message) => message.status === 'SENT')!;
    const ledgerId = Buffer.from(sent.id, 'base64').toString().split(':')[1]!;
    expect(mail!.subject).toBe('Hello Fox, your gold news');
    expect(mail!.from).toEqual({ address: 'news@shop.example', name: 'Shop' });
    expect(mail!.messageId).toBe(`<${ledgerId}@shop.example>`);
    expect(mail!.envelope.from).toMatch(/^bounces\+[0-9a-f]{64}@shop\.example$/);
    expect(mail!.dkim).toMatchObject({ result: 'pass', domain: 'shop.example', selector: 'herald' });
    expect(mail!.headers['list-unsubscribe-post']).toBe('List-Unsubscribe=One-Click');
    const unsubscribe = /<(https?:\/\/[^>]+\/e\/u\/[^>]+)>/.exec(mail!.headers['list-unsubscribe']!)![1]!;
    expect(mail!.headers['list-unsubscribe']).toContain('mailto:bounces+');
    // Links are tracked, the pixel is there, the text part reads the real URL.
    expect(mail!.html).toContain('/e/c/');
    expect(mail!.html).not.toContain('href="https://shop.example/news');
    expect(mail!.html).toMatch(/\/e\/o\/[^"]+\.gif/);
    expect(mail!.html).toContain('What is new this week');
    expect(mail!.text).toContain('https://shop.example/news?c=fox');

    // A person opens it an hour later and clicks: counted once each; a scanner's visit is not a person.
    await h.kit.herald.prisma.message.update({ where: { id: ledgerId }, data: { sentAt: new Date(Date.now() - 3600_000) } });
    const pixel = /src="([^"]+\/e\/o\/[^"]+\.gif)"/.exec(mail!.html!)![1]!;
    const link = /href="([^"]+\/e\/c\/[^"]+)"/.exec(mail!.html!)![1]!.replaceAll('&amp;', '&');
    const person = { 'user-agent': 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)' };
    expect((await fetch(pixel, { headers: { 'user-agent': 'Mozilla/5.0' } })).status).toBe(200); // Apple's privacy proxy
    expect((await fetch(pixel, { headers: person })).status).toBe(200);
    const click = await fetch(link, { headers: person, redirect: 'manual' });
    expect(click.status).toBe(302);
    expect(click.headers.get('location')).toBe('https://shop.example/news?c=fox');
    await fetch(link, { headers: person, redirect: 'manual' });
    expect((await messagesOf(secret, id)).stats).toMatchObject({ opened: 1, machineOpened: 1, clicked: 1 });

    // One-click unsubscribe (RFC 8058), then the next marketing email skips the contact.
    const oneClick = await fetch(unsubscribe, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    expect(oneClick.status).toBe(200);
    expect(dataOf(await secret(ContactStatus, { externalId: 'fox' })).contact!.emailStatus).toBe('UNSUBSCRIBED');
    expect((await messagesOf(secret, id)).stats.unsubscribed).toBe(1);
    const next = await createCampaign(secret, { name: 'Next week', kind: 'BROADCAST', channel: 'EMAIL', email });
    await secret(SendNow, { id: next });
    await waitForStatus(secret, next);
    expect((await messagesOf(secret, next)).stats).toMatchObject({ sent: 0, suppressed: 4 });
    expect(smtp.to(fox)).toHaveLength(1);
  });

  it('sends receipts (not frequency capped) to anyone with an address, without the one-click header', async () => {
    const { secret } = await emailWorkspace();
    const buyer = `buyer-${Date.now()}@mail.example`;
    await secret(Upsert, { input: { externalId: 'buyer', email: buyer } });
    const id = await createCampaign(secret, { name: 'Receipt', kind: 'BROADCAST', channel: 'EMAIL', frequencyCapped: false, email: { subject: 'Your order', html: '<p>Thanks</p>' } });
    await secret(SendNow, { id });
    await waitForStatus(secret, id);
    const [mail] = smtp.to(buyer);
    expect(mail!.subject).toBe('Your order');
    expect(mail!.headers['list-unsubscribe-post']).toBeUndefined();
    expect(mail!.dkim.result).toBe('none');
  });

  it('fails only the recipient whose email cannot render (TEMPLATE_ERROR on the build thread, never claimed); the others get it', async () => {
    const { secret } = await emailWorkspace();
    const fine = `fine-${Date.now()}@mail.example`;
    const long = `long-${Date.now()}@mail.example`;
    await secret(Upsert, { input: { externalId: 'fine', email: fine, emailOptIn: true, attributes: { plan: 'gold' } } });
    await secret(Upsert, { input: { externalId: 'long', email: long, emailOptIn: true, attributes: { plan: 'long' } } });
    // For one contact the subject renders past MAX_RENDERED_SUBJECT (2,000 characters).
    const subject = 'News{% if contact.plan == "long" %}{% for i in (1..2100) %}x{% endfor %}{% endif %}';
    const id = await createCampaign(secret, { name: 'Render check', kind: 'BROADCAST', channel: 'EMAIL', email: { ...email, subject } });
    await secret(SendNow, { id });
    await waitForStatus(secret, id);
    const { campaign } = dataOf(await secret(Stats, { id }));
    const byContact = new Map(campaign!.messages.edges.map(({ node }) => [node.contact!.externalId, node]));
    expect(byContact.get('long')).toMatchObject({ status: 'FAILED', reason: 'TEMPLATE_ERROR', attempts: 0, error: expect.stringMatching(/^subject: rendered to \d+ characters/) });
    expect(byContact.get('fine')).toMatchObject({ status: 'SENT', reason: 'ACCEPTED', attempts: 1 });
    expect(campaign!.stats).toMatchObject({ sent: 1, failed: 1 });
    expect(smtp.to(long)).toHaveLength(0);
    expect(smtp.to(fine).map((mail) => mail.subject)).toEqual(['News']);
  });

  it('treats a 5xx refusal as a hard bounce (never mailed again) and retries a 4xx until it goes', async () => {
    const { secret } = await emailWorkspace();
    const gone = `gone-${Date.now()}@mail.example`;
    const busy = `busy-${Date.now()}@mail.example`;
    await secret(Upsert, { input: { externalId: 'gone', email: gone, emailOptIn: true } });
    await secret(Upsert, { input: { externalId: 'busy', email: busy, emailOptIn: true } });
    smtp.failRecipient(gone, 550, 'No such user');
    smtp.failRecipient(busy, 451, 'Try again later');
    const id = await createCampaign(secret, { name: 'Bounce check', kind: 'BROADCAST', channel: 'EMAIL', email });
    await secret(SendNow, { id });
    // The busy server answers 451 once; the retry finds it free.
    for (let waited = 0; !smtp.refused().some((refusal) => refusal.address === busy) && waited < 10_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
    smtp.clearFaults();
    smtp.failRecipient(gone, 550, 'No such user');
    await waitForStatus(secret, id);
    smtp.clearFaults();
    const campaign = await messagesOf(secret, id);
    expect(campaign.stats).toMatchObject({ sent: 1, failed: 1, bounced: 1 });
    const bounced = campaign.messages.find((message) => message.contact.externalId === 'gone')!;
    expect(bounced).toMatchObject({ status: 'FAILED', reason: 'BOUNCED', channel: 'EMAIL' });
    expect(bounced.error).toContain('550');
    expect(bounced.contact.emailStatus).toBe('BOUNCED');
    const retried = campaign.messages.find((message) => message.contact.externalId === 'busy')!;
    expect(retried.status).toBe('SENT');
    expect(retried.attempts).toBeGreaterThan(1);
    expect(smtp.to(busy)).toHaveLength(1);

    const again = await createCampaign(secret, { name: 'After the bounce', kind: 'BROADCAST', channel: 'EMAIL', email });
    await secret(SendNow, { id: again });
    await waitForStatus(secret, again);
    expect((await messagesOf(secret, again)).stats.suppressedBy).toContainEqual({ reason: 'BOUNCED', count: 1 });
  });

  it('counts push and email against one frequency cap, unless the cap names a channel; triggers send email too', async () => {
    const { secret, publishable } = await emailWorkspace();
    const ada = `ada-${Date.now()}@mail.example`;
    await secret(Upsert, { input: { externalId: 'ada', email: ada, firstName: 'Ada', emailOptIn: true } });
    const browser = await subscribeBrowser(publishable, h.push, { externalId: 'ada' });
    const push = { title: 'Sale', body: 'Today only', url: 'https://shop.example/sale' };

    await secret(Settings, { input: { frequencyCaps: [{ limit: 1, period: 'DAY' }] } });
    const first = await createCampaign(secret, { name: 'Push first', kind: 'BROADCAST', content: push });
    await secret(SendNow, { id: first });
    await waitForStatus(secret, first);
    expect(h.push.received(browser.browser.id)).toHaveLength(1);
    const capped = await createCampaign(secret, { name: 'Email after', kind: 'BROADCAST', channel: 'EMAIL', email });
    await secret(SendNow, { id: capped });
    await waitForStatus(secret, capped);
    expect((await messagesOf(secret, capped)).stats.suppressedBy).toEqual([{ reason: 'FREQUENCY_CAP', count: 1 }]);
    expect(smtp.to(ada)).toHaveLength(0);

    // A cap on email alone does not count the push.
    await secret(Settings, { input: { frequencyCaps: [{ limit: 1, period: 'DAY', channel: 'EMAIL' }] } });
    const allowed = await createCampaign(secret, { name: 'Email allowed', kind: 'BROADCAST', channel: 'EMAIL', email });
    await secret(SendNow, { id: allowed });
    await waitForStatus(secret, allowed);
    expect(smtp.to(ada)).toHaveLength(1);

    // A triggered email: the event's properties reach the template.
    await secret(Settings, { input: { frequencyCaps: [] } });
    const triggered = await createCampaign(secret, {
      name: 'Order shipped', kind: 'TRIGGERED', channel: 'EMAIL', frequencyCapped: false,
      trigger: { event: 'order_shipped' },
      email: { subject: 'Order {{ event.properties.order }} is on its way', html: '<p>Hi {{ contact.firstName }}</p>' },
    });
    expect(dataOf(await secret(Activate, { id: triggered })).activateCampaign.__typename).toBe('MutationActivateCampaignSuccess');
    await secret(Track, { input: { externalId: 'ada', name: 'order_shipped', properties: { order: 'A-17' } } });
    for (let waited = 0; smtp.to(ada).length < 2 && waited < 10_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(smtp.to(ada).map((mail) => mail.subject)).toContain('Order A-17 is on its way');
  });
});
