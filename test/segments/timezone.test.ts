import { beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import { dataOf } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';

/**
 * Contacts' time zones are stored by their canonical name (workspaces/settings.ts, resolveZone),
 * which ICU keeps older for some zones: "Asia/Kolkata" is stored as "Asia/Calcutta". A rule names
 * a zone as people write it today, and finds the contacts whatever name their browser gave.
 */

const Import = graphql(`
  mutation TimezoneSegImport($contacts: [ContactInput!]!) { importContacts(input: { contacts: $contacts }) { __typename } }
`);
const Preview = graphql(`
  query TimezoneSegPreview($rule: SegmentRuleInput!) { previewSegment(rule: $rule) { count sample(first: 50) { externalId } } }
`);

const h = useHerald({}, { push: false });
const shop = h.useWorkspace();

beforeAll(async () => {
  await shop.secret(Import, {
    contacts: [
      { externalId: 'priya', timezone: 'Asia/Kolkata' },
      { externalId: 'ravi', timezone: 'Asia/Calcutta' },
      { externalId: 'olena', timezone: 'Europe/Kyiv' },
      { externalId: 'jonas', timezone: 'Europe/Berlin' },
      { externalId: 'nobody' },
    ],
  });
});

async function who(rule: any): Promise<string[]> {
  const { previewSegment } = dataOf(await shop.secret(Preview, { rule }));
  return previewSegment.sample.map((contact) => contact.externalId!).sort();
}
const timezone = (op: string, value: unknown) => ({ attribute: { path: 'timezone', op, value } });

describe('segment rules on the time zone compare canonical names', () => {
  it('finds the contacts stored under the older name', async () => {
    // (a fresh database: this shop's contacts are all there are)
    expect(await h.kit.herald.prisma.contact.findFirstOrThrow({ where: { externalId: 'priya' } })).toMatchObject({ timezone: 'Asia/Calcutta' });
    expect(await who(timezone('EQ', 'Asia/Kolkata'))).toEqual(['priya', 'ravi']);
    expect(await who(timezone('EQ', 'asia/kolkata'))).toEqual(['priya', 'ravi']);
    expect(await who(timezone('EQ', 'Asia/Calcutta'))).toEqual(['priya', 'ravi']);
    expect(await who(timezone('IN', ['Europe/Kyiv', 'Asia/Kolkata']))).toEqual(['olena', 'priya', 'ravi']);
  });

  it('and so do the negations', async () => {
    expect(await who(timezone('NEQ', 'Asia/Kolkata'))).toEqual(['jonas', 'nobody', 'olena']);
    expect(await who(timezone('NOT_IN', ['Europe/Kyiv', 'Asia/Kolkata']))).toEqual(['jonas', 'nobody']);
  });

  it('leaves a value that is no zone as it is', async () => {
    expect(await who(timezone('EQ', 'Mars/Olympus_Mons'))).toEqual([]);
    expect(await who(timezone('STARTS_WITH', 'Europe/'))).toEqual(['jonas', 'olena']);
  });
});
