/**
 * The durable engine against the reference interpreter (issue 20): fast-check draws a journey
 * (send, wait, waitForEvent with a condition, branch, engagement, split; exit events, a goal,
 * re-entry) and each contact's event stream; the events go in through `trackEvents` of a real
 * Herald with their own times, and the engine is stepped along the same timeline (its clock is
 * `advanceDue`'s `now`, set just before each event and at the end). Each contact's enrolments
 * must then match what `interpret` works out from the same definition and events: status, entry,
 * end, conversion, and the path step by step with its times, outcomes and channels.
 * The timeline lies half an hour ahead, so the background jobs (real clock) find nothing due.
 * A second property sends the events in a few trackEvents calls instead, each with several events
 * per contact (entries, exits, goals, re-entries), as a backend's batch does.
 * Runs: JOURNEY_PROPERTY_RUNS (default 30).
 */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import fc from 'fast-check';
import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { parseJourney } from '../../src/journeys/definition.ts';
import { advanceDue } from '../../src/journeys/engine.ts';
import { interpret, type JourneyEvent } from '../../src/journeys/interpret.ts';
import { subscribeBrowser } from '../kit/campaigns.ts';
import { dataOf } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';

const RUNS = Number(process.env.JOURNEY_PROPERTY_RUNS ?? 30);
const S = 1000;

type Result = { __typename: string; data?: { id: string } };
const Upsert = parse(`mutation PropertyUpsert($input: ContactInput!) {
  upsertContact(input: $input) { __typename ... on MutationUpsertContactSuccess { data { id } } ... on Error { message } }
}`) as TypedDocumentNode<{ upsertContact: Result }, { input: unknown }>;
const Create = parse(`mutation PropertyCreate($input: JourneyInput!) {
  createJourney(input: $input) { __typename ... on MutationCreateJourneySuccess { data { id } } ... on Error { message } }
}`) as TypedDocumentNode<{ createJourney: Result }, { input: unknown }>;
const Publish = parse(`mutation PropertyPublish($id: ID!) { publishJourney(input: { id: $id }) { __typename ... on Error { message } } }`) as TypedDocumentNode<
  { publishJourney: { __typename: string } },
  { id: string }
>;
const Pause = parse(`mutation PropertyPause($id: ID!) { pauseJourney(input: { id: $id }) { __typename } }`) as TypedDocumentNode<{ pauseJourney: { __typename: string } }, { id: string }>;
const Track = parse(`mutation PropertyTrack($events: [EventInput!]!) {
  trackEvents(input: { events: $events }) { __typename ... on Error { message } }
}`) as TypedDocumentNode<{ trackEvents: { __typename: string } }, { events: unknown[] }>;

const h = useHerald();
const rawId = (id: string) => Buffer.from(id, 'base64').toString().split(':')[1]!;

// ---- what fast-check draws -------------------------------------------------------------------

const target = (index: number, count: number) => (index + 1 >= count ? fc.constant(null) : fc.option(fc.integer({ min: index + 1, max: count - 1 }), { nil: null }));
const key = (index: number | null) => (index == null ? null : `s${index}`);

/** Step `index` of `count`; targets only point forward, so the graph has no cycles. */
function stepAt(index: number, count: number, startsWithSend: boolean) {
  const next = target(index, count);
  const kinds = [
    fc.record({ next }).map(({ next }) => ({ send: { channel: 'WEB_PUSH', content: { title: `Step ${index}`, url: 'https://shop.example/' }, next: key(next) } })),
    fc.record({ seconds: fc.constantFrom(60, 300, 900), next }).map(({ seconds, next }) => ({ wait: { seconds, next: key(next) } })),
    fc
      .record({ above: fc.option(fc.integer({ min: 0, max: 8 }), { nil: null }), withinSeconds: fc.constantFrom(120, 600, 1800), onEvent: next, onTimeout: next })
      .map(({ above, withinSeconds, onEvent, onTimeout }) => ({
        waitForEvent: { name: 'view', where: above == null ? null : [{ path: 'n', op: 'GT', value: above }], withinSeconds, onEvent: key(onEvent), onTimeout: key(onTimeout) },
      })),
    fc.record({ yes: next, no: next }).map(({ yes, no }) => ({ branch: { rule: { attribute: { path: 'tier', op: 'EQ', value: 'gold' } }, yes: key(yes), no: key(no) } })),
    fc
      .record({ percent: fc.integer({ min: 0, max: 100 }), a: next, b: next })
      .map(({ percent, a, b }) => ({ split: { paths: [{ name: 'A', percent, next: key(a) }, { name: 'B', percent: 100 - percent, next: key(b) }] } })),
  ];
  // Engagement asks about the first step, which lies on every way to it when it is a send.
  if (startsWithSend && index > 0) {
    kinds.push(
      fc
        .record({ did: fc.constantFrom('DISPLAYED', 'CLICKED', 'DELIVERED'), withinSeconds: fc.constantFrom(300, 1200), yes: next, no: next })
        .map(({ did, withinSeconds, yes, no }) => ({ engagement: { step: 's0', did, withinSeconds, yes: key(yes), no: key(no) } })) as never,
    );
  }
  return (index === 0 && startsWithSend ? kinds[0]! : fc.oneof(...kinds)).map((step) => ({ key: `s${index}`, ...step }));
}

const journeyInput = fc
  .record({ count: fc.integer({ min: 1, max: 6 }), startsWithSend: fc.boolean() })
  .chain(({ count, startsWithSend }) =>
    fc.record({
      steps: fc.tuple(...Array.from({ length: count }, (_, index) => stepAt(index, count, startsWithSend))),
      exit: fc.boolean(),
      goal: fc.boolean(),
      reEntry: fc.constantFrom(null, 1800),
    }),
  )
  .map(({ steps, exit, goal, reEntry }) => ({
    name: 'Property',
    entry: { event: { name: 'signup' } },
    steps: reachable(steps),
    exitEvents: exit ? ['quit'] : [],
    goal: goal ? { event: 'buy', withinSeconds: 3600 } : null,
    reEntryAfterSeconds: reEntry,
  }));

/** Only the steps reachable from the first (the definition refuses dead ones). */
function reachable<T extends { key: string }>(steps: readonly T[]): T[] {
  const targets = (step: T) =>
    Object.values(step as Record<string, unknown>)
      .filter((value): value is Record<string, unknown> => typeof value === 'object' && value !== null)
      .flatMap((kind) => [kind.next, kind.yes, kind.no, kind.onEvent, kind.onTimeout, ...((kind.paths as { next: unknown }[] | undefined)?.map((path) => path.next) ?? [])])
      .filter((next): next is string => typeof next === 'string');
  const seen = new Set<string>(['s0']);
  for (const step of steps) if (seen.has(step.key)) for (const next of targets(step)) seen.add(next);
  return steps.filter((step) => seen.has(step.key));
}

const contactArb = fc.record({
  browser: fc.boolean(),
  gold: fc.boolean(),
  events: fc.uniqueArray(fc.record({ name: fc.constantFrom('signup', 'signup', 'view', 'view', 'quit', 'buy'), second: fc.integer({ min: 0, max: 3600 }), n: fc.integer({ min: 0, max: 9 }) }), {
    maxLength: 8,
    selector: (event) => event.second,
  }),
});

// ---- the comparison --------------------------------------------------------------------------

interface Step {
  step: string;
  at: number;
  outcome: string | null;
  passedAt: number | null;
  channel: string | null;
}
interface Shape {
  status: string;
  enteredAt: number;
  endedAt: number | null;
  convertedAt: number | null;
  path: Step[];
}
type Contact = typeof contactArb extends fc.Arbitrary<infer T> ? T : never;
interface Person {
  externalId: string;
  id: string;
  contact: Contact;
  events: JourneyEvent[];
}

/** A workspace with `contacts` (their events timed from t0) and `input` published in it. */
async function setUp(runs: number, input: unknown, contacts: readonly Contact[], t0: number) {
  const { secret, publishable } = await h.workspace(`Property ${runs}`);
  const people: Person[] = [];
  for (const [index, contact] of contacts.entries()) {
    const externalId = `p${index}`;
    const upserted = dataOf(await secret(Upsert, { input: { externalId, attributes: { tier: contact.gold ? 'gold' : 'plain' } } })).upsertContact;
    if (!upserted.data) throw new Error(JSON.stringify(upserted));
    if (contact.browser) await subscribeBrowser(publishable, h.push, { externalId });
    const events: JourneyEvent[] = contact.events
      .map((event, at) => ({ id: `${index}-${at}`, name: event.name, at: new Date(t0 + event.second * S + index * 100), properties: { n: event.n } }))
      .sort((a, b) => a.at.getTime() - b.at.getTime());
    people.push({ externalId, id: rawId(upserted.data.id), contact, events });
  }
  const created = dataOf(await secret(Create, { input })).createJourney;
  if (!created.data) throw new Error(`createJourney: ${JSON.stringify(created)} for ${JSON.stringify(input)}`);
  expect(dataOf(await secret(Publish, { id: created.data.id })).publishJourney.__typename).toBe('MutationPublishJourneySuccess');
  const track = async (batch: { person: Person; event: JourneyEvent }[]) => {
    const events = batch.map(({ person, event }) => ({ externalId: person.externalId, name: event.name, occurredAt: event.at.toISOString(), properties: event.properties }));
    expect(dataOf(await secret(Track, { events })).trackEvents.__typename).toBe('MutationTrackEventsSuccess');
  };
  const timeline = people.flatMap((person) => person.events.map((event) => ({ person, event }))).sort((a, b) => a.event.at.getTime() - b.event.at.getTime());
  return { people, timeline, track, journeyId: rawId(created.data.id), pause: () => secret(Pause, { id: created.data!.id }) };
}

/** The engine's clock is `advanceDue`'s `now`: it catches up to `now`. */
async function drainTo(now: number) {
  for (let result = await advanceDue(h.kit.herald, undefined, now); result.claimed > 0; result = await advanceDue(h.kit.herald, undefined, now));
}

/** Each contact's enrolments as the engine stored them must be the interpreter's over [t0, to]; `seen` counts the outcomes compared. */
async function compare(input: unknown, journeyId: string, people: readonly Person[], t0: number, to: number, seen: Map<string, number>) {
  const definition = parseJourney(input);
  for (const person of people) {
    const expected = interpret(definition, journeyId, person.events, {
      contactId: person.id,
      zone: 'UTC',
      inAudience: () => true,
      matches: (event, where) => where.every((condition) => Number(event.properties?.n) > Number(condition.value)),
      unreachable: (channel) => (channel === 'WEB_PUSH' && person.contact.browser ? null : 'NO_SUBSCRIPTION'),
      branch: () => person.contact.gold,
      engagedAt: () => null, // the messages fall due half an hour ahead: none is sent, shown or clicked meanwhile
    }, { from: new Date(t0), to: new Date(to) }).map(
      (enrolment): Shape => ({
        status: enrolment.status,
        enteredAt: enrolment.enteredAt.getTime(),
        endedAt: enrolment.endedAt?.getTime() ?? null,
        convertedAt: enrolment.convertedAt?.getTime() ?? null,
        path: enrolment.path.map((entry) => ({
          step: entry.step,
          at: entry.at.getTime(),
          outcome: entry.outcome,
          // An exit leaves the step at the exit's time.
          passedAt: entry.outcome === 'exited' ? (enrolment.endedAt?.getTime() ?? null) : (entry.passedAt?.getTime() ?? null),
          channel: entry.outcome === 'sent' ? (enrolment.sends.find((send) => send.step === entry.step)?.channel ?? null) : null,
        })),
      }),
    );
    const rows = await h.kit.herald.prisma.journeyEnrollment.findMany({
      where: { journeyId, contactId: person.id },
      orderBy: { enteredAt: 'asc' },
      include: { path: { orderBy: { seq: 'asc' } } },
    });
    const actual = rows.map(
      (row): Shape => ({
        status: row.status,
        enteredAt: row.enteredAt.getTime(),
        endedAt: row.endedAt?.getTime() ?? null,
        convertedAt: row.convertedAt?.getTime() ?? null,
        path: [
          ...row.path.map((entry) => ({ step: entry.step, at: entry.at.getTime(), outcome: entry.outcome, passedAt: entry.passedAt.getTime(), channel: entry.channel })),
          ...(row.status === 'ACTIVE' && row.step ? [{ step: row.step, at: row.arrivedAt.getTime(), outcome: null, passedAt: null, channel: null }] : []),
        ],
      }),
    );
    const count = (key: string) => seen.set(key, (seen.get(key) ?? 0) + 1);
    for (const enrolment of actual) for (const entry of enrolment.path) count(entry.outcome ?? 'waiting');
    for (const enrolment of actual) count(enrolment.status);
    if (actual.length > 1) count('re-entered');
    expect(actual, `contact ${person.externalId} (${JSON.stringify(person.contact)}) in ${JSON.stringify(input)}`).toEqual(expected);
  }
}

// A batch's events act together, before the engine runs the enrolments it made; that is the
// timeline one by one as long as every enrolment still waits at its first step meanwhile: here an
// hour's wait, and the events of the batches lie within 3,000 s of each other.
const batchedJourneyInput = fc
  .record({ count: fc.integer({ min: 2, max: 5 }) })
  .chain(({ count }) =>
    fc.record({
      steps: fc.tuple(...Array.from({ length: count }, (_, index) => stepAt(index, count, false))),
      first: target(0, count),
      exit: fc.boolean(),
      goal: fc.boolean(),
      reEntry: fc.constantFrom(null, 0, 60, 600),
    }),
  )
  .map(({ steps, first, exit, goal, reEntry }) => ({
    name: 'Batched',
    entry: { event: { name: 'signup' } },
    steps: reachable([{ key: 's0', wait: { seconds: 3600, next: key(first) } }, ...steps.slice(1)]),
    exitEvents: exit ? ['quit'] : [],
    goal: goal ? { event: 'buy', withinSeconds: 3600 } : null,
    reEntryAfterSeconds: reEntry,
  }));
const batchedContactArb = fc.record({
  browser: fc.boolean(),
  gold: fc.boolean(),
  events: fc.uniqueArray(fc.record({ name: fc.constantFrom('signup', 'signup', 'signup', 'view', 'quit', 'quit', 'buy'), second: fc.integer({ min: 0, max: 3000 }), n: fc.integer({ min: 0, max: 9 }) }), {
    maxLength: 10,
    selector: (event) => event.second,
  }),
});

describe('the engine against the reference interpreter', () => {
  it(`agrees on every contact's enrolments, step by step, over ${RUNS} random journeys and event streams`, { timeout: 600_000 }, async () => {
    let runs = 0;
    const seen = new Map<string, number>(); // outcomes compared, so a run that compares nothing shows
    await fc.assert(
      fc.asyncProperty(journeyInput, fc.array(contactArb, { minLength: 1, maxLength: 3 }), fc.constantFrom(1800, 3600, 5 * 3600), async (input, contacts, horizon) => {
        runs++;
        const t0 = Math.ceil(Date.now() / S) * S + 30 * 60 * S;
        const to = t0 + horizon * S; // some enrolments still wait at the end, some events come after it
        const { people, timeline, track, journeyId, pause } = await setUp(runs, input, contacts, t0);
        // The timeline: before each instant with events, the engine catches up to just before it.
        for (const item of timeline.filter(({ event }) => event.at.getTime() <= to)) {
          await drainTo(item.event.at.getTime() - 1);
          await track([item]);
        }
        await drainTo(to);
        await pause(); // later runs' steps leave it alone
        await compare(input, journeyId, people, t0, to, seen);
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
    expect(runs).toBe(RUNS);
    console.log(`engine = interpreter over ${RUNS} journeys: ${JSON.stringify(Object.fromEntries([...seen].sort()))}`);
    expect(seen.get('COMPLETED') ?? 0).toBeGreaterThan(0);
  });

  it(`agrees when the contacts' events come in a few trackEvents batches, over ${RUNS} random journeys`, { timeout: 600_000 }, async () => {
    let runs = 0;
    const seen = new Map<string, number>();
    const cuts = fc.uniqueArray(fc.integer({ min: 1, max: 29 }), { maxLength: 2 });
    await fc.assert(
      fc.asyncProperty(batchedJourneyInput, fc.array(batchedContactArb, { minLength: 1, maxLength: 3 }), cuts, fc.boolean(), fc.constantFrom(3300, 3 * 3600), async (input, contacts, cutAt, reversed, horizon) => {
        runs++;
        const t0 = Math.ceil(Date.now() / S) * S + 30 * 60 * S;
        const to = t0 + horizon * S;
        const { people, timeline, track, journeyId, pause } = await setUp(1000 + runs, input, contacts, t0);
        // The timeline cut into batches (every contact's events in them, in time order or reversed).
        const bounds = [0, ...[...cutAt].sort((a, b) => a - b).map((cut) => Math.round((cut / 30) * timeline.length)), timeline.length];
        for (let i = 0; i + 1 < bounds.length; i++) {
          const batch = timeline.slice(bounds[i], bounds[i + 1]);
          if (batch.length) await track(reversed ? batch.reverse() : batch);
        }
        await drainTo(to);
        await pause();
        await compare(input, journeyId, people, t0, to, seen);
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
    expect(runs).toBe(RUNS);
    console.log(`engine = interpreter over ${RUNS} journeys in batches: ${JSON.stringify(Object.fromEntries([...seen].sort()))}`);
    expect(seen.get('re-entered') ?? 0).toBeGreaterThan(0);
  });
});
