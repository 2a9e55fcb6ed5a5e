import fc from 'fast-check';
import { v7 as uuidv7 } from 'uuid';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Rule } from '../../src/segments/rule.ts';
import { validateRule } from '../../src/segments/rule.ts';
import { contactIdsPage } from '../../src/segments/service.ts';
import { useHerald } from '../kit/fixture.ts';
import { inAudience, matches, type RefContact } from './reference.ts';

const DAY = 86_400_000;
const now = new Date();
const dates = ['2023-01-15', '2024-05-01', '2024-05-01T12:30:00Z', '2025-12-31T23:59:59+02:00', '2026-02-10T08:00'];

const attributes = fc.record(
  {
    city: fc.constantFrom('Berlin', 'Warsaw', 'berlin', 'Bern'),
    age: fc.oneof(fc.integer({ min: 16, max: 70 }), fc.constant('30')),
    address: fc.record({ country: fc.constantFrom('DE', 'PL', 'FR') }, { requiredKeys: [] }),
    interests: fc.subarray(['shoes', 'bags', 'tech']),
    signup: fc.constantFrom(...dates, 'soon', '2024-02-30'),
    vip: fc.boolean(),
    score: fc.oneof(fc.integer({ min: -5, max: 5 }), fc.constantFrom(1.5, 2.5)),
    gender: fc.constantFrom('female', 'male', 'other'),
  },
  { requiredKeys: [] },
);

const event = fc.record({
  name: fc.constantFrom('page_view', 'added_to_cart', 'purchase'),
  properties: fc.record(
    { value: fc.integer({ min: 0, max: 200 }), sku: fc.constantFrom('A', 'B'), paid: fc.boolean(), email: fc.constantFrom('ada@example.com', 'Ada@Example.com') },
    { requiredKeys: [] },
  ),
  daysAgo: fc.integer({ min: 0, max: 60 }),
});

const contact = fc.record({
  email: fc.option(fc.constantFrom('ada@example.com', 'bob@shop.pl', 'eve@example.org'), { nil: null }),
  locale: fc.option(fc.constantFrom('pl-PL', 'de-DE', 'en'), { nil: null }),
  attributes,
  tags: fc.subarray(['vip', 'newsletter', 'consented']),
  identified: fc.boolean(),
  lastSeenDaysAgo: fc.option(fc.integer({ min: 0, max: 40 }), { nil: null }),
  subscription: fc.constantFrom('none', 'ACTIVE', 'REVOKED'),
  events: fc.array(event, { maxLength: 6 }),
});

const scalarValue = fc.oneof(
  fc.constantFrom('Berlin', 'berlin', 'DE', 'PL', 'shoes', 'female', 'A', 'Ber', 'ada@example.com', 'Ada@Example.com', 'pl-PL', '30'),
  fc.integer({ min: -5, max: 80 }),
  fc.constantFrom(1.5, 2.5, 0),
  fc.boolean(),
  fc.constantFrom(...dates),
);
const paths = fc.constantFrom('city', 'age', 'address.country', 'interests', 'signup', 'vip', 'score', 'gender', 'email', 'locale', 'missing', 'attributes.city', 'address', 'interests.-1');
const condition = (pathArb: fc.Arbitrary<string>) =>
  fc.oneof(
    fc.record({ path: pathArb, op: fc.constantFrom('EQ', 'NEQ' as const), value: scalarValue }),
    fc.record({ path: pathArb, op: fc.constantFrom('GT', 'GTE', 'LT', 'LTE' as const), value: scalarValue.filter((value) => typeof value !== 'boolean') }),
    fc.record({ path: pathArb, op: fc.constantFrom('IN', 'NOT_IN' as const), value: fc.array(scalarValue, { minLength: 1, maxLength: 3 }) }),
    fc.record({ path: pathArb, op: fc.constantFrom('CONTAINS', 'STARTS_WITH' as const), value: fc.constantFrom('shoes', 'Ber', 'b', 'e', 'tech', 'A') }),
    fc.record({ path: pathArb, op: fc.constantFrom('EXISTS', 'NOT_EXISTS' as const) }),
  );
const numericOp = fc.constantFrom('EQ', 'NEQ', 'GT', 'GTE', 'LT', 'LTE' as const);
const days = fc.option(fc.integer({ min: 1, max: 45 }), { nil: undefined });

const leaf: fc.Arbitrary<Rule> = fc.oneof(
  condition(paths).map((attribute) => ({ attribute }) as Rule),
  fc.constantFrom('vip', 'newsletter', 'consented', 'nope').map((has) => ({ tag: { has } })),
  fc.boolean().map((identified) => ({ identified })),
  fc.boolean().map((pushSubscribed) => ({ pushSubscribed })),
  fc.record({ olderThanDays: days, withinDays: days }).filter((r) => r.olderThanDays != null || r.withinDays != null).map((lastSeen) => ({ lastSeen })),
  fc
    .record({
      name: fc.constantFrom('page_view', 'added_to_cart', 'purchase'),
      where: fc.option(fc.array(condition(fc.constantFrom('value', 'sku', 'paid', 'email', 'nothing')), { maxLength: 2 }), { nil: undefined }),
      count: fc.option(fc.record({ op: numericOp, value: fc.integer({ min: 0, max: 3 }) }), { nil: undefined }),
      withinDays: days,
    })
    .map((event) => ({ event }) as Rule),
  fc
    .record({
      event: fc.constantFrom('purchase', 'added_to_cart'),
      property: fc.constantFrom('value', 'sku'),
      fn: fc.constantFrom('SUM', 'AVG', 'MIN', 'MAX', 'COUNT' as const),
      op: numericOp,
      value: fc.constantFrom(0, 1, 2, 50, 100, 150.5, 300),
      withinDays: days,
    })
    .map((aggregate) => ({ aggregate }) as Rule),
);
const rule: fc.Arbitrary<Rule> = fc.letrec<{ rule: Rule }>((tie) => ({
  rule: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('rule'), { minLength: 1, maxLength: 3 }).map((and) => ({ and })),
    fc.array(tie('rule'), { minLength: 1, maxLength: 3 }).map((or) => ({ or })),
    tie('rule').map((not) => ({ not })),
  ),
})).rule;

const h = useHerald({}, { push: false });
let workspaceId: string;

beforeAll(async () => {
  const shop = await h.workspace();
  workspaceId = Buffer.from(shop.workspace.id, 'base64').toString().split(':')[1]!;
});

type Person = typeof contact extends fc.Arbitrary<infer T> ? T : never;

async function seed(people: Person[]): Promise<RefContact[]> {
  const { prisma } = h.kit.herald;
  await prisma.contact.deleteMany({ where: { workspaceId } });
  const refs = people.map((person, index): RefContact => ({
    id: uuidv7(),
    fields: { email: person.email, locale: person.locale, externalId: person.identified ? `user-${index}` : null },
    attributes: person.attributes,
    tags: person.tags,
    identified: person.identified,
    lastSeenAt: person.lastSeenDaysAgo == null ? null : new Date(now.getTime() - person.lastSeenDaysAgo * DAY - 3600_000),
    activeSubscription: person.subscription === 'ACTIVE',
    events: person.events.map((e) => ({ name: e.name, properties: e.properties, occurredAt: new Date(now.getTime() - e.daysAgo * DAY - 7200_000) })),
  }));
  const emails = new Set<string>();
  await prisma.contact.createMany({
    data: refs.map((ref, index) => {
      // Emails are unique per workspace: later duplicates go without.
      const email = ref.fields.email && !emails.has(ref.fields.email) ? ref.fields.email : null;
      if (email) emails.add(email);
      ref.fields.email = email;
      return {
        id: ref.id, workspaceId, email, locale: ref.fields.locale, externalId: ref.fields.externalId, anonymousId: `anon-${index}`,
        attributes: ref.attributes as object, tags: ref.tags, identified: ref.identified, lastSeenAt: ref.lastSeenAt,
      };
    }),
  });
  await prisma.pushSubscription.createMany({
    data: people.flatMap((person, index) =>
      person.subscription === 'none' ? [] : [{ workspaceId, contactId: refs[index]!.id, endpoint: `https://push.test/${refs[index]!.id}`, p256dh: 'k', auth: 'a', status: person.subscription as 'ACTIVE' | 'REVOKED' }],
    ),
  });
  await prisma.event.createMany({
    data: refs.flatMap((ref) => ref.events.map((e) => ({ workspaceId, contactId: ref.id, name: e.name, properties: e.properties as object, occurredAt: e.occurredAt }))),
  });
  return refs;
}

describe('segment SQL matches the reference evaluator', () => {
  it('for random contacts, events and rules', async () => {
    // Guards against a vacuous pass: many rules must pick some contacts but not all.
    let selective = 0;
    const runs = Number(process.env.SEGMENT_RUNS ?? 80);
    await fc.assert(
      fc.asyncProperty(
        fc.array(contact, { minLength: 5, maxLength: 25 }),
        fc.array(fc.tuple(rule, fc.constantFrom('ALL', 'IDENTIFIED', 'ANONYMOUS' as const)), { minLength: 1, maxLength: 8 }),
        async (people, rules) => {
          const refs = await seed(people);
          for (const [candidate, audience] of rules) {
            validateRule(candidate);
            const expected = refs.filter((ref) => inAudience(audience, ref) && matches(candidate, ref, now)).map((ref) => ref.id).sort();
            const actual = await contactIdsPage(h.kit.herald, workspaceId, { rule: candidate, audience }, { limit: 1000 });
            expect({ rule: candidate, audience, ids: [...actual].sort() }).toEqual({ rule: candidate, audience, ids: expected });
            if (expected.length > 0 && expected.length < refs.length) selective++;
          }
        },
      ),
      // SEGMENT_SEED replays a failure fast-check reported.
      { numRuns: runs, ...(process.env.SEGMENT_SEED ? { seed: Number(process.env.SEGMENT_SEED) } : {}) },
    );
    expect(selective).toBeGreaterThan(runs / 2);
  }, 120_000);
});
