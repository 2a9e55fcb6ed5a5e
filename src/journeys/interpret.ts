import type { Channel } from '../generated/prisma/enums.ts';
import type { Condition } from '../segments/rule.ts';
import { type BranchStep, type EngagementType, type JourneyDefinition, type JourneyStep, splitPath, stepOf } from './definition.ts';
import { nextLocalTime } from './local-time.ts';

/**
 * The reference interpreter: one contact's journey, worked out from the definition and what is
 * known about the contact, exactly as ../../JOURNEY-SEMANTICS.md (docs/journeys.md) says, with no
 * database, clock or randomness of its own. The backtest (simulate.ts) runs it over stored events
 * with facts read from the database; the property test runs it beside the durable engine with
 * facts it chose, and both must agree.
 *
 * Time moves with the contact's events. Where the semantics leave an order open:
 *  - events at one instant are taken in the order given (the caller's order: time, then id);
 *  - an event at the very instant a wait, a waitForEvent timeout or an engagement deadline falls
 *    due is taken before it (waitForEvent and engagement count events "by" their deadline);
 *  - a segment or api entry at an instant comes before that instant's events;
 *  - an event acts on the contact's current enrolment first (goal, exit, waitForEvent) and only
 *    then may enter the journey, so the event that enters never exits, advances or converts the
 *    enrolment it starts;
 *  - a goal event converts the contact's latest enrolment if it lies within goal.withinSeconds of
 *    that enrolment's entry, whatever its status, once.
 */

export interface JourneyEvent {
  id: string;
  name: string;
  /** The event's occurredAt. */
  at: Date;
  properties?: Record<string, unknown>;
}

/** A send step's message: the channel it went on, or why it could not go (`reason`). */
export interface JourneySend {
  step: string;
  /** When the step ran. */
  at: Date;
  channel: Channel | null;
  /** The first channel's reason when no channel could take it (e.g. NO_EMAIL); null when sent. */
  reason: string | null;
  /** Delivery's frequency caps suppressed the message (it exists, but never reaches the contact). */
  capped: boolean;
  /** When delivery hands it over (later than `at` when a delivery window holds it); null if capped or suppressed. */
  deliveredAt: Date | null;
}

export interface PathStep {
  step: string;
  /** When the contact arrived at the step. */
  at: Date;
  /** How it left: sent, suppressed, waited, event, timeout, yes, no, a split path's name; exited; null while there. */
  outcome: string | null;
  passedAt: Date | null;
}

export type EnrolmentStatus = 'ACTIVE' | 'COMPLETED' | 'EXITED';

export interface Enrolment {
  enteredAt: Date;
  status: EnrolmentStatus;
  /** When it completed or exited. */
  endedAt: Date | null;
  path: PathStep[];
  sends: JourneySend[];
  convertedAt: Date | null;
}

/** What the interpreter is told about the contact rather than working out itself. */
export interface JourneyFacts {
  contactId: string;
  /** The contact's zone (the workspace's when the contact has none), for untilLocalTime waits. */
  zone: string;
  /** When a segment or api journey enters the contact (an event journey enters on its events). */
  entries?: readonly Date[];
  /** Whether the contact is in the journey's audience at `at` (asked only when one is set). */
  inAudience(at: Date): boolean;
  /** Whether an event's properties satisfy a non-empty `where`. */
  matches(event: JourneyEvent, where: readonly Condition[]): boolean;
  /** Why the contact cannot get a message on `channel` (the channel's own recipients rule), or null when it can. */
  unreachable(channel: Channel): string | null;
  /** A branch step's rule on the contact at `at`. */
  branch(step: BranchStep, at: Date): boolean;
  /** What delivery does with a message handed over at `at`; absent: it goes at once. */
  deliver?(channel: Channel, at: Date): { deliveredAt: Date } | { capped: true };
  /** When a sent message showed the engagement, or null if never. */
  engagedAt(send: JourneySend, did: EngagementType): Date | null;
}

export interface Window {
  from: Date;
  to: Date;
}

type Pending = { key: string; due: number; outcome: string; next: string | null };

/**
 * The contact's enrolments in the journey over `window`, from its events (sorted by time; only
 * those inside the window count). Enrolments whose next move falls after `window.to` stay ACTIVE
 * at the step they wait in.
 */
export function interpret(definition: JourneyDefinition, journeyId: string, events: readonly JourneyEvent[], facts: JourneyFacts, window: Window): Enrolment[] {
  const enrolments: Enrolment[] = [];
  let current: Enrolment | null = null;
  let pending: Pending | null = null;
  const reEntryMs = definition.reEntryAfterSeconds == null ? null : definition.reEntryAfterSeconds * 1000;
  const exits = new Set(definition.exitEvents);

  const matches = (event: JourneyEvent, name: string, where: readonly Condition[]) => event.name === name && (where.length === 0 || facts.matches(event, where));
  const pass = (entry: PathStep, outcome: string, at: number) => {
    entry.outcome = outcome;
    entry.passedAt = new Date(at);
  };
  const end = (status: EnrolmentStatus, at: number) => {
    current!.status = status;
    current!.endedAt = new Date(at);
    current = null;
    pending = null;
  };

  /** Runs steps from `key` at `at` until one waits or the journey completes. */
  const run = (key: string | null, at: number) => {
    const enrolment = current!;
    while (key != null) {
      const step = stepOf(definition, key)!;
      const entry: PathStep = { step: key, at: new Date(at), outcome: null, passedAt: null };
      enrolment.path.push(entry);
      const waiting = arrive(step, entry, enrolment, at);
      if (waiting) {
        pending = waiting;
        return;
      }
      key = nextOf(step, entry.outcome!);
    }
    end('COMPLETED', at);
  };

  /** A step's work on arrival: passes it now (and answers null), or answers what it waits for. */
  const arrive = (step: JourneyStep, entry: PathStep, enrolment: Enrolment, at: number): Pending | null => {
    switch (step.kind) {
      case 'send': {
        const channels = [step.channel, ...step.fallback];
        const channel = channels.find((candidate) => facts.unreachable(candidate) == null) ?? null;
        const send: JourneySend = { step: step.key, at: new Date(at), channel, reason: null, capped: false, deliveredAt: null };
        if (channel) {
          const delivery = facts.deliver?.(channel, send.at) ?? { deliveredAt: send.at };
          if ('capped' in delivery) send.capped = true;
          else send.deliveredAt = delivery.deliveredAt;
        } else send.reason = facts.unreachable(step.channel);
        enrolment.sends.push(send);
        pass(entry, channel ? 'sent' : 'suppressed', at);
        return null;
      }
      case 'wait': {
        const due = step.seconds != null ? at + step.seconds * 1000 : nextLocalTime(at, facts.zone, step.untilLocalTime!);
        return { key: step.key, due, outcome: 'waited', next: step.next };
      }
      case 'waitForEvent':
        return { key: step.key, due: at + step.withinSeconds * 1000, outcome: 'timeout', next: step.onTimeout };
      case 'branch':
        pass(entry, facts.branch(step, new Date(at)) ? 'yes' : 'no', at);
        return null;
      case 'engagement': {
        const send = enrolment.sends.find((candidate) => candidate.step === step.step);
        if (!send?.channel) {
          pass(entry, 'no', at);
          return null;
        }
        const engaged = facts.engagedAt(send, step.did)?.getTime() ?? null;
        const deadline = send.at.getTime() + step.withinSeconds * 1000;
        if (engaged != null && engaged <= at) pass(entry, 'yes', at);
        else if (deadline <= at) pass(entry, 'no', at);
        else {
          const yes = engaged != null && engaged <= deadline;
          return { key: step.key, due: deadline, outcome: yes ? 'yes' : 'no', next: yes ? step.yes : step.no };
        }
        return null;
      }
      case 'split': {
        const path = splitPath(journeyId, step.key, facts.contactId, step.paths);
        pass(entry, path.name, at);
        return null;
      }
    }
  };

  /** Fires what falls due before `at` (or at it too, when `inclusive`). */
  const advance = (at: number, inclusive: boolean) => {
    while (current && pending && (pending.due < at || (inclusive && pending.due === at))) {
      const { due, outcome, next } = pending;
      pending = null;
      pass(current.path.at(-1)!, outcome, due);
      run(next, due);
    }
  };

  const enter = (at: number) => {
    if (current) return;
    const last = enrolments.at(-1);
    if (last && (reEntryMs == null || at - last.enteredAt.getTime() < reEntryMs)) return;
    if (definition.audience && !facts.inAudience(new Date(at))) return;
    current = { enteredAt: new Date(at), status: 'ACTIVE', endedAt: null, path: [], sends: [], convertedAt: null };
    enrolments.push(current);
    run(definition.steps[0]!.key, at);
  };

  const onEvent = (event: JourneyEvent) => {
    const at = event.at.getTime();
    const { goal, entry } = definition;
    const latest = enrolments.at(-1);
    if (goal && latest && !latest.convertedAt && event.name === goal.event && at <= latest.enteredAt.getTime() + goal.withinSeconds * 1000) {
      latest.convertedAt = event.at;
    }
    if (current && exits.has(event.name)) {
      const here = current.path.at(-1);
      if (here && here.outcome == null) here.outcome = 'exited';
      end('EXITED', at);
    } else if (current && pending) {
      const step = stepOf(definition, pending.key)!;
      const arrival = current.path.at(-1)!.at.getTime();
      if (step.kind === 'waitForEvent' && at > arrival && matches(event, step.name, step.where)) {
        pending = null;
        pass(current.path.at(-1)!, 'event', at);
        run(step.onEvent, at);
      }
    }
    if (entry.kind === 'event' && matches(event, entry.name, entry.where)) enter(at);
  };

  const from = window.from.getTime();
  const to = window.to.getTime();
  const inWindow = (at: number) => at >= from && at <= to;
  const entries = (facts.entries ?? []).map((at) => at.getTime()).filter(inWindow).sort((a, b) => a - b);
  let nextEntry = 0;
  for (const event of events) {
    const at = event.at.getTime();
    if (!inWindow(at)) continue;
    while (nextEntry < entries.length && entries[nextEntry]! <= at) {
      advance(entries[nextEntry]!, false);
      enter(entries[nextEntry++]!);
    }
    advance(at, false);
    onEvent(event);
  }
  for (; nextEntry < entries.length; nextEntry++) {
    advance(entries[nextEntry]!, false);
    enter(entries[nextEntry]!);
  }
  advance(to, true);
  return enrolments;
}

/** The step a passed step leads to, by its outcome. */
function nextOf(step: JourneyStep, outcome: string): string | null {
  switch (step.kind) {
    case 'send':
    case 'wait':
      return step.next;
    case 'waitForEvent':
      return outcome === 'event' ? step.onEvent : step.onTimeout;
    case 'branch':
    case 'engagement':
      return outcome === 'yes' ? step.yes : step.no;
    case 'split':
      return step.paths.find((path) => path.name === outcome)?.next ?? null;
  }
}

