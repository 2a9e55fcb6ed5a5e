import { print } from 'graphql';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import { signTwilioRequest } from '../kit/twilio-server.ts';
import { createCampaign, SendNow, waitForStatus } from '../kit/campaigns.ts';
import { dataOf, wsClient } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';
import { SmsContact, smsCampaign, upsertContacts, useKitAccount, useTwilio } from './kit.ts';

/**
 * What the provider tells Herald: status callbacks (delivered, undelivered, failed) and messages
 * people text in (STOP, START, HELP), each verified with X-Twilio-Signature.
 */

const t = useTwilio();
const h = useHerald(t.env, { push: false });

const localId = (globalId: string) => Buffer.from(globalId, 'base64').toString().split(':')[1]!;

async function post(url: string, fields: Record<string, string>, signature: string | null) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(signature === null ? {} : { 'x-twilio-signature': signature }) },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: response.status, body: await response.text() };
}

describe('status callbacks', () => {
  it('record delivered and undelivered on the ledger and in the stats; unsigned or wrongly signed ones change nothing', async () => {
    t.twilio.clear();
    const { secret } = await h.workspace('SMS reports');
    await useKitAccount(secret, t.twilio);
    const numbers = ['+48601000011', '+48601000012', '+48601000013', '+48601000014'];
    await upsertContacts(secret, numbers.map((phone, index) => ({ externalId: `r${index}`, phone, smsOptIn: true })));
    t.twilio.report((message) =>
      message.to === numbers[0] || message.to === numbers[1] ? { status: 'delivered' } : message.to === numbers[2] ? { status: 'undelivered', errorCode: '30003' } : null,
    );
    const id = await createCampaign(secret, { name: 'Reports', kind: 'BROADCAST', channel: 'SMS', sms: { body: 'Your order is ready' } });
    expect(dataOf(await secret(SendNow, { id })).sendCampaignNow.__typename).toBe('MutationSendCampaignNowSuccess');
    await waitForStatus(secret, id, 'SENT', 30_000);
    await t.twilio.waitFor(() => t.twilio.callbacks().length === 3);
    expect(t.twilio.callbacks().map((callback) => callback.answered)).toEqual([200, 200, 200]);

    let campaign = await smsCampaign(secret, id);
    const rows = Object.fromEntries(campaign.messages.map((row) => [row.contact.externalId, row]));
    expect(rows.r0).toMatchObject({ status: 'SENT', reason: 'ACCEPTED' });
    expect(rows.r0!.deliveredAt).not.toBeNull();
    expect(rows.r1!.deliveredAt).not.toBeNull();
    expect(rows.r2).toMatchObject({ status: 'FAILED', reason: 'UNDELIVERED', deliveredAt: null, error: 'the SMS provider reported it undelivered (error 30003)' });
    expect(rows.r3).toMatchObject({ status: 'SENT', deliveredAt: null });
    expect(campaign.stats).toMatchObject({ sent: 3, failed: 1, delivered: 2, undelivered: 1 });

    // r3's report, forged: no signature, a wrong one, one made with another token, one for another URL.
    const workspaceId = t.twilio.messages(numbers[3])[0]!.statusCallback!.split('/sms/status/')[1]!.split('?')[0]!;
    const url = `${h.kit.url}/sms/status/${workspaceId}?m=${localId(rows.r3!.id)}`;
    const fields = { MessageSid: 'SMforged', MessageStatus: 'failed', SmsStatus: 'failed', To: numbers[3]!, AccountSid: t.twilio.accountSid, ErrorCode: '30008' };
    expect(await post(url, fields, null)).toMatchObject({ status: 403 });
    expect(await post(url, fields, 'bm90IGEgc2lnbmF0dXJl')).toMatchObject({ status: 403 });
    expect(await post(url, fields, signTwilioRequest('another-token-entirely', url, fields))).toMatchObject({ status: 403 });
    expect(await post(url, fields, signTwilioRequest(t.twilio.authToken, `${h.kit.url}/sms/status/${workspaceId}?m=${localId(rows.r0!.id)}`, fields))).toMatchObject({ status: 403 });
    expect(await post(url, { ...fields, MessageStatus: 'delivered' }, signTwilioRequest(t.twilio.authToken, url, fields))).toMatchObject({ status: 403 });
    campaign = await smsCampaign(secret, id);
    expect(campaign.messages.find((row) => row.contact.externalId === 'r3')).toMatchObject({ status: 'SENT', deliveredAt: null });
    expect(campaign.stats).toMatchObject({ sent: 3, failed: 1, delivered: 2, undelivered: 1 });

    // Signed, it counts; sent again, it counts once.
    for (let i = 0; i < 2; i++) expect(await post(url, fields, signTwilioRequest(t.twilio.authToken, url, fields))).toMatchObject({ status: 200 });
    // A late "delivered" for a message reported undelivered changes nothing either.
    const late = `${h.kit.url}/sms/status/${workspaceId}?m=${localId(rows.r2!.id)}`;
    const delivered = { ...fields, MessageStatus: 'delivered', SmsStatus: 'delivered' };
    expect(await post(late, delivered, signTwilioRequest(t.twilio.authToken, late, delivered))).toMatchObject({ status: 200 });
    campaign = await smsCampaign(secret, id);
    expect(campaign.messages.find((row) => row.contact.externalId === 'r3')).toMatchObject({ status: 'FAILED', reason: 'UNDELIVERED', error: 'the SMS provider reported it failed (error 30008)' });
    expect(campaign.messages.find((row) => row.contact.externalId === 'r2')).toMatchObject({ status: 'FAILED', deliveredAt: null });
    expect(campaign.stats).toMatchObject({ sent: 2, failed: 2, delivered: 2, undelivered: 2 });
  }, 90_000);
});

describe('a late report about an SMS', () => {
  // The email defect (a late bounce or unsubscribe about an old address applied to the new one,
  // test/email/late-feedback.test.ts) has no SMS twin: a status callback, even a refusal for STOP
  // (21610), moves only its message, and an inbound STOP names the number that texted.
  it('sent to a number the contact has since changed leaves the contact’s new number alone', async () => {
    t.twilio.clear();
    const { secret } = await h.workspace('SMS late reports');
    const settings = await useKitAccount(secret, t.twilio);
    const [old, current] = ['+48601000051', '+48601000052'];
    const [contactId] = await upsertContacts(secret, [{ externalId: 'mover', phone: old, smsOptIn: true }]);
    const id = await createCampaign(secret, { name: 'Before the move', kind: 'BROADCAST', channel: 'SMS', sms: { body: 'Hello' } });
    dataOf(await secret(SendNow, { id }));
    await waitForStatus(secret, id, 'SENT', 30_000);
    await upsertContacts(secret, [{ externalId: 'mover', phone: current, smsOptIn: true }]);

    const [message] = (await smsCampaign(secret, id)).messages;
    const workspaceId = t.twilio.messages(old)[0]!.statusCallback!.split('/sms/status/')[1]!.split('?')[0]!;
    const url = `${h.kit.url}/sms/status/${workspaceId}?m=${localId(message!.id)}`;
    const failed = { MessageSid: 'SMlate', MessageStatus: 'failed', SmsStatus: 'failed', To: old, AccountSid: t.twilio.accountSid, ErrorCode: '21610' };
    expect(await post(url, failed, signTwilioRequest(t.twilio.authToken, url, failed))).toMatchObject({ status: 200 });
    const inbound = settings.settings.sms.inboundUrl;
    const stop = { MessageSid: 'SMstop', AccountSid: t.twilio.accountSid, From: old, To: '+15017122661', Body: 'STOP' };
    expect(await post(inbound, stop, signTwilioRequest(t.twilio.authToken, inbound, stop))).toMatchObject({ status: 200 });

    expect((await smsCampaign(secret, id)).messages[0]).toMatchObject({ status: 'FAILED', reason: 'UNDELIVERED' });
    expect(dataOf(await secret(SmsContact, { id: contactId! })).contact).toMatchObject({ phone: current, smsStatus: 'SUBSCRIBED' });
  }, 60_000);
});

describe('a report that outruns the claim', () => {
  // Herald sends a message as its claim (QUEUED → SENDING) commits, in the same tick: a fast
  // provider's report can reach Herald before that commit. Here the claim is a transaction the test
  // holds open on the row; the report must wait for it, then count.
  it('waits for the claim that sent the message to commit, then counts', async () => {
    t.twilio.clear();
    t.twilio.report(null);
    const { secret } = await h.workspace('SMS early report');
    await useKitAccount(secret, t.twilio);
    await upsertContacts(secret, [{ externalId: 'early', phone: '+48601000041', smsOptIn: true }]);
    const id = await createCampaign(secret, { name: 'Early', kind: 'BROADCAST', channel: 'SMS', sms: { body: 'Quick one' } });
    expect(dataOf(await secret(SendNow, { id })).sendCampaignNow.__typename).toBe('MutationSendCampaignNowSuccess');
    await waitForStatus(secret, id, 'SENT', 30_000);
    const [row] = (await smsCampaign(secret, id)).messages;
    const messageId = localId(row!.id);
    const workspaceId = t.twilio.messages('+48601000041')[0]!.statusCallback!.split('/sms/status/')[1]!.split('?')[0]!;

    const claim = new pg.Client({ connectionString: h.kit.databaseUrl });
    await claim.connect();
    try {
      // The row as it was before its claim, then the claim, not yet committed.
      await claim.query(`UPDATE "Message" SET status = 'QUEUED', reason = NULL, "sentAt" = NULL WHERE id = $1`, [messageId]);
      await claim.query('BEGIN');
      await claim.query(`UPDATE "Message" SET status = 'SENDING' WHERE id = $1`, [messageId]);
      const url = `${h.kit.url}/sms/status/${workspaceId}?m=${messageId}`;
      const fields = { MessageSid: 'SMearly', MessageStatus: 'delivered', SmsStatus: 'delivered', To: '+48601000041', AccountSid: t.twilio.accountSid };
      let answered = false;
      const report = post(url, fields, signTwilioRequest(t.twilio.authToken, url, fields)).finally(() => (answered = true));
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(answered, 'the report waits for the claim').toBe(false);
      await claim.query('COMMIT');
      expect(await report).toMatchObject({ status: 200 });
    } finally {
      await claim.end();
    }
    const campaign = await smsCampaign(secret, id);
    expect(campaign.messages[0]!.deliveredAt).not.toBeNull();
    expect(campaign.stats).toMatchObject({ delivered: 1 });
  }, 60_000);
});

const LiveStats = graphql(`
  subscription SmsLiveStats($id: ID!) { campaignStats(campaignId: $id) { sent failed delivered undelivered } }
`);
const LiveEvents = graphql(`
  subscription SmsLiveEvents($id: ID!) { deliveryEvents(campaignId: $id) { type reason contactId } }
`);

describe('delivery reports, live', () => {
  it('move campaignStats and stream DELIVERED and FAILED/UNDELIVERED in deliveryEvents, over a WebSocket', async () => {
    t.twilio.clear();
    const { secret, secretKey } = await h.workspace('SMS live');
    await useKitAccount(secret, t.twilio);
    const [ann, ben] = await upsertContacts(secret, [
      { externalId: 'ann', phone: '+48601000031', smsOptIn: true },
      { externalId: 'ben', phone: '+48601000032', smsOptIn: true },
    ]);
    const who: Record<string, string> = { [localId(ann!)]: 'ann', [localId(ben!)]: 'ben' };
    t.twilio.report((message) => (message.to === '+48601000031' ? { status: 'delivered' } : { status: 'undelivered', errorCode: '30005' }));
    const id = await createCampaign(secret, { name: 'Live', kind: 'BROADCAST', channel: 'SMS', sms: { body: 'Live text' } });
    const client = wsClient(h.kit.wsUrl, secretKey);
    const collect = <T>(document: unknown, pick: (data: any) => T) => {
      const items: T[] = [];
      const ended: string[] = [];
      const subscription = client.iterate({ query: print(document as Parameters<typeof print>[0]), variables: { id } });
      void (async () => {
        try {
          for await (const result of subscription) items.push(result.errors ? ({ errors: result.errors } as T) : pick(result.data));
          ended.push('completed');
        } catch (error) {
          ended.push(`failed: ${JSON.stringify(error)}`);
        }
      })();
      return { items, ended, stop: () => subscription.return?.() };
    };
    const stats = collect(LiveStats, (data) => data.campaignStats as { sent: number; failed: number; delivered: number; undelivered: number });
    const events = collect(LiveEvents, (data) => `${data.deliveryEvents.type}${data.deliveryEvents.reason ? `/${data.deliveryEvents.reason}` : ''} ${who[localId(data.deliveryEvents.contactId)] ?? who[data.deliveryEvents.contactId]}`);
    try {
      await t.twilio.waitFor(() => stats.items.length > 0);
      await new Promise((resolve) => setTimeout(resolve, 200)); // let deliveryEvents subscribe too
      expect(dataOf(await secret(SendNow, { id })).sendCampaignNow.__typename).toBe('MutationSendCampaignNowSuccess');
      // A report may arrive before Herald records the provider's answer (the row still SENDING, so
      // not yet counted as sent): wait for the snapshot in which both have landed.
      await t.twilio
        .waitFor(() => {
          const last = stats.items.at(-1)!;
          return last.delivered === 1 && last.undelivered === 1 && last.sent + last.failed === 2;
        })
        .catch(async (error: Error) => {
          // Seen in CI twice (server PostgreSQL): the reports had reached Herald before the claims committed and
          // were dropped ('a report that outruns the claim' above). Should it fail again, say what the stream and the ledger held.
          const ledger = await smsCampaign(secret, id);
          throw new Error(`${error.message}; last snapshots ${JSON.stringify(stats.items.slice(-3))}, stream ${stats.ended.join() || 'open'}, stats now ${JSON.stringify(ledger.stats)}, rows ${JSON.stringify(ledger.messages.map((row) => [row.status, row.reason, row.deliveredAt !== null]))}`);
        });
      expect(stats.items.at(-1)).toEqual({ sent: 1, failed: 1, delivered: 1, undelivered: 1 });
      await t.twilio.waitFor(() => events.items.some((event) => event.startsWith('DELIVERED')) && events.items.some((event) => event.startsWith('FAILED')));
      expect(events.items).toEqual(expect.arrayContaining(['DELIVERED ann', 'FAILED/UNDELIVERED ben']));
    } finally {
      stats.stop();
      events.stop();
      await client.dispose();
    }
  }, 60_000);
});

describe('inbound messages', () => {
  it('STOP unsubscribes, START subscribes again, HELP is answered; unsigned ones change nothing', async () => {
    const { secret } = await h.workspace('SMS keywords');
    const settings = await useKitAccount(secret, t.twilio);
    const url = settings.settings.sms.inboundUrl;
    const phone = '+48601000021';
    const [ada, twin] = await upsertContacts(secret, [
      { externalId: 'ada', phone, smsOptIn: true },
      { externalId: 'ada-work', phone, smsOptIn: true },
    ]);
    const status = async (id: string) => dataOf(await secret(SmsContact, { id })).contact!.smsStatus;
    const text = (body: string, from = phone) => {
      const fields = { MessageSid: `SM${Date.now()}`, AccountSid: t.twilio.accountSid, From: from, To: '+15017122661', Body: body };
      return { fields, signature: signTwilioRequest(t.twilio.authToken, url, fields) };
    };

    // Unsigned and wrongly signed: refused, nothing changed.
    const stop = text('STOP');
    expect(await post(url, stop.fields, null)).toMatchObject({ status: 403 });
    expect(await post(url, stop.fields, signTwilioRequest('wrong-token-0000', url, stop.fields))).toMatchObject({ status: 403 });
    expect(await post(url.replace(/[0-9a-f]{4}$/, '0000'), stop.fields, stop.signature)).toMatchObject({ status: 403 });
    expect([await status(ada!), await status(twin!)]).toEqual(['SUBSCRIBED', 'SUBSCRIBED']);

    for (const word of ['STOP', ' unsubscribe ', 'Cancel', 'end', 'QUIT.']) {
      const { fields, signature } = text(word);
      const answer = await post(url, fields, signature);
      expect(answer).toEqual({ status: 200, body: '<?xml version="1.0" encoding="UTF-8"?><Response></Response>' });
      expect([await status(ada!), await status(twin!)], word).toEqual(['UNSUBSCRIBED', 'UNSUBSCRIBED']);
      const start = text(word === 'end' ? 'UNSTOP' : 'start');
      expect(await post(url, start.fields, start.signature)).toMatchObject({ status: 200 });
      expect([await status(ada!), await status(twin!)], word).toEqual(['SUBSCRIBED', 'SUBSCRIBED']);
    }

    // Not a keyword: nothing changes. HELP: answered with the workspace's name.
    const chat = text('stop sending me deals please');
    expect(await post(url, chat.fields, chat.signature)).toMatchObject({ status: 200 });
    expect(await status(ada!)).toBe('SUBSCRIBED');
    const help = text('help');
    const answer = await post(url, help.fields, help.signature);
    expect(answer.body).toBe('<?xml version="1.0" encoding="UTF-8"?><Response><Message>SMS keywords: reply STOP to unsubscribe, START to subscribe again. Msg&amp;data rates may apply.</Message></Response>');

    // A STOP from another number touches only that number's contacts.
    const other = text('STOP', '+48601000022');
    expect(await post(url, other.fields, other.signature)).toMatchObject({ status: 200 });
    expect(await status(ada!)).toBe('SUBSCRIBED');
  }, 60_000);

  // The FCC's TCPA revocation rule (47 CFR 64.1200(a)(10), from April 2025) names "revoke" and
  // "opt out" beside stop, quit, end, cancel and unsubscribe; Twilio's default opt-out list has REVOKE and OPTOUT.
  it('REVOKE, OPTOUT and OPT OUT unsubscribe like STOP', async () => {
    const { secret } = await h.workspace('SMS revoke');
    const settings = await useKitAccount(secret, t.twilio);
    const url = settings.settings.sms.inboundUrl;
    const phone = '+48601000051';
    const [ada] = await upsertContacts(secret, [{ externalId: 'ada', phone, smsOptIn: true }]);
    const status = async () => dataOf(await secret(SmsContact, { id: ada! })).contact!.smsStatus;

    for (const word of ['REVOKE', 'optout', 'Opt out.']) {
      const fields = { MessageSid: `SM${Date.now()}`, AccountSid: t.twilio.accountSid, From: phone, To: '+15017122661', Body: word };
      expect(await post(url, fields, signTwilioRequest(t.twilio.authToken, url, fields))).toMatchObject({ status: 200 });
      expect(await status(), word).toBe('UNSUBSCRIBED');
      const start = { ...fields, MessageSid: `SM${Date.now()}s`, Body: 'START' };
      expect(await post(url, start, signTwilioRequest(t.twilio.authToken, url, start))).toMatchObject({ status: 200 });
      expect(await status(), word).toBe('SUBSCRIBED');
    }
  }, 60_000);

  it('a STOP counts as unsubscribed for the campaign whose SMS that number last got, once', async () => {
    t.twilio.clear();
    const { secret } = await h.workspace('SMS stop attribution');
    const settings = await useKitAccount(secret, t.twilio);
    const url = settings.settings.sms.inboundUrl;
    const [texted, other] = ['+48601000031', '+48601000032'];
    await upsertContacts(secret, [
      { externalId: 'texted', phone: texted, smsOptIn: true },
      { externalId: 'never-texted', phone: other, smsOptIn: true },
    ]);
    const earlier = await createCampaign(secret, { name: 'Earlier', kind: 'BROADCAST', channel: 'SMS', audience: { rule: { attribute: { path: 'externalId', op: 'EQ', value: 'texted' } } }, sms: { body: 'Hello' } });
    dataOf(await secret(SendNow, { id: earlier }));
    await waitForStatus(secret, earlier, 'SENT', 30_000);
    const latest = await createCampaign(secret, { name: 'Latest', kind: 'BROADCAST', channel: 'SMS', audience: { rule: { attribute: { path: 'externalId', op: 'EQ', value: 'texted' } } }, sms: { body: 'Sale' } });
    dataOf(await secret(SendNow, { id: latest }));
    await waitForStatus(secret, latest, 'SENT', 30_000);
    const text = async (body: string, from: string) => {
      const fields = { MessageSid: `SM${Date.now()}`, AccountSid: t.twilio.accountSid, From: from, To: '+15017122661', Body: body };
      expect(await post(url, fields, signTwilioRequest(t.twilio.authToken, url, fields))).toMatchObject({ status: 200 });
    };

    await text('STOP', texted);
    await text('STOP', texted); // already unsubscribed: nothing changes, nothing counted
    await text('STOP', other); // unsubscribed, but sent nothing: no campaign to count it for
    expect((await smsCampaign(secret, latest)).stats.unsubscribed).toBe(1);
    expect((await smsCampaign(secret, earlier)).stats.unsubscribed).toBe(0);
    expect((await smsCampaign(secret, latest)).messages[0]!.contact.smsStatus).toBe('UNSUBSCRIBED');
  }, 60_000);

  it('a STOP from the number a contact moved to is not credited to the SMS their old number got', async () => {
    t.twilio.clear();
    const { secret } = await h.workspace('SMS stop after a new number');
    const url = (await useKitAccount(secret, t.twilio)).settings.sms.inboundUrl;
    const [before, after] = ['+48601000041', '+48601000042'];
    await upsertContacts(secret, [{ externalId: 'mover', phone: before, smsOptIn: true }]);
    const id = await createCampaign(secret, { name: 'To the old number', kind: 'BROADCAST', channel: 'SMS', sms: { body: 'Hello' } });
    dataOf(await secret(SendNow, { id }));
    await waitForStatus(secret, id, 'SENT', 30_000);
    expect(t.twilio.messages(before)).toHaveLength(1);
    await upsertContacts(secret, [{ externalId: 'mover', phone: after, smsOptIn: true }]);

    const fields = { MessageSid: `SM${Date.now()}`, AccountSid: t.twilio.accountSid, From: after, To: '+15017122661', Body: 'STOP' };
    expect(await post(url, fields, signTwilioRequest(t.twilio.authToken, url, fields))).toMatchObject({ status: 200 });
    const campaign = await smsCampaign(secret, id);
    expect(campaign.messages[0]!.contact.smsStatus).toBe('UNSUBSCRIBED'); // the person is unsubscribed
    expect(campaign.stats.unsubscribed).toBe(0); // but never got this campaign at that number
  }, 60_000);

  it('a STOP reply leaves the suppressions of the campaign it is counted for as they were', async () => {
    t.twilio.clear();
    const { secret } = await h.workspace('SMS stop and suppressions');
    const settings = await useKitAccount(secret, t.twilio);
    const url = settings.settings.sms.inboundUrl;
    await upsertContacts(secret, [
      { externalId: 'stopper', phone: '+48601000051', smsOptIn: true },
      { externalId: 'never-opted', phone: '+48601000052' },
    ]);
    const id = await createCampaign(secret, { name: 'Sale', kind: 'BROADCAST', channel: 'SMS', sms: { body: 'Sale' } });
    dataOf(await secret(SendNow, { id }));
    await waitForStatus(secret, id, 'SENT', 30_000);
    const before = (await smsCampaign(secret, id)).stats;
    expect(before).toMatchObject({ sent: 1, suppressed: 1, suppressedBy: [{ reason: 'UNSUBSCRIBED', count: 1 }] });

    const fields = { MessageSid: 'SMstop51', AccountSid: t.twilio.accountSid, From: '+48601000051', To: '+15017122661', Body: 'STOP' };
    expect(await post(url, fields, signTwilioRequest(t.twilio.authToken, url, fields))).toMatchObject({ status: 200 });
    // The reply is counted as unsubscribed; the contact that was never sent the SMS is still suppressed as before.
    expect((await smsCampaign(secret, id)).stats).toMatchObject({ sent: 1, unsubscribed: 1, suppressed: 1, suppressedBy: [{ reason: 'UNSUBSCRIBED', count: 1 }] });
  }, 60_000);
});
