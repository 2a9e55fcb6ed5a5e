import { describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import { dataOf, errorCodes } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';
import { ledgerRow, MAIL_DOMAIN, sentEmailCampaign } from './sent-emails.ts';

const Feedback = graphql(`
  mutation EmailFeedback($input: MutationRecordEmailFeedbackInput!) {
    recordEmailFeedback(input: $input) {
      __typename
      ... on MutationRecordEmailFeedbackSuccess { data { id status reason error } }
      ... on Error { code message }
    }
  }
`);
const Stats = graphql(`
  query EmailFeedbackStats($id: ID!) {
    campaign(id: $id) { stats { sent failed delivered bounced complained } }
  }
`);

const Unsubscribed = graphql(`
  query EmailFeedbackUnsubscribed($id: ID!) {
    campaign(id: $id) { stats { unsubscribed bounced complained } }
  }
`);

const h = useHerald({}, { push: false });

/** An RFC 3464 report as a mail server returns it to the envelope sender (after RFC 3464's appendix example). */
function deliveryReport(options: { to: string; action: string; status: string; diagnostic: string; returned: string[] }): string {
  return [
    'Return-Path: <>',
    `X-Original-To: ${options.to}`,
    `Delivered-To: ${options.to}`,
    'Received: from mx.example.net (mx.example.net [198.51.100.7]) by mx.shop.example; Tue, 1 Dec 2026 20:00:01 +0000',
    'Date: Tue, 1 Dec 2026 20:00:00 +0000',
    'From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>',
    'Message-Id: <202612012000.AA00001@mx.example.net>',
    'Subject: Returned mail: see transcript for details',
    `To: ${options.to}`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status;',
    '    boundary="JAA13167.773673707/mx.example.net"',
    '',
    'This is a MIME-encapsulated message',
    '',
    '--JAA13167.773673707/mx.example.net',
    '',
    'The original message was received at Tue, 1 Dec 2026 19:59:58 +0000',
    'from smtp.shop.example [192.0.2.10]',
    '',
    '   ----- The following addresses had delivery problems -----',
    '<ada@example.net>',
    '',
    '--JAA13167.773673707/mx.example.net',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.example.net',
    'Arrival-Date: Tue, 1 Dec 2026 19:59:58 +0000',
    '',
    'Final-Recipient: rfc822; ada@example.net',
    `Action: ${options.action}`,
    `Status: ${options.status}`,
    'Remote-MTA: dns; mailbox.example.net',
    `Diagnostic-Code: smtp; ${options.diagnostic}`,
    'Last-Attempt-Date: Tue, 1 Dec 2026 20:00:00 +0000',
    '',
    '--JAA13167.773673707/mx.example.net',
    'Content-Type: text/rfc822-headers',
    '',
    'Received: from smtp.shop.example (smtp.shop.example [192.0.2.10]) by mx.example.net; Tue, 1 Dec 2026 19:59:58 +0000',
    'From: Shop <news@shop.example>',
    'To: ada@example.net',
    'Subject: Autumn sale',
    ...options.returned,
    'MIME-Version: 1.0',
    'Content-Type: text/html; charset=utf-8',
    '',
    '--JAA13167.773673707/mx.example.net--',
    '',
  ].join('\r\n');
}

/** An RFC 5965 complaint (its appendix B example), about one of our emails. */
function complaintReport(verp: string, messageIdHeader: string): string {
  return [
    'From: <abusedesk@example.com>',
    'Date: Thu, 8 Mar 2026 17:40:36 EDT',
    'Subject: FW: Autumn sale',
    'To: <fbl@shop.example>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=feedback-report;',
    '     boundary="part1_13d.2e68ed54_boundary"',
    '',
    '--part1_13d.2e68ed54_boundary',
    'Content-Type: text/plain; charset="US-ASCII"',
    'Content-Transfer-Encoding: 7bit',
    '',
    'This is an email abuse report for an email message received from IP',
    '192.0.2.10 on Thu, 8 Mar 2026 14:00:00 EDT.  For more information',
    'about this format please see http://www.mipassoc.org/arf/.',
    '',
    '--part1_13d.2e68ed54_boundary',
    'Content-Type: message/feedback-report',
    '',
    'Feedback-Type: abuse',
    'User-Agent: SomeGenerator/1.0',
    'Version: 1',
    `Original-Mail-From: <${verp}>`,
    'Original-Rcpt-To: <ada@example.net>',
    'Arrival-Date: Thu, 8 Mar 2026 14:00:00 EDT',
    'Reporting-MTA: dns; mail.example.com',
    'Source-IP: 192.0.2.10',
    'Authentication-Results: mail.example.com;',
    '               spf=pass smtp.mail=news@shop.example',
    'Reported-Domain: shop.example',
    'Removal-Recipient: ada@example.net',
    '',
    '--part1_13d.2e68ed54_boundary',
    'Content-Type: message/rfc822',
    'Content-Disposition: inline',
    '',
    `Return-Path: <${verp}>`,
    'From: Shop <news@shop.example>',
    'Received: from smtp.shop.example (smtp.shop.example',
    '        [192.0.2.10]) by example.com with ESMTP id M63d4137594e46;',
    '        Thu, 08 Mar 2026 14:00:00 -0400',
    'To: <ada@example.net>',
    'Subject: Autumn sale',
    'MIME-Version: 1.0',
    'Content-type: text/plain',
    `Message-ID: ${messageIdHeader}`,
    'Date: Thu, 08 Mar 2026 12:31:03 -0500',
    '',
    'Autumn sale: everything must go',
    '--part1_13d.2e68ed54_boundary--',
    '',
  ].join('\r\n');
}

const postReport = (body: string | Buffer, key?: string) =>
  fetch(`${h.kit.url}/email/dsn`, {
    method: 'POST',
    headers: { 'content-type': 'message/rfc822', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: typeof body === 'string' ? body : new Uint8Array(body),
  });

describe('recordEmailFeedback', () => {
  it('fails a permanently bounced message and marks its contact BOUNCED, once', async () => {
    const { secret, workspace } = await h.workspace();
    const campaign = await sentEmailCampaign(h.kit, workspace.id, [{ externalId: 'ada' }, { externalId: 'bob' }]);
    const [ada] = campaign.messages;
    const input = { token: ada!.token, type: 'BOUNCE' as const, permanent: true, diagnostic: `550 5.1.1 <ada@example.net>: user unknown\u0007${'x'.repeat(1000)}` };

    for (let i = 0; i < 2; i++) {
      const result = dataOf(await secret(Feedback, { input })).recordEmailFeedback;
      expect(result).toMatchObject({ __typename: 'MutationRecordEmailFeedbackSuccess', data: { id: ada!.globalId, status: 'FAILED', reason: 'BOUNCED' } });
      if (result.__typename !== 'MutationRecordEmailFeedbackSuccess') return;
      expect(result.data.error).toMatch(/^550 5\.1\.1 <ada@example\.net>: user unknown x+$/);
      expect(result.data.error!.length).toBe(500);
    }
    expect((await ledgerRow(h.kit, ada!.id)).contact).toMatchObject({ emailStatus: 'BOUNCED', emailStatusSource: 'bounce', emailStatusAt: expect.any(Date) });
    expect(dataOf(await secret(Stats, { id: campaign.globalId })).campaign!.stats).toEqual({ sent: 1, failed: 1, delivered: 1, bounced: 1, complained: 0 });
  });

  it('records only the diagnostic of a transient bounce, and a complaint on the contact, once', async () => {
    const { secret, workspace } = await h.workspace();
    const campaign = await sentEmailCampaign(h.kit, workspace.id, [{ externalId: 'ada' }, { externalId: 'bob' }]);
    const [ada, bob] = campaign.messages;

    const soft = dataOf(await secret(Feedback, { input: { messageId: ada!.globalId, type: 'BOUNCE', diagnostic: '452 4.2.2 mailbox full' } })).recordEmailFeedback;
    expect(soft).toMatchObject({ data: { status: 'SENT', reason: 'ACCEPTED', error: 'transient bounce: 452 4.2.2 mailbox full' } });
    expect((await ledgerRow(h.kit, ada!.id)).contact.emailStatus).toBe('SUBSCRIBED');

    for (let i = 0; i < 2; i++) {
      const complaint = dataOf(await secret(Feedback, { input: { token: bob!.token, messageId: bob!.globalId, type: 'COMPLAINT' } })).recordEmailFeedback;
      expect(complaint).toMatchObject({ data: { status: 'SENT', reason: 'ACCEPTED' } });
    }
    expect((await ledgerRow(h.kit, bob!.id)).contact).toMatchObject({ emailStatus: 'COMPLAINED', emailStatusSource: 'complaint' });
    expect(dataOf(await secret(Stats, { id: campaign.globalId })).campaign!.stats).toEqual({ sent: 2, failed: 0, delivered: 2, bounced: 0, complained: 1 });
  });

  it('refuses another workspace’s message, a publishable key, and a call naming nothing', async () => {
    const owner = await h.workspace();
    const other = await h.workspace('Other shop');
    const campaign = await sentEmailCampaign(h.kit, owner.workspace.id, [{ externalId: 'ada' }]);
    const [ada] = campaign.messages;

    for (const input of [{ messageId: ada!.globalId }, { token: ada!.token }]) {
      const result = dataOf(await other.secret(Feedback, { input: { ...input, type: 'BOUNCE', permanent: true } })).recordEmailFeedback;
      expect(result).toMatchObject({ __typename: 'NotFoundError', code: 'message/not_found' });
    }
    expect(errorCodes(await owner.publishable(Feedback, { input: { token: ada!.token, type: 'COMPLAINT' } }))).toEqual(['FORBIDDEN']);
    expect(dataOf(await owner.secret(Feedback, { input: { type: 'COMPLAINT' } })).recordEmailFeedback).toMatchObject({ __typename: 'ValidationError' });
    const forged = `${ada!.token.split('.')[0]}.AAAAAAAAAAAAAAAAAAAAAA`;
    expect(dataOf(await owner.secret(Feedback, { input: { token: forged, type: 'COMPLAINT' } })).recordEmailFeedback).toMatchObject({ __typename: 'NotFoundError' });

    const row = await ledgerRow(h.kit, ada!.id);
    expect(row).toMatchObject({ status: 'SENT', error: null, contact: { emailStatus: 'SUBSCRIBED' } });
  });
});

describe('POST /email/dsn', () => {
  it('takes an RFC 3464 bounce, finds the message by its VERP address, and records it once', async () => {
    const { secret, secretKey, workspace } = await h.workspace();
    const campaign = await sentEmailCampaign(h.kit, workspace.id, [{ externalId: 'ada' }]);
    const [ada] = campaign.messages;
    const report = deliveryReport({ to: ada!.verp, action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 <ada@example.net>... User unknown', returned: [] });

    const response = await postReport(report, secretKey);
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({
      message: ada!.globalId,
      matchedBy: 'verp',
      kind: 'delivery-status',
      action: 'failed',
      status: '5.1.1',
      feedback: { type: 'BOUNCE', permanent: true },
      recorded: 'bounced',
    });
    expect(await (await postReport(report, secretKey)).json()).toMatchObject({ recorded: 'unchanged' });
    expect(await ledgerRow(h.kit, ada!.id)).toMatchObject({ status: 'FAILED', reason: 'BOUNCED', error: 'smtp; 550 5.1.1 <ada@example.net>... User unknown', contact: { emailStatus: 'BOUNCED' } });
    expect(dataOf(await secret(Stats, { id: campaign.globalId })).campaign!.stats).toMatchObject({ bounced: 1, failed: 1, sent: 0 });
  });

  it('finds a message by the returned Message-ID, and a delay is transient', async () => {
    const { secretKey, workspace } = await h.workspace();
    const campaign = await sentEmailCampaign(h.kit, workspace.id, [{ externalId: 'ada' }]);
    const [ada] = campaign.messages;
    const report = deliveryReport({ to: `postmaster@${MAIL_DOMAIN}`, action: 'delayed', status: '4.2.2', diagnostic: '452 4.2.2 Mailbox full', returned: [`Message-ID: ${ada!.messageIdHeader}`] });

    const response = await postReport(report, secretKey);
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ matchedBy: 'message-id', feedback: { type: 'BOUNCE', permanent: false }, recorded: 'soft-bounced' });
    expect(await ledgerRow(h.kit, ada!.id)).toMatchObject({ status: 'SENT', error: 'transient bounce: smtp; 452 4.2.2 Mailbox full', contact: { emailStatus: 'SUBSCRIBED' } });
  });

  it('takes an RFC 5965 complaint', async () => {
    const { secret, secretKey, workspace } = await h.workspace();
    const campaign = await sentEmailCampaign(h.kit, workspace.id, [{ externalId: 'ada' }]);
    const [ada] = campaign.messages;

    const response = await postReport(complaintReport(ada!.verp, ada!.messageIdHeader), secretKey);
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ kind: 'feedback-report', feedbackType: 'abuse', matchedBy: 'verp', feedback: { type: 'COMPLAINT' }, recorded: 'complained' });
    expect(await ledgerRow(h.kit, ada!.id)).toMatchObject({ status: 'SENT', contact: { emailStatus: 'COMPLAINED', emailStatusSource: 'complaint' } });
    expect(dataOf(await secret(Stats, { id: campaign.globalId })).campaign!.stats.complained).toBe(1);
  });

  // Marketing email offers `List-Unsubscribe: <https://…/e/u/…>, <mailto:bounces+…?subject=unsubscribe>`
  // (send.test.ts), and mail for bounces+* goes to this route: a person's mail client sends that
  // mail (RFC 2369) when it unsubscribes by mailto.
  it('takes the List-Unsubscribe mailto: a mail to the VERP address with the subject "unsubscribe", once; never an auto-reply', async () => {
    const { secret, secretKey, workspace } = await h.workspace();
    const campaign = await sentEmailCampaign(h.kit, workspace.id, [{ externalId: 'ada' }, { externalId: 'bob' }]);
    const [ada, bob] = campaign.messages;
    const mail = (to: string, subject: string, extra: string[] = []) =>
      [
        `Delivered-To: ${to}`,
        'From: Ada <ada@example.net>',
        `To: ${to}`,
        `Subject: ${subject}`,
        'Date: Tue, 1 Dec 2026 20:00:00 +0000',
        'Message-ID: <unsubscribe-1@example.net>',
        ...extra,
        'MIME-Version: 1.0',
        'Content-Type: text/plain; charset=utf-8',
        '',
        'This message was automatically generated by Mail to unsubscribe you from this mailing list.',
        '',
      ].join('\r\n');

    const response = await postReport(mail(ada!.verp, 'unsubscribe'), secretKey);
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ message: ada!.globalId, matchedBy: 'verp', kind: 'unsubscribe', recorded: 'unsubscribed' });
    expect(await (await postReport(mail(ada!.verp, 'Unsubscribe'), secretKey)).json()).toMatchObject({ recorded: 'unchanged' });

    // An out-of-office reply to the envelope sender, and a forged VERP address: nothing changes.
    expect((await postReport(mail(bob!.verp, 'unsubscribe', ['Auto-Submitted: auto-replied']), secretKey)).status).toBe(400);
    expect((await postReport(mail(bob!.verp, 'Out of office: Autumn sale'), secretKey)).status).toBe(400);
    const forged = bob!.verp.replace(/[0-9a-f]@/, (match) => `${match[0] === '0' ? '1' : '0'}@`);
    expect((await postReport(mail(forged, 'unsubscribe'), secretKey)).status).toBe(404);
    expect((await ledgerRow(h.kit, bob!.id)).contact.emailStatus).toBe('SUBSCRIBED');

    expect((await ledgerRow(h.kit, ada!.id)).contact).toMatchObject({ emailStatus: 'UNSUBSCRIBED', emailStatusSource: 'unsubscribe-mail' });
    expect((await ledgerRow(h.kit, ada!.id)).status).toBe('SENT');
    expect(dataOf(await secret(Unsubscribed, { id: campaign.globalId })).campaign!.stats).toEqual({ unsubscribed: 1, bounced: 0, complained: 0 });
  });

  it('answers 400 for what is not a report, 404 when nothing of the workspace matches, and needs the secret key', async () => {
    const { secretKey, publishableKey, workspace } = await h.workspace();
    const other = await h.workspace('Other shop');
    const campaign = await sentEmailCampaign(h.kit, workspace.id, [{ externalId: 'ada' }]);
    const [ada] = campaign.messages;
    const bounce = deliveryReport({ to: ada!.verp, action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 User unknown', returned: [] });

    expect((await postReport(Buffer.from([0, 255, 1, 254, 10, 13, 10]), secretKey)).status).toBe(400);
    expect((await postReport('From: a@example.net\r\nSubject: hello\r\n\r\nJust a mail.\r\n', secretKey)).status).toBe(400);
    expect((await postReport(bounce.replace('Content-Type: message/delivery-status', 'Content-Type: text/plain'), secretKey)).status).toBe(400);

    // A VERP address whose MAC does not verify matches nothing; nor does a message of another workspace.
    const forged = ada!.verp.replace(/[0-9a-f]@/, (match) => `${match[0] === '0' ? '1' : '0'}@`);
    expect((await postReport(bounce.replaceAll(ada!.verp, forged), secretKey)).status).toBe(404);
    expect((await postReport(bounce, other.secretKey)).status).toBe(404);

    expect((await postReport(bounce)).status).toBe(401);
    expect((await postReport(bounce, 'sk_not_a_key')).status).toBe(401);
    expect((await postReport(bounce, publishableKey)).status).toBe(403);
    expect((await postReport(Buffer.alloc(1024 * 1024 + 1, 'a'), secretKey)).status).toBe(413);
    expect(await ledgerRow(h.kit, ada!.id)).toMatchObject({ status: 'SENT', contact: { emailStatus: 'SUBSCRIBED' } });
  });
});
