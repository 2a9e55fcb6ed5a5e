import { setTimeout as sleep } from 'node:timers/promises';
import { decodeGlobalID } from '@pothos/plugin-relay';
import { describe, expect, it } from 'vitest';
import { splitPath } from '../../src/journeys/definition.ts';
import { graphql } from '../generated/index.ts';
import { subscribeBrowser } from '../kit/campaigns.ts';
import { dataOf, type httpClient, take, wsClient } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';

type Client = ReturnType<typeof httpClient>;

const Upsert = graphql(`
  mutation JourneyUpsert($input: ContactInput!) {
    upsertContact(input: $input) { __typename ... on MutationUpsertContactSuccess { data { id } } ... on Error { message } }
  }
`);
const Create = graphql(`
  mutation JourneyCreate($input: JourneyInput!) {
    createJourney(input: $input) {
      __typename
      ... on MutationCreateJourneySuccess { data { id status version } }
      ... on ValidationError { fieldErrors { path message } }
      ... on Error { code message }
    }
  }
`);
const Update = graphql(`
  mutation JourneyUpdate($input: UpdateJourneyInput!) {
    updateJourney(input: $input) { __typename ... on MutationUpdateJourneySuccess { data { id version } } ... on Error { message } }
  }
`);
const Publish = graphql(`
  mutation JourneyPublish($id: ID!) {
    publishJourney(input: { id: $id }) { __typename ... on MutationPublishJourneySuccess { data { status version } } ... on Error { code message } }
  }
`);
const Pause = graphql(`
  mutation JourneyPause($id: ID!) { pauseJourney(input: { id: $id }) { __typename ... on MutationPauseJourneySuccess { data { status } } ... on Error { message } } }
`);
const Resume = graphql(`
  mutation JourneyResume($id: ID!) { resumeJourney(input: { id: $id }) { __typename ... on MutationResumeJourneySuccess { data { status } } ... on Error { message } } }
`);
const Enter = graphql(`
  mutation JourneyEnter($journeyId: ID!, $contactId: ID!) {
    enterJourney(input: { journeyId: $journeyId, contactId: $contactId }) {
      __typename
      ... on MutationEnterJourneySuccess { data { id status step version } }
      ... on Error { code message }
    }
  }
`);
const Track = graphql(`
  mutation JourneyTrack($input: EventInput!) {
    trackEvent(input: $input) { __typename ... on MutationTrackEventSuccess { data { id } } ... on Error { message } }
  }
`);
const Record = graphql(`
  mutation JourneyRecord($token: String!, $type: MessageEventType!) {
    recordMessageEvent(input: { token: $token, type: $type }) { __typename ... on Error { message } }
  }
`);
const Journeys = graphql(`
  query JourneyOfContact($id: ID!) {
    contact(id: $id) {
      journeys {
        version status step enteredAt convertedAt
        path { step at passedAt outcome channel reason }
      }
    }
  }
`);
const Stats = graphql(`
  query JourneyStatsNow($id: ID!) {
    journey(id: $id) { status version stats { entered active completed exited converted steps { key entered waiting passed sent } } }
  }
`);
const LiveStats = graphql(`
  subscription JourneyLiveStats($journeyId: ID!) { journeyStats(journeyId: $journeyId) { entered active completed steps { key waiting } } }
`);
const Campaigns = graphql(`
  query JourneyCampaignsHidden { campaigns(first: 50) { totalCount } }
`);

const h = useHerald({ HERALD_PUSH_RETRY_BASE_MS: '50', HERALD_PUSH_TIMEOUT_MS: '2000' });

const push = (title: string) => ({ title, url: 'https://shop.example/' });

async function createJourney(secret: Client, input: Record<string, unknown>, publish = true) {
  const created = dataOf(await secret(Create, { input } as never)).createJourney;
  if (created.__typename !== 'MutationCreateJourneySuccess') throw new Error(`createJourney failed: ${JSON.stringify(created)}`);
  if (publish) expect(dataOf(await secret(Publish, { id: created.data.id })).publishJourney).toMatchObject({ data: { status: 'ACTIVE', version: 1 } });
  return created.data.id;
}

async function contact(secret: Client, externalId: string, extra: Record<string, unknown> = {}) {
  const result = dataOf(await secret(Upsert, { input: { externalId, ...extra } })).upsertContact;
  if (result.__typename !== 'MutationUpsertContactSuccess') throw new Error(JSON.stringify(result));
  return result.data.id;
}

async function enrolments(secret: Client, contactId: string) {
  return dataOf(await secret(Journeys, { id: contactId })).contact!.journeys;
}

/** Polls until `done` holds for the contact's enrolments (or 10 s passed), then answers them. */
async function until(secret: Client, contactId: string, done: (rows: Awaited<ReturnType<typeof enrolments>>) => boolean, timeoutMs = 30_000) {
  const start = Date.now();
  for (;;) {
    const rows = await enrolments(secret, contactId);
    if (done(rows) || Date.now() - start > timeoutMs) return rows;
    await sleep(100);
  }
}

const titles = (browser: { id: string }) => h.push.received(browser.id).map((received) => (received.json as { title: string }).title);
const outcomes = (rows: Awaited<ReturnType<typeof enrolments>>) => rows[0]!.path.map((entry) => `${entry.step}:${entry.outcome}`);

/** The reactivation flow on web push: welcome -> wait -> did they click within 6 s of it? -> no: a reminder. */
const reactivation = {
  name: 'Reactivation',
  entry: { event: { name: 'signed_up' } },
  steps: [
    { key: 'welcome', send: { channel: 'WEB_PUSH', content: push('Welcome, {{ contact.externalId }}'), next: 'pause' } },
    { key: 'pause', wait: { seconds: 1, next: 'clicked' } },
    { key: 'clicked', engagement: { step: 'welcome', did: 'CLICKED', withinSeconds: 6, no: 'reminder' } },
    { key: 'reminder', send: { channel: 'WEB_PUSH', content: push('We miss you') } },
  ],
};

describe('journeys', () => {
  it('runs the reactivation flow end to end: not clicked gets the reminder, clicked does not; path and live stats say so', { timeout: 120_000 }, async () => {
    const { secret, publishable, secretKey } = await h.workspace();
    const journeyId = await createJourney(secret, reactivation);
    // journeyStats over a real WebSocket: the first snapshot at once, more as contacts move.
    const live = take(wsClient(h.kit.wsUrl, secretKey), LiveStats, { journeyId }, 3);
    expect(dataOf(await secret(Campaigns)).campaigns.totalCount).toBe(0); // the journey's campaigns are its own

    const ada = await contact(secret, 'ada');
    const bob = await contact(secret, 'bob');
    const adaBrowser = (await subscribeBrowser(publishable, h.push, { externalId: 'ada' })).browser;
    const bobBrowser = (await subscribeBrowser(publishable, h.push, { externalId: 'bob' })).browser;
    await secret(Track, { input: { externalId: 'ada', name: 'signed_up' } });
    await secret(Track, { input: { externalId: 'bob', name: 'signed_up' } });

    await h.push.waitFor(() => h.push.received(adaBrowser.id).length >= 1 && h.push.received(bobBrowser.id).length >= 1, 15_000);
    expect(titles(adaBrowser)).toContain('Welcome, ada');
    // Bob clicks the welcome push; Ada does not.
    const token = (h.push.received(bobBrowser.id)[0]!.json as { token: string }).token;
    expect(dataOf(await publishable(Record, { token, type: 'CLICKED' })).recordMessageEvent.__typename).toBe('MutationRecordMessageEventSuccess');

    const adaRows = await until(secret, ada, (rows) => rows[0]?.status === 'COMPLETED');
    const bobRows = await until(secret, bob, (rows) => rows[0]?.status === 'COMPLETED');
    expect(outcomes(adaRows)).toEqual(['welcome:sent', 'pause:waited', 'clicked:no', 'reminder:sent']);
    expect(outcomes(bobRows)).toEqual(['welcome:sent', 'pause:waited', 'clicked:yes']);
    await h.push.waitFor(() => h.push.received(adaBrowser.id).length === 2, 15_000);
    expect(titles(adaBrowser).sort()).toEqual(['We miss you', 'Welcome, ada']);
    expect(titles(bobBrowser)).toEqual(['Welcome, bob']);
    // The engagement step waited for its deadline: 6 s after the welcome.
    const [welcome, , clicked] = adaRows[0]!.path;
    expect(new Date(clicked!.passedAt!).getTime() - new Date(welcome!.at).getTime()).toBe(6000);
    expect(welcome).toMatchObject({ channel: 'WEB_PUSH', reason: null });

    const snapshots = (await live).map((result) => dataOf(result).journeyStats);
    expect(snapshots[0]).toMatchObject({ entered: 0, active: 0 });
    expect(snapshots.at(-1)!.entered).toBeGreaterThan(0);
    const stats = dataOf(await secret(Stats, { id: journeyId })).journey!.stats;
    expect(stats).toMatchObject({ entered: 2, active: 0, completed: 2, exited: 0 });
    expect(stats.steps).toEqual([
      { key: 'welcome', entered: 2, waiting: 0, passed: 2, sent: 2 },
      { key: 'pause', entered: 2, waiting: 0, passed: 2, sent: 0 },
      { key: 'clicked', entered: 2, waiting: 0, passed: 2, sent: 0 },
      { key: 'reminder', entered: 1, waiting: 0, passed: 1, sent: 1 },
    ]);
  });

  it('is entered by the first event after it is published, when events were read with no journey before', async () => {
    const { secret } = await h.workspace();
    const ada = await contact(secret, 'ada');
    // This workspace's listeners are read, and kept by this process, with no journey among them.
    await secret(Track, { input: { externalId: 'ada', name: 'browsed' } });
    await secret(Track, { input: { externalId: 'ada', name: 'browsed' } });
    await createJourney(secret, { name: 'Late', entry: { event: { name: 'browsed' } }, steps: [{ key: 'pause', wait: { seconds: 60 } }] });
    await secret(Track, { input: { externalId: 'ada', name: 'browsed' } });
    expect((await until(secret, ada, (rows) => rows.length > 0, 10_000)).map((row) => row.status)).toEqual(['ACTIVE']);
  });

  it('waitForEvent goes on at the event, or times out; an exit event ends a wait; a goal converts', { timeout: 90_000 }, async () => {
    const { secret } = await h.workspace();
    const journeyId = await createJourney(secret, {
      name: 'Cart',
      entry: { api: true },
      exitEvents: ['unsubscribed_all'],
      goal: { event: 'purchase', withinSeconds: 3600 },
      steps: [
        { key: 'browse', waitForEvent: { name: 'viewed', where: [{ path: 'price', op: 'GT', value: 10 }], withinSeconds: 8, onEvent: 'saw', onTimeout: 'late' } }, // room for a loaded CI before ann's event
        { key: 'saw', wait: { seconds: 60 } }, // still waiting when the stats are read
        { key: 'late', wait: { seconds: 1 } },
      ],
    });
    const [ann, cid, dan] = [await contact(secret, 'ann'), await contact(secret, 'cid'), await contact(secret, 'dan')];
    for (const id of [ann, cid, dan]) {
      expect(dataOf(await secret(Enter, { journeyId, contactId: id })).enterJourney).toMatchObject({ data: { status: 'ACTIVE', step: 'browse', version: 1 } });
    }
    await secret(Track, { input: { externalId: 'ann', name: 'viewed', properties: { price: 5 } } }); // does not match
    await secret(Track, { input: { externalId: 'ann', name: 'viewed', properties: { price: 50 } } });
    await secret(Track, { input: { externalId: 'dan', name: 'purchase' } });
    await secret(Track, { input: { externalId: 'dan', name: 'unsubscribed_all' } });

    const annRows = await until(secret, ann, (rows) => rows[0]?.step === 'saw');
    expect(outcomes(annRows)).toEqual(['browse:event', 'saw:waiting']);
    const cidRows = await until(secret, cid, (rows) => rows[0]?.status === 'COMPLETED');
    expect(outcomes(cidRows)).toEqual(['browse:timeout', 'late:waited']);
    const danRows = await enrolments(secret, dan);
    expect(danRows[0]).toMatchObject({ status: 'EXITED', step: 'browse', convertedAt: expect.any(String) });
    expect(outcomes(danRows)).toEqual(['browse:exited']);
    // Entering again: once ever, so the same enrolment answers.
    expect(dataOf(await secret(Enter, { journeyId, contactId: dan })).enterJourney).toMatchObject({ data: { status: 'EXITED' } });
    expect(dataOf(await secret(Stats, { id: journeyId })).journey!.stats).toMatchObject({ entered: 3, active: 1, completed: 1, exited: 1, converted: 1 });
  });

  it('splits deterministically in proportion, falls back to another channel, and records why a send was suppressed', { timeout: 180_000 }, async () => {
    const { secret, publishable } = await h.workspace();
    const journeyId = await createJourney(secret, {
      name: 'Split',
      entry: { api: true },
      steps: [
        { key: 'ab', split: { paths: [{ name: 'A', percent: 30, next: 'mail' }, { name: 'B', percent: 70 }] } },
        { key: 'mail', send: { channel: 'EMAIL', email: { subject: 'Hi', html: '<p>Hi</p>' }, fallback: ['WEB_PUSH'], content: push('Pushed instead') } },
      ],
    });
    const counts = { A: 0, B: 0 };
    const paths = [{ name: 'A', percent: 30, next: 'mail' }, { name: 'B', percent: 70, next: null }];
    for (let i = 0; i < 100; i++) {
      const id = await contact(secret, `c${i}`);
      expect(dataOf(await secret(Enter, { journeyId, contactId: id })).enterJourney).toMatchObject({ data: { status: 'COMPLETED' } });
      const outcome = (await enrolments(secret, id))[0]!.path[0]!.outcome as 'A' | 'B';
      // Deterministic: the path the definition's hash names for this contact (its proportions are
      // checked over 10,000 keys in definition.test.ts; 100 contacts only sanity-check them here).
      expect(outcome).toBe(splitPath(decodeGlobalID(journeyId).id, 'ab', decodeGlobalID(id).id, paths).name);
      counts[outcome]++;
    }
    expect(counts.A + counts.B).toBe(100);
    expect(counts.A).toBeGreaterThan(10);
    expect(counts.A).toBeLessThan(55);

    // No email, no browser: suppressed with the first channel's reason. A browser: the push fallback.
    const pushed = await contact(secret, 'pushed');
    const browser = (await subscribeBrowser(publishable, h.push, { externalId: 'pushed' })).browser;
    const journey2 = await createJourney(secret, { name: 'Fallback', entry: { api: true }, steps: [
      { key: 'mail', send: { channel: 'EMAIL', email: { subject: 'Hi', html: '<p>Hi</p>' }, fallback: ['WEB_PUSH'], content: push('Pushed instead') } },
    ] });
    const nobody = await contact(secret, 'nobody');
    await secret(Enter, { journeyId: journey2, contactId: pushed });
    await secret(Enter, { journeyId: journey2, contactId: nobody });
    expect((await enrolments(secret, pushed))[0]!.path).toMatchObject([{ step: 'mail', outcome: 'sent', channel: 'WEB_PUSH' }]);
    expect((await enrolments(secret, nobody))[0]!.path).toMatchObject([{ step: 'mail', outcome: 'suppressed', channel: null, reason: 'NO_EMAIL' }]);
    await h.push.waitFor(() => h.push.received(browser.id).length === 1, 15_000);
    expect(titles(browser)).toEqual(['Pushed instead']);
  });

  it('keeps contacts in flight on their version, and pausing holds steps that run late on resume', { timeout: 90_000 }, async () => {
    const { secret } = await h.workspace();
    // The first wait outlasts the calls up to the pause even on a loaded machine (the engine passes a wait on the dot).
    const v1 = { name: 'Versions', entry: { api: true }, steps: [{ key: 'first', wait: { seconds: 5, next: 'old' } }, { key: 'old', wait: { seconds: 1 } }] };
    const journeyId = await createJourney(secret, v1);
    const early = await contact(secret, 'early');
    await secret(Enter, { journeyId, contactId: early });
    expect(dataOf(await secret(Update, { input: { id: journeyId, steps: [{ key: 'first', wait: { seconds: 5, next: 'new' } }, { key: 'new', wait: { seconds: 1 } }] } })).updateJourney).toMatchObject({ data: { version: 1 } });
    expect(dataOf(await secret(Publish, { id: journeyId })).publishJourney).toMatchObject({ data: { status: 'ACTIVE', version: 2 } });
    const late = await contact(secret, 'late');
    await secret(Enter, { journeyId, contactId: late });

    expect(dataOf(await secret(Pause, { id: journeyId })).pauseJourney).toMatchObject({ data: { status: 'PAUSED' } });
    await sleep(5500);
    expect((await enrolments(secret, early))[0]).toMatchObject({ status: 'ACTIVE', step: 'first', version: 1 });
    expect(dataOf(await secret(Resume, { id: journeyId })).resumeJourney).toMatchObject({ data: { status: 'ACTIVE' } });
    const earlyRows = await until(secret, early, (rows) => rows[0]?.status === 'COMPLETED');
    const lateRows = await until(secret, late, (rows) => rows[0]?.status === 'COMPLETED');
    expect(outcomes(earlyRows)).toEqual(['first:waited', 'old:waited']);
    expect(outcomes(lateRows)).toEqual(['first:waited', 'new:waited']);
    expect(lateRows[0]!.version).toBe(2);
    // The wait kept its time: it passed 5 s after arrival, though it ran after the pause.
    const [first] = earlyRows[0]!.path;
    expect(new Date(first!.passedAt!).getTime() - new Date(first!.at).getTime()).toBe(5000);
  });

  it('answers bad input with typed field errors and changes nothing', async () => {
    const { secret } = await h.workspace();
    const bad = dataOf(await secret(Create, {
      input: {
        name: 'Bad',
        entry: { api: true },
        steps: [
          { key: 'a', send: { channel: 'WEB_PUSH', content: { title: '{{ unclosed', url: 'https://x.example/' }, next: 'nowhere' } },
        ],
      },
    } as never)).createJourney;
    expect(bad.__typename).toBe('ValidationError');
    const content = dataOf(await secret(Create, {
      input: { name: 'Bad content', entry: { api: true }, steps: [{ key: 'a', send: { channel: 'WEB_PUSH', content: { title: '{{ unclosed', url: 'https://x.example/' } } }] },
    } as never)).createJourney;
    expect(content).toMatchObject({ __typename: 'ValidationError', fieldErrors: [{ path: expect.arrayContaining(['input', 'steps', '0', 'send', 'content']) }] });
    expect(dataOf(await secret(Enter, { journeyId: 'nope', contactId: 'nope' })).enterJourney).toMatchObject({ __typename: 'NotFoundError' });
  });
});
