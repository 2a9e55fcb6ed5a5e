/**
 * Journey figures per version and in total (issue 20: "stats are per version and in total"), and
 * split steps reported as experiments (issue 21: "Journey split steps report the same way").
 */
import { describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import { subscribeBrowser } from '../kit/campaigns.ts';
import { dataOf, type httpClient } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';

type Client = ReturnType<typeof httpClient>;

const Upsert = graphql(`
  mutation StatsUpsert($input: ContactInput!) {
    upsertContact(input: $input) { __typename ... on MutationUpsertContactSuccess { data { id } } ... on Error { message } }
  }
`);
const Create = graphql(`
  mutation StatsCreate($input: JourneyInput!) {
    createJourney(input: $input) { __typename ... on MutationCreateJourneySuccess { data { id } } ... on Error { message } }
  }
`);
const Update = graphql(`
  mutation StatsUpdate($input: UpdateJourneyInput!) { updateJourney(input: $input) { __typename ... on Error { message } } }
`);
const Publish = graphql(`
  mutation StatsPublish($id: ID!) { publishJourney(input: { id: $id }) { __typename ... on MutationPublishJourneySuccess { data { version } } ... on Error { message } } }
`);
const Enter = graphql(`
  mutation StatsEnter($journeyId: ID!, $contactId: ID!) {
    enterJourney(input: { journeyId: $journeyId, contactId: $contactId }) { __typename ... on MutationEnterJourneySuccess { data { version path { step outcome } } } ... on Error { message } }
  }
`);
const Track = graphql(`
  mutation StatsTrack($input: EventInput!) { trackEvent(input: $input) { __typename ... on Error { message } } }
`);
const Stats = graphql(`
  query StatsOfJourney($id: ID!) {
    journey(id: $id) {
      stats {
        entered active completed converted
        steps { key entered waiting passed sent }
        versions { version entered active completed converted steps { key entered waiting passed } }
        splits {
          version step metric lift interval probabilityToBeatControl significant winner
          paths { name percent contacts sent displayed opened clicked conversions rate interval }
        }
      }
    }
  }
`);

const h = useHerald();
const push = (title: string) => ({ title, url: 'https://shop.example/' });

async function createJourney(secret: Client, input: Record<string, unknown>) {
  const created = dataOf(await secret(Create, { input } as never)).createJourney;
  if (created.__typename !== 'MutationCreateJourneySuccess') throw new Error(JSON.stringify(created));
  expect(dataOf(await secret(Publish, { id: created.data.id })).publishJourney.__typename).toBe('MutationPublishJourneySuccess');
  return created.data.id;
}
async function contact(secret: Client, externalId: string) {
  const result = dataOf(await secret(Upsert, { input: { externalId } })).upsertContact;
  if (result.__typename !== 'MutationUpsertContactSuccess') throw new Error(JSON.stringify(result));
  return result.data.id;
}

describe('journey stats', () => {
  it('are per version and in total; contacts in flight count under the version they entered', async () => {
    const { secret } = await h.workspace();
    const journeyId = await createJourney(secret, { name: 'Versions', entry: { api: true }, steps: [{ key: 'first', wait: { seconds: 3600, next: 'old' } }, { key: 'old', wait: { seconds: 60 } }] });
    for (const name of ['a1', 'a2']) await secret(Enter, { journeyId, contactId: await contact(secret, name) });
    await secret(Update, { input: { id: journeyId, steps: [{ key: 'start', wait: { seconds: 3600 } }] } });
    expect(dataOf(await secret(Publish, { id: journeyId })).publishJourney).toMatchObject({ data: { version: 2 } });
    const late = dataOf(await secret(Enter, { journeyId, contactId: await contact(secret, 'b1') })).enterJourney;
    expect(late).toMatchObject({ data: { version: 2 } });

    const stats = dataOf(await secret(Stats, { id: journeyId })).journey!.stats;
    expect(stats).toMatchObject({ entered: 3, active: 3, completed: 0 });
    // The total follows the current version's steps, then keys only older versions had.
    expect(stats.steps).toEqual([
      { key: 'start', entered: 1, waiting: 1, passed: 0, sent: 0 },
      { key: 'first', entered: 2, waiting: 2, passed: 0, sent: 0 },
    ]);
    expect(stats.versions).toEqual([
      { version: 2, entered: 1, active: 1, completed: 0, converted: 0, steps: [{ key: 'start', entered: 1, waiting: 1, passed: 0 }] },
      { version: 1, entered: 2, active: 2, completed: 0, converted: 0, steps: [{ key: 'first', entered: 2, waiting: 2, passed: 0 }, { key: 'old', entered: 0, waiting: 0, passed: 0 }] },
    ]);
    expect(stats.splits).toEqual([]);
  });

  it('report a split step as an experiment: per path contacts, sends, conversions of the goal, rate, interval, winner', { timeout: 120_000 }, async () => {
    const { secret, publishable } = await h.workspace();
    const journeyId = await createJourney(secret, {
      name: 'Split test',
      entry: { api: true },
      goal: { event: 'buy', withinSeconds: 3600 },
      steps: [
        { key: 'ab', split: { paths: [{ name: 'nothing', percent: 50 }, { name: 'push', percent: 50, next: 'hello' }] } },
        { key: 'hello', send: { channel: 'WEB_PUSH', content: push('Hello') } },
      ],
    });
    const taken = new Map<string, string>();
    for (let i = 0; i < 40; i++) {
      const externalId = `s${i}`;
      const id = await contact(secret, externalId);
      if (i % 4 === 0) await subscribeBrowser(publishable, h.push, { externalId }); // a quarter can get a push
      const entered = dataOf(await secret(Enter, { journeyId, contactId: id })).enterJourney;
      if (entered.__typename !== 'MutationEnterJourneySuccess') throw new Error(JSON.stringify(entered));
      taken.set(externalId, entered.data.path[0]!.outcome);
    }
    // A third buy (the goal); one of them twice, which converts once.
    const buyers = [...taken.keys()].filter((_, index) => index % 3 === 0);
    for (const externalId of [...buyers, buyers[0]!]) await secret(Track, { input: { externalId, name: 'buy' } });

    // The pushes go after enterJourney answers: read until their ledger rows say SENT.
    const pushed = [...taken].filter(([externalId, path]) => path === 'push' && Number(externalId.slice(1)) % 4 === 0).length;
    const read = async () => dataOf(await secret(Stats, { id: journeyId })).journey!.stats.splits[0];
    let split = await read();
    for (const start = Date.now(); split?.paths[1]?.sent !== pushed && Date.now() - start < 20_000; split = await read()) await new Promise((resolve) => setTimeout(resolve, 100));
    const expected = (name: string) => {
      const on = [...taken].filter(([, path]) => path === name).map(([externalId]) => externalId);
      return {
        contacts: on.length,
        conversions: on.filter((externalId) => buyers.includes(externalId)).length,
        sent: name === 'push' ? on.filter((externalId) => Number(externalId.slice(1)) % 4 === 0).length : 0,
      };
    };
    expect(split).toMatchObject({ version: 1, step: 'ab', metric: 'CONVERSIONS', significant: false, winner: null });
    for (const [index, name] of ['nothing', 'push'].entries()) {
      const path = split!.paths[index]!;
      const { contacts, conversions, sent } = expected(name);
      expect(contacts).toBeGreaterThan(0);
      expect(path).toMatchObject({ name, percent: 50, contacts, conversions, sent, displayed: 0, clicked: 0, rate: conversions / contacts });
      expect(path.interval[0]).toBeLessThanOrEqual(path.rate);
      expect(path.interval[1]).toBeGreaterThanOrEqual(path.rate);
    }
    expect(split!.paths.reduce((sum, path) => sum + path.contacts, 0)).toBe(40);
  });
});
