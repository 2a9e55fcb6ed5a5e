import { simpleParser } from 'mailparser';
import { afterAll, describe, expect, it } from 'vitest';
import { EmailBuilds } from '../../src/delivery/email/builds.ts';
import { compileEmail } from '../../src/delivery/email/compile.ts';
import type { SendSetup } from '../../src/delivery/email/message.ts';
import { raw } from '../../src/delivery/email/mime.ts';

const setup: SendSetup = {
  publicUrl: 'https://herald.example',
  trackingSecret: 'a-tracking-secret-of-enough-length-0123456789',
  domain: 'shop.example',
  from: { name: 'Shop', address: 'news@shop.example' },
  replyTo: null,
  marketing: true,
  dkim: false,
};
const job = (firstName: string) => ({ id: '0193a0b2-1111-7222-8333-444455556666', to: 'ada@people.example', contact: { id: 'c-1', firstName, attributes: {} }, event: null });

describe('the email build thread', () => {
  const builds = new EmailBuilds();
  afterAll(() => builds.close());

  it('compiles a campaign when warmed, before its first batch, and builds from what it compiled then', async () => {
    const warmed = await compileEmail({ subject: 'Hello {{ contact.firstName }}', html: '<p>Warm {{ contact.firstName }}</p>' });
    await builds.warm('campaign-1@1', warmed);
    await builds.warm('campaign-1@1', warmed); // a second warm-up is answered at once

    // The thread knows the key: a batch carries no content, so what it builds is what the warm-up compiled.
    const other = await compileEmail({ subject: 'Other', html: '<p>Other</p>' });
    const [built] = await builds.build('campaign-1@1', other, setup, [job('Ada')]);
    if (!built || 'renderError' in built) throw new Error(`not built: ${JSON.stringify(built)}`);
    const mail = await simpleParser(raw(built.email));
    expect(mail.subject).toBe('Hello Ada');
    expect(mail.html).toContain('Warm Ada');
  });

  it('fails the warm-up of content the thread cannot compile, and every batch of it, without stopping the thread', async () => {
    const broken = await compileEmail({ subject: 'Hi', html: '<p>ok</p>' });
    // Content that passed on the main thread once but not here (an older Herald saved it, say).
    const unreadable = { ...broken, content: { ...broken.content, subject: '{% if %}' } };
    await expect(builds.warm('campaign-2@1', unreadable)).rejects.toThrow(/building emails failed/);
    await expect(builds.build('campaign-2@1', unreadable, setup, [job('Ada')])).rejects.toThrow(/building emails failed/);

    const fine = await compileEmail({ subject: 'Still {{ contact.firstName }}', html: '<p>fine</p>' });
    const [built] = await builds.build('campaign-3@1', fine, setup, [job('Jonas')]);
    if (!built || 'renderError' in built) throw new Error(`not built: ${JSON.stringify(built)}`);
    expect((await simpleParser(raw(built.email))).subject).toBe('Still Jonas');
  });
});
