/**
 * The campaign list's figures: Campaign.stats is loaded for a whole page at once (one query for
 * the page, src/campaigns/stats.ts campaignStatsMany), and each row still gets its own campaign's.
 */
import { describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import { createCampaign, SendNow, subscribeBrowser, waitForStatus } from '../kit/campaigns.ts';
import { dataOf } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';

const Upsert = graphql(`
  mutation ListStatsUpsert($input: ContactInput!) {
    upsertContact(input: $input) { __typename }
  }
`);

const List = graphql(`
  query ListStats {
    campaigns(first: 100) { edges { node { name stats { targeted sent suppressed suppressedBy { reason count } } } } }
  }
`);

const h = useHerald();
const content = { title: 'Hello', url: 'https://shop.example/' };

describe('the campaign list', () => {
  it("reads a page of campaigns' figures together, each row its own campaign's", async () => {
    const { secret, publishable } = await h.workspace();
    await secret(Upsert, { input: { externalId: 'ada', attributes: { city: 'Berlin' } } });
    await secret(Upsert, { input: { externalId: 'bob', attributes: { city: 'Paris' } } });
    await secret(Upsert, { input: { externalId: 'cem', attributes: { city: 'Paris' } } }); // no browser
    await subscribeBrowser(publishable, h.push, { externalId: 'ada' });
    await subscribeBrowser(publishable, h.push, { externalId: 'bob' });

    const berlin = await createCampaign(secret, { name: 'Berlin', kind: 'BROADCAST', content, audience: { rule: { attribute: { path: 'city', op: 'EQ', value: 'Berlin' } } } });
    const everyone = await createCampaign(secret, { name: 'Everyone', kind: 'BROADCAST', content });
    await createCampaign(secret, { name: 'Draft', kind: 'BROADCAST', content });
    for (const id of [berlin, everyone]) {
      dataOf(await secret(SendNow, { id }));
      await waitForStatus(secret, id);
    }

    const rows = dataOf(await secret(List)).campaigns.edges.map(({ node }) => node);
    expect(rows).toEqual([
      { name: 'Draft', stats: { targeted: 0, sent: 0, suppressed: 0, suppressedBy: [] } },
      { name: 'Everyone', stats: { targeted: 3, sent: 2, suppressed: 1, suppressedBy: [{ reason: 'NO_SUBSCRIPTION', count: 1 }] } },
      { name: 'Berlin', stats: { targeted: 1, sent: 1, suppressed: 0, suppressedBy: [] } },
    ]);
  });
});
