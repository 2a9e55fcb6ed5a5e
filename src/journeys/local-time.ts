import { Temporal } from 'temporal-polyfill';
import { atWallClock, usableZone } from '../delivery/time.ts';

/**
 * The next instant strictly after `after` (ms) at which the wall clock in `zone` reads `time`
 * ("HH:MM"): an untilLocalTime wait's end. A time the clocks skip (02:30 on a spring-forward day)
 * happens when they jump; of a repeated one (fall-back) the first counts, as for delivery windows
 * (src/delivery/time.ts).
 */
export function nextLocalTime(after: number, storedZone: string, time: string): number {
  // A zone stored before names were checked as now (a browser's "PST") is not computed with: it
  // would throw and stop the whole batch of journeys. It counts as UTC.
  const zone = usableZone(storedZone, 'UTC');
  const plainTime = Temporal.PlainTime.from(time);
  const today = Temporal.Instant.fromEpochMilliseconds(after).toZonedDateTimeISO(zone).toPlainDate();
  for (let days = 0; ; days++) {
    const at = atWallClock(today.add({ days }), plainTime, zone);
    if (at.epochMilliseconds > after) return at.epochMilliseconds;
  }
}
