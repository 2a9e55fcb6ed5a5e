import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { isSealed } from '../../src/secrets.ts';
import { graphql } from '../generated/index.ts';
import { CreateCampaign, createCampaign } from '../kit/campaigns.ts';
import { dataOf, type httpClient } from '../kit/client.ts';
import { countSegments } from '../../src/delivery/sms/segments.ts';
import { useHerald } from '../kit/fixture.ts';
import { SmsSettingsUpdate, smsCampaign, useKitAccount, useTwilio } from './kit.ts';

/**
 * SMS settings (the auth token write-only and sealed) and what an SMS campaign may say, checked when
 * it is saved: a ValidationError naming the field, nothing saved.
 */

const ReadSettings = graphql(`
  query SmsSettingsRead { viewer { id settings { sms { accountSid from messagingServiceSid baseUrl maxSegments authTokenConfigured inboundUrl } } } }
`);

const t = useTwilio();
const h = useHerald(t.env, { push: false });

async function refusal(secret: ReturnType<typeof httpClient>, input: Record<string, unknown>) {
  const result = dataOf(await secret(CreateCampaign, { input: { name: 'Text', kind: 'BROADCAST', channel: 'SMS', ...input } } as never)).createCampaign;
  if (result.__typename !== 'ValidationError') throw new Error(`expected a ValidationError, got ${JSON.stringify(result)}`);
  return (result as unknown as { fieldErrors: { path: string[]; message: string }[] }).fieldErrors.map((error) => ({ path: error.path.join('.'), message: error.message }));
}

describe('SMS settings', () => {
  it('keep the auth token sealed and write-only, show the inbound URL, and refuse what could not work', async () => {
    const { secret } = await h.workspace('SMS settings');
    const saved = await useKitAccount(secret, t.twilio, { maxSegments: 2 });
    expect(saved.settings.sms).toEqual({
      accountSid: t.twilio.accountSid,
      from: '+15017122661',
      messagingServiceSid: null,
      baseUrl: t.twilio.origin,
      maxSegments: 2,
      authTokenConfigured: true,
      inboundUrl: `${h.kit.url}/sms/inbound/${Buffer.from(saved.id, 'base64').toString().split(':')[1]}`,
    });
    const read = JSON.stringify(await secret(ReadSettings));
    expect(read).not.toContain(t.twilio.authToken);
    const client = new pg.Client({ connectionString: h.kit.databaseUrl });
    await client.connect();
    const { rows } = await client.query(`SELECT "smsAuthToken", "smsSettings"::text AS plain FROM "Workspace" WHERE "smsAuthToken" IS NOT NULL`);
    await client.end();
    expect(rows).toHaveLength(1);
    expect(isSealed(rows[0].smsAuthToken)).toBe(true);
    expect(rows[0].smsAuthToken).not.toContain(t.twilio.authToken);
    expect(rows[0].plain).not.toContain(t.twilio.authToken);

    // Changing the plain parts keeps the token.
    const kept = dataOf(await secret(SmsSettingsUpdate, { input: { sms: { accountSid: t.twilio.accountSid, messagingServiceSid: `MG${'a'.repeat(32)}`, baseUrl: t.twilio.origin } } } as never));
    expect(kept.updateWorkspaceSettings).toMatchObject({ data: { settings: { sms: { authTokenConfigured: true, from: null, messagingServiceSid: `MG${'a'.repeat(32)}`, maxSegments: 3 } } } });

    const errors = async (sms: Record<string, unknown>) => {
      const result = dataOf(await secret(SmsSettingsUpdate, { input: { sms } } as never)).updateWorkspaceSettings;
      return result.__typename === 'ValidationError' ? result.fieldErrors.map((error) => error.path.join('.')) : [];
    };
    expect(await errors({ accountSid: t.twilio.accountSid, baseUrl: t.twilio.origin })).toEqual(['input.sms.from']);
    expect(await errors({ accountSid: t.twilio.accountSid, from: '12345', baseUrl: t.twilio.origin })).toEqual(['input.sms.from']);
    expect(await errors({ accountSid: t.twilio.accountSid, from: '+15017122661', baseUrl: 'http://127.0.0.1:1' })).toEqual(['input.sms.baseUrl']);
    expect(await errors({ accountSid: t.twilio.accountSid, from: '+15017122661', baseUrl: 'https://10.0.0.1' })).toEqual(['input.sms.baseUrl']);
    expect(await errors({ accountSid: t.twilio.accountSid, from: '+15017122661', maxSegments: 11 })).toEqual(['input.sms.maxSegments']);

    // null forgets everything, the token too; a new account needs a token again.
    const cleared = dataOf(await secret(SmsSettingsUpdate, { input: { sms: null } } as never)).updateWorkspaceSettings;
    expect(cleared).toMatchObject({ data: { settings: { sms: { accountSid: null, authTokenConfigured: false, maxSegments: 3 } } } });
    expect(await errors({ accountSid: t.twilio.accountSid, from: '+15017122661' })).toEqual(['input.sms.authToken']);
  });
});

describe('an SMS campaign’s content', () => {
  it('refuses bodies that could not go out, naming the field; nothing is saved', async () => {
    const { secret } = await h.workspace('SMS content');
    expect(await refusal(secret, {})).toEqual([{ path: 'input.sms', message: 'a SMS campaign needs sms' }]);
    expect((await refusal(secret, { sms: { body: '   ' } }))[0]).toEqual({ path: 'input.sms.body', message: 'must not be empty' });
    expect((await refusal(secret, { sms: { body: 'Hi {{ contact.firstName ' } }))[0]!.path).toBe('input.sms.body');
    expect((await refusal(secret, { sms: { body: '{% include "x" %}' } }))[0]!.message).toMatch(/templates cannot read files/);
    expect((await refusal(secret, { sms: { body: '{% for t in contact.tags %}{{ t }}{% endfor %}' } }))[0]!.message).toMatch(/must not use \{% for %\}/);
    // Another channel's content on an SMS campaign, and SMS content elsewhere.
    expect((await refusal(secret, { sms: { body: 'Hi' }, email: { subject: 'x', html: '<p>x</p>' } }))[0]!.path).toBe('input.email');
    const onPush = dataOf(await secret(CreateCampaign, { input: { name: 'x', kind: 'BROADCAST', sms: { body: 'Hi' }, content: { title: 'x', url: 'https://shop.example' } } } as never)).createCampaign;
    expect(onPush).toMatchObject({ __typename: 'ValidationError', fieldErrors: [{ path: ['input', 'sms'] }] });
    expect(await h.kit.herald.prisma.campaign.count({ where: { channel: 'SMS' } })).toBe(0);
  });

  it('checks the worst case against the workspace’s maxSegments (default 3) at save', async () => {
    const { secret } = await h.workspace('SMS segments');
    // 3 outputs at 64 characters, possibly UCS-2: 3 × 64 + 20 = 212 units, 4 segments.
    const long = 'Hi {{ contact.firstName }} {{ contact.lastName }}, {{ contact.city }}: sale now!';
    const [error] = await refusal(secret, { sms: { body: long } });
    expect(error!.path).toBe('input.sms.body');
    expect(error!.message).toMatch(/could take 4 segments \(UCS-2.*the workspace allows 3/);
    // Bounded with truncate, it fits.
    const bounded = 'Hi {{ contact.firstName | truncate: 20 }} {{ contact.lastName | truncate: 20 }}, {{ contact.city | truncate: 20 }}: sale now!';
    const id = await createCampaign(secret, { name: 'Sale', kind: 'BROADCAST', channel: 'SMS', sms: { body: bounded } });
    expect((await smsCampaign(secret, id)).sms).toEqual({ body: bounded, segments: countSegments(bounded).segments, worstCaseSegments: 2 });
    // A plain 400-character body is 3 segments: fine at 3, refused once the workspace allows 2.
    const plain = 'x'.repeat(400);
    await createCampaign(secret, { name: 'Plain', kind: 'BROADCAST', channel: 'SMS', sms: { body: plain } });
    await useKitAccount(secret, t.twilio, { maxSegments: 2 });
    expect((await refusal(secret, { sms: { body: plain } }))[0]!.message).toMatch(/could take 3 segments \(GSM-7, 400 septets.*allows 2/);
    // Variants are checked the same way.
    const variants = [
      { name: 'A', weight: 1, sms: { body: 'Short' } },
      { name: 'B', weight: 1, sms: { body: plain } },
    ];
    expect((await refusal(secret, { sms: { body: 'Hi' }, variants }))[0]!.path).toBe('input.variants.1.sms.body');
  });
});
