import { encodeGlobalID } from '@pothos/plugin-relay';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localId } from '../../src/graphql/ids.ts';
import { graphql } from '../generated/index.ts';
import { createCampaign, SendNow, waitForStatus } from '../kit/campaigns.ts';
import { dataOf } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';
import { startSmtpServer, type TestSmtpServer } from '../kit/smtp-server.ts';
import { sentEmailCampaign } from './sent-emails.ts';

/**
 * Bounces, complaints and unsubscribes arrive late, sometimes after the contact's email changed.
 * They are about the address the message went to (Message.sentTo): the campaign counts them, but
 * the contact's status, a fact about its current address, changes only while it has that address.
 */

const Settings = graphql(`
  mutation LateFeedbackSettings($input: MutationUpdateWorkspaceSettingsInput!) {
    updateWorkspaceSettings(input: $input) { __typename }
  }
`);
const Upsert = graphql(`
  mutation LateFeedbackUpsert($input: ContactInput!) {
    upsertContact(input: $input) { __typename ... on MutationUpsertContactSuccess { data { email emailStatus } } ... on Error { message } }
  }
`);
const Contact = graphql(`
  query LateFeedbackContact($externalId: String!) {
    contact(externalId: $externalId) { email emailStatus }
  }
`);
const Feedback = graphql(`
  mutation LateFeedbackRecord($input: MutationRecordEmailFeedbackInput!) {
    recordEmailFeedback(input: $input) { __typename ... on MutationRecordEmailFeedbackSuccess { data { status reason } } ... on Error { message } }
  }
`);
const Stats = graphql(`
  query LateFeedbackStats($id: ID!) {
    campaign(id: $id) { stats { sent failed bounced complained unsubscribed } }
  }
`);

const h = useHerald({ HERALD_SMTP_ALLOWED_HOSTS: '127.0.0.1' }, { push: false });
let smtp: TestSmtpServer;
beforeAll(async () => {
  smtp = await startSmtpServer();
});
afterAll(() => smtp?.close());

const email = { subject: 'Autumn sale', html: '<p>Hello <a href="{{ unsubscribe_url }}">Unsubscribe</a></p>' };
const run = Date.now();
const addressOf = (name: string, version = 'old') => `${name}-${version}-${run}@mail.example`;

type Secret = Awaited<ReturnType<typeof h.workspace>>['secret'];

async function emailWorkspace() {
  const workspace = await h.workspace();
  const settings = { fromAddress: 'news@shop.example', fromName: 'Shop', smtpUrl: smtp.url };
  expect(dataOf(await workspace.secret(Settings, { input: { email: settings } })).updateWorkspaceSettings.__typename).toBe('MutationUpdateWorkspaceSettingsSuccess');
  return workspace;
}

/** Sends a marketing email to each name's current address through Herald and the SMTP server; answers what each received. */
async function send(secret: Secret, names: string[]) {
  const id = await createCampaign(secret, { name: `News ${names.join(' ')}`, kind: 'BROADCAST', channel: 'EMAIL', email });
  await secret(SendNow, { id });
  await waitForStatus(secret, id);
  const received = async (name: string) => {
    const to = dataOf(await secret(Contact, { externalId: name })).contact!.email!;
    const mail = smtp.to(to).find((one) => one.subject === 'Autumn sale' && one.headers['list-unsubscribe']);
    expect(mail, `${name} got the email at ${to}`).toBeDefined();
    const ledgerId = /^<([^@]+)@/.exec(mail!.messageId!)![1]!;
    return {
      name,
      to,
      ledgerId,
      messageId: encodeGlobalID('Message', ledgerId),
      verp: mail!.envelope.from,
      unsubscribe: /<(https?:\/\/[^>]+\/e\/u\/[^>]+)>/.exec(mail!.headers['list-unsubscribe']!)![1]!,
    };
  };
  const sent = Object.fromEntries(await Promise.all(names.map(async (name) => [name, await received(name)] as const)));
  return { id, sent };
}

const postReport = (body: string, key: string) =>
  fetch(`${h.kit.url}/email/dsn`, { method: 'POST', headers: { 'content-type': 'message/rfc822', authorization: `Bearer ${key}` }, body });

/** A mail server's RFC 3464 report that the email to `to` bounced for good, sent back to its VERP address. */
const bounceReport = (verp: string, to: string) =>
  [
    `Delivered-To: ${verp}`,
    'From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>',
    `To: ${verp}`,
    'Subject: Undelivered Mail Returned to Sender',
    'Date: Tue, 1 Dec 2026 20:00:00 +0000',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain',
    '',
    'Your message could not be delivered.',
    '--b1',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.example.net',
    '',
    `Final-Recipient: rfc822; ${to}`,
    'Action: failed',
    'Status: 5.1.1',
    'Diagnostic-Code: smtp; 550 5.1.1 User unknown',
    '',
    '--b1--',
    '',
  ].join('\r\n');

/** The mail a mail client sends for List-Unsubscribe's mailto: (RFC 2369). */
const unsubscribeMail = (verp: string, from: string) =>
  [`Delivered-To: ${verp}`, `From: <${from}>`, `To: ${verp}`, 'Subject: unsubscribe', 'Date: Tue, 1 Dec 2026 20:00:00 +0000', 'MIME-Version: 1.0', 'Content-Type: text/plain', '', 'unsubscribe', ''].join('\r\n');

const oneClick = (url: string) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });

describe('a late report about an email', () => {
  it('sent to an address the contact has since changed counts for its campaign and leaves the new address alone', async () => {
    const { secret, secretKey } = await emailWorkspace();
    const names = ['ada', 'bob', 'cy', 'dan', 'eve'];
    for (const name of names) await secret(Upsert, { input: { externalId: name, email: addressOf(name), emailOptIn: true } });
    const { id, sent } = await send(secret, names);
    const { ada, bob, cy, dan, eve } = sent;

    // Each moves to a new address, opted in again.
    for (const name of names) {
      const moved = dataOf(await secret(Upsert, { input: { externalId: name, email: addressOf(name, 'new'), emailOptIn: true } })).upsertContact;
      expect(moved).toMatchObject({ data: { email: addressOf(name, 'new'), emailStatus: 'SUBSCRIBED' } });
    }

    // Then the old address's reports arrive, each twice: by the API, by POST /email/dsn, by the unsubscribe link and its mailto:.
    for (let i = 0; i < 2; i++) {
      const bounced = dataOf(await secret(Feedback, { input: { messageId: ada!.messageId, type: 'BOUNCE', permanent: true, diagnostic: '550 5.1.1 user unknown' } }));
      expect(bounced.recordEmailFeedback).toMatchObject({ data: { status: 'FAILED', reason: 'BOUNCED' } });
      const report = await postReport(bounceReport(bob!.verp, bob!.to), secretKey);
      expect(report.status).toBe(202);
      expect(await report.json()).toMatchObject({ matchedBy: 'verp', recorded: i === 0 ? 'bounced' : 'unchanged' });
      expect(dataOf(await secret(Feedback, { input: { messageId: cy!.messageId, type: 'COMPLAINT' } })).recordEmailFeedback).toMatchObject({ data: { status: 'SENT' } });
      expect((await oneClick(dan!.unsubscribe)).status).toBe(200);
      const mailto = await postReport(unsubscribeMail(eve!.verp, eve!.to), secretKey);
      expect(await mailto.json()).toMatchObject({ kind: 'unsubscribe', recorded: i === 0 ? 'unsubscribed' : 'unchanged' });
    }

    for (const name of names) {
      expect(dataOf(await secret(Contact, { externalId: name })).contact, name).toEqual({ email: addressOf(name, 'new'), emailStatus: 'SUBSCRIBED' });
    }
    // The send is what bounced, was complained about and unsubscribed from: its campaign counts each once.
    expect(dataOf(await secret(Stats, { id })).campaign!.stats).toEqual({ sent: 3, failed: 2, bounced: 2, complained: 1, unsubscribed: 2 });
    // Each ledger row names the address its email went to.
    const rows = await h.kit.herald.prisma.message.findMany({ where: { campaignId: localId(id, 'Campaign')! }, select: { id: true, sentTo: true } });
    expect(Object.fromEntries(rows.map((row) => [row.id, row.sentTo]))).toEqual(Object.fromEntries(names.map((name) => [sent[name]!.ledgerId, addressOf(name)])));

    // And the next campaign reaches every new address.
    const next = await send(secret, names);
    expect(Object.values(next.sent).map((one) => one.to)).toEqual(names.map((name) => addressOf(name, 'new')));
  });

  it('sent to the address the contact still has, whatever its case, changes the contact as before', async () => {
    const { secret, secretKey } = await emailWorkspace();
    const names = ['fay', 'gus', 'hal'];
    for (const name of names) await secret(Upsert, { input: { externalId: name, email: addressOf(name), emailOptIn: true } });
    const { sent } = await send(secret, names);

    // gus is upserted with the same address in capitals (stored lowercased, unchanged); hal's row
    // holds its address in capitals, as an older Herald stored it.
    expect(dataOf(await secret(Upsert, { input: { externalId: 'gus', email: addressOf('gus').toUpperCase(), emailOptIn: true } })).upsertContact).toMatchObject({
      data: { email: addressOf('gus'), emailStatus: 'SUBSCRIBED' },
    });
    await h.kit.herald.prisma.contact.updateMany({ where: { email: addressOf('hal') }, data: { email: addressOf('hal').toUpperCase() } });

    expect(await (await postReport(bounceReport(sent.fay!.verp, sent.fay!.to), secretKey)).json()).toMatchObject({ recorded: 'bounced' });
    expect(dataOf(await secret(Feedback, { input: { messageId: sent.gus!.messageId, type: 'COMPLAINT' } })).recordEmailFeedback).toMatchObject({ data: { status: 'SENT' } });
    expect((await oneClick(sent.hal!.unsubscribe)).status).toBe(200);

    expect(dataOf(await secret(Contact, { externalId: 'fay' })).contact!.emailStatus).toBe('BOUNCED');
    expect(dataOf(await secret(Contact, { externalId: 'gus' })).contact!.emailStatus).toBe('COMPLAINED');
    expect(dataOf(await secret(Contact, { externalId: 'hal' })).contact!.emailStatus).toBe('UNSUBSCRIBED');
  });

  it('sent before Herald recorded the address (sentTo null) applies to the contact’s current address, as it did', async () => {
    const { secret, workspace } = await h.workspace();
    const campaign = await sentEmailCampaign(h.kit, workspace.id, [{ externalId: 'ida' }, { externalId: 'jo' }]);
    const [ida, jo] = campaign.messages;
    for (const name of ['ida', 'jo']) await secret(Upsert, { input: { externalId: name, email: addressOf(name, 'new'), emailOptIn: true } });

    await secret(Feedback, { input: { messageId: ida!.globalId, type: 'BOUNCE', permanent: true } });
    expect((await oneClick(jo!.unsubscribe)).status).toBe(200);

    expect(dataOf(await secret(Contact, { externalId: 'ida' })).contact).toEqual({ email: addressOf('ida', 'new'), emailStatus: 'BOUNCED' });
    expect(dataOf(await secret(Contact, { externalId: 'jo' })).contact).toEqual({ email: addressOf('jo', 'new'), emailStatus: 'UNSUBSCRIBED' });
    expect(dataOf(await secret(Stats, { id: campaign.globalId })).campaign!.stats).toMatchObject({ bounced: 1, unsubscribed: 1 });
  });
});
