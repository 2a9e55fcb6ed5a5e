import { Temporal } from 'temporal-polyfill';
import { resolveZone } from '../workspaces/settings.ts';

/** The canonical name of a zone delivery can compute with, else `fallback` (rows stored before names were checked this way). */
export function usableZone(name: string | null | undefined, fallback: string): string {
  return (name && resolveZone(name)) || fallback;
}

/** A workspace's zone as delivery uses it: one stored before zones were checked this way and unusable counts as UTC. */
export const workspaceZone = (name: string): string => usableZone(name, 'UTC');

/**
 * The instant the wall clock in `zone` reads `time` on `date`. A time the clocks skip (02:30 on a
 * spring-forward day) happens when they jump; of a repeated one (fall-back) the first counts.
 * Delivery windows and local-time sends agree on this.
 */
export function atWallClock(date: Temporal.PlainDate, time: Temporal.PlainTime, zone: string): Temporal.ZonedDateTime {
  // 'compatible' (the default) takes the earlier of a repeated time, and moves a skipped one past the jump by the gap's length.
  const at = date.toZonedDateTime({ timeZone: zone, plainTime: time });
  if (at.toPlainTime().equals(time)) return at;
  // Skipped: the jump is the first transition after the time moved back by the gap ('earlier'). (Not
  // the one before `at`: `at` is the jump itself when the time is the gap's first, 02:00 in Berlin.)
  const before = date.toPlainDateTime(time).toZonedDateTime(zone, { disambiguation: 'earlier' });
  return before.getTimeZoneTransition('next') ?? at;
}

/**
 * When a local-time send is due in `zone`: the instant its wall clock reads what the workspace's
 * (`from`) reads at `sendAt`.
 */
export function sameWallClock(sendAt: Date, from: string, zone: string): Date {
  const local = Temporal.Instant.fromEpochMilliseconds(sendAt.getTime()).toZonedDateTimeISO(from).toPlainDateTime();
  return new Date(atWallClock(local.toPlainDate(), local.toPlainTime(), zone).epochMilliseconds);
}

/** The wall-clock date and time of `instant` in `zone`, as "YYYY-MM-DD HH:MM:SS" for SQL's timestamp. */
export function wallClock(instant: Date, zone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    })
      .formatToParts(instant)
      .map((part) => [part.type, part.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
}

/** The first instant anywhere on Earth (UTC+14) reaches a wall-clock time: when local-time sends begin. */
export function earliestLocalInstant(instant: Date, zone: string): Date {
  const asUtc = new Date(`${wallClock(instant, workspaceZone(zone)).replace(' ', 'T')}Z`);
  return new Date(asUtc.getTime() - 14 * 3600 * 1000);
}

/** A daily span of local wall-clock time, "HH:MM" to "HH:MM"; it wraps midnight when end < start. */
export interface LocalWindow {
  start: string;
  end: string;
}

/**
 * When a message due at `at` may go to someone in `zone` whose pushes are allowed only inside
 * `window`: `at` itself if it falls inside, else the window's next opening. Time-zone rules come
 * from the platform's data through Temporal, so DST days are right: on a spring-forward day a
 * window opening inside the skipped hour (02:30 in Berlin) opens when the clocks jump (03:00), and
 * on a fall-back day the first of the repeated times counts.
 */
export function nextOpening(at: Date, zone: string, window: LocalWindow): Date {
  const start = Temporal.PlainTime.from(window.start);
  const end = Temporal.PlainTime.from(window.end);
  const local = Temporal.Instant.fromEpochMilliseconds(at.getTime()).toZonedDateTimeISO(zone);
  const time = local.toPlainTime();
  const afterStart = Temporal.PlainTime.compare(time, start) >= 0;
  const beforeEnd = Temporal.PlainTime.compare(time, end) < 0;
  const wraps = Temporal.PlainTime.compare(end, start) < 0;
  if (wraps ? afterStart || beforeEnd : afterStart && beforeEnd) return at;

  return new Date(atWallClock(local.toPlainDate().add({ days: afterStart ? 1 : 0 }), start, zone).epochMilliseconds);
}

/** Quiet hours name when not to send; the window they leave open is the rest of the day. */
export const allowedBy = (quietHours: LocalWindow): LocalWindow => ({ start: quietHours.end, end: quietHours.start });
