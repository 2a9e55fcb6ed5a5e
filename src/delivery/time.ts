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
