import { z } from 'zod';
import { type FieldError, ValidationError } from '../errors.ts';
import { Channel } from '../generated/prisma/enums.ts';
import { eventName } from '../delivery/campaign-fields.ts';
import { BUCKETS, bucketOf } from '../delivery/experiment.ts';
import { type Condition, type Rule, validateRule } from '../segments/rule.ts';
import { Audiences } from '../segments/rule.ts';
import { localTime } from '../workspaces/settings.ts';

/**
 * A journey's definition: what JourneyInput carries (../shared/API.md, "Journeys"), checked as a
 * whole and stored as one JSON value per published version. The engine (engine.ts), the backtest
 * (simulate.ts) and the reference interpreter of the tests all read this one shape, so they cannot
 * disagree about what a journey means.
 *
 * The steps form a directed acyclic graph from the first step: every `next`, `yes`, `no`,
 * `onEvent`, `onTimeout` and split path names another step, or is absent, which completes the
 * contact's journey. No cycles, so every enrolment ends; no unreachable steps, so nothing is dead.
 */

const DAY = 24 * 3600;
export const JOURNEY_LIMITS = { steps: 50, splitPaths: 8, exitEvents: 10, fallback: 3, maxWaitSeconds: 365 * DAY } as const;

export const EngagementTypes = ['DELIVERED', 'DISPLAYED', 'OPENED', 'CLICKED', 'CONVERTED'] as const;
export type EngagementType = (typeof EngagementTypes)[number];
export const JourneyStatuses = ['DRAFT', 'ACTIVE', 'PAUSED', 'ARCHIVED'] as const;
export type JourneyStatus = (typeof JourneyStatuses)[number];

const stepKey = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be a step key: 1-64 letters, digits, _ or -');
const target = stepKey.nullish();
const seconds = (min: number) =>
  z.number().int().min(min, `must be at least ${min}`).max(JOURNEY_LIMITS.maxWaitSeconds, 'must be at most 365 days');
const conditions = z.array(z.unknown()).max(20, 'at most 20 conditions').nullish();

/**
 * A send step's message: its channel and that channel's content, in the same fields as
 * CampaignInput (`content` for WEB_PUSH, `email`, `sms`, `webhook`, `mobilePush`, `inApp`). The
 * content is checked by the campaigns domain, which stores each send step as a journey-owned
 * campaign, so a step sends exactly as a campaign on that channel would.
 */
const send = z
  .object({
    channel: z.enum(Channel),
    fallback: z.array(z.enum(Channel)).max(JOURNEY_LIMITS.fallback, `at most ${JOURNEY_LIMITS.fallback} fallback channels`).nullish(),
    next: target,
  })
  .catchall(z.unknown())
  .superRefine((step, context) => {
    const channels = [step.channel, ...(step.fallback ?? [])];
    if (new Set(channels).size !== channels.length) context.addIssue({ code: 'custom', path: ['fallback'], message: 'each channel at most once' });
  });

const wait = z
  .object({ seconds: seconds(1).nullish(), untilLocalTime: localTime.nullish(), next: target })
  .refine((step) => (step.seconds == null) !== (step.untilLocalTime == null), { message: 'give exactly one of seconds and untilLocalTime', path: ['seconds'] });

const waitForEvent = z.object({ name: eventName, where: conditions, withinSeconds: seconds(1), onEvent: target, onTimeout: target });

const branch = z.object({ rule: z.unknown(), yes: target, no: target });

const engagement = z.object({ step: stepKey, did: z.enum(EngagementTypes), withinSeconds: seconds(1), yes: target, no: target });

const split = z
  .object({
    paths: z
      .array(z.object({ name: z.string().trim().min(1, 'must not be empty').max(64, 'must be at most 64 characters'), percent: z.number().int().min(0).max(100), next: target }))
      .min(2, 'at least 2 paths')
      .max(JOURNEY_LIMITS.splitPaths, `at most ${JOURNEY_LIMITS.splitPaths} paths`),
  })
  .superRefine((step, context) => {
    const total = step.paths.reduce((sum, path) => sum + path.percent, 0);
    if (total !== 100) context.addIssue({ code: 'custom', path: ['paths'], message: `percents must add up to 100, not ${total}` });
    if (new Set(step.paths.map((path) => path.name)).size !== step.paths.length) context.addIssue({ code: 'custom', path: ['paths'], message: 'path names must differ' });
  });

export const StepKinds = ['send', 'wait', 'waitForEvent', 'branch', 'engagement', 'split'] as const;
export type StepKind = (typeof StepKinds)[number];

const step = z.object({
  key: stepKey,
  send: send.nullish(),
  wait: wait.nullish(),
  waitForEvent: waitForEvent.nullish(),
  branch: branch.nullish(),
  engagement: engagement.nullish(),
  split: split.nullish(),
});

const entry = z.object({
  event: z.object({ name: eventName, where: conditions }).nullish(),
  segment: z.object({ segmentId: z.string().nullish(), rule: z.unknown().optional() }).nullish(),
  api: z.boolean().nullish(),
});

export const journeyInput = z.object({
  name: z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
  entry,
  audience: z.object({ segmentId: z.string().nullish(), rule: z.unknown().optional(), type: z.enum(Audiences).nullish() }).nullish(),
  steps: z.array(step).min(1, 'a journey needs at least one step').max(JOURNEY_LIMITS.steps, `at most ${JOURNEY_LIMITS.steps} steps`),
  exitEvents: z.array(eventName).max(JOURNEY_LIMITS.exitEvents, `at most ${JOURNEY_LIMITS.exitEvents} exit events`).nullish(),
  reEntryAfterSeconds: z.number().int().min(0, 'must be at least 0').max(3650 * DAY, 'must be at most 10 years').nullish(),
  goal: z.object({ event: eventName, withinSeconds: seconds(60) }).nullish(),
  deliveryWindow: z
    .object({ start: localTime, end: localTime })
    .refine((window) => window.start !== window.end, { message: 'start and end must differ', path: ['end'] })
    .nullish(),
  frequencyCapped: z.boolean().nullish(),
});

/** Typed steps, one kind each, with their rules and conditions checked. */
export type SendStep = { key: string; kind: 'send'; channel: Channel; fallback: Channel[]; next: string | null; message: Record<string, unknown> };
export type WaitStep = { key: string; kind: 'wait'; seconds: number | null; untilLocalTime: string | null; next: string | null };
export type WaitForEventStep = { key: string; kind: 'waitForEvent'; name: string; where: Condition[]; withinSeconds: number; onEvent: string | null; onTimeout: string | null };
export type BranchStep = { key: string; kind: 'branch'; rule: Rule; yes: string | null; no: string | null };
export type EngagementStep = { key: string; kind: 'engagement'; step: string; did: EngagementType; withinSeconds: number; yes: string | null; no: string | null };
export type SplitStep = { key: string; kind: 'split'; paths: { name: string; percent: number; next: string | null }[] };
export type JourneyStep = SendStep | WaitStep | WaitForEventStep | BranchStep | EngagementStep | SplitStep;

export type JourneyEntry =
  | { kind: 'event'; name: string; where: Condition[] }
  | { kind: 'segment'; segmentId: string | null; rule: Rule | null }
  | { kind: 'api' };

/** A checked journey: the stored form of one version, read by the engine and the backtest. */
export interface JourneyDefinition {
  name: string;
  entry: JourneyEntry;
  audience: { segmentId: string | null; rule: Rule | null; type: (typeof Audiences)[number] | null } | null;
  /** In input order; steps[0] is the start. */
  steps: JourneyStep[];
  exitEvents: string[];
  /** null: a contact enters once ever. */
  reEntryAfterSeconds: number | null;
  goal: { event: string; withinSeconds: number } | null;
  deliveryWindow: { start: string; end: string } | null;
  frequencyCapped: boolean;
}

/** Where a step may lead: the step keys it names (absent ones complete the journey). */
export function targetsOf(step: JourneyStep): (string | null)[] {
  switch (step.kind) {
    case 'send':
    case 'wait':
      return [step.next];
    case 'waitForEvent':
      return [step.onEvent, step.onTimeout];
    case 'branch':
    case 'engagement':
      return [step.yes, step.no];
    case 'split':
      return step.paths.map((path) => path.next);
  }
}

/**
 * Checks a JourneyInput as a whole and answers every problem with its place, e.g.
 * ["input", "steps", "2", "branch", "yes"]; returns the definition, typed. Send steps' message
 * content is not checked here (campaigns checks it per channel when the journey is saved).
 */
export function parseJourney(input: unknown, prefix: string[] = ['input']): JourneyDefinition {
  const parsed = journeyInput.safeParse(input);
  const errors: FieldError[] = parsed.success ? [] : parsed.error.issues.map((issue) => ({ path: [...prefix, ...issue.path.map(String)], message: issue.message }));
  if (!parsed.success) throw new ValidationError(errors);
  const data = parsed.data;
  const fail = (path: (string | number)[], message: string) => errors.push({ path: [...prefix, ...path.map(String)], message });
  const rule = (value: unknown, path: (string | number)[]): Rule | null => {
    try {
      return validateRule(value, [...prefix, ...path.map(String)]);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      errors.push(...error.fieldErrors);
      return null;
    }
  };
  const eventWhere = (where: unknown[] | null | undefined, path: (string | number)[]): Condition[] => {
    if (!where?.length) return [];
    // Event property conditions: checked as the event rule they are, as campaign triggers do.
    const checked = rule({ event: { name: 'journey', where } }, path);
    return checked && 'event' in checked ? (checked.event.where ?? []) : [];
  };

  const entries = (['event', 'segment', 'api'] as const).filter((kind) => data.entry[kind] != null && data.entry[kind] !== false);
  if (entries.length !== 1) fail(['entry'], 'give exactly one of event, segment and api');
  let entry: JourneyEntry = { kind: 'api' };
  if (data.entry.event) entry = { kind: 'event', name: data.entry.event.name, where: eventWhere(data.entry.event.where, ['entry', 'event']) };
  else if (data.entry.segment) {
    const { segmentId, rule: segmentRule } = data.entry.segment;
    if (!segmentId && segmentRule == null) fail(['entry', 'segment'], 'give a segmentId, a rule or both');
    entry = { kind: 'segment', segmentId: segmentId ?? null, rule: segmentRule == null ? null : rule(segmentRule, ['entry', 'segment', 'rule']) };
  }

  const steps: JourneyStep[] = [];
  data.steps.forEach((raw, index) => {
    const kinds = StepKinds.filter((kind) => raw[kind] != null);
    if (kinds.length !== 1) return fail(['steps', index], `give the key and exactly one of ${StepKinds.join(', ')}`);
    const at = ['steps', index, kinds[0]!];
    const { key } = raw;
    if (raw.send) {
      const { channel, fallback, next, ...message } = raw.send;
      steps.push({ key, kind: 'send', channel, fallback: fallback ?? [], next: next ?? null, message });
    } else if (raw.wait) {
      steps.push({ key, kind: 'wait', seconds: raw.wait.seconds ?? null, untilLocalTime: raw.wait.untilLocalTime ?? null, next: raw.wait.next ?? null });
    } else if (raw.waitForEvent) {
      const { name, where, withinSeconds, onEvent, onTimeout } = raw.waitForEvent;
      steps.push({ key, kind: 'waitForEvent', name, where: eventWhere(where, at), withinSeconds, onEvent: onEvent ?? null, onTimeout: onTimeout ?? null });
    } else if (raw.branch) {
      steps.push({ key, kind: 'branch', rule: rule(raw.branch.rule, [...at, 'rule']) ?? { and: [] }, yes: raw.branch.yes ?? null, no: raw.branch.no ?? null });
    } else if (raw.engagement) {
      const { step: of, did, withinSeconds, yes, no } = raw.engagement;
      steps.push({ key, kind: 'engagement', step: of, did, withinSeconds, yes: yes ?? null, no: no ?? null });
    } else if (raw.split) {
      steps.push({ key, kind: 'split', paths: raw.split.paths.map((path) => ({ ...path, next: path.next ?? null })) });
    }
  });
  if (errors.length) throw new ValidationError(errors);
  checkGraph(steps, fail);
  if (errors.length) throw new ValidationError(errors);

  const audience = data.audience
    ? { segmentId: data.audience.segmentId ?? null, rule: data.audience.rule == null ? null : rule(data.audience.rule, ['audience', 'rule']), type: data.audience.type ?? null }
    : null;
  if (errors.length) throw new ValidationError(errors);
  return {
    name: data.name,
    entry,
    audience,
    steps,
    exitEvents: data.exitEvents ?? [],
    reEntryAfterSeconds: data.reEntryAfterSeconds ?? null,
    goal: data.goal ?? null,
    deliveryWindow: data.deliveryWindow ?? null,
    frequencyCapped: data.frequencyCapped ?? true,
  };
}

/**
 * The graph's rules: keys unique, targets exist, no cycles, every step reachable from the first,
 * and an engagement step asks about a send step that comes before it on every way there.
 */
function checkGraph(steps: JourneyStep[], fail: (path: (string | number)[], message: string) => void): void {
  const index = new Map<string, number>();
  steps.forEach((step, at) => {
    if (index.has(step.key)) fail(['steps', at, 'key'], `"${step.key}" is the key of step ${index.get(step.key)} too`);
    else index.set(step.key, at);
  });
  steps.forEach((step, at) => {
    for (const next of targetsOf(step)) if (next != null && !index.has(next)) fail(['steps', at, step.kind], `no step has the key "${next}"`);
    if (step.kind === 'engagement') {
      const of = index.get(step.step);
      if (of === undefined) fail(['steps', at, 'engagement', 'step'], `no step has the key "${step.step}"`);
      else if (steps[of]!.kind !== 'send') fail(['steps', at, 'engagement', 'step'], `"${step.step}" is not a send step`);
    }
  });

  // Depth-first from the start: a step met again while still on the path closes a cycle.
  const state = new Map<string, 'open' | 'done'>();
  const visit = (key: string, from: number) => {
    if (state.get(key) === 'done') return;
    if (state.get(key) === 'open') return fail(['steps', from], `leads back to "${key}": journeys may not loop`);
    state.set(key, 'open');
    const at = index.get(key)!;
    for (const next of targetsOf(steps[at]!)) if (next != null && index.has(next)) visit(next, at);
    state.set(key, 'done');
  };
  if (steps.length) visit(steps[0]!.key, 0);
  steps.forEach((step, at) => {
    if (!state.has(step.key)) fail(['steps', at, 'key'], `"${step.key}" cannot be reached from the first step`);
  });

  // An engagement step's send step must lie on every way from the start to it (dominate it).
  const sendsBefore = new Map<string, Set<string> | null>();
  const order = topological(steps, index);
  for (const key of order) {
    const at = index.get(key)!;
    const step = steps[at]!;
    const before = key === steps[0]!.key ? new Set<string>() : sendsBefore.get(key);
    if (!before) continue;
    if (step.kind === 'engagement' && index.has(step.step) && !before.has(step.step)) {
      fail(['steps', at, 'engagement', 'step'], `"${step.step}" does not come before this step on every way to it`);
    }
    const after = step.kind === 'send' ? new Set([...before, key]) : before;
    for (const next of targetsOf(step)) {
      if (next == null || !index.has(next)) continue;
      const known = sendsBefore.get(next);
      sendsBefore.set(next, known ? new Set([...known].filter((send) => after.has(send))) : new Set(after));
    }
  }
}

function topological(steps: JourneyStep[], index: Map<string, number>): string[] {
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (key: string) => {
    if (seen.has(key)) return;
    seen.add(key);
    for (const next of targetsOf(steps[index.get(key)!]!)) if (next != null && index.has(next)) visit(next);
    order.push(key);
  };
  if (steps.length) visit(steps[0]!.key);
  return order.reverse();
}

/** A step by key. */
export function stepOf(definition: JourneyDefinition, key: string): JourneyStep | undefined {
  return definition.steps.find((step) => step.key === key);
}

/**
 * The split path of a contact at a step: deterministic (a hash of the journey, the step and the
 * contact), so the engine, a retry and the backtest all pick the same one.
 */
export function splitPath(journeyId: string, stepKey: string, contactId: string, paths: SplitStep['paths']): SplitStep['paths'][number] {
  const bucket = percentileOf(`${journeyId}:${stepKey}:${contactId}`);
  let bound = 0;
  for (const path of paths) {
    bound += path.percent;
    if (bucket < bound) return path;
  }
  return paths[paths.length - 1]!;
}

/** 0-99 from a string: the experiments' bucket (md5) in hundredths, so splits and variants hash alike. */
export function percentileOf(value: string): number {
  return Math.floor((bucketOf(value) * 100) / BUCKETS);
}
