import { Temporal } from 'temporal-polyfill';

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
  const asUtc = new Date(`${wallClock(instant, zone).replace(' ', 'T')}Z`);
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

  let opening = local.toPlainDate().add({ days: afterStart ? 1 : 0 }).toZonedDateTime({ timeZone: zone, plainTime: start });
  // A start the clocks skipped comes back shifted past the jump: the window opened at the jump.
  if (!opening.toPlainTime().equals(start)) opening = opening.getTimeZoneTransition('previous') ?? opening;
  return new Date(opening.epochMilliseconds);
}

/** Quiet hours name when not to send; the window they leave open is the rest of the day. */
export const allowedBy = (quietHours: LocalWindow): LocalWindow => ({ start: quietHours.end, end: quietHours.start });
