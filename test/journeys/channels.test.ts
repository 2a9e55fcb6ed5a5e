/**
 * Journey send steps on the phone channels (issue 20: "every channel a campaign can use works in
 * a journey"): MOBILE_PUSH through the local APNs and FCM, and SMS through the local Twilio, each
 * as the step's channel with a contact reachable on it, and a contact who is not (suppressed, the
 * reason on the path). Each kit has its own certificate, so each channel gets its own Herald.
 */
import { describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import { dataOf, type httpClient } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';
import { configureMobilePush, registerDevice, useMobilePush } from '../kit/mobile.ts';
import { upsertContacts, useKitAccount, useTwilio } from '../sms/kit.ts';

type Client = ReturnType<typeof httpClient>;

const Create = graphql(`
  mutation ChannelsJourneyCreate($input: JourneyInput!) {
    createJourney(input: $input) { __typename ... on MutationCreateJourneySuccess { data { id } } ... on ValidationError { fieldErrors { path message } } ... on Error { message } }
  }
`);
const Publish = graphql(`
  mutation ChannelsJourneyPublish($id: ID!) { publishJourney(input: { id: $id }) { __typename ... on Error { message } } }
`);
const Enter = graphql(`
  mutation ChannelsJourneyEnter($journeyId: ID!, $contactId: ID!) {
    enterJourney(input: { journeyId: $journeyId, contactId: $contactId }) {
      __typename
      ... on MutationEnterJourneySuccess { data { status path { step outcome channel reason } } }
      ... on Error { message }
    }
  }
`);
const Journeys = graphql(`
  query ChannelsContactJourneys($id: ID!) { contact(id: $id) { journeys { status path { step outcome } } } }
`);
const Stats = graphql(`
  query ChannelsJourneyStats($id: ID!) { journey(id: $id) { stats { steps { key sent } } } }
`);

async function publish(secret: Client, input: Record<string, unknown>) {
  const created = dataOf(await secret(Create, { input } as never)).createJourney;
  if (created.__typename !== 'MutationCreateJourneySuccess') throw new Error(JSON.stringify(created));
  expect(dataOf(await secret(Publish, { id: created.data.id })).publishJourney.__typename).toBe('MutationPublishJourneySuccess');
  return created.data.id;
}

/** The contact's one enrolment as step:outcome, once it completed (or after 30 s). */
async function completed(secret: Client, contactId: string) {
  for (const start = Date.now(); ; await new Promise((resolve) => setTimeout(resolve, 100))) {
    const [enrolment] = dataOf(await secret(Journeys, { id: contactId })).contact!.journeys;
    if (enrolment?.status === 'COMPLETED' || Date.now() - start > 30_000) return enrolment?.path.map((entry) => `${entry.step}:${entry.outcome}`);
  }
}

async function enter(secret: Client, journeyId: string, contactId: string) {
  const entered = dataOf(await secret(Enter, { journeyId, contactId })).enterJourney;
  if (entered.__typename !== 'MutationEnterJourneySuccess') throw new Error(JSON.stringify(entered));
  return entered.data;
}

describe('a journey send step on MOBILE_PUSH', () => {
  const m = useMobilePush();
  const h = useHerald(m.env, { push: false });

  it('reaches the contact’s phones through APNs and FCM (accepted counts as DELIVERED), and records why a contact without one got nothing', async () => {
    const { secret, publishable } = await h.workspace();
    await configureMobilePush(secret, m);
    const journeyId = await publish(secret, {
      name: 'App welcome',
      entry: { api: true },
      steps: [
        { key: 'hello', send: { channel: 'MOBILE_PUSH', mobilePush: { title: 'Welcome, {{ contact.externalId }}', body: 'Glad you are here', data: { screen: 'home' } }, next: 'arrived' } },
        // APNs and FCM report no delivery: a push they accepted (SENT) counts as delivered.
        { key: 'arrived', engagement: { step: 'hello', did: 'DELIVERED', withinSeconds: 3 } },
      ],
    });
    const [ios, android, nophone] = await upsertContacts(secret, [{ externalId: 'ios' }, { externalId: 'android' }, { externalId: 'nophone' }]);
    const iPhone = await registerDevice(publishable, { platform: 'IOS', externalId: 'ios' });
    const pixel = await registerDevice(publishable, { platform: 'ANDROID', externalId: 'android' });

    expect((await enter(secret, journeyId, ios!)).path[0]).toEqual({ step: 'hello', outcome: 'sent', channel: 'MOBILE_PUSH', reason: null });
    expect((await enter(secret, journeyId, android!)).path[0]).toEqual({ step: 'hello', outcome: 'sent', channel: 'MOBILE_PUSH', reason: null });
    const none = await enter(secret, journeyId, nophone!);
    expect(none).toMatchObject({ status: 'COMPLETED', path: [{ step: 'hello', outcome: 'suppressed', channel: null }, { step: 'arrived', outcome: 'no' }] });
    expect(none.path[0]!.reason).toBeTruthy();

    await m.apns.waitFor(() => m.apns.received(iPhone.token).length === 1 && m.fcm.received(pixel.token).length === 1, 'the journey’s pushes', 20_000);
    expect(m.apns.received(iPhone.token).map((push) => push.payload.aps.alert)).toEqual([{ title: 'Welcome, ios', body: 'Glad you are here' }]);
    expect(m.fcm.received(pixel.token).map((push) => push.message.notification?.title)).toEqual(['Welcome, android']);
    expect(await completed(secret, ios!)).toEqual(['hello:sent', 'arrived:yes']);
    expect(await completed(secret, android!)).toEqual(['hello:sent', 'arrived:yes']);
    expect(dataOf(await secret(Stats, { id: journeyId })).journey!.stats.steps).toEqual([{ key: 'hello', sent: 2 }, { key: 'arrived', sent: 0 }]);
  });
});

describe('a journey send step on SMS', () => {
  const t = useTwilio();
  const h = useHerald(t.env, { push: false });

  it('texts a consented number, records why a contact without consent got nothing, and counts DELIVERED only on the provider’s report', async () => {
    const { secret } = await h.workspace();
    await useKitAccount(secret, t.twilio);
    const journeyId = await publish(secret, {
      name: 'Text welcome',
      entry: { api: true },
      steps: [
        { key: 'text', send: { channel: 'SMS', sms: { body: 'Hi {{ contact.firstName }}, welcome' }, next: 'arrived' } },
        // SMS reports delivery: DELIVERED is the provider's report, not the send.
        { key: 'arrived', engagement: { step: 'text', did: 'DELIVERED', withinSeconds: 8 } },
      ],
    });
    const [ada, bob, cy] = await upsertContacts(secret, [
      { externalId: 'ada', firstName: 'Ada', phone: '+48601234567', smsOptIn: true },
      { externalId: 'bob', firstName: 'Bob', phone: '+48601234568', smsOptIn: false },
      { externalId: 'cy', firstName: 'Cy', phone: '+48601234569', smsOptIn: true },
    ]);
    t.twilio.report((message) => (message.to === '+48601234567' ? { status: 'delivered' } : null)); // Cy's phone never reports
    expect((await enter(secret, journeyId, ada!)).path[0]).toEqual({ step: 'text', outcome: 'sent', channel: 'SMS', reason: null });
    expect((await enter(secret, journeyId, cy!)).path[0]).toMatchObject({ step: 'text', outcome: 'sent' });
    const refused = await enter(secret, journeyId, bob!);
    expect(refused.path).toMatchObject([{ step: 'text', outcome: 'suppressed', channel: null }, { step: 'arrived', outcome: 'no' }]);
    expect(refused.path[0]!.reason).toBeTruthy();
    await t.twilio.waitFor(() => t.twilio.messages().length === 2, 20_000);
    expect(t.twilio.messages().map((message) => [message.to, message.body]).sort()).toEqual([['+48601234567', 'Hi Ada, welcome'], ['+48601234569', 'Hi Cy, welcome']]);
    expect(await completed(secret, ada!)).toEqual(['text:sent', 'arrived:yes']);
    expect(await completed(secret, cy!)).toEqual(['text:sent', 'arrived:no']); // sent, but no delivery report
  });
});
