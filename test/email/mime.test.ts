import { createPrivateKey } from 'node:crypto';
import { simpleParser } from 'mailparser';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { describe, expect, it } from 'vitest';
import { dkimSignature } from '../../src/delivery/email/dkim.ts';
import { buildEmail, type EmailMessage, raw } from '../../src/delivery/email/mime.ts';
import { dkimTxtRecord, generateDkimKeys } from '../kit/smtp-server.ts';

const keys = generateDkimKeys();
const dkim = { domain: 'shop.example', selector: 'herald', key: createPrivateKey(keys.privateKey) };
const resolver = async (name: string) => {
  if (name !== 'herald._domainkey.shop.example') throw Object.assign(new Error('no record'), { code: 'ENOTFOUND' });
  return [[dkimTxtRecord(keys.publicKey)]];
};

const message = (fields: Partial<EmailMessage> = {}): EmailMessage => ({
  from: { name: 'Shop', address: 'news@shop.example' },
  to: 'ada@mail.example',
  subject: 'Your week',
  messageId: '<0193a0b2-1111-7222-8333-444455556666@shop.example>',
  text: 'Hello Ada',
  html: '<p>Hello Ada</p>',
  ...fields,
});

/** What a mail client reads, and mailauth's DKIM verdict, for a message signed by Herald. */
async function received(fields: Partial<EmailMessage>) {
  const email = buildEmail(message(fields));
  const bytes = raw(email, await dkimSignature(email, dkim));
  const [mail, verified] = await Promise.all([simpleParser(bytes), dkimVerify(bytes, { resolver })]);
  return { bytes, mail, dkim: verified.results[0]!.status.result };
}

describe('the messages Herald builds', () => {
  it('read back as written, non-ASCII names and subjects as encoded words, and pass DKIM', async () => {
    const subject = `Grüße, Jürgen — ${'deine Neuigkeiten 🎉 '.repeat(6)}`.trim();
    const { bytes, mail, dkim: result } = await received({ from: { name: 'Café "Zur Post"', address: 'news@shop.example' }, subject, replyTo: 'help@shop.example' });
    expect(mail.subject).toBe(subject);
    expect(mail.from?.value).toEqual([{ name: 'Café "Zur Post"', address: 'news@shop.example' }]);
    expect(mail.replyTo?.value[0]?.address).toBe('help@shop.example');
    expect(mail.messageId).toBe('<0193a0b2-1111-7222-8333-444455556666@shop.example>');
    expect(result).toBe('pass');
    // Only ASCII on the wire, no line over 998 octets.
    expect(bytes.every((byte) => byte < 0x80)).toBe(true);
    expect(Math.max(...bytes.toString('latin1').split('\r\n').map((line) => line.length))).toBeLessThanOrEqual(998);
  });

  it('sends ASCII parts as they are and others in base64, both read back exactly, whitespace and all', async () => {
    const html = `<table>\n    <tr><td>  Hello   Ada  </td></tr>\t\n</table>\n\n\n${'<p>x</p>'.repeat(100)}\n.dot at a line start\n`;
    const text = 'Grüße, Ada\n\n  indented   text  \n';
    const { bytes, mail, dkim: result } = await received({ html, text });
    expect(mail.html).toBe(html);
    expect(mail.text).toBe(text);
    const wire = bytes.toString('latin1');
    expect(wire).toContain('Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 7bit');
    expect(wire).toContain('Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64');
    expect(result).toBe('pass');
  });

  it('uses base64 for long lines and for content that holds the boundary', async () => {
    const email = buildEmail(message({ html: `<p>${'x'.repeat(2000)}</p>` }));
    expect(email.body.toString('latin1')).toContain('Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64');
    const boundary = /boundary="([^"]+)"/.exec(email.fields.join('\r\n'))![1]!;
    const tricky = buildEmail(message({ text: `before\r\n--${boundary}--\r\nafter` }));
    expect(tricky.body.toString('latin1')).toContain('Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64');
    expect((await simpleParser(raw(tricky))).text).toBe(`before\n--${boundary}--\nafter`);
  });

  it('signs List-Unsubscribe and List-Unsubscribe-Post, so changing either fails DKIM', async () => {
    const email = buildEmail(
      message({
        headers: [
          ['List-Unsubscribe', `<https://herald.example/e/u/${'t'.repeat(60)}>, <mailto:bounces+${'a'.repeat(64)}@shop.example?subject=unsubscribe>`],
          ['List-Unsubscribe-Post', 'List-Unsubscribe=One-Click'],
        ],
      }),
    );
    const signature = await dkimSignature(email, dkim);
    expect(signature).toMatch(/h=from:to:subject:date:message-id:list-unsubscribe:list-unsubscribe-post:mime-version:content-type;/);
    const bytes = raw(email, signature);
    expect((await dkimVerify(bytes, { resolver })).results[0]!.status.result).toBe('pass');
    const forged = Buffer.from(bytes.toString('latin1').replace('https://herald.example/', 'https://evil.example/'), 'latin1');
    expect((await dkimVerify(forged, { resolver })).results[0]!.status.result).toBe('fail');
  });

  it('encodes base64 parts of every length into lines of 76, read back exactly', async () => {
    for (let length = 0; length <= 120; length++) {
      const text = 'ü'.repeat(length % 7) + 'é'.repeat(length);
      const email = buildEmail(message({ text: text || 'ü' }));
      const wire = raw(email).toString('latin1');
      const encoded = wire.split('Content-Transfer-Encoding: base64\r\n\r\n')[1]!.split('\r\n--')[0]!.split('\r\n');
      expect(encoded.slice(0, -1).every((line) => line.length === 76)).toBe(true);
      expect(encoded.at(-1)!.length).toBeLessThanOrEqual(76);
      expect((await simpleParser(raw(email))).text).toBe(text || 'ü');
    }
  });
});
