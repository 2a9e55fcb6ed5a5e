import type { Channel } from '../generated/graphql.ts';
/**
 * A journey's steps as stored (Journey.steps: the draft's JourneyStepInput list, as given), read
 * for people: what each step does and where it leads.
 */
export interface JourneyStep {
  key: string;
  send?: { channel: string; fallback?: string[] | null; next?: string | null; content?: { title?: string } | null; email?: { subject?: string } | null; inApp?: { title?: string } | null };
  wait?: { seconds?: number | null; untilLocalTime?: string | null; next?: string | null };
  waitForEvent?: { name: string; withinSeconds: number; onEvent?: string | null; onTimeout?: string | null; where?: unknown[] | null };
  branch?: { rule: unknown; yes?: string | null; no?: string | null };
  engagement?: { step: string; did: string; withinSeconds: number; yes?: string | null; no?: string | null };
  split?: { paths: { name: string; percent: number; next?: string | null }[] };
}

/** Where a step leads: a label ("then", "yes", "A 30%") and the next step's key, or none (completes). */
export interface Edge {
  label: string;
  to: string | null;
}

export function stepsOf(value: unknown): JourneyStep[] {
  return Array.isArray(value) ? (value as JourneyStep[]).filter((step) => step && typeof step.key === 'string') : [];
}

export function kindOf(step: JourneyStep): string {
  if (step.send) return 'Send';
  if (step.wait) return 'Wait';
  if (step.waitForEvent) return 'Wait for an event';
  if (step.branch) return 'Branch';
  if (step.engagement) return 'Engaged?';
  if (step.split) return 'Split';
  return 'Step';
}

export function describe(step: JourneyStep): string {
  const { send, wait, waitForEvent, branch, engagement, split } = step;
  if (send) {
    const what = send.content?.title ?? send.email?.subject ?? send.inApp?.title;
    const channels = [send.channel, ...(send.fallback ?? [])].map(channelName).join(', else ');
    return `${channels}${what ? `: “${what}”` : ''}`;
  }
  if (wait) return wait.untilLocalTime ? `until ${wait.untilLocalTime}, the contact’s time` : `${duration(wait.seconds ?? 0)}`;
  if (waitForEvent) return `“${waitForEvent.name}”${waitForEvent.where?.length ? ' (with conditions)' : ''} within ${duration(waitForEvent.withinSeconds)}`;
  if (branch) return `does the contact match ${JSON.stringify(branch.rule)}?`;
  if (engagement) return `${engagement.did.toLowerCase()} the message of “${engagement.step}” within ${duration(engagement.withinSeconds)}?`;
  if (split) return split.paths.map((path) => `${path.name} ${path.percent}%`).join(' · ');
  return '';
}

export function edgesOf(step: JourneyStep): Edge[] {
  const { send, wait, waitForEvent, branch, engagement, split } = step;
  if (send) return [{ label: 'then', to: send.next ?? null }];
  if (wait) return [{ label: 'then', to: wait.next ?? null }];
  if (waitForEvent) return [{ label: 'on the event', to: waitForEvent.onEvent ?? null }, { label: 'on timeout', to: waitForEvent.onTimeout ?? null }];
  if (branch) return [{ label: 'yes', to: branch.yes ?? null }, { label: 'no', to: branch.no ?? null }];
  if (engagement) return [{ label: 'yes', to: engagement.yes ?? null }, { label: 'no', to: engagement.no ?? null }];
  if (split) return split.paths.map((path) => ({ label: `${path.name} (${path.percent}%)`, to: path.next ?? null }));
  return [];
}

/** Channels as named mid-sentence ("sent by web push"); a Record over the schema's enum, so none is left out. */
const CHANNEL_WORDS: Record<Channel, string> = { WEB_PUSH: 'web push', MOBILE_PUSH: 'mobile push', EMAIL: 'email', SMS: 'SMS', WEBHOOK: 'webhook', IN_APP: 'on-site message' };

export function channelName(channel: string): string {
  return (CHANNEL_WORDS as Record<string, string>)[channel] ?? channel;
}

/** 90 → "1 min 30 s", 86400 → "1 day". */
export function duration(seconds: number): string {
  const parts: string[] = [];
  let rest = seconds;
  for (const [unit, size] of [['day', 86_400], ['h', 3600], ['min', 60]] as const) {
    const n = Math.floor(rest / size);
    if (n) parts.push(unit === 'day' ? `${n} day${n === 1 ? '' : 's'}` : `${n} ${unit}`);
    rest -= n * size;
  }
  if (rest || !parts.length) parts.push(`${rest} s`);
  return parts.join(' ');
}
