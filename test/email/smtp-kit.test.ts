import nodemailer, { type SendMailOptions, type Transporter } from 'nodemailer';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateDkimKeys, spawnSmtpServer, startSmtpServer, type TestSmtpServer } from '../kit/smtp-server.ts';

const keys = generateDkimKeys();
const dkim = { domainName: 'herald.test', keySelector: 's1', privateKey: keys.privateKey };

let smtp: TestSmtpServer;
let plain: Transporter; // one connection per message
let pooled: Transporter;

beforeAll(async () => {
  smtp = await startSmtpServer();
  smtp.publishDkimKey('herald.test', 's1', keys.publicKey);
  plain = nodemailer.createTransport(smtp.url);
  pooled = nodemailer.createTransport({ url: smtp.url, pool: true, maxConnections: 3 } as never);
});
afterEach(() => {
  smtp.clearFaults();
  smtp.clear();
});
afterAll(async () => {
  plain?.close();
  pooled?.close();
  await smtp?.close();
});

const mail = (to: string | string[], extra: SendMailOptions = {}): SendMailOptions => ({
  from: '"Herald" <news@herald.test>',
  to,
  subject: `for ${String(to)}`,
  text: 'original body',
  ...extra,
});

/** What nodemailer threw, as the fields a sender classifies on. */
async function failureOf(sending: Promise<unknown>) {
  const error = await sending.then(
    () => expect.unreachable('the send should have failed'),
    (e: unknown) => e as { code?: string; responseCode?: number; command?: string; message: string },
  );
  return { code: error.code, responseCode: error.responseCode, command: error.command, message: error.message };
}

describe('receiving', () => {
  it('parses a message with its headers, envelope and raw bytes', async () => {
    const info = await plain.sendMail(
      mail('Fox@Example.test', {
        replyTo: 'help@herald.test',
        html: '<p>Hello <b>Fox</b></p>',
        messageId: '<m-1@herald.test>',
        envelope: { from: 'bounce-0a1b@herald.test', to: ['Fox@Example.test'] },
        headers: {
          'List-Unsubscribe': '<https://herald.test/u/abc>, <mailto:unsubscribe@herald.test?subject=abc>',
          'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
        },
      }),
    );
    expect(info.response).toMatch(/^250 /);

    const [received, ...others] = smtp.to('fox@example.test');
    expect(others).toEqual([]);
    expect(received).toMatchObject({
      envelope: { from: 'bounce-0a1b@herald.test', to: ['fox@example.test'] },
      messageId: '<m-1@herald.test>',
      subject: 'for Fox@Example.test',
      from: { address: 'news@herald.test', name: 'Herald' },
      to: [{ address: 'Fox@example.test', name: '' }], // nodemailer lowercases the domain
      replyTo: { address: 'help@herald.test', name: '' },
      html: '<p>Hello <b>Fox</b></p>',
      text: 'original body',
      dkim: { result: 'none' },
    });
    expect(received!.headers).toMatchObject({
      'list-unsubscribe': '<https://herald.test/u/abc>, <mailto:unsubscribe@herald.test?subject=abc>',
      'list-unsubscribe-post': 'List-Unsubscribe=One-Click',
      'message-id': '<m-1@herald.test>',
      'return-path': '<bounce-0a1b@herald.test>',
    });
    expect(received!.raw.toString()).toContain('List-Unsubscribe-Post: List-Unsubscribe=One-Click');
    expect(received!.receivedAt).toBeLessThanOrEqual(Date.now());
    expect(smtp.count).toBe(1);
    expect(smtp.to('someone-else@example.test')).toEqual([]);
  });

  it('lists what each address received over a pooled transport, one message to several recipients counted for each', async () => {
    const addresses = ['a@example.test', 'b@example.test', 'c@example.test', 'd@example.test', 'e@example.test'];
    await Promise.all(addresses.map((to) => pooled.sendMail(mail(to))));
    await pooled.sendMail(mail(['a@example.test', 'b@example.test'], { subject: 'both' }));
    await smtp.waitFor(6, 2_000);

    for (const address of addresses) expect(smtp.to(address).map((m) => m.subject)).toContain(`for ${address}`);
    expect(smtp.to('a@example.test').map((m) => m.subject)).toEqual(['for a@example.test', 'both']);
    expect(smtp.counts()).toMatchObject({
      messages: 6,
      recipients: 7,
      perAddress: { 'a@example.test': 2, 'b@example.test': 2, 'c@example.test': 1, 'd@example.test': 1, 'e@example.test': 1 },
    });
    expect(smtp.all()).toHaveLength(6);
  });

  it('waitFor times out saying what did arrive', async () => {
    await plain.sendMail(mail('late@example.test', { subject: 'the only one' }));
    const started = Date.now();
    await expect(smtp.waitFor(2, 200)).rejects.toThrow(/waited 200ms for 2 messages, 1 arrived.*late@example\.test "the only one"/);
    expect(Date.now() - started).toBeLessThan(1_000);
    await expect(smtp.waitFor(1, 200)).resolves.toBeUndefined();
  });

  it('answers 552 to a message over its size limit', async () => {
    const small = await startSmtpServer({ size: 2_000 });
    const transport = nodemailer.createTransport(small.url);
    try {
      const failure = await failureOf(transport.sendMail(mail('big@example.test', { text: 'x'.repeat(5_000) })));
      expect(failure.responseCode).toBe(552);
      expect(small.count).toBe(0);
      expect(small.refused()).toMatchObject([{ stage: 'SIZE', code: 552 }]);
    } finally {
      transport.close();
      await small.close();
    }
  });
});

describe('authentication', () => {
  it('requires the configured login when it has one, and puts it in its url', async () => {
    const guarded = await startSmtpServer({ auth: { user: 'herald', pass: 'p@ss word' } });
    const good = nodemailer.createTransport(guarded.url);
    const wrong = nodemailer.createTransport({ host: '127.0.0.1', port: guarded.port, auth: { user: 'herald', pass: 'nope' } });
    const anonymous = nodemailer.createTransport({ host: '127.0.0.1', port: guarded.port });
    try {
      expect(guarded.url).toBe(`smtp://herald:p%40ss%20word@127.0.0.1:${guarded.port}`);
      await good.sendMail(mail('in@example.test'));
      expect(guarded.to('in@example.test')).toHaveLength(1);

      expect(await failureOf(wrong.sendMail(mail('in@example.test')))).toMatchObject({ code: 'EAUTH', responseCode: 535 });
      expect((await failureOf(anonymous.sendMail(mail('in@example.test')))).responseCode).toBe(530);
      expect(guarded.count).toBe(1);
      expect(guarded.refused()).toMatchObject([{ stage: 'AUTH', address: 'herald', code: 535 }]);
    } finally {
      for (const transport of [good, wrong, anonymous]) transport.close();
      await guarded.close();
    }
  });
});

describe('DKIM', () => {
  it('verifies a signed message as pass, with its domain and selector', async () => {
    await plain.sendMail(mail('signed@example.test', { dkim }));
    expect(smtp.to('signed@example.test')[0]!.dkim).toMatchObject({ result: 'pass', domain: 'herald.test', selector: 's1' });
    expect(smtp.counts().dkimSigned).toBe(1);
  });

  it('does not pass a tampered, a foreign-signed, an unknown-selector or an unsigned message', async () => {
    await plain.sendMail(mail('source@example.test', { dkim, subject: 'the real subject' }));
    const raw = smtp.to('source@example.test')[0]!.raw.toString();
    const resend = (to: string, text: string) => plain.sendMail({ envelope: { from: 'news@herald.test', to }, raw: text });

    await resend('body@example.test', raw.replace('original body', 'changed body'));
    await resend('header@example.test', raw.replace('Subject: the real subject', 'Subject: a forged subject'));
    await resend('intact@example.test', raw);
    const other = generateDkimKeys();
    await plain.sendMail(mail('foreign@example.test', { dkim: { ...dkim, privateKey: other.privateKey } }));
    await plain.sendMail(mail('selector@example.test', { dkim: { ...dkim, keySelector: 'unpublished' } }));
    await plain.sendMail(mail('unsigned@example.test'));

    const dkimOf = (address: string) => smtp.to(address)[0]!.dkim;
    expect(dkimOf('intact@example.test').result).toBe('pass'); // the resend itself changes nothing
    expect(dkimOf('body@example.test')).toMatchObject({ result: 'neutral', comment: 'body hash did not verify' });
    expect(dkimOf('header@example.test')).toMatchObject({ result: 'fail', comment: 'bad signature' });
    expect(dkimOf('foreign@example.test')).toMatchObject({ result: 'fail', domain: 'herald.test' });
    expect(dkimOf('selector@example.test')).toMatchObject({ result: 'neutral', selector: 'unpublished', comment: 'no key' });
    expect(dkimOf('unsigned@example.test')).toMatchObject({ result: 'none', comment: 'message not signed' });
  });

  it('gives the DNS TXT form of the public key', () => {
    expect(keys.dnsTxt).toMatch(/^v=DKIM1; k=rsa; p=[A-Za-z0-9+/]+=*$/);
    expect(keys.privateKey).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });
});

describe('faults on demand', () => {
  it('failRecipient answers its code at RCPT TO until cleared, and other recipients still get the message', async () => {
    smtp.failRecipient('Gone@Example.test', 550, '5.1.1 no such user');
    smtp.failRecipient('full@example.test', 451, '4.2.2 mailbox full');

    expect(await failureOf(plain.sendMail(mail('gone@example.test')))).toMatchObject({
      code: 'EENVELOPE',
      responseCode: 550,
      message: expect.stringContaining('5.1.1 no such user'),
    });
    expect((await failureOf(pooled.sendMail(mail('gone@example.test')))).responseCode).toBe(550); // persistent
    expect((await failureOf(plain.sendMail(mail('full@example.test')))).responseCode).toBe(451);

    const info = await plain.sendMail(mail(['gone@example.test', 'ok@example.test']));
    expect(info.rejected).toEqual(['gone@example.test']);
    expect(smtp.to('ok@example.test')).toHaveLength(1);
    expect(smtp.to('gone@example.test')).toEqual([]);
    expect(smtp.refused().map((r) => [r.stage, r.address, r.code])).toEqual([
      ['RCPT', 'gone@example.test', 550],
      ['RCPT', 'gone@example.test', 550],
      ['RCPT', 'full@example.test', 451],
      ['RCPT', 'gone@example.test', 550],
    ]);

    smtp.clearFaults();
    await plain.sendMail(mail('gone@example.test'));
    expect(smtp.to('gone@example.test')).toHaveLength(1);
  });

  it('failNext answers the next transactions at DATA, then accepts again', async () => {
    smtp.failNext(2, 451, '4.3.0 try again later');
    const first = await failureOf(pooled.sendMail(mail('retry@example.test')));
    expect(first).toMatchObject({ code: 'EMESSAGE', responseCode: 451, message: expect.stringContaining('4.3.0 try again later') });
    expect((await failureOf(pooled.sendMail(mail('retry@example.test')))).responseCode).toBe(451);
    await pooled.sendMail(mail('retry@example.test'));
    expect(smtp.to('retry@example.test')).toHaveLength(1);

    smtp.failNext(1, 554, '5.7.1 rejected as spam');
    expect((await failureOf(plain.sendMail(mail('spam@example.test')))).responseCode).toBe(554);
    expect(smtp.refused().map((r) => [r.stage, r.code])).toEqual([
      ['DATA', 451],
      ['DATA', 451],
      ['DATA', 554],
    ]);
  });

  it('dropNext closes the connection mid-DATA without an answer, then the next send goes through', async () => {
    smtp.dropNext(1);
    const failure = await failureOf(plain.sendMail(mail('dropped@example.test')));
    expect(failure.responseCode).toBeUndefined();
    expect(failure.code).toMatch(/^(ECONNECTION|ESOCKET)$/);
    expect(smtp.count).toBe(0);
    await plain.sendMail(mail('dropped@example.test'));
    expect(smtp.to('dropped@example.test')).toHaveLength(1);

    // A pooled transport loses that connection and carries on over a new one.
    smtp.dropNext(1);
    expect((await failureOf(pooled.sendMail(mail('pool@example.test')))).code).toMatch(/^(ECONNECTION|ESOCKET)$/);
    await pooled.sendMail(mail('pool@example.test'));
    await pooled.sendMail(mail('pool@example.test'));
    expect(smtp.to('pool@example.test')).toHaveLength(2);
    expect(smtp.refused()).toMatchObject([{ stage: 'DROP', code: null }, { stage: 'DROP', code: null }]);
  });

  it('slow delays each DATA answer', async () => {
    smtp.slow(300);
    const started = Date.now();
    await plain.sendMail(mail('slow@example.test'));
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(smtp.to('slow@example.test')).toHaveLength(1);
  });

  it('refuses a fault without a 4xx/5xx code', () => {
    expect(() => smtp.failNext(1, 250)).toThrow(/4xx or 5xx/);
    expect(() => smtp.failRecipient('x@example.test', 999)).toThrow(/4xx or 5xx/);
  });
});

describe('counting only (parse: false)', () => {
  it('counts messages, recipients and signed messages and keeps no messages', async () => {
    const counter = await startSmtpServer({ parse: false });
    const transport = nodemailer.createTransport(counter.url);
    try {
      await transport.sendMail(mail(['a@example.test', 'B@example.test'], { dkim }));
      await transport.sendMail(mail('b@example.test'));
      expect(counter.counts()).toMatchObject({ messages: 2, recipients: 3, dkimSigned: 1, perAddress: { 'a@example.test': 1, 'b@example.test': 2 } });
      expect(counter.counts().bytes).toBeGreaterThan(1_000);
      expect(() => counter.all()).toThrow(/parse: false/);
    } finally {
      transport.close();
      await counter.close();
    }
  });

  it('runs in a process of its own and answers its counts', async () => {
    const child = await spawnSmtpServer({ auth: { user: 'bench', pass: 'secret' } });
    const transport = nodemailer.createTransport({ url: child.url, pool: true, maxConnections: 2 } as never);
    try {
      expect(child.url).toBe(`smtp://bench:secret@127.0.0.1:${child.port}`);
      await Promise.all([
        transport.sendMail(mail(['a@example.test', 'b@example.test'])),
        transport.sendMail(mail('a@example.test', { dkim })),
        transport.sendMail(mail('c@example.test')),
      ]);
      expect(await child.counts()).toEqual({ messages: 3, recipients: 4, bytes: expect.any(Number), dkimSigned: 1 });
      expect((await child.counts({ perAddress: true })).perAddress).toEqual({ 'a@example.test': 2, 'b@example.test': 1, 'c@example.test': 1 });
      await child.clear();
      expect((await child.counts()).messages).toBe(0);
    } finally {
      transport.close();
      await child.stop();
    }
    expect(child.child.exitCode).toBe(0);
  });
});

describe('the lean counting sink (smtp-sink.ts, for benchmarks)', () => {
  // Lines starting with dots (stuffed on the wire), a body over several TCP chunks, a signed one.
  const messages = [
    mail(['a@example.test', 'B@example.test'], { text: '.starts with a dot\n..two\nend.\n.' }),
    mail('b@example.test', { dkim, html: `<p>${'x'.repeat(70)}\n.`.repeat(4000) }),
    mail('c@example.test', { text: '.' }),
  ];

  it('counts what smtp-server with parse: false counts, over a pooled connection', async () => {
    const counter = await startSmtpServer({ parse: false });
    const sink = await spawnSmtpServer({ lean: true });
    const transports = [nodemailer.createTransport(counter.url), nodemailer.createTransport({ url: sink.url, pool: true, maxConnections: 1 } as never)];
    try {
      for (const transport of transports) for (const message of messages) await transport.sendMail(message);
      const { perAddress, ...expected } = counter.counts();
      expect(expected).toMatchObject({ messages: 3, recipients: 4, dkimSigned: 1 });
      expect(await sink.counts({ perAddress: true })).toEqual({ ...expected, perAddress });
      await sink.clear();
      expect((await sink.counts()).messages).toBe(0);
    } finally {
      for (const transport of transports) transport.close();
      await counter.close();
      await sink.stop();
    }
  });

  it('finds the end of a message split anywhere between TCP chunks, and commands sent together', async () => {
    const { startSmtpSink } = await import('../kit/smtp-sink.ts');
    const sink = await startSmtpSink();
    const { connect } = await import('node:net');
    const socket = connect(sink.port, '127.0.0.1');
    let answers = '';
    socket.on('data', (chunk: Buffer) => (answers += chunk.toString()));
    const waitFor = async (count: number) => {
      while ((answers.match(/^\d{3} /gm) ?? []).length < count) await new Promise((resolve) => setTimeout(resolve, 5));
    };
    try {
      await waitFor(1); // the greeting, after 100 ms
      socket.write('EHLO test\r\n');
      await waitFor(2);
      const body = 'Subject: x\r\n\r\n..dot\r\nline\r\n';
      // One byte per write, so every split of "\r\n.\r\n" between chunks occurs.
      for (const byte of `MAIL FROM:<a@b.test>\r\nRCPT TO:<One@example.test>\r\nDATA\r\n${body}.\r\n`) {
        socket.write(byte);
        await new Promise((resolve) => setImmediate(resolve));
      }
      // Pipelined: a whole transaction in one write, then an empty message.
      socket.write(`MAIL FROM:<a@b.test>\r\nRCPT TO:<two@example.test>\r\nDATA\r\n${body}.\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<two@example.test>\r\nDATA\r\n.\r\n`);
      await waitFor(11);
      expect(answers).not.toMatch(/^5/m);
      expect(sink.counts()).toEqual({ messages: 3, recipients: 3, bytes: 2 * (body.length - 1), dkimSigned: 0, perAddress: { 'one@example.test': 1, 'two@example.test': 2 } });
    } finally {
      socket.destroy();
      await sink.close();
    }
  });
});
