import { builder } from '../graphql/builder.ts';
import { workspaceIdOf } from '../graphql/context.ts';
import { inQuery } from '../graphql/errors.ts';
import { localId, requireLocalId } from '../graphql/ids.ts';
import { ErrorCode, ValidationError } from '../errors.ts';
import type { Herald } from '../herald-context.ts';
import { ChannelEnum } from '../delivery/schema.ts';
import { type JourneyDefinition, parseJourney } from './definition.ts';
import { getJourney } from './service.ts';
import { EngagementTypeEnum, JourneyInput } from './inputs.ts';
import { type SimulatedJourney, simulateJourney } from './simulate.ts';
import type { ChannelCounts, JourneySimulation, StepCounts } from './simulate-tally.ts';

/** Query.simulateJourney: the backtest (simulate.ts) in the API. */

const StepCountsRef = builder.objectRef<StepCounts>('JourneySimulationStep').implement({
  fields: (t) => ({
    key: t.exposeString('key'),
    entered: t.exposeInt('entered', { description: 'Arrivals at the step.' }),
    passed: t.exposeInt('passed', { description: 'Arrivals that moved on by `to`.' }),
    waiting: t.exposeInt('waiting', { description: 'Still waiting here at `to`.' }),
    sent: t.exposeInt('sent', { description: 'Send steps: messages that would go out.' }),
    suppressed: t.exposeInt('suppressed', { description: 'Send steps: no channel could take the message (no address, no consent).' }),
    capped: t.exposeInt('capped', { description: "Send steps: over the workspace's frequency caps." }),
  }),
});

const ChannelCountsRef = builder.objectRef<ChannelCounts>('JourneySimulationChannel').implement({
  description: "A channel's messages; a suppressed one counts under its step's first channel.",
  fields: (t) => ({
    channel: t.expose('channel', { type: ChannelEnum }),
    sent: t.exposeInt('sent'),
    suppressed: t.exposeInt('suppressed'),
    capped: t.exposeInt('capped'),
  }),
});

type Reason = JourneySimulation['suppressedBy'][number];
type Day = JourneySimulation['sendsByDay'][number];
type Estimate = JourneySimulation['engagementEstimates'][number];

const SimulationRef = builder.objectRef<JourneySimulation>('JourneySimulation').implement({
  description:
    'What a journey would have done over [from, to] from the stored events, nothing sent or written. Audience, branch rules and reachability are read as they are now; engagement is estimated from the workspace’s history (docs/journeys.md, "Backtest").',
  fields: (t) => ({
    from: t.expose('from', { type: 'DateTime' }),
    to: t.expose('to', { type: 'DateTime' }),
    timezone: t.expose('timezone', { type: 'TimeZone', description: "The workspace's zone: sendsByDay's days." }),
    entered: t.exposeInt('entered', { description: 'Enrolments (a contact entering twice counts twice).' }),
    active: t.exposeInt('active', { description: 'Still in the journey at `to`.' }),
    completed: t.exposeInt('completed'),
    exited: t.exposeInt('exited'),
    converted: t.exposeInt('converted'),
    steps: t.field({ type: [StepCountsRef], resolve: (simulation) => simulation.steps }),
    channels: t.field({ type: [ChannelCountsRef], resolve: (simulation) => simulation.channels }),
    suppressedBy: t.field({
      type: [builder.objectRef<Reason>('JourneySimulationReason').implement({ fields: (t) => ({ reason: t.exposeString('reason'), count: t.exposeInt('count') }) })],
      resolve: (simulation) => simulation.suppressedBy,
    }),
    sendsByDay: t.field({
      type: [
        builder.objectRef<Day>('JourneySimulationDay').implement({
          fields: (t) => ({
            date: t.exposeString('date', { description: 'YYYY-MM-DD in the workspace zone.' }),
            channel: t.expose('channel', { type: ChannelEnum }),
            count: t.exposeInt('count'),
          }),
        }),
      ],
      description: 'Messages per day and channel, days without any left out.',
      resolve: (simulation) => simulation.sendsByDay,
    }),
    engagementEstimates: t.field({
      type: [
        builder.objectRef<Estimate>('JourneyEngagementEstimate').implement({
          description: "The historical rate and median delay an engagement step's answer is drawn from.",
          fields: (t) => ({
            channel: t.expose('channel', { type: ChannelEnum }),
            did: t.expose('did', { type: EngagementTypeEnum }),
            messages: t.exposeInt('messages', { description: 'Past messages the rate comes from (0: no history, rate 0).' }),
            rate: t.exposeFloat('rate'),
            delaySeconds: t.exposeInt('delaySeconds'),
          }),
        }),
      ],
      resolve: (simulation) => simulation.engagementEstimates,
    }),
  }),
});

builder.queryField('simulateJourney', (t) =>
  t.field({
    type: SimulationRef,
    description: 'Backtests a journey (given inline, or a stored one by id: its latest version, else its draft) over the stored events of [from, to], at most 366 days.',
    args: {
      id: t.arg.id(),
      journey: t.arg({ type: JourneyInput }),
      from: t.arg({ type: 'DateTime', required: true }),
      to: t.arg({ type: 'DateTime', required: true }),
    },
    resolve: (_root, { id, journey, from, to }, context) =>
      inQuery(async () => {
        const workspaceId = workspaceIdOf(context);
        const simulated = await journeyToSimulate(context.herald, workspaceId, id == null ? null : String(id), journey ?? null);
        return simulateJourney(context.herald, workspaceId, simulated, from, to);
      }),
  }),
);

/**
 * The inline journey (checked, its segment ids made database ids; with an id, as that journey's
 * next version, so its splits hash alike), else the stored one: its latest version, or its draft
 * before the first publish.
 */
async function journeyToSimulate(herald: Herald, workspaceId: string, id: string | null, input: Record<string, unknown> | null): Promise<SimulatedJourney> {
  if (input == null && id == null) throw ValidationError.field(['journey'], 'give a journey, the id of a stored one, or both');
  const stored = id == null ? null : await getJourney(herald, workspaceId, requireLocalId(id, 'Journey', ErrorCode.journeyNotFound));
  if (input != null) return { definition: parseJourney(withLocalSegmentIds(input), ['journey']), journeyId: stored?.id ?? 'draft' };
  const journey = stored!;
  if (journey.version === 0) return { definition: parseJourney(journey.draft, ['journey']), journeyId: journey.id };
  const published = await herald.prisma.journeyVersion.findUniqueOrThrow({ where: { journeyId_version: { journeyId: journey.id, version: journey.version } } });
  return { definition: published.definition as unknown as JourneyDefinition, journeyId: journey.id };
}

/** Segment ids arrive as global ids; the definition holds database ids. */
function withLocalSegmentIds(input: Record<string, any>): Record<string, unknown> {
  const local = (value: unknown, path: string[]) => {
    if (value == null) return value;
    const id = localId(String(value), 'Segment');
    if (!id) throw ValidationError.field(path, 'no segment with this id');
    return id;
  };
  const entry = input.entry?.segment ? { ...input.entry, segment: { ...input.entry.segment, segmentId: local(input.entry.segment.segmentId, ['journey', 'entry', 'segment', 'segmentId']) } } : input.entry;
  const audience = input.audience ? { ...input.audience, segmentId: local(input.audience.segmentId, ['journey', 'audience', 'segmentId']) } : input.audience;
  return { ...input, entry, audience };
}
