import { describe, expect, it } from 'vitest';
import { CreateCampaign, createCampaign, SendNow, waitForStatus } from '../kit/campaigns.ts';
import { dataOf } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';
import { tally } from '../kit/tally.ts';
import { messagesOf, UpsertWebhookContact, useReceiver } from './kit.ts';

/**
 * What a webhook campaign may say, checked when it is saved (a ValidationError that names the
 * field, nothing saved), and where it may go: Herald runs here WITHOUT HERALD_WEBHOOK_ALLOWED_HOSTS,
 * as in production, so loopback, private and IP-address URLs are refused at save and again at
 * send, where a URL rendered from contact data may name another host.
 */

const env: Record<string, string> = { HERALD_PUSH_RETRY_BASE_MS: '50', HERALD_PUSH_TIMEOUT_MS: '1500' };
const r = useReceiver(env);
const h = useHerald(env, { push: false });
const shop = h.useWorkspace('Webhook inputs');

async function refusal(webhook: unknown, extra: Record<string, unknown> = {}) {
  const result = dataOf(await shop.secret(CreateCampaign, { input: { name: 'Hook', kind: 'BROADCAST', channel: 'WEBHOOK', webhook, ...extra } } as never)).createCampaign;
  if (result.__typename !== 'ValidationError') throw new Error(`expected a ValidationError for ${JSON.stringify(webhook)}, got ${JSON.stringify(result)}`);
  return (result as unknown as { fieldErrors: { path: string[]; message: string }[] }).fieldErrors.map((error) => ({ path: error.path.join('.'), message: error.message }));
}

const PUBLIC = 'https://hooks.example.com/herald';

describe('a webhook campaign’s content', () => {
  it('refuses methods, headers and bodies that could not go out as written, naming the field; nothing is saved', async () => {
    expect(await refusal({ url: PUBLIC, method: 'DELETE' })).toEqual([{ path: 'input.webhook.method', message: 'must be POST, PUT or PATCH' }]);
    const reserved = ['Host', 'Content-Length', 'Connection', 'Transfer-Encoding', 'Keep-Alive', 'Upgrade', 'TE', 'webhook-id', 'Webhook-Signature', 'WEBHOOK-TIMESTAMP'];
    for (const name of reserved) {
      const [error, ...more] = await refusal({ url: PUBLIC, headers: { [name]: 'x' } });
      expect(more, name).toEqual([]);
      expect(error!.path).toBe(`input.webhook.headers.${name}`);
    }
    expect(await refusal({ url: PUBLIC, headers: { 'X-Note': 'a\r\nX-Injected: 1' } })).toEqual([
      { path: 'input.webhook.headers.X-Note', message: 'must not contain line breaks or control characters' },
    ]);
    expect((await refusal({ url: PUBLIC, headers: { 'bad name': 'x' } }))[0]!.path).toBe('input.webhook.headers.bad name');
    expect((await refusal({ url: PUBLIC, headers: { 'X-Count': 5 } }))[0]!.path).toBe('input.webhook.headers.X-Count');
    expect((await refusal({ url: PUBLIC, headers: ['X-A: b'] }))[0]!.path).toBe('input.webhook.headers');
    expect((await refusal({ url: PUBLIC, headers: { 'X-A': 'a', 'x-a': 'b' } }))[0]!.message).toMatch(/twice/);

    // Bodies that cannot be JSON whatever the contact; the error says so where it is.
    for (const body of ['{"a": 1,}', '{"name": "{{ contact.firstName }}"', 'hello {{ contact.firstName }}', '{"a": {{ contact.tags | json }} {{ contact.id }}}']) {
      const [error] = await refusal({ url: PUBLIC, body });
      expect(error, body).toMatchObject({ path: 'input.webhook.body' });
      expect(error!.message).toMatch(/does not render to JSON/);
    }
    expect((await refusal({ url: PUBLIC, body: '{% include "secrets" %}' }))[0]!.message).toMatch(/not allowed: templates cannot read files/);
    expect((await refusal({ url: PUBLIC, body: '{"a": "{{ contact.firstName "}' }))[0]!.path).toBe('input.webhook.body');
    expect((await refusal({ url: 'https://hooks.example.com/{{ contact.id' }))[0]!.path).toBe('input.webhook.url');

    // One channel, that channel's content.
    expect(await refusal(undefined)).toEqual([{ path: 'input.webhook', message: 'a WEBHOOK campaign needs webhook' }]);
    expect((await refusal({ url: PUBLIC }, { channel: 'EMAIL', email: { subject: 'Hi', html: '<p>Hi</p>' } }))[0]!.path).toBe('input.webhook');
    expect(await h.kit.herald.prisma.campaign.count()).toBe(0);
  });

  it('saves a body whose values may be written unquoted, its method as given and its header values sealed', async () => {
    const id = await createCampaign(shop.secret, {
      name: 'Saved hook',
      kind: 'BROADCAST',
      channel: 'WEBHOOK',
      webhook: { url: PUBLIC, method: 'patch', headers: { Authorization: 'Bearer x' }, body: '{"age": {{ contact.age }}, "tags": {{ contact.tags | json }}}' },
    });
    const row = await h.kit.herald.prisma.campaign.findUniqueOrThrow({ where: { id: Buffer.from(id, 'base64').toString().split(':')[1]! } });
    expect(row.content).toMatchObject({ url: PUBLIC, method: 'PATCH', headers: { Authorization: expect.stringMatching(/^hs1\./) } });
  });
});

/** URLs that reach Herald's own host, its network or a cloud metadata service, spelled every way a URL parser accepts. */
const PRIVATE_URLS = [
  'https://127.0.0.1/hook',
  'https://2130706433/hook',
  'https://0x7f.0.0.1/hook',
  'https://0177.0.0.1/hook',
  'https://127.1/hook',
  'https://[::1]/hook',
  'https://[::ffff:127.0.0.1]/hook',
  'https://[0:0:0:0:0:ffff:7f00:1]/hook',
  'https://169.254.169.254/latest/meta-data/',
  'https://[fd00:ec2::254]/latest/meta-data/',
  'https://10.0.0.1/hook',
  'https://192.168.1.1/hook',
  'https://[fe80::1]/hook',
  'https://0.0.0.0/hook',
  'https://8.8.8.8/hook', // a public address is still an IP literal: only named hosts
  'https://localhost/hook',
  'https://LOCALHOST./hook',
  'https://localhost:8443/hook',
  'http://hooks.example.com/herald',
  'https://user:secret@hooks.example.com/herald',
  'ftp://hooks.example.com/herald',
];

describe('where a webhook may go', () => {
  it('refuses loopback, private, link-local and IP-literal URLs in every spelling, and http or credentials in the URL, when saved', async () => {
    for (const url of PRIVATE_URLS) {
      const errors = await refusal({ url });
      expect(errors, url).toHaveLength(1);
      expect(errors[0]!.path, url).toBe('input.webhook.url');
      expect(errors[0]!.message, url).toMatch(/^Herald may not send webhooks here: /);
    }
    expect(await h.kit.herald.prisma.campaign.count({ where: { channel: 'WEBHOOK', name: 'Hook' } })).toBe(0);
    tally({ check: 'security: webhook URLs aimed at Herald’s own network', attacks: PRIVATE_URLS.length, leaks: 0 });
  });

  it('checks the URL each contact renders again at send: a host from contact data cannot reach loopback', async () => {
    const port = new URL(r.receiver.origin).port;
    const contacts = [
      { externalId: 'named', attributes: { host: 'localhost' } }, // a name: refused where it points, at connect
      { externalId: 'literal', attributes: { host: '127.0.0.1' } }, // an IP literal: refused before connecting
      { externalId: 'smuggled', attributes: { host: '[::1]' } }, // percent-encoded into no URL at all
      { externalId: 'mapped', attributes: { host: '[::ffff:7f00:1]' } },
    ];
    for (const input of contacts) dataOf(await shop.secret(UpsertWebhookContact, { input } as never));
    r.receiver.clear();
    const id = await createCampaign(shop.secret, {
      name: 'Host from data',
      kind: 'BROADCAST',
      channel: 'WEBHOOK',
      audience: { rule: { attribute: { path: 'host', op: 'EXISTS' } } },
      webhook: { url: `https://{{ contact.host }}:${port}/hook`, body: '{"who": "{{ contact.externalId }}"}' },
    });
    await shop.secret(SendNow, { id });
    await waitForStatus(shop.secret, id, 'SENT', 30_000);
    const campaign = await messagesOf(shop, id);
    expect(campaign.stats).toMatchObject({ targeted: 4, sent: 0, failed: 4 });
    const byWho = new Map(campaign.messages.map((message) => [message.contact.externalId, message]));
    expect(byWho.get('named')).toMatchObject({ status: 'FAILED', attempts: 1 });
    expect(byWho.get('named')!.error).toMatch(/refused to connect to localhost: address (127\.0\.0\.1|::1) is not allowed/);
    expect(byWho.get('literal')).toMatchObject({ status: 'FAILED', reason: 'TEMPLATE_ERROR' });
    expect(byWho.get('literal')!.error).toMatch(/the rendered URL is refused: the IP address 127\.0\.0\.1 is not allowed/);
    expect(byWho.get('smuggled')).toMatchObject({ status: 'FAILED', reason: 'TEMPLATE_ERROR' });
    expect(byWho.get('mapped')).toMatchObject({ status: 'FAILED', reason: 'TEMPLATE_ERROR' });
    expect(r.receiver.counts().requests).toBe(0);
    tally({ check: 'security: webhook URLs aimed at Herald’s own network', attacks: contacts.length, leaks: 0 });
  });
});
