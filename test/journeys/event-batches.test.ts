import { describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import { dataOf } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';

/**
 * A backend's trackEvents batch (or the browser calls gathered into one) stores a contact's entry
 * event and what followed it together: the enrolment the batch makes takes the exit and goal
 * events after its entering one, as the backtest does, and none before it; an entry event counts
 * only when the contact was out of the journey at its time, and one batch may enter a contact
 * again after it exited.
 */

const Upsert = graphql(`
  mutation BatchJourneyUpsert($input: ContactInput!) {
    upsertContact(input: $input) { __typename ... on MutationUpsertContactSuccess { data { id } } ... on Error { message } }
  }
`);
const Create = graphql(`
  mutation BatchJourneyCreate($input: JourneyInput!) {
    createJourney(input: $input) { __typename ... on MutationCreateJourneySuccess { data { id } } ... on Error { message } }
  }
`);
const Publish = graphql(`
  mutation BatchJourneyPublish($id: ID!) { publishJourney(input: { id: $id }) { __typename ... on Error { message } } }
`);
const Track = graphql(`
  mutation BatchJourneyTrack($events: [EventInput!]!) { trackEvents(input: { events: $events }) { __typename ... on Error { message } } }
`);
const JourneysOf = graphql(`
  query BatchJourneyJourneysOf($externalId: String!) {
    contact(externalId: $externalId) { journeys { status step enteredAt endedAt convertedAt path { step outcome } } }
  }
`);
const Simulate = graphql(`
  query BatchJourneySimulate($id: ID, $from: DateTime!, $to: DateTime!) {
    simulateJourney(id: $id, from: $from, to: $to) { entered active completed exited converted }
  }
`);

describe('an entry event and later exit / goal events in one trackEvents call', () => {
  const h = useHerald({}, { push: false });
  const shop = h.useWorkspace();

  it('the enrolment takes the events after its entering one, as the backtest says', { timeout: 60_000 }, async () => {
    const created = dataOf(await shop.secret(Create, { input: {
      name: 'Trial', entry: { event: { name: 'trial_started' } },
      exitEvents: ['cancelled'],
      goal: { event: 'upgraded', withinSeconds: 3600 },
      steps: [{ key: 'pause', wait: { seconds: 3600 } }],
    } } as never)).createJourney;
    if (created.__typename !== 'MutationCreateJourneySuccess') throw new Error(JSON.stringify(created));
    const journeyId = created.data.id;
    await shop.secret(Publish, { id: journeyId });
    for (const externalId of ['ann', 'bob', 'cid']) await shop.secret(Upsert, { input: { externalId } });

    const t0 = Date.now() - 60_000;
    const at = (s: number) => new Date(t0 + s * 1000).toISOString();
    // ann starts a trial and cancels 10 s later; bob starts and upgrades; cid cancelled and upgraded before starting.
    await shop.secret(Track, { events: [
      { externalId: 'ann', name: 'trial_started', occurredAt: at(0) },
      { externalId: 'ann', name: 'cancelled', occurredAt: at(10) },
      { externalId: 'bob', name: 'trial_started', occurredAt: at(0) },
      { externalId: 'bob', name: 'upgraded', occurredAt: at(10) },
      { externalId: 'cid', name: 'cancelled', occurredAt: at(-10) },
      { externalId: 'cid', name: 'upgraded', occurredAt: at(-5) },
      { externalId: 'cid', name: 'trial_started', occurredAt: at(0) },
    ] });
    const journeysOf = async (externalId: string) => dataOf(await shop.secret(JourneysOf, { externalId })).contact!.journeys;
    const [ann, bob, cid] = [await journeysOf('ann'), await journeysOf('bob'), await journeysOf('cid')];
    expect(ann).toMatchObject([{ status: 'EXITED', convertedAt: null, path: [{ step: 'pause', outcome: 'exited' }] }]);
    expect(bob).toMatchObject([{ status: 'ACTIVE', step: 'pause' }]);
    expect(bob[0]!.convertedAt).toBe(at(10));
    expect(cid).toMatchObject([{ status: 'ACTIVE', step: 'pause', convertedAt: null }]);

    const backtest = dataOf(await shop.secret(Simulate, { id: journeyId, from: at(-15), to: at(30) })).simulateJourney;
    expect(backtest).toMatchObject({ entered: 3, active: 2, exited: 1, converted: 1 });
  });

  it('a batch that re-enters and then reaches the goal converts only the new enrolment, as the backtest says', { timeout: 60_000 }, async () => {
    const created = dataOf(await shop.secret(Create, { input: {
      name: 'Trial again', entry: { event: { name: 'trial_restarted' } },
      reEntryAfterSeconds: 60,
      exitEvents: ['trial_ended'],
      goal: { event: 'subscribed', withinSeconds: 3600 },
      steps: [{ key: 'pause', wait: { seconds: 3600 } }],
    } } as never)).createJourney;
    if (created.__typename !== 'MutationCreateJourneySuccess') throw new Error(JSON.stringify(created));
    const journeyId = created.data.id;
    await shop.secret(Publish, { id: journeyId });
    await shop.secret(Upsert, { input: { externalId: 'dan' } });

    const t0 = Date.now() - 600_000;
    const at = (s: number) => new Date(t0 + s * 1000).toISOString();
    // dan's first trial ends unconverted; a later batch starts a second and subscribes inside both goal windows.
    await shop.secret(Track, { events: [
      { externalId: 'dan', name: 'trial_restarted', occurredAt: at(0) },
      { externalId: 'dan', name: 'trial_ended', occurredAt: at(10) },
    ] });
    await shop.secret(Track, { events: [
      { externalId: 'dan', name: 'trial_restarted', occurredAt: at(100) },
      { externalId: 'dan', name: 'subscribed', occurredAt: at(200) },
    ] });
    const dan = dataOf(await shop.secret(JourneysOf, { externalId: 'dan' })).contact!.journeys;
    const byEntry = [...dan].sort((a, b) => a.enteredAt.localeCompare(b.enteredAt));
    expect(byEntry).toMatchObject([{ status: 'EXITED', convertedAt: null }, { status: 'ACTIVE', convertedAt: at(200) }]);

    const backtest = dataOf(await shop.secret(Simulate, { id: journeyId, from: at(-1), to: at(300) })).simulateJourney;
    expect(backtest).toMatchObject({ entered: 2, active: 1, exited: 1, converted: 1 });
  });

  /** A published journey: entered on `entry`, left on `exit`, converting on `goal`, re-entered after 60 s; its one step waits an hour. */
  const reEnterable = async (name: string, entry: string, exit: string, goal: string) => {
    const created = dataOf(await shop.secret(Create, { input: {
      name, entry: { event: { name: entry } },
      reEntryAfterSeconds: 60,
      exitEvents: [exit],
      goal: { event: goal, withinSeconds: 3600 },
      steps: [{ key: 'pause', wait: { seconds: 3600 } }],
    } } as never)).createJourney;
    if (created.__typename !== 'MutationCreateJourneySuccess') throw new Error(JSON.stringify(created));
    await shop.secret(Publish, { id: created.data.id });
    return created.data.id;
  };
  const byEntry = async (externalId: string) =>
    [...dataOf(await shop.secret(JourneysOf, { externalId })).contact!.journeys].sort((a, b) => a.enteredAt.localeCompare(b.enteredAt));

  it('an entry event timed while the contact was still in the journey does not enter it, though the batch exits it later', { timeout: 60_000 }, async () => {
    const journeyId = await reEnterable('Cart', 'cart_opened', 'cart_closed', 'cart_paid');
    await shop.secret(Upsert, { input: { externalId: 'eve' } });
    const t0 = Date.now() - 600_000;
    const at = (s: number) => new Date(t0 + s * 1000).toISOString();
    await shop.secret(Track, { events: [{ externalId: 'eve', name: 'cart_opened', occurredAt: at(0) }] });
    // Still in it at 100 (re-entry's minute long past): the cart closes at 200, opens again at 300.
    await shop.secret(Track, { events: [
      { externalId: 'eve', name: 'cart_opened', occurredAt: at(100) },
      { externalId: 'eve', name: 'cart_closed', occurredAt: at(200) },
      { externalId: 'eve', name: 'cart_opened', occurredAt: at(300) },
    ] });
    expect(await byEntry('eve')).toMatchObject([
      { status: 'EXITED', enteredAt: at(0), endedAt: at(200) },
      { status: 'ACTIVE', enteredAt: at(300), step: 'pause' },
    ]);
    const backtest = dataOf(await shop.secret(Simulate, { id: journeyId, from: at(-1), to: at(400) })).simulateJourney;
    expect(backtest).toMatchObject({ entered: 2, active: 1, exited: 1 });
  });

  it('one batch enters, exits and enters again as often as its events say, as the backtest does', { timeout: 60_000 }, async () => {
    const journeyId = await reEnterable('Session', 'session_started', 'session_ended', 'session_paid');
    await shop.secret(Upsert, { input: { externalId: 'fay' } });
    const t0 = Date.now() - 600_000;
    const at = (s: number) => new Date(t0 + s * 1000).toISOString();
    await shop.secret(Track, { events: [
      { externalId: 'fay', name: 'session_started', occurredAt: at(0) },
      { externalId: 'fay', name: 'session_ended', occurredAt: at(10) },
      { externalId: 'fay', name: 'session_started', occurredAt: at(100) },
      { externalId: 'fay', name: 'session_paid', occurredAt: at(105) },
      { externalId: 'fay', name: 'session_ended', occurredAt: at(110) },
      { externalId: 'fay', name: 'session_started', occurredAt: at(130) }, // within re-entry's minute of 100: refused
      { externalId: 'fay', name: 'session_started', occurredAt: at(200) },
    ] });
    expect(await byEntry('fay')).toMatchObject([
      { status: 'EXITED', enteredAt: at(0), endedAt: at(10), convertedAt: null },
      { status: 'EXITED', enteredAt: at(100), endedAt: at(110), convertedAt: at(105) },
      { status: 'ACTIVE', enteredAt: at(200), step: 'pause', convertedAt: null },
    ]);
    const backtest = dataOf(await shop.secret(Simulate, { id: journeyId, from: at(-1), to: at(300) })).simulateJourney;
    expect(backtest).toMatchObject({ entered: 3, active: 1, exited: 2, converted: 1 });
  });
});
