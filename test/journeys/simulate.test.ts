import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import type { JourneyInput } from '../generated/graphql.ts';
import { dataOf, errorCodes } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';
import { percentileOf } from '../../src/journeys/definition.ts';
import { browserSubscription } from '../kit/push-keys.ts';

const Import = graphql(`
  mutation SimImport($contacts: [ContactInput!]!) { importContacts(input: { contacts: $contacts }) { __typename } }
`);
const Track = graphql(`
  mutation SimTrack($events: [EventInput!]!) { trackEvents(input: { events: $events }) { __typename } }
`);
const Register = graphql(`
  mutation SimRegister($anonymousId: String!, $subscription: PushSubscriptionJSONInput!) {
    registerPushSubscription(input: { anonymousId: $anonymousId, subscription: $subscription }) { __typename }
  }
`);
const Settings = graphql(`
  mutation SimSettings($input: MutationUpdateWorkspaceSettingsInput!) { updateWorkspaceSettings(input: $input) { __typename } }
`);
const CreateSegment = graphql(`
  mutation SimSegment($rule: SegmentRuleInput!) { createSegment(input: { name: "Lapsed", rule: $rule }) { __typename ... on MutationCreateSegmentSuccess { data { id } } } }
`);
const CreateJourney = graphql(`
  mutation SimCreateJourney($input: JourneyInput!) { createJourney(input: $input) { __typename ... on MutationCreateJourneySuccess { data { id } } ... on Error { message } } }
`);
const PublishJourney = graphql(`
  mutation SimPublishJourney($id: ID!) { publishJourney(input: { id: $id }) { __typename ... on Error { message } } }
`);
const Simulate = graphql(`
  query Simulate($id: ID, $journey: JourneyInput, $from: DateTime!, $to: DateTime!) {
    simulateJourney(id: $id, journey: $journey, from: $from, to: $to) {
      timezone entered active completed exited converted
      steps { key entered passed waiting sent suppressed capped }
      channels { channel sent suppressed capped }
      suppressedBy { reason count }
      sendsByDay { date channel count }
      engagementEstimates { channel did messages rate delaySeconds }
    }
  }
`);

const h = useHerald({}, { push: false });
const shop = h.useWorkspace();

/** 2026-11-02 00:00 to 2026-11-12 00:00 in Europe/Warsaw (UTC+1 then). */
const from = '2026-11-01T23:00:00Z';
const to = '2026-11-11T23:00:00Z';
const DAY = 86_400;

/** The reactivation flow: signup → welcome email (push if no email) → wait a day → not opened → web push. */
const reactivation: JourneyInput = {
  name: 'Reactivation',
  entry: { event: { name: 'signup', where: [{ path: 'plan', op: 'EQ', value: 'free' }] } },
  steps: [
    { key: 'welcome', send: { channel: 'EMAIL', fallback: ['WEB_PUSH'], email: { subject: 'Welcome', html: '<p>Hi</p>' }, content: { title: 'Welcome', url: 'https://shop.example/' }, next: 'wait' } },
    { key: 'wait', wait: { seconds: DAY, next: 'opened' } },
    { key: 'opened', engagement: { step: 'welcome', did: 'OPENED', withinSeconds: 2 * DAY, no: 'nudge' } },
    { key: 'nudge', send: { channel: 'WEB_PUSH', content: { title: 'Come back', url: 'https://shop.example/' } } },
  ],
  exitEvents: ['purchase'],
  goal: { event: 'purchase', withinSeconds: 7 * DAY },
};

let database: pg.Client;
const counts = async () =>
  (await database.query(`SELECT (SELECT count(*) FROM "Message")::int AS messages, (SELECT count(*) FROM "Campaign")::int AS campaigns,
     (SELECT count(*) FROM "Event")::int AS events, (SELECT count(*) FROM "Contact")::int AS contacts,
     (SELECT count(*) FROM pg_stat_user_tables WHERE relname ILIKE 'journey%')::int AS "journeyTables"`)).rows[0];
const journeyRows = async () => {
  const tables = (await database.query<{ relname: string }>(`SELECT relname FROM pg_stat_user_tables WHERE relname ILIKE 'journey%'`)).rows;
  let total = 0;
  for (const { relname } of tables) total += (await database.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${relname}"`)).rows[0]!.n;
  return total;
};

beforeAll(async () => {
  database = new pg.Client({ connectionString: h.kit.databaseUrl });
  await database.connect();
  await shop.secret(Settings, { input: { timezone: 'Europe/Warsaw' } });
  await shop.secret(Import, {
    contacts: [
      { externalId: 'anna', email: 'anna@example.com', emailOptIn: true },
      { externalId: 'clara', email: 'clara@example.com', emailOptIn: true },
      { externalId: 'dirk', email: 'dirk@example.com', emailOptIn: true },
      { externalId: 'emma', email: 'emma@example.com', emailOptIn: false },
      { externalId: 'fritz', email: 'fritz@example.com', emailOptIn: true },
      { externalId: 'gus', email: 'gus@example.com', emailOptIn: true },
      { externalId: 'hanna', email: 'hanna@example.com', emailOptIn: true, tags: ['lapsed'], attributes: { vip: true } },
      { externalId: 'ida', tags: ['lapsed'], attributes: { vip: false } },
    ],
  });
  // Berta is a browser with push and no email.
  await shop.publishable(Register, { anonymousId: 'berta', subscription: browserSubscription() });
  const signup = (who: Record<string, string>, at: string, plan = 'free') => ({ ...who, name: 'signup', properties: { plan }, occurredAt: at });
  await shop.secret(Track, {
    events: [
      signup({ externalId: 'anna' }, '2026-11-02T09:00:00Z'),
      signup({ anonymousId: 'berta' }, '2026-11-03T23:30:00Z'),
      signup({ externalId: 'clara' }, '2026-11-05T12:00:00Z'),
      { externalId: 'clara', name: 'purchase', occurredAt: '2026-11-05T14:00:00Z' },
      signup({ externalId: 'dirk' }, '2026-11-05T12:00:00Z', 'pro'),
      signup({ externalId: 'emma' }, '2026-11-06T10:00:00Z'),
      { externalId: 'emma', name: 'purchase', occurredAt: '2026-11-08T10:00:00Z' },
      signup({ externalId: 'fritz' }, '2026-11-10T10:00:00Z'),
      signup({ externalId: 'gus' }, '2026-10-31T10:00:00Z'),
      signup({ externalId: 'hanna' }, '2026-11-02T10:00:00Z'),
      signup({ externalId: 'hanna' }, '2026-11-08T10:00:00Z'),
    ],
  });
});
afterAll(() => database?.end());

const simulate = async (variables: { journey?: JourneyInput; id?: string; from?: string; to?: string }) =>
  dataOf(await shop.secret(Simulate, { from, to, ...variables })).simulateJourney;

describe('simulateJourney', () => {
  it('backtests the reactivation flow to the counts worked out by hand, writing nothing', async () => {
    const before = { ...(await counts()), journeyRows: await journeyRows() };
    const result = await simulate({ journey: reactivation });
    // Entered: anna, berta, clara, emma, fritz, hanna once (no re-entry); not dirk (pro), not gus (before `from`).
    // clara exits on her purchase mid-wait; emma buys after completing (converted, not exited); fritz still waits at `to`.
    expect(result).toMatchObject({ timezone: 'Europe/Warsaw', entered: 6, active: 1, completed: 4, exited: 1, converted: 2 });
    expect(result.steps).toEqual([
      // emma's email is not subscribed and she has no browser: suppressed with the first channel's reason.
      { key: 'welcome', entered: 6, passed: 6, waiting: 0, sent: 5, suppressed: 1, capped: 0 },
      { key: 'wait', entered: 6, passed: 5, waiting: 0, sent: 0, suppressed: 0, capped: 0 },
      // No message history: nobody counts as having opened; fritz's deadline is after `to`.
      { key: 'opened', entered: 5, passed: 4, waiting: 1, sent: 0, suppressed: 0, capped: 0 },
      { key: 'nudge', entered: 4, passed: 4, waiting: 0, sent: 1, suppressed: 3, capped: 0 },
    ]);
    expect(result.channels).toEqual([
      { channel: 'EMAIL', sent: 4, suppressed: 1, capped: 0 },
      { channel: 'WEB_PUSH', sent: 2, suppressed: 3, capped: 0 },
    ]);
    expect(result.suppressedBy).toEqual([{ reason: 'NO_SUBSCRIPTION', count: 3 }, { reason: 'UNSUBSCRIBED', count: 1 }]);
    // Days in Warsaw: berta's 23:30Z sends fall on the next day there.
    expect(result.sendsByDay).toEqual([
      { date: '2026-11-02', channel: 'EMAIL', count: 2 },
      { date: '2026-11-04', channel: 'WEB_PUSH', count: 1 },
      { date: '2026-11-05', channel: 'EMAIL', count: 1 },
      { date: '2026-11-06', channel: 'WEB_PUSH', count: 1 },
      { date: '2026-11-10', channel: 'EMAIL', count: 1 },
    ]);
    expect(result.engagementEstimates).toEqual([
      { channel: 'EMAIL', did: 'OPENED', messages: 0, rate: 0, delaySeconds: 0 },
      { channel: 'WEB_PUSH', did: 'OPENED', messages: 0, rate: 0, delaySeconds: 0 },
    ]);
    expect({ ...(await counts()), journeyRows: await journeyRows() }).toEqual(before);
  });

  it('caps by the workspace’s frequency caps over the simulated sends', async () => {
    await shop.secret(Settings, { input: { frequencyCaps: [{ limit: 1, period: 'WEEK', channel: 'WEB_PUSH' }] } });
    try {
      const result = await simulate({ journey: reactivation });
      // berta's nudge is her second push within a week.
      expect(result.steps.find((step) => step.key === 'nudge')).toMatchObject({ sent: 0, suppressed: 3, capped: 1 });
      expect(result.channels).toContainEqual({ channel: 'WEB_PUSH', sent: 1, suppressed: 3, capped: 1 });
      expect(result.sendsByDay.filter((day) => day.channel === 'WEB_PUSH')).toEqual([{ date: '2026-11-04', channel: 'WEB_PUSH', count: 1 }]);
      // A journey that is not frequency capped is not capped, and not marketing: emma's unsubscribed email takes it.
      const uncapped = await simulate({ journey: { ...reactivation, frequencyCapped: false } });
      expect(uncapped.channels).toEqual([
        { channel: 'EMAIL', sent: 5, suppressed: 0, capped: 0 },
        { channel: 'WEB_PUSH', sent: 2, suppressed: 2, capped: 0 },
      ]);
    } finally {
      await shop.secret(Settings, { input: { frequencyCaps: [] } });
    }
  });

  it('estimates engagement from the workspace’s history of the channel', async () => {
    // Four earlier emails, three opened after one, two and three hours: rate 0.75, median delay 2 h.
    const contactOf = async (externalId: string) => (await database.query<{ id: string; workspaceId: string }>(`SELECT id, "workspaceId" FROM "Contact" WHERE "externalId" = $1`, [externalId])).rows[0]!;
    const gus = await contactOf('gus');
    const { rows: [campaign] } = await database.query<{ id: string }>(
      `INSERT INTO "Campaign" (id, "workspaceId", name, kind, status, channel, content) VALUES (gen_random_uuid(), $1, 'Earlier', 'BROADCAST', 'SENT', 'EMAIL', '{}') RETURNING id`,
      [gus.workspaceId],
    );
    for (const [index, hours] of [1, 2, 3, null].entries()) {
      await database.query(
        `INSERT INTO "Message" (id, "workspaceId", "campaignId", "contactId", occurrence, channel, status, reason, "scheduledFor", "dueAt", "sentAt", "openedAt")
         VALUES (gen_random_uuid(), $1, $2, $3, $4, 'EMAIL', 'SENT', 'ACCEPTED', '2026-10-01', '2026-10-01', '2026-10-01', '2026-10-01'::timestamptz + make_interval(hours => $5))`,
        [gus.workspaceId, campaign!.id, gus.id, `o${index}`, hours],
      );
    }
    const result = await simulate({ journey: reactivation });
    expect(result.engagementEstimates).toEqual([
      { channel: 'EMAIL', did: 'OPENED', messages: 4, rate: 0.75, delaySeconds: 7200 },
      { channel: 'WEB_PUSH', did: 'OPENED', messages: 0, rate: 0, delaySeconds: 0 },
    ]);
    // An emailed contact counts as having opened when its bucket for (journey, step, contact, OPENED) is below 75,
    // two hours after the send: long before the engagement step, which then answers yes at once.
    const engaged = async (externalId: string) => percentileOf(`draft:welcome:${(await contactOf(externalId)).id}:OPENED`) < 75;
    const [anna, fritz, hanna] = [await engaged('anna'), await engaged('fritz'), await engaged('hanna')];
    const notOpened = [anna, hanna].filter((opened) => !opened).length;
    expect(result).toMatchObject({ entered: 6, completed: 4 + (fritz ? 1 : 0), active: fritz ? 0 : 1, exited: 1 });
    expect(result.steps.find((step) => step.key === 'opened')).toMatchObject({ entered: 5, passed: 4 + (fritz ? 1 : 0), waiting: fritz ? 0 : 1 });
    // berta (push, no history) and emma (suppressed) are always nudged.
    expect(result.steps.find((step) => step.key === 'nudge')).toMatchObject({ entered: 2 + notOpened, sent: 1, suppressed: 1 + notOpened });
  });

  it('enters a segment’s contacts at `from`, branches on their rule, holds sends for the delivery window', async () => {
    const segment = dataOf(await shop.secret(CreateSegment, { rule: { tag: { has: 'lapsed' } } })).createSegment;
    const segmentId = segment.__typename === 'MutationCreateSegmentSuccess' ? segment.data.id : '';
    const journey: JourneyInput = {
      name: 'Win back',
      entry: { segment: { segmentId } },
      steps: [
        { key: 'vip', branch: { rule: { attribute: { path: 'vip', op: 'EQ', value: true } }, yes: 'mail' } },
        { key: 'mail', send: { channel: 'EMAIL', email: { subject: 'We miss you', html: '<p>Hi</p>' } } },
      ],
      deliveryWindow: { start: '08:00', end: '09:00' },
    };
    // From 23:30 in Warsaw on 2 November: the email waits for 08:00 on the 3rd.
    const result = await simulate({ journey, from: '2026-11-02T22:30:00Z' });
    expect(result).toMatchObject({ entered: 2, completed: 2, active: 0 });
    expect(result.steps).toEqual([
      { key: 'vip', entered: 2, passed: 2, waiting: 0, sent: 0, suppressed: 0, capped: 0 },
      { key: 'mail', entered: 1, passed: 1, waiting: 0, sent: 1, suppressed: 0, capped: 0 },
    ]);
    expect(result.sendsByDay).toEqual([{ date: '2026-11-03', channel: 'EMAIL', count: 1 }]);
  });

  it('answers bad input with typed errors at their place, and a publishable key not at all', async () => {
    const fieldErrors = async (variables: Parameters<typeof shop.secret<unknown, any>>[1]) => {
      const result = await shop.secret(Simulate, { from, to, ...(variables as object) });
      expect(errorCodes(result)).toEqual(['BAD_USER_INPUT']);
      return (result.errors![0]!.extensions as { fieldErrors: { path: string[] }[] }).fieldErrors.map((error) => error.path.join('.'));
    };
    expect(await fieldErrors({ journey: reactivation, from: to, to: from })).toEqual(['to']);
    expect(await fieldErrors({ journey: reactivation, from: '2025-01-01T00:00:00Z', to: '2026-01-03T00:00:00Z' })).toEqual(['to']);
    expect(await fieldErrors({})).toEqual(['journey']);
    expect(await fieldErrors({ journey: { ...reactivation, steps: [{ key: 'a', wait: { seconds: 1, next: 'nowhere' } }] } })).toEqual(['journey.steps.0.wait']);
    const missingSegment = Buffer.from('Segment:0190a000-0000-7000-8000-000000000000').toString('base64');
    expect(await fieldErrors({ journey: { ...reactivation, entry: { segment: { segmentId: missingSegment } } } })).toEqual(['journey.entry.segment.segmentId']);
    expect(await fieldErrors({ journey: { ...reactivation, entry: { segment: { segmentId: 'nonsense' } } } })).toEqual(['journey.entry.segment.segmentId']);
    expect(errorCodes(await shop.publishable(Simulate, { journey: reactivation, from, to }))).toEqual(['FORBIDDEN']);
  });

  it('backtests a stored journey by id (its draft, then its published version) as the same journey inline', async () => {
    const created = dataOf(await shop.secret(CreateJourney, { input: reactivation })).createJourney;
    if (created.__typename !== 'MutationCreateJourneySuccess') throw new Error(JSON.stringify(created));
    const id = created.data.id;
    // With the id, the inline journey hashes engagement and splits as the stored one does.
    const inline = await simulate({ id, journey: reactivation });
    const before = { ...(await counts()), journeyRows: await journeyRows() };
    expect(await simulate({ id })).toEqual(inline);
    expect({ ...(await counts()), journeyRows: await journeyRows() }).toEqual(before);
    expect(dataOf(await shop.secret(PublishJourney, { id })).publishJourney.__typename).toBe('MutationPublishJourneySuccess');
    expect(await simulate({ id })).toEqual(inline);
    // An edit tried inline against the stored journey.
    const shorter = await simulate({ id, journey: { ...reactivation, steps: reactivation.steps.slice(0, 1).map((step) => ({ ...step, send: { ...step.send!, next: null } })) } });
    expect(shorter).toMatchObject({ entered: 6, completed: 6, active: 0 });
    const unknown = Buffer.from('Journey:0190a000-0000-7000-8000-000000000000').toString('base64');
    expect(errorCodes(await shop.secret(Simulate, { id: unknown, from, to }))).toEqual(['NOT_FOUND']);
    expect(errorCodes(await shop.secret(Simulate, { id: 'nonsense', from, to }))).toEqual(['NOT_FOUND']);
  });
});
