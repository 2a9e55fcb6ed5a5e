import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import { dataOf } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';

/**
 * Events decide by their occurredAt, not by when they were stored (docs/journeys.md, "What a step
 * means"): a device clock a few seconds ahead, or a backend sending yesterday's events today,
 * gets the journey the backtest would work out.
 */

const Upsert = graphql(`
  mutation EventTimesUpsert($input: ContactInput!) {
    upsertContact(input: $input) { __typename ... on MutationUpsertContactSuccess { data { id } } ... on Error { message } }
  }
`);
const Create = graphql(`
  mutation EventTimesCreate($input: JourneyInput!) {
    createJourney(input: $input) { __typename ... on MutationCreateJourneySuccess { data { id } } ... on Error { message } }
  }
`);
const Publish = graphql(`
  mutation EventTimesPublish($id: ID!) { publishJourney(input: { id: $id }) { __typename ... on Error { message } } }
`);
const Enter = graphql(`
  mutation EventTimesEnter($journeyId: ID!, $contactId: ID!) {
    enterJourney(input: { journeyId: $journeyId, contactId: $contactId }) { __typename ... on Error { message } }
  }
`);
const Track = graphql(`
  mutation EventTimesTrack($events: [EventInput!]!) { trackEvents(input: { events: $events }) { __typename ... on Error { message } } }
`);
const JourneysOf = graphql(`
  query EventTimesJourneysOf($externalId: String!) {
    contact(externalId: $externalId) { journeys { status step enteredAt convertedAt path { step at passedAt outcome } } }
  }
`);
const Simulate = graphql(`
  query EventTimesSimulate($id: ID, $from: DateTime!, $to: DateTime!) {
    simulateJourney(id: $id, from: $from, to: $to) { entered converted }
  }
`);

describe('journey events by their occurredAt', () => {
  const h = useHerald({}, { push: false });
  const shop = h.useWorkspace();

  async function publish(input: Record<string, unknown>) {
    const created = dataOf(await shop.secret(Create, { input } as never)).createJourney;
    if (created.__typename !== 'MutationCreateJourneySuccess') throw new Error(JSON.stringify(created));
    await shop.secret(Publish, { id: created.data.id });
    return created.data.id;
  }
  async function contact(externalId: string) {
    const upserted = dataOf(await shop.secret(Upsert, { input: { externalId } })).upsertContact;
    if (upserted.__typename !== 'MutationUpsertContactSuccess') throw new Error(JSON.stringify(upserted));
    return upserted.data.id;
  }
  const track = async (externalId: string, name: string, occurredAt: number) => {
    const tracked = dataOf(await shop.secret(Track, { events: [{ externalId, name, occurredAt: new Date(occurredAt).toISOString() }] })).trackEvents;
    expect(tracked.__typename).toBe('MutationTrackEventsSuccess');
  };
  const journeysOf = async (externalId: string) => dataOf(await shop.secret(JourneysOf, { externalId })).contact!.journeys;
  async function until(externalId: string, done: (rows: Awaited<ReturnType<typeof journeysOf>>) => boolean) {
    for (const start = Date.now(); ; await sleep(100)) {
      const rows = await journeysOf(externalId);
      if (done(rows) || Date.now() - start > 40_000) return rows;
    }
  }

  it('waitForEvent takes an event timed inside its window whenever it was stored: before the step, or out of order', { timeout: 90_000 }, async () => {
    const journeyId = await publish({
      name: 'Viewed',
      entry: { api: true },
      steps: [{ key: 'browse', waitForEvent: { name: 'viewed', withinSeconds: 20 } }],
    });
    const [ann, bob] = [await contact('ann'), await contact('bob')];
    // ann's phone runs 5 s ahead: its "viewed" is stored just before she reaches the step, timed just after.
    const viewedAt = Date.now() + 5_000;
    await track('ann', 'viewed', viewedAt);
    await shop.secret(Enter, { journeyId, contactId: ann });
    // bob's events come out of order while he waits: the later-timed one is stored first.
    await shop.secret(Enter, { journeyId, contactId: bob });
    const bobArrived = new Date((await journeysOf('bob'))[0]!.enteredAt).getTime();
    await track('bob', 'viewed', bobArrived + 6_000);
    await track('bob', 'viewed', bobArrived + 3_000);

    const [annRow] = await until('ann', (rows) => rows[0]?.status === 'COMPLETED');
    expect(annRow!.path).toMatchObject([{ step: 'browse', outcome: 'event', passedAt: new Date(viewedAt).toISOString() }]);
    const [bobRow] = await until('bob', (rows) => rows[0]?.status === 'COMPLETED');
    expect(bobRow!.path).toMatchObject([{ step: 'browse', outcome: 'event', passedAt: new Date(bobArrived + 3_000).toISOString() }]);
  });

  it('a goal event stored late converts the enrolment whose window holds its time, not a newer one', { timeout: 60_000 }, async () => {
    const journeyId = await publish({
      name: 'Trial',
      entry: { event: { name: 'trial_started' } },
      reEntryAfterSeconds: 60,
      goal: { event: 'upgraded', withinSeconds: 3600 },
      steps: [{ key: 'pause', wait: { seconds: 1 } }],
    });
    await contact('cid');
    const t0 = Date.now() - 600_000;
    await track('cid', 'trial_started', t0);
    await until('cid', (rows) => rows[0]?.status === 'COMPLETED');
    await track('cid', 'trial_started', t0 + 300_000);
    expect(await until('cid', (rows) => rows.length === 2 && rows.every((row) => row.status === 'COMPLETED'))).toHaveLength(2);
    // A backend reports an upgrade that happened during the first trial, after the second began.
    await track('cid', 'upgraded', t0 + 100_000);

    const byEntry = (await journeysOf('cid')).sort((a, b) => a.enteredAt.localeCompare(b.enteredAt));
    expect(byEntry.map((row) => row.convertedAt)).toEqual([new Date(t0 + 100_000).toISOString(), null]);
    const backtest = dataOf(await shop.secret(Simulate, { id: journeyId, from: new Date(t0 - 1_000).toISOString(), to: new Date().toISOString() })).simulateJourney;
    expect(backtest).toMatchObject({ entered: 2, converted: 1 });
  });
});
