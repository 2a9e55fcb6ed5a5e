/**
 * Email campaigns in the API (issue 18): CampaignInput.channel and email, checked when saved (MJML
 * compiled, its errors pointing at their line), Campaign.channel / email / warnings, a from address
 * before an email campaign starts, and sendTestMessage for every channel. Push campaigns are as before.
 */
import { describe, expect, it } from 'vitest';
import type { CampaignInput, ContactInput, UpdateCampaignInput } from '../generated/graphql.ts';
import { graphql } from '../generated/index.ts';
import { CreateCampaign, createCampaign, subscribeBrowser } from '../kit/campaigns.ts';
import { dataOf } from '../kit/client.ts';
import { useHerald, type Workspace } from '../kit/fixture.ts';
import { startSmtpServer } from '../kit/smtp-server.ts';

const Read = graphql(`
  query EmailCampaignRead($id: ID!) {
    campaign(id: $id) {
      name
      status
      channel
      content { title url }
      email { subject preheader mjml html text fromName replyTo }
      warnings
    }
  }
`);
const Create = graphql(`
  mutation EmailCampaignCreate($input: CampaignInput!) {
    createCampaign(input: $input) {
      __typename
      ... on MutationCreateCampaignSuccess { data { id channel content { title } email { subject mjml html } warnings } }
      ... on ValidationError { fieldErrors { path message } }
      ... on Error { code message }
    }
  }
`);
const Update = graphql(`
  mutation EmailCampaignUpdate($input: UpdateCampaignInput!) {
    updateCampaign(input: $input) {
      __typename
      ... on MutationUpdateCampaignSuccess { data { channel content { title } email { subject html mjml } warnings } }
      ... on ValidationError { fieldErrors { path message } }
      ... on Error { code message }
    }
  }
`);
const Duplicate = graphql(`
  mutation EmailCampaignDuplicate($id: ID!) {
    duplicateCampaign(input: { id: $id }) {
      __typename
      ... on MutationDuplicateCampaignSuccess { data { id name channel email { subject mjml } content { title } } }
      ... on Error { code message }
    }
  }
`);
const SendNow = graphql(`
  mutation EmailCampaignSendNow($id: ID!) {
    sendCampaignNow(input: { id: $id }) {
      __typename
      ... on MutationSendCampaignNowSuccess { data { status } }
      ... on ValidationError { fieldErrors { path message } }
      ... on Error { code message }
    }
  }
`);
const Schedule = graphql(`
  mutation EmailCampaignSchedule($id: ID!, $sendAt: DateTime!) {
    scheduleCampaign(input: { id: $id, sendAt: $sendAt }) {
      __typename
      ... on MutationScheduleCampaignSuccess { data { status } }
      ... on ValidationError { fieldErrors { path message } }
      ... on Error { code message }
    }
  }
`);
const Activate = graphql(`
  mutation EmailCampaignActivate($id: ID!) {
    activateCampaign(input: { id: $id }) {
      __typename
      ... on MutationActivateCampaignSuccess { data { status } }
      ... on ValidationError { fieldErrors { path message } }
      ... on Error { code message }
    }
  }
`);
const Settings = graphql(`
  mutation EmailCampaignSettings($input: MutationUpdateWorkspaceSettingsInput!) {
    updateWorkspaceSettings(input: $input) { __typename ... on ValidationError { fieldErrors { path message } } }
  }
`);
const Upsert = graphql(`
  mutation EmailCampaignUpsert($input: ContactInput!) {
    upsertContact(input: $input) { __typename ... on MutationUpsertContactSuccess { data { id } } ... on Error { message } }
  }
`);
const TestMessage = graphql(`
  mutation EmailCampaignTestMessage($campaignId: ID!, $contactId: ID!) {
    sendTestMessage(input: { campaignId: $campaignId, contactId: $contactId }) {
      __typename
      ... on MutationSendTestMessageSuccess { data { status reason test channel subscription { id } } }
      ... on ValidationError { fieldErrors { path message } }
      ... on Error { code message }
    }
  }
`);
const TestPush = graphql(`
  mutation EmailCampaignTestPush($campaignId: ID!, $contactId: ID!) {
    sendTestPush(input: { campaignId: $campaignId, contactId: $contactId }) {
      __typename
      ... on MutationSendTestPushSuccess { data { status channel } }
      ... on ValidationError { fieldErrors { path message } }
      ... on Error { code message }
    }
  }
`);
const Stats = graphql(`
  query EmailCampaignStats($id: ID!) {
    campaign(id: $id) { status stats { targeted sent } }
  }
`);

const h = useHerald({ HERALD_SMTP_ALLOWED_HOSTS: '127.0.0.1' });

const mjml = `<mjml>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text>Hi {{ contact.firstName | default: "there" }}, <a href="https://shop.example/news">see the news</a>.</mj-text>
        <mj-text><a href="{{ unsubscribe_url }}">Unsubscribe</a></mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>`;
const email = { subject: 'News for {{ contact.firstName | default: "you" }}', preheader: 'This week', mjml, fromName: 'Shop News', replyTo: 'help@shop.example' };
const push = { title: 'Hello', url: 'https://shop.example/' };

type Secret = Workspace['secret'];
async function create(secret: Secret, input: Record<string, unknown>) {
  return dataOf(await secret(Create, { input: { name: 'News', kind: 'BROADCAST', ...input } as CampaignInput })).createCampaign;
}
async function update(secret: Secret, input: Record<string, unknown>) {
  return dataOf(await secret(Update, { input: input as UpdateCampaignInput })).updateCampaign;
}
const fieldErrorsOf = (result: { __typename: string; fieldErrors?: { path: string[]; message: string }[] }) => {
  expect(result.__typename).toBe('ValidationError');
  return result.fieldErrors ?? [];
};
const pathsOf = (result: Parameters<typeof fieldErrorsOf>[0]) => fieldErrorsOf(result).map((error) => error.path.join('.'));
const countCampaigns = (workspace: Workspace) => h.kit.herald.prisma.campaign.count({ where: { workspaceId: Buffer.from(workspace.workspace.id, 'base64').toString().split(':')[1]! } });

describe('creating an email campaign', () => {
  it('saves channel EMAIL with its email, no push content, and no warnings for a small email', async () => {
    const { secret } = await h.workspace();
    const created = await create(secret, { channel: 'EMAIL', email });
    expect(created).toMatchObject({ __typename: 'MutationCreateCampaignSuccess', data: { channel: 'EMAIL', content: null, email: { subject: email.subject, mjml, html: null }, warnings: [] } });
    if (created.__typename !== 'MutationCreateCampaignSuccess') return;
    expect(dataOf(await secret(Read, { id: created.data.id })).campaign).toEqual({
      name: 'News',
      status: 'DRAFT',
      channel: 'EMAIL',
      content: null,
      email: { ...email, html: null, text: null },
      warnings: [],
    });
    // What the sender reads: the email in Campaign.content, the channel in Campaign.channel.
    const row = await h.kit.herald.prisma.campaign.findUniqueOrThrow({ where: { id: Buffer.from(created.data.id, 'base64').toString().split(':')[1]! } });
    expect(row).toMatchObject({ channel: 'EMAIL', content: email });
  });

  it('answers an MJML error as a field error with its line, and saves nothing', async () => {
    const workspace = await h.workspace();
    const broken = mjml.replace('<mj-text><a href', '<mj-text colour="red"><a href');
    const errors = fieldErrorsOf(await create(workspace.secret, { channel: 'EMAIL', email: { ...email, mjml: broken } }));
    expect(errors).toEqual([{ path: ['input', 'email', 'mjml'], message: expect.stringMatching(/^line 6: .*colour/) }]);

    const liquid = fieldErrorsOf(await create(workspace.secret, { channel: 'EMAIL', email: { subject: 'Hi {{ contact.firstName', html: '<p>Hi</p>' } }));
    expect(liquid).toEqual([{ path: ['input', 'email', 'subject'], message: expect.stringMatching(/not closed/) }]);
    expect(await countCampaigns(workspace)).toBe(0);
  });

  it('takes exactly one of mjml and html, and checks the email fields', async () => {
    const { secret } = await h.workspace();
    expect(pathsOf(await create(secret, { channel: 'EMAIL', email: { subject: 'Both', mjml, html: '<p>x</p>' } }))).toEqual(['input.email.html']);
    expect(pathsOf(await create(secret, { channel: 'EMAIL', email: { subject: 'Neither' } }))).toEqual(['input.email.mjml']);
    expect(pathsOf(await create(secret, { channel: 'EMAIL', email: { subject: ' ', html: '<p>x</p>', replyTo: 'not an address', fromName: 'A\r\nBcc: x@y.example' } }))).toEqual(
      expect.arrayContaining(['input.email.subject', 'input.email.replyTo', 'input.email.fromName']),
    );
  });

  it('warns when the HTML passes Gmail’s clipping size', async () => {
    const { secret } = await h.workspace();
    const html = `<html><body>${'<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.</p>\n'.repeat(1400)}</body></html>`;
    expect(Buffer.byteLength(html)).toBeGreaterThan(102 * 1024);
    const created = await create(secret, { channel: 'EMAIL', email: { subject: 'Long read', html } });
    expect(created.__typename).toBe('MutationCreateCampaignSuccess');
    if (created.__typename !== 'MutationCreateCampaignSuccess') return;
    expect(created.data.warnings).toEqual([expect.stringMatching(/Gmail clips messages over 102 KB/)]);
    expect(dataOf(await secret(Read, { id: created.data.id })).campaign!.warnings).toEqual(created.data.warnings);
  });

  it('wants each channel’s own content: content for WEB_PUSH (the default), email for EMAIL, inApp for IN_APP', async () => {
    const workspace = await h.workspace();
    const { secret } = workspace;
    expect(pathsOf(await create(secret, { channel: 'EMAIL', content: push }))).toEqual(expect.arrayContaining(['input.email', 'input.content']));
    expect(pathsOf(await create(secret, { channel: 'EMAIL', email, content: push }))).toEqual(['input.content']);
    expect(pathsOf(await create(secret, { email }))).toEqual(expect.arrayContaining(['input.content', 'input.email']));
    expect(pathsOf(await create(secret, { channel: 'WEB_PUSH', content: push, email }))).toEqual(['input.email']);
    expect(pathsOf(await create(secret, {}))).toEqual(['input.content']);
    expect(pathsOf(await create(secret, { channel: 'MOBILE_PUSH', content: push }))).toEqual(['input.content', 'input.mobilePush']);
    expect(pathsOf(await create(secret, { channel: 'SMS', content: push }))).toEqual(['input.content', 'input.sms']);
    expect(pathsOf(await create(secret, { channel: 'IN_APP', content: push }))).toEqual(['input.content', 'input.inApp']);
    expect(await countCampaigns(workspace)).toBe(0);
  });
});

describe('push campaigns', () => {
  it('are unchanged: WEB_PUSH by default, content as before, no email, no warnings', async () => {
    const { secret } = await h.workspace();
    const id = await createCampaign(secret, { name: 'Push', kind: 'BROADCAST', content: push });
    expect(dataOf(await secret(Read, { id })).campaign).toEqual({ name: 'Push', status: 'DRAFT', channel: 'WEB_PUSH', content: push, email: null, warnings: [] });
    // The kit's own document (no channel, no email) still creates push campaigns.
    expect(dataOf(await secret(CreateCampaign, { input: { name: 'Kit', kind: 'BROADCAST', content: push } })).createCampaign.__typename).toBe('MutationCreateCampaignSuccess');
  });
});

describe('updating and duplicating', () => {
  it('changes an email campaign’s email, keeps its channel, refuses a bad one without saving it', async () => {
    const { secret } = await h.workspace();
    const created = await create(secret, { channel: 'EMAIL', email });
    if (created.__typename !== 'MutationCreateCampaignSuccess') throw new Error('create failed');
    const { id } = created.data;
    expect(await update(secret, { id, name: 'Renamed' })).toMatchObject({ data: { channel: 'EMAIL', email: { subject: email.subject, mjml } } });
    expect(await update(secret, { id, email: { subject: 'Plain', html: '<p>Hello</p>' } })).toMatchObject({
      data: { channel: 'EMAIL', content: null, email: { subject: 'Plain', html: '<p>Hello</p>', mjml: null }, warnings: [] },
    });
    const broken = fieldErrorsOf(await update(secret, { id, email: { subject: 'Broken', mjml: '<mjml><mj-body><mj-section><mj-colum></mj-colum></mj-section></mj-body></mjml>' } }));
    expect(broken.map((error) => error.path)).toEqual([['input', 'email', 'mjml']]);
    expect(broken[0]!.message).toMatch(/^line 1: /);
    expect(pathsOf(await update(secret, { id, content: push }))).toEqual(['input.content']);
    expect(dataOf(await secret(Read, { id })).campaign).toMatchObject({ name: 'Renamed', channel: 'EMAIL', email: { subject: 'Plain' } });
  });

  it('moves a campaign to another channel with the new channel’s content; the old content goes', async () => {
    const { secret } = await h.workspace();
    const id = await createCampaign(secret, { name: 'Mover', kind: 'BROADCAST', content: push });
    expect(pathsOf(await update(secret, { id, channel: 'EMAIL' }))).toEqual(['input.email']);
    expect(await update(secret, { id, channel: 'EMAIL', email })).toMatchObject({ data: { channel: 'EMAIL', content: null, email: { subject: email.subject } } });
    expect(await update(secret, { id, channel: 'WEB_PUSH', content: push })).toMatchObject({ data: { channel: 'WEB_PUSH', content: { title: 'Hello' }, email: null } });
  });

  it('duplicates an email campaign as an email campaign', async () => {
    const { secret } = await h.workspace();
    const created = await create(secret, { channel: 'EMAIL', email });
    if (created.__typename !== 'MutationCreateCampaignSuccess') throw new Error('create failed');
    const copy = dataOf(await secret(Duplicate, { id: created.data.id })).duplicateCampaign;
    expect(copy).toMatchObject({ data: { name: 'News (copy)', channel: 'EMAIL', content: null, email: { subject: email.subject, mjml } } });
  });
});

describe('starting an email campaign', () => {
  it('needs a from address and an SMTP server in the workspace first', async () => {
    const { secret } = await h.workspace();
    const created = await create(secret, { channel: 'EMAIL', email });
    if (created.__typename !== 'MutationCreateCampaignSuccess') throw new Error('create failed');
    const { id } = created.data;
    const tomorrow = new Date(Date.now() + 24 * 3600_000).toISOString();
    for (const result of [dataOf(await secret(SendNow, { id })).sendCampaignNow, dataOf(await secret(Schedule, { id, sendAt: tomorrow })).scheduleCampaign]) {
      expect(fieldErrorsOf(result)).toEqual([{ path: ['input', 'id'], message: expect.stringMatching(/^set a from address in the workspace's email settings/) }]);
    }
    await secret(Settings, { input: { email: { fromAddress: 'news@shop.example' } } });
    // This Herald has no HERALD_SMTP_URL: the workspace needs its own server.
    expect(fieldErrorsOf(dataOf(await secret(SendNow, { id })).sendCampaignNow)).toEqual([{ path: ['input', 'id'], message: expect.stringMatching(/SMTP server/) }]);
    expect(dataOf(await secret(Read, { id })).campaign!.status).toBe('DRAFT');

    expect(dataOf(await secret(Settings, { input: { email: { smtpUrl: 'smtp://127.0.0.1:2525' } } })).updateWorkspaceSettings.__typename).toBe('MutationUpdateWorkspaceSettingsSuccess');
    expect(dataOf(await secret(Schedule, { id, sendAt: tomorrow })).scheduleCampaign).toEqual({ __typename: 'MutationScheduleCampaignSuccess', data: { status: 'SCHEDULED' } });
  });

  it('a triggered email campaign is not activated without them either; push campaigns need neither', async () => {
    const { secret } = await h.workspace();
    const created = await create(secret, { kind: 'TRIGGERED', trigger: { event: 'signed_up' }, channel: 'EMAIL', email });
    if (created.__typename !== 'MutationCreateCampaignSuccess') throw new Error('create failed');
    expect(pathsOf(dataOf(await secret(Activate, { id: created.data.id })).activateCampaign)).toEqual(['input.id']);
    const pushId = await createCampaign(secret, { name: 'Welcome push', kind: 'TRIGGERED', trigger: { event: 'signed_up' }, content: push });
    expect(dataOf(await secret(Activate, { id: pushId })).activateCampaign).toEqual({ __typename: 'MutationActivateCampaignSuccess', data: { status: 'ACTIVE' } });
  });
});

describe('sendTestMessage', () => {
  it('sends a push campaign’s test to the contact’s newest browser, outside the stats', async () => {
    const { secret, publishable } = await h.workspace();
    const upserted = dataOf(await secret(Upsert, { input: { externalId: 'tess', firstName: 'Tess' } })).upsertContact;
    if (upserted.__typename !== 'MutationUpsertContactSuccess') throw new Error('upsert failed');
    const tess = await subscribeBrowser(publishable, h.push, { externalId: 'tess' });
    const id = await createCampaign(secret, { name: 'Draft', kind: 'BROADCAST', content: { title: 'Hi {{ contact.firstName }}', url: 'https://shop.example/' } });
    const result = dataOf(await secret(TestMessage, { campaignId: id, contactId: upserted.data.id })).sendTestMessage;
    expect(result).toEqual({ __typename: 'MutationSendTestMessageSuccess', data: { status: 'SENT', reason: 'ACCEPTED', test: true, channel: 'WEB_PUSH', subscription: { id: tess.subscriptionId } } });
    expect(h.push.received(tess.browser.id)[0]!.json).toMatchObject({ title: 'Hi Tess' });
    expect(dataOf(await secret(Stats, { id })).campaign).toEqual({ status: 'DRAFT', stats: { targeted: 0, sent: 0 } });
    // sendTestPush still does the same.
    expect(dataOf(await secret(TestPush, { campaignId: id, contactId: upserted.data.id })).sendTestPush).toEqual({ __typename: 'MutationSendTestPushSuccess', data: { status: 'SENT', channel: 'WEB_PUSH' } });
  });

  it('refuses an email test without an address, a from address or SMTP server, and sendTestPush for an email campaign', async () => {
    const { secret } = await h.workspace();
    const created = await create(secret, { channel: 'EMAIL', email });
    if (created.__typename !== 'MutationCreateCampaignSuccess') throw new Error('create failed');
    const campaignId = created.data.id;
    const contact = async (input: Record<string, unknown>) => {
      const upserted = dataOf(await secret(Upsert, { input: input as ContactInput })).upsertContact;
      if (upserted.__typename !== 'MutationUpsertContactSuccess') throw new Error('upsert failed');
      return upserted.data.id;
    };
    const withEmail = await contact({ externalId: 'ema', email: 'ema@mail.example' });
    const without = await contact({ externalId: 'noe' });
    expect(fieldErrorsOf(dataOf(await secret(TestMessage, { campaignId, contactId: withEmail })).sendTestMessage)).toEqual([
      { path: ['input', 'campaignId'], message: expect.stringMatching(/^set a from address/) },
    ]);
    await secret(Settings, { input: { email: { fromAddress: 'news@shop.example', smtpUrl: 'smtp://127.0.0.1:2525' } } });
    expect(fieldErrorsOf(dataOf(await secret(TestMessage, { campaignId, contactId: without })).sendTestMessage)).toEqual([
      { path: ['input', 'contactId'], message: 'this contact has no email address' },
    ]);
    expect(fieldErrorsOf(dataOf(await secret(TestPush, { campaignId, contactId: withEmail })).sendTestPush)).toEqual([
      { path: ['input', 'campaignId'], message: "this campaign's channel is EMAIL: send its test with sendTestMessage" },
    ]);
    const messages = await h.kit.herald.prisma.message.count({ where: { campaignId: Buffer.from(campaignId, 'base64').toString().split(':')[1]! } });
    expect(messages).toBe(0);
  });

  it('sends an email campaign’s test to the contact’s address: one EMAIL ledger row, no subscription, outside the stats', async () => {
    const smtp = await startSmtpServer();
    try {
      const { secret } = await h.workspace();
      await secret(Settings, { input: { email: { fromAddress: 'news@shop.example', fromName: 'Shop', smtpUrl: smtp.url } } });
      const upserted = dataOf(await secret(Upsert, { input: { externalId: 'mia', email: 'mia@mail.example', firstName: 'Mia' } })).upsertContact;
      if (upserted.__typename !== 'MutationUpsertContactSuccess') throw new Error('upsert failed');
      const created = await create(secret, { channel: 'EMAIL', email, frequencyCapped: false });
      if (created.__typename !== 'MutationCreateCampaignSuccess') throw new Error('create failed');
      const result = dataOf(await secret(TestMessage, { campaignId: created.data.id, contactId: upserted.data.id })).sendTestMessage;
      expect(result).toEqual({ __typename: 'MutationSendTestMessageSuccess', data: { status: 'SENT', reason: 'ACCEPTED', test: true, channel: 'EMAIL', subscription: null } });
      await smtp.waitFor(1);
      expect(smtp.to('mia@mail.example')).toMatchObject([{ subject: 'News for Mia', from: { address: 'news@shop.example', name: 'Shop News' } }]);
      expect(dataOf(await secret(Stats, { id: created.data.id })).campaign).toEqual({ status: 'DRAFT', stats: { targeted: 0, sent: 0 } });
    } finally {
      await smtp.close();
    }
  });
});
