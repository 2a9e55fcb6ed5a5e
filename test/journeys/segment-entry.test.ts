import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { Agenda } from '../../src/jobs/agenda.ts';
import { graphql } from '../generated/index.ts';
import { dataOf } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';

/**
 * Segment entry (the `journeys:segment-entry` job, run here on demand): who enters is the saved
 * segment's members, in its own audience, as the segment and the backtest count them; and
 * contacts the journey's audience refuses never use up a run's 10,000 places.
 */

const Import = graphql(`
  mutation SegmentEntryImport($contacts: [ContactInput!]!) { importContacts(input: { contacts: $contacts }) { __typename } }
`);
const CreateSegment = graphql(`
  mutation SegmentEntryCreateSegment($rule: SegmentRuleInput!, $audience: Audience) {
    createSegment(input: { name: "Lapsed customers", rule: $rule, audience: $audience }) { __typename ... on MutationCreateSegmentSuccess { data { id size } } }
  }
`);
const Create = graphql(`
  mutation SegmentEntryCreateJourney($input: JourneyInput!) {
    createJourney(input: $input) { __typename ... on MutationCreateJourneySuccess { data { id } } ... on Error { message } }
  }
`);
const Publish = graphql(`
  mutation SegmentEntryPublish($id: ID!) { publishJourney(input: { id: $id }) { __typename ... on Error { message } } }
`);
const Stats = graphql(`
  query SegmentEntryStats($id: ID!) { journey(id: $id) { stats { entered } } }
`);
const Simulate = graphql(`
  query SegmentEntrySimulate($id: ID, $from: DateTime!, $to: DateTime!) { simulateJourney(id: $id, from: $from, to: $to) { entered } }
`);
const DeleteSegment = graphql(`
  mutation SegmentEntryDeleteSegment($id: ID!) { deleteSegment(input: { id: $id }) { __typename } }
`);
const Track = graphql(`
  mutation SegmentEntryTrack($events: [EventInput!]!) { trackEvents(input: { events: $events }) { __typename ... on MutationTrackEventsSuccess { data { count } } } }
`);
const JourneysOf = graphql(`
  query SegmentEntryJourneysOf($externalId: String!) { contact(externalId: $externalId) { journeys { status } } }
`);

let agenda: Agenda | undefined;
const h = useHerald({}, { push: false, start: { defineJobs: (defined) => void (agenda = defined) } });
const shop = h.useWorkspace();

async function publish(input: Record<string, unknown>): Promise<string> {
  const created = dataOf(await shop.secret(Create, { input } as never)).createJourney;
  if (created.__typename !== 'MutationCreateJourneySuccess') throw new Error(JSON.stringify(created));
  expect(dataOf(await shop.secret(Publish, { id: created.data.id })).publishJourney.__typename).toBe('MutationPublishJourneySuccess');
  return created.data.id;
}

/** Runs the job until `check` holds, or answers false after `timeoutMs`. */
async function segmentEntryUntil(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<boolean> {
  await agenda!.now('journeys:segment-entry');
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) return false;
    await sleep(200);
  }
  return true;
}

describe('segment entry', () => {
  it("enters the segment's members only: its audience is part of it", { timeout: 60_000 }, async () => {
    await shop.secret(Import, { contacts: [
      { externalId: 'known', tags: ['lapsed'] },
      { anonymousId: 'visitor', tags: ['lapsed'] },
    ] });
    const segment = dataOf(await shop.secret(CreateSegment, { rule: { tag: { has: 'lapsed' } }, audience: 'IDENTIFIED' })).createSegment;
    if (segment.__typename !== 'MutationCreateSegmentSuccess') throw new Error(JSON.stringify(segment));
    expect(segment.data.size).toBe(1);
    const journeyId = await publish({ name: 'Win back', entry: { segment: { segmentId: segment.data.id } }, steps: [{ key: 'pause', wait: { seconds: 3600 } }] });

    const entered = async () => dataOf(await shop.secret(Stats, { id: journeyId })).journey!.stats.entered;
    expect(await segmentEntryUntil(async () => (await entered()) > 0)).toBe(true);
    // A second run finds nobody new (the visitor was never a member).
    await agenda!.now('journeys:segment-entry');
    await sleep(1000);
    expect(await entered()).toBe(1);
    const backtest = dataOf(await shop.secret(Simulate, { id: journeyId, from: new Date(Date.now() - 3_600_000).toISOString(), to: new Date().toISOString() })).simulateJourney;
    expect(backtest.entered).toBe(1);
  });

  it('enters an eligible contact however many matching contacts the journey audience refuses', { timeout: 90_000 }, async () => {
    await shop.secret(Import, { contacts: [{ externalId: 'awake' }] });
    // More matching anonymous visitors than a run enters, stored before the customer (a scan meets them first);
    // the journey takes identified contacts only.
    await h.kit.herald.prisma.$executeRaw`
      INSERT INTO "Contact" (id, "workspaceId", "anonymousId", tags)
      SELECT gen_random_uuid(), c."workspaceId", 'dormant-visitor-' || n, ARRAY['dormant'] FROM generate_series(1, 10000) n, "Contact" c WHERE c."externalId" = 'awake'`;
    await shop.secret(Import, { contacts: [{ externalId: 'dormant-customer', tags: ['dormant'] }] });
    await publish({
      name: 'Wake up', entry: { segment: { rule: { tag: { has: 'dormant' } } } }, audience: { type: 'IDENTIFIED' },
      steps: [{ key: 'pause', wait: { seconds: 3600 } }],
    });
    const enrolled = async () => dataOf(await shop.secret(JourneysOf, { externalId: 'dormant-customer' })).contact!.journeys.length > 0;
    expect(await segmentEntryUntil(enrolled)).toBe(true);
  });

  it('a journey whose segment was deleted admits nobody, and its entry events are still stored', { timeout: 60_000 }, async () => {
    await shop.secret(Import, { contacts: [{ externalId: 'orphan', tags: ['orphaned'] }] });
    const segment = dataOf(await shop.secret(CreateSegment, { rule: { tag: { has: 'orphaned' } } })).createSegment;
    if (segment.__typename !== 'MutationCreateSegmentSuccess') throw new Error(JSON.stringify(segment));
    await publish({ name: 'Orphaned audience', entry: { event: { name: 'orphan_visit' } }, audience: { segmentId: segment.data.id }, steps: [{ key: 'pause', wait: { seconds: 3600 } }] });
    await publish({ name: 'Orphaned entry', entry: { segment: { segmentId: segment.data.id } }, steps: [{ key: 'pause', wait: { seconds: 3600 } }] });
    expect(dataOf(await shop.secret(DeleteSegment, { id: segment.data.id })).deleteSegment.__typename).toBe('MutationDeleteSegmentSuccess');

    const tracked = await shop.secret(Track, { events: [{ externalId: 'orphan', name: 'orphan_visit' }] });
    expect(tracked.errors).toBeUndefined();
    expect(dataOf(tracked).trackEvents).toEqual({ __typename: 'MutationTrackEventsSuccess', data: { count: 1 } });
    // The segment-entry run finishes without an error (it admits nobody).
    const failed: unknown[] = [];
    agenda!.on('fail:journeys:segment-entry', (error: unknown) => failed.push(error));
    const ran = new Promise((resolve) => agenda!.once('complete:journeys:segment-entry', resolve));
    await agenda!.now('journeys:segment-entry');
    await ran;
    expect(failed).toEqual([]);
    expect(dataOf(await shop.secret(JourneysOf, { externalId: 'orphan' })).contact!.journeys).toEqual([]);
  });
});
