import { Temporal } from 'temporal-polyfill';

/**
 * Zone names seen, lowercased (the platform reads them regardless of case, so variants cannot grow
 * this past the platform's list): the canonical name if delivery can compute with the zone, null
 * for a name the platform knows but Temporal refuses. Asking costs ~50 µs; imports ask per contact.
 */
const zones = new Map<string, string | null>();

/**
 * What `name` is as a time zone: its canonical name (Intl's: the name a browser reports, links
 * resolved, e.g. "europe/berlin" → "Europe/Berlin", "US/Pacific" → "America/Los_Angeles", "CET" →
 * "Europe/Brussels"; ICU keeps some older names, "Asia/Kolkata" → "Asia/Calcutta"), null if the
 * platform knows it but delivery cannot compute with it, undefined if it is no zone name.
 * The nulls are ICU's three-letter IDs ("PST", "IST", "BST", "CST", "JST", "EAT"): Intl reads them
 * (BST as Bangladesh, IST as India), Temporal refuses them, and PostgreSQL reads some of them as
 * other zones' abbreviations (IST as Israel). Nothing that means one zone here and another there
 * is kept: canonical names are Area/Location names (or "UTC", "Etc/GMT+3"), which mean the same
 * to Intl, Temporal and PostgreSQL.
 */
export function resolveZone(name: string): string | null | undefined {
  // Intl also accepts offsets such as "+01:00"; only IANA names are meant here.
  if (!/^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$/.test(name)) return undefined;
  const key = name.toLowerCase();
  const known = zones.get(key);
  if (known !== undefined) return known;
  let canonical: string | null;
  try {
    canonical = new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return undefined; // not remembered: any string may come this way
  }
  try {
    Temporal.Instant.fromEpochMilliseconds(0).toZonedDateTimeISO(name);
    Temporal.Instant.fromEpochMilliseconds(0).toZonedDateTimeISO(canonical);
  } catch {
    canonical = null;
  }
  zones.set(key, canonical);
  return canonical;
}

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
  return at.toPlainTime().equals(time) ? at : (at.getTimeZoneTransition('previous') ?? at);
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
