import type { Channel } from '../generated/prisma/enums.ts';
import type { EngagementType, JourneyDefinition } from './definition.ts';
import type { Enrolment } from './interpret.ts';

/** A backtest's answer: counts over every enrolment the period would have made. */
export interface JourneySimulation {
  from: Date;
  to: Date;
  /** The workspace's zone, in which sendsByDay's days are counted. */
  timezone: string;
  entered: number;
  /** Still in the journey at `to` (waiting at a step). */
  active: number;
  completed: number;
  exited: number;
  converted: number;
  steps: StepCounts[];
  channels: ChannelCounts[];
  suppressedBy: { reason: string; count: number }[];
  /** Messages delivery would hand over, per day (YYYY-MM-DD in `timezone`) and channel; days without any are left out. */
  sendsByDay: { date: string; channel: Channel; count: number }[];
  engagementEstimates: { channel: Channel; did: EngagementType; messages: number; rate: number; delaySeconds: number }[];
}

export interface StepCounts {
  key: string;
  /** Arrivals at the step. */
  entered: number;
  /** Arrivals that moved on (not those still waiting at `to` or exited there). */
  passed: number;
  waiting: number;
  /** Send steps: messages that would go out. */
  sent: number;
  /** Send steps: no channel could take the message (no address, no consent). */
  suppressed: number;
  /** Send steps: over a frequency cap. */
  capped: number;
}

/** Per channel: messages sent and capped on it; suppressed counts under the step's first channel, whose reason it is. */
export interface ChannelCounts {
  channel: Channel;
  sent: number;
  suppressed: number;
  capped: number;
}

/** Everything at 0, with a row per step in the definition's order. */
export function emptySimulation(definition: JourneyDefinition, from: Date, to: Date, timezone: string) {
  const working = {
    days: new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit' }),
    byDay: new Map<string, number>(),
    byReason: new Map<string, number>(),
    /** A suppressed message counts under its step's first channel. */
    firstChannel: new Map(definition.steps.flatMap((step) => (step.kind === 'send' ? [[step.key, step.channel] as const] : []))),
  };
  const simulation: JourneySimulation = {
    from,
    to,
    timezone,
    entered: 0,
    active: 0,
    completed: 0,
    exited: 0,
    converted: 0,
    steps: definition.steps.map((step) => ({ key: step.key, entered: 0, passed: 0, waiting: 0, sent: 0, suppressed: 0, capped: 0 })),
    channels: [],
    suppressedBy: [],
    sendsByDay: [],
    engagementEstimates: [],
  };
  return Object.assign(simulation, working);
}

type Tallying = ReturnType<typeof emptySimulation>;

/** Adds one contact's enrolments to the counts. */
export function tally(simulation: Tallying, enrolments: readonly Enrolment[]): void {
  const steps = new Map(simulation.steps.map((step) => [step.key, step]));
  for (const enrolment of enrolments) {
    simulation.entered++;
    if (enrolment.status === 'ACTIVE') simulation.active++;
    else if (enrolment.status === 'COMPLETED') simulation.completed++;
    else simulation.exited++;
    if (enrolment.convertedAt) simulation.converted++;
    for (const entry of enrolment.path) {
      const counts = steps.get(entry.step)!;
      counts.entered++;
      if (entry.passedAt) counts.passed++;
      else if (entry.outcome == null) counts.waiting++;
    }
    for (const send of enrolment.sends) {
      const counts = steps.get(send.step)!;
      if (!send.channel) {
        counts.suppressed++;
        simulation.byReason.set(send.reason!, (simulation.byReason.get(send.reason!) ?? 0) + 1);
        channel(simulation, simulation.firstChannel.get(send.step)!).suppressed++;
      } else if (send.capped) {
        counts.capped++;
        channel(simulation, send.channel).capped++;
      } else {
        counts.sent++;
        channel(simulation, send.channel).sent++;
        const day = `${simulation.days.format(send.deliveredAt!)}|${send.channel}`;
        simulation.byDay.set(day, (simulation.byDay.get(day) ?? 0) + 1);
      }
    }
  }
}

/** The finished answer: per-day and per-reason counts sorted, the working maps dropped. */
export function finish({ days: _days, byDay, byReason, firstChannel: _firstChannel, ...simulation }: Tallying): JourneySimulation {
  simulation.sendsByDay = [...byDay]
    .map(([key, count]) => {
      const [date, channel] = key.split('|') as [string, Channel];
      return { date, channel, count };
    })
    .sort((a, b) => a.date.localeCompare(b.date) || a.channel.localeCompare(b.channel));
  simulation.suppressedBy = [...byReason].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
  simulation.channels.sort((a, b) => a.channel.localeCompare(b.channel));
  return simulation;
}

function channel(simulation: JourneySimulation, name: Channel): ChannelCounts {
  let counts = simulation.channels.find((one) => one.channel === name);
  if (!counts) simulation.channels.push((counts = { channel: name, sent: 0, suppressed: 0, capped: 0 }));
  return counts;
}
