/**
 * The journey list's figures: Journey.stats is loaded for a whole page at once
 * (src/journeys/stats.ts journeyStatsMany), so a page of 15 journeys costs the database as many
 * queries as a page of 3, and each row still gets its own journey's figures.
 */
import { describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import { dataOf, type httpClient } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';

type Client = ReturnType<typeof httpClient>;

const Upsert = graphql(`
  mutation ListJourneyUpsert($input: ContactInput!) {
    upsertContact(input: $input) { __typename ... on MutationUpsertContactSuccess { data { id } } ... on Error { message } }
  }
`);
const Create = graphql(`
  mutation ListJourneyCreate($input: JourneyInput!) {
    createJourney(input: $input) { __typename ... on MutationCreateJourneySuccess { data { id } } ... on Error { message } }
  }
`);
const Publish = graphql(`
  mutation ListJourneyPublish($id: ID!) { publishJourney(input: { id: $id }) { __typename ... on Error { message } } }
`);
const Enter = graphql(`
  mutation ListJourneyEnter($journeyId: ID!, $contactId: ID!) { enterJourney(input: { journeyId: $journeyId, contactId: $contactId }) { __typename ... on Error { message } } }
`);
const List = graphql(`
  query ListJourneyStats {
    journeys(first: 100) { edges { node { name stats { entered active completed exited converted splits { step } } } } }
  }
`);

const h = useHerald({}, { push: false });

async function journey(secret: Client, name: string, steps: unknown[]) {
  const created = dataOf(await secret(Create, { input: { name, entry: { api: true }, steps } } as never)).createJourney;
  if (created.__typename !== 'MutationCreateJourneySuccess') throw new Error(JSON.stringify(created));
  expect(dataOf(await secret(Publish, { id: created.data.id })).publishJourney.__typename).toBe('MutationPublishJourneySuccess');
  return created.data.id;
}

/**
 * Runs `read` with Herald's Prisma client swapped for one that counts the journey queries (raw ones
 * and those on Journey* tables) it sends: once cold, then three times warm, answering the fewest a
 * warm read counted. The first may also read what the process then keeps (published definitions);
 * API-key lookups are not the list's; and the journeys' background drain (its 5 s tick) sends raw
 * queries through the same client, which a read that overlaps it counts too (seen: 15 for 6 under
 * load), never fewer.
 */
async function countQueries(read: () => Promise<unknown>): Promise<number> {
  const herald = h.kit.herald;
  const prisma = herald.prisma;
  let queries = 0;
  herald.prisma = prisma.$extends({
    query: {
      $allOperations: ({ model, args, query }) => {
        if (!model || model.startsWith('Journey')) queries += 1;
        return query(args);
      },
    },
  }) as unknown as typeof prisma;
  const warm: number[] = [];
  try {
    await read();
    for (let run = 0; run < 3; run += 1) {
      queries = 0;
      await read();
      warm.push(queries);
    }
  } finally {
    herald.prisma = prisma;
  }
  return Math.min(...warm);
}

describe('the journey list', () => {
  it("reads a page of journeys' figures with the same queries however many rows, each row its own", { timeout: 180_000 }, async () => {
    const { secret } = await h.workspace();
    const contacts: string[] = [];
    for (const externalId of ['ada', 'bob', 'cem']) {
      const made = dataOf(await secret(Upsert, { input: { externalId } })).upsertContact;
      if (made.__typename !== 'MutationUpsertContactSuccess') throw new Error(JSON.stringify(made));
      contacts.push(made.data.id);
    }
    const wait = [{ key: 'hold', wait: { seconds: 3600 } }];
    const split = [{ key: 'ab', split: { paths: [{ name: 'a', percent: 50, next: 'hold' }, { name: 'b', percent: 50, next: 'hold' }] } }, ...wait];
    const first = await journey(secret, 'Zero', wait);
    const second = await journey(secret, 'One', split);
    const third = await journey(secret, 'Two', wait);
    for (const [journeyId, count] of [[first, 0], [second, 1], [third, 2]] as const) {
      for (const contactId of contacts.slice(0, count)) expect(dataOf(await secret(Enter, { journeyId, contactId })).enterJourney.__typename).toBe('MutationEnterJourneySuccess');
    }

    const page = async () => dataOf(await secret(List)).journeys.edges.map(({ node }) => node);
    let rows: Awaited<ReturnType<typeof page>> = [];
    const forThree = await countQueries(async () => (rows = await page()));
    const row = (name: string) => rows.find((one) => one.name === name)?.stats;
    expect(row('Zero')).toEqual({ entered: 0, active: 0, completed: 0, exited: 0, converted: 0, splits: [] });
    expect(row('One')).toEqual({ entered: 1, active: 1, completed: 0, exited: 0, converted: 0, splits: [{ step: 'ab' }] });
    expect(row('Two')).toEqual({ entered: 2, active: 2, completed: 0, exited: 0, converted: 0, splits: [] });

    for (let index = 0; index < 12; index += 1) await journey(secret, `More ${index}`, index % 3 === 0 ? split : wait);
    const forFifteen = await countQueries(async () => (rows = await page()));
    expect(rows).toHaveLength(15);
    expect(forThree).toBeGreaterThan(0);
    expect(forFifteen).toBe(forThree);
    expect(row('Two')).toMatchObject({ entered: 2, active: 2 });
    expect(row('More 0')).toEqual({ entered: 0, active: 0, completed: 0, exited: 0, converted: 0, splits: [{ step: 'ab' }] });
  });
});
