import { encodeGlobalID } from '@pothos/plugin-relay';
import { ErrorCode, NotFoundError, ValidationError } from '../errors.ts';
import { builder } from '../graphql/builder.ts';
import { pagedById } from '../graphql/connections.ts';
import { type Context, workspaceIdOf } from '../graphql/context.ts';
import { inQuery } from '../graphql/errors.ts';
import { liveSnapshots } from '../graphql/live.ts';
import { localId, requireLocalId } from '../graphql/ids.ts';
import { JourneyInput, JourneyStatusEnum, UpdateJourneyInput } from './inputs.ts';
import { enterJourney } from './entry.ts';
import { archiveJourney, createJourney, getJourney, type Journey, pauseJourney, publishJourney, resumeJourney, updateJourney, withStepHeaders } from './service.ts';
import type { SplitExperiment, SplitPathResult } from './splits.ts';
import { type JourneyStats, journeyStats, journeyStatsMany, type StepStats } from './stats.ts';
import { ExperimentMetricEnum } from '../campaigns/schema.ts';
import { redactedHeaders } from '../delivery/webhook/headers.ts';

const journeyId = (id: string | number) => requireLocalId(String(id), 'Journey', ErrorCode.journeyNotFound);

const JourneyStepStatsRef = builder.objectRef<StepStats>('JourneyStepStats').implement({
  fields: (t) => ({
    key: t.exposeString('key'),
    entered: t.exposeInt('entered', { description: 'Arrived at the step.' }),
    waiting: t.exposeInt('waiting', { description: 'At the step now.' }),
    passed: t.exposeInt('passed', { description: 'Left it onwards (not by exiting).' }),
    sent: t.exposeInt('sent', { description: 'A send step: messages that went on some channel.' }),
  }),
});

const JourneyVersionStatsRef = builder.objectRef<JourneyStats['versions'][number]>('JourneyVersionStats').implement({
  description: 'One published version’s figures: contacts count under the version they entered.',
  fields: (t) => ({
    version: t.exposeInt('version'),
    entered: t.exposeInt('entered'),
    active: t.exposeInt('active'),
    completed: t.exposeInt('completed'),
    exited: t.exposeInt('exited'),
    converted: t.exposeInt('converted'),
    steps: t.field({ type: [JourneyStepStatsRef], resolve: (stats) => stats.steps }),
  }),
});

const JourneySplitPathRef = builder.objectRef<SplitPathResult>('JourneySplitPath').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    percent: t.exposeInt('percent'),
    contacts: t.exposeInt('contacts', { description: 'Enrolments that took the path: the trials of the rate.' }),
    sent: t.exposeInt('sent', { description: 'Of them, contacts a message went to from a send step after the split.' }),
    displayed: t.exposeInt('displayed'),
    opened: t.exposeInt('opened'),
    clicked: t.exposeInt('clicked'),
    conversions: t.exposeInt('conversions', { description: 'Of them, contacts who reached the journey’s goal after the split.' }),
    rate: t.exposeFloat('rate', { description: 'The metric per contact on the path (a path sending nothing is a holdout).' }),
    interval: t.exposeFloatList('interval', { description: 'An always-valid 95% interval for the rate: it may be read at any moment, as often as you like.' }),
  }),
});

const JourneySplitExperimentRef = builder.objectRef<SplitExperiment>('JourneySplitExperiment').implement({
  description: 'A split step reported as an experiment, with the statistics of Campaign.experiment.',
  fields: (t) => ({
    version: t.exposeInt('version'),
    step: t.exposeString('step'),
    metric: t.expose('metric', { type: ExperimentMetricEnum, description: 'CONVERSIONS when the journey has a goal, else CLICKS.' }),
    paths: t.field({ type: [JourneySplitPathRef], resolve: (split) => split.paths }),
    lift: t.exposeFloat('lift', { nullable: true, description: 'The best other path’s rate over the first’s, minus 1.' }),
    interval: t.exposeFloatList('interval', { nullable: true, description: 'An always-valid 95% interval for the lift; null until both sides have enough data.' }),
    probabilityToBeatControl: t.exposeFloat('probabilityToBeatControl', { nullable: true }),
    significant: t.exposeBoolean('significant', { description: 'The lift interval excludes 0.' }),
    winner: t.exposeString('winner', { nullable: true, description: 'The path better than every other, once that is no longer chance.' }),
  }),
});

const JourneyStatsRef = builder.objectRef<JourneyStats>('JourneyStats').implement({
  fields: (t) => ({
    journeyId: t.id({ resolve: (stats) => encodeGlobalID('Journey', stats.journeyId) }),
    entered: t.exposeInt('entered', { description: 'Enrolments, over all versions.' }),
    active: t.exposeInt('active'),
    completed: t.exposeInt('completed'),
    exited: t.exposeInt('exited'),
    converted: t.exposeInt('converted', { description: 'Enrolments whose goal event came within goal.withinSeconds of entry.' }),
    steps: t.field({ type: [JourneyStepStatsRef], description: 'Per step over all versions, by key.', resolve: (stats) => stats.steps }),
    versions: t.field({ type: [JourneyVersionStatsRef], description: 'The same per published version, newest first.', resolve: (stats) => stats.versions }),
    splits: t.field({ type: [JourneySplitExperimentRef], description: 'Each split step of each version as an experiment.', resolve: (stats) => stats.splits }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

export const JourneyRef = builder.prismaNode('Journey', {
  id: { field: 'id' },
  nullable: true,
  findUnique: (id, context) => ({ id, workspaceId: workspaceIdOf(context) }),
  fields: (t) => ({
    name: t.exposeString('name'),
    status: t.expose('status', { type: JourneyStatusEnum }),
    version: t.exposeInt('version', { description: 'The published version contacts enter now; 0 until published.' }),
    entry: t.field({ type: 'JSON', description: 'The draft’s entry, as given.', resolve: (journey) => (journey.draft as Record<string, unknown>).entry ?? null }),
    steps: t.field({ type: 'JSON', description: 'The draft’s steps, as given (webhook header values hidden).', resolve: (journey) => shownDraft(journey).steps ?? [] }),
    draft: t.field({ type: 'JSON', description: 'The whole draft JourneyInput, as given (webhook header values hidden).', resolve: (journey) => shownDraft(journey) }),
    // Loaded together: a page of 100 journeys reads its figures with the same few queries as one.
    stats: t.loadable({
      type: JourneyStatsRef,
      load: (ids: string[], context) => journeyStatsMany(context.herald, ids),
      resolve: (journey) => journey.id,
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const EnrollmentStatusEnum = builder.enumType('JourneyEnrollmentStatus', { values: ['ACTIVE', 'COMPLETED', 'EXITED'] as const });

const PathEntryRef = builder.objectRef<{ step: string; at: Date; passedAt: Date | null; outcome: string; channel: string | null; reason: string | null }>('JourneyPathEntry').implement({
  fields: (t) => ({
    step: t.exposeString('step'),
    at: t.expose('at', { type: 'DateTime', description: 'When the contact arrived at the step.' }),
    passedAt: t.expose('passedAt', { type: 'DateTime', nullable: true, description: 'When it left; null while there.' }),
    outcome: t.exposeString('outcome', {
      description: 'sent, suppressed, waited, event, timeout, yes, no, a split path’s name, exited, merged (identify ended it: the person was in the journey already); waiting while there.',
    }),
    channel: t.exposeString('channel', { nullable: true, description: 'A send step: the channel the message went on.' }),
    reason: t.exposeString('reason', { nullable: true, description: 'A suppressed send step: why (the first channel’s reason, e.g. NO_EMAIL).' }),
  }),
});

export const JourneyEnrollmentRef = builder.prismaObject('JourneyEnrollment', {
  fields: (t) => ({
    id: t.exposeID('id'),
    journey: t.relation('journey'),
    version: t.exposeInt('version'),
    status: t.expose('status', { type: EnrollmentStatusEnum }),
    step: t.exposeString('step', { nullable: true, description: 'Where the contact is now; null once ended.' }),
    enteredAt: t.expose('enteredAt', { type: 'DateTime' }),
    endedAt: t.expose('endedAt', { type: 'DateTime', nullable: true }),
    convertedAt: t.expose('convertedAt', { type: 'DateTime', nullable: true }),
    waitingUntil: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'A waiting step: when it ends (a wait, a timeout, an engagement deadline).',
      resolve: (enrolment) => (enrolment.status === 'ACTIVE' && enrolment.ran ? enrolment.wakeAt : null),
    }),
    path: t.field({
      type: [PathEntryRef],
      description: 'The steps taken, in order, with the current one last (outcome waiting).',
      select: { path: { orderBy: { seq: 'asc' } } },
      resolve: (enrolment) => {
        const here = enrolment.status === 'ACTIVE' && enrolment.step ? [{ step: enrolment.step, at: enrolment.arrivedAt, passedAt: null, outcome: 'waiting', channel: null, reason: null }] : [];
        return [...enrolment.path, ...here];
      },
    }),
  }),
});

// Loaded with the page of contacts (Pothos prisma's relation selection), not one query per contact.
builder.prismaObjectField('Contact', 'journeys', (t) =>
  t.relation('journeyEnrollments', {
    description: 'The contact’s journey enrolments, newest first (at most 100).',
    query: { orderBy: { enteredAt: 'desc' }, take: 100 },
  }),
);

builder.queryFields((t) => ({
  journey: t.prismaField({
    type: 'Journey',
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, { id }, context) => {
      const local = localId(String(id), 'Journey');
      return local ? context.herald.prisma.journey.findFirst({ ...query, where: { id: local, workspaceId: workspaceIdOf(context) } }) : null;
    },
  }),
  journeys: t.prismaConnection(
    {
      type: 'Journey',
      cursor: 'id',
      description: 'Newest first. Without `status`, ARCHIVED journeys are left out.',
      args: { status: t.arg({ type: [JourneyStatusEnum] }) },
      totalCount: (_parent, args, context) => context.herald.prisma.journey.count({ where: journeyFilter(workspaceIdOf(context), args.status) }),
      resolve: (query, _root, args, context) => {
        const { page, after } = pagedById(query, 'desc');
        return context.herald.prisma.journey.findMany({ ...page, where: { ...journeyFilter(workspaceIdOf(context), args.status), ...after }, orderBy: { id: 'desc' } });
      },
    },
    { name: 'JourneyConnection' },
    { name: 'JourneyEdge' },
  ),
}));

/** The draft as the API shows it: webhook header values are write-only (delivery/webhook/headers.ts). */
function shownDraft(journey: Journey): Record<string, unknown> {
  return withStepHeaders(journey.draft as Record<string, unknown>, redactedHeaders);
}

function journeyFilter(workspaceId: string, status: readonly ('DRAFT' | 'ACTIVE' | 'PAUSED' | 'ARCHIVED')[] | null | undefined) {
  return { workspaceId, status: status?.length ? { in: [...status] } : { not: 'ARCHIVED' as const } };
}

/** GraphQL hands absent fields over as null; segment ids arrive global. */
function serviceInput(input: Record<string, unknown>): Record<string, unknown> {
  const result = Object.fromEntries(Object.entries(input).filter(([key, value]) => value !== null && key !== 'id'));
  const local = (value: unknown, path: string[]) => {
    if (value == null) return value;
    const id = localId(String(value), 'Segment');
    if (!id) throw ValidationError.field(path, 'no segment with this id');
    return id;
  };
  const audience = result.audience as { segmentId?: unknown } | undefined;
  if (audience?.segmentId != null) result.audience = { ...audience, segmentId: local(audience.segmentId, ['input', 'audience', 'segmentId']) };
  const segment = (result.entry as { segment?: { segmentId?: unknown } } | undefined)?.segment;
  if (segment?.segmentId != null) {
    result.entry = { segment: { ...segment, segmentId: local(segment.segmentId, ['input', 'entry', 'segment', 'segmentId']) } };
  }
  return JSON.parse(JSON.stringify(result)) as Record<string, unknown>;
}

const lifecycle = { publishJourney, pauseJourney, resumeJourney, archiveJourney } as const;

builder.mutationFields((t) => ({
  createJourney: t.field({
    type: JourneyRef,
    description: 'Saves a DRAFT journey; publishJourney lets contacts in.',
    args: { input: t.arg({ type: JourneyInput, required: true }) },
    errors: {},
    resolve: (_root, { input }, context) => createJourney(context.herald, workspaceIdOf(context), serviceInput(input)),
  }),
  updateJourney: t.field({
    type: JourneyRef,
    description: 'Edits the draft; a published journey takes the changes as a new version when published again.',
    args: { input: t.arg({ type: UpdateJourneyInput, required: true }) },
    errors: {},
    resolve: (_root, { input }, context) => updateJourney(context.herald, workspaceIdOf(context), journeyId(input.id), serviceInput(input)),
  }),
  ...Object.fromEntries(
    Object.entries(lifecycle).map(([name, run]) => [
      name,
      t.fieldWithInput({
        type: JourneyRef,
        input: { id: t.input.id({ required: true }) },
        errors: {},
        resolve: (_root, { input }, context) => run(context.herald, workspaceIdOf(context), journeyId(input.id)),
      }),
    ]),
  ),
  enterJourney: t.fieldWithInput({
    type: JourneyEnrollmentRef,
    description: 'Enters a contact in an ACTIVE journey whose entry is api; its first steps have run when this answers.',
    input: { journeyId: t.input.id({ required: true }), contactId: t.input.id({ required: true }) },
    errors: {},
    resolve: (_root, { input }, context) =>
      enterJourney(
        context.herald,
        workspaceIdOf(context),
        journeyId(input.journeyId),
        requireLocalId(String(input.contactId), 'Contact', ErrorCode.contactNotFound),
      ),
  }),
}));

/** The caller's own journey id; a malformed id is as unknown as a missing or foreign one (NOT_FOUND). */
function ownJourneyId(context: Context, globalId: string | number): Promise<string> {
  return inQuery(async () => {
    const id = localId(String(globalId), 'Journey');
    if (!id) throw new NotFoundError(ErrorCode.journeyNotFound, 'No journey with this id');
    return (await getJourney(context.herald, workspaceIdOf(context), id)).id;
  });
}

builder.subscriptionField('journeyStats', (t) =>
  t.field({
    type: JourneyStatsRef,
    description: 'The current figures at once, then again whenever they change (at most 4 per second).',
    args: { journeyId: t.arg.id({ required: true }) },
    subscribe: async (_root, args, context) => {
      const id = await ownJourneyId(context, args.journeyId);
      return liveSnapshots(context.herald.events.subscribe('journey:changed', id), () => journeyStats(context.herald, id), 250);
    },
    resolve: (stats) => stats,
  }),
);
