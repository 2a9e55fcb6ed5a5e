import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outcomeOfError, outcomeOfInfo } from '../../src/delivery/email/channel.ts';
import { Mailers } from '../../src/delivery/email/mailers.ts';
import { buildEmail, type EmailMessage } from '../../src/delivery/email/mime.ts';
import type { EmailTransport } from '../../src/workspaces/email-settings.ts';
import { generateDkimKeys, startSmtpServer, type TestSmtpServer } from '../kit/smtp-server.ts';

// Herald's messages go to nodemailer's pool as CRLF-only buffers whose dots smtp-wire.ts escapes
// with indexOf instead of nodemailer's per-byte loop: what arrives must be exactly what was built.

const keys = generateDkimKeys();
let smtp: TestSmtpServer;
let mailers: Mailers;
let transport: EmailTransport;

beforeAll(async () => {
  smtp = await startSmtpServer();
  smtp.publishDkimKey('shop.example', 'herald', keys.publicKey);
  mailers = new Mailers({ HERALD_SMTP_ALLOWED_HOSTS: '127.0.0.1', HERALD_PUSH_TIMEOUT_MS: 10_000 } as ConstructorParameters<typeof Mailers>[0]);
  transport = {
    smtpUrl: smtp.url,
    smtpSource: 'deployment',
    dkim: { domainName: 'shop.example', keySelector: 'herald', privateKey: keys.privateKey },
    fromAddress: 'news@shop.example',
    fromName: 'Shop',
    replyTo: null,
  };
});
afterAll(async () => {
  mailers.close();
  await smtp.close();
});

const message = (to: string, fields: Partial<EmailMessage> = {}): EmailMessage => ({
  from: { name: 'Shop', address: 'news@shop.example' },
  to,
  subject: 'Dots',
  messageId: `<${to.replace('@', '.')}@shop.example>`,
  text: 'Hello',
  html: '<p>Hello</p>',
  ...fields,
});

describe("Herald's SMTP data", () => {
  it('arrives as built, lines starting with dots included (7bit parts), and passes DKIM', async () => {
    const text = '.one dot\n..two dots\n.\nend of text\n.';
    const html = `<p>first</p>\n.<b>dot</b>\n${'<p>filler</p>\n'.repeat(500)}.\n..\n<p>last</p>`;
    const mailer = await mailers.for(transport);
    const info = await mailer.send({ from: 'bounces@shop.example', to: 'dots@mail.example' }, buildEmail(message('dots@mail.example', { text, html })));
    expect(outcomeOfInfo(info)).toEqual({ kind: 'sent' });
    const [received] = smtp.to('dots@mail.example');
    expect(received!.text).toBe(text);
    expect(received!.html).toBe(html);
    expect(received!.dkim.result).toBe('pass');
  });

  it('sends many at once on the pool, each to its own address; a connection dropped mid-DATA is retried, not bounced', async () => {
    const mailer = await mailers.for({ ...transport, dkim: null });
    const addresses = Array.from({ length: 30 }, (_, index) => `reader-${index}@mail.example`);
    const sent = await Promise.all(addresses.map((to) => mailer.send({ from: 'bounces@shop.example', to }, buildEmail(message(to, { text: `.${to}` }))).then(outcomeOfInfo)));
    expect(sent.every((outcome) => outcome.kind === 'sent')).toBe(true);
    for (const to of addresses) expect(smtp.to(to).map((received) => received.text)).toEqual([`.${to}`]);

    smtp.dropNext(1);
    const dropped = await mailer.send({ from: 'bounces@shop.example', to: 'dropped@mail.example' }, buildEmail(message('dropped@mail.example'))).then(outcomeOfInfo, outcomeOfError);
    expect(dropped.kind).toBe('retry');
    const again = await mailer.send({ from: 'bounces@shop.example', to: 'dropped@mail.example' }, buildEmail(message('dropped@mail.example'))).then(outcomeOfInfo, outcomeOfError);
    expect(again).toEqual({ kind: 'sent' });
    expect(smtp.to('dropped@mail.example')).toHaveLength(1);
  });
});
