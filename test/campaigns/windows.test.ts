import { describe, expect, it } from 'vitest';
import { allowedBy, nextOpening, sameWallClock } from '../../src/delivery/time.ts';

const opening = (at: string, zone: string, window: { start: string; end: string }) => nextOpening(new Date(at), zone, window).toISOString();

describe('delivery windows in the recipient’s time zone', () => {
  it('lets a message inside the window go at once', () => {
    expect(opening('2026-06-10T10:00:00.000Z', 'Europe/Berlin', { start: '09:00', end: '21:00' })).toBe('2026-06-10T10:00:00.000Z');
  });

  it('holds a message due before the window until it opens that day, after it until the next day', () => {
    // 06:00 CEST (04:00Z) → 09:00 CEST the same day; 22:00 CEST → 09:00 CEST the next day.
    expect(opening('2026-06-10T04:00:00.000Z', 'Europe/Berlin', { start: '09:00', end: '21:00' })).toBe('2026-06-10T07:00:00.000Z');
    expect(opening('2026-06-10T20:00:00.000Z', 'Europe/Berlin', { start: '09:00', end: '21:00' })).toBe('2026-06-11T07:00:00.000Z');
  });

  it('treats a window that wraps midnight as one span', () => {
    const night = { start: '22:00', end: '07:00' };
    expect(opening('2026-06-10T21:30:00.000Z', 'Europe/Berlin', night)).toBe('2026-06-10T21:30:00.000Z'); // 23:30 local: inside
    expect(opening('2026-06-11T03:00:00.000Z', 'Europe/Berlin', night)).toBe('2026-06-11T03:00:00.000Z'); // 05:00 local: inside
    expect(opening('2026-06-11T10:00:00.000Z', 'Europe/Berlin', night)).toBe('2026-06-11T20:00:00.000Z'); // 12:00 → 22:00 CEST
  });

  it('reads quiet hours as the window they leave open', () => {
    expect(allowedBy({ start: '22:00', end: '08:00' })).toEqual({ start: '08:00', end: '22:00' });
    // 23:00 in New York (EDT, 03:00Z) → 08:00 EDT the next morning.
    expect(opening('2026-06-11T03:00:00.000Z', 'America/New_York', allowedBy({ start: '22:00', end: '08:00' }))).toBe('2026-06-11T12:00:00.000Z');
  });

  describe('on DST days', () => {
    it('Europe/Berlin spring forward (2026-03-29, 02:00 CET → 03:00 CEST)', () => {
      // Quiet until 08:00: 00:30 CET (23:30Z) waits for 08:00 CEST = 06:00Z, not 07:00Z as the night's offset would say.
      expect(opening('2026-03-28T23:30:00.000Z', 'Europe/Berlin', { start: '08:00', end: '22:00' })).toBe('2026-03-29T06:00:00.000Z');
      // A window opening at 02:30, a time that day skips, opens when the clocks jump: 03:00 CEST = 01:00Z.
      expect(opening('2026-03-29T00:00:00.000Z', 'Europe/Berlin', { start: '02:30', end: '06:00' })).toBe('2026-03-29T01:00:00.000Z');
    });

    it('Europe/Berlin fall back (2026-10-25, 03:00 CEST → 02:00 CET)', () => {
      // 02:30 happens twice; the window opens at the first: 02:30 CEST = 00:30Z.
      expect(opening('2026-10-24T23:00:00.000Z', 'Europe/Berlin', { start: '02:30', end: '06:00' })).toBe('2026-10-25T00:30:00.000Z');
      // 23:00 CEST the evening before → 08:00 CET = 07:00Z (the offset changed overnight).
      expect(opening('2026-10-24T21:00:00.000Z', 'Europe/Berlin', { start: '08:00', end: '22:00' })).toBe('2026-10-25T07:00:00.000Z');
    });

    it('America/New_York spring forward (2026-03-08, 02:00 EST → 03:00 EDT)', () => {
      // Midnight EST (05:00Z) → 08:00 EDT = 12:00Z.
      expect(opening('2026-03-08T05:00:00.000Z', 'America/New_York', allowedBy({ start: '22:00', end: '08:00' }))).toBe('2026-03-08T12:00:00.000Z');
      // A window 02:15-05:00 on the night that skips 02:00-03:00: opens at the jump, 03:00 EDT = 07:00Z.
      expect(opening('2026-03-08T06:30:00.000Z', 'America/New_York', { start: '02:15', end: '05:00' })).toBe('2026-03-08T07:00:00.000Z');
    });

    it('a time the clocks skip from its first minute opens at the jump, that day (not at the previous transition, months before)', () => {
      // Berlin skips 02:00-03:00 on 2026-03-29: a window opening at 02:00 opens at 03:00 CEST = 01:00Z.
      expect(opening('2026-03-28T23:00:00.000Z', 'Europe/Berlin', { start: '02:00', end: '06:00' })).toBe('2026-03-29T01:00:00.000Z');
      // Santiago skips midnight on 2026-09-06 (00:00 -04 → 01:00 -03): a window opening at 00:00 opens at 04:00Z.
      expect(opening('2026-09-06T03:30:00.000Z', 'America/Santiago', { start: '00:00', end: '08:00' })).toBe('2026-09-06T04:00:00.000Z');
      // A local-time send at 02:00 (UTC's wall clock) reaches Berlin when its clocks jump, not in October 2025.
      expect(sameWallClock(new Date('2026-03-29T02:00:00.000Z'), 'UTC', 'Europe/Berlin').toISOString()).toBe('2026-03-29T01:00:00.000Z');
    });

    it('America/New_York fall back (2026-11-01, 02:00 EDT → 01:00 EST)', () => {
      // 23:00 EDT on Oct 31 (03:00Z) → 08:00 EST = 13:00Z, an hour later in UTC than the day before.
      expect(opening('2026-11-01T03:00:00.000Z', 'America/New_York', allowedBy({ start: '22:00', end: '08:00' }))).toBe('2026-11-01T13:00:00.000Z');
      // 01:30 happens twice: at the second one (06:30Z, EST) a window 01:00-01:45 is open again.
      expect(opening('2026-11-01T06:30:00.000Z', 'America/New_York', { start: '01:00', end: '01:45' })).toBe('2026-11-01T06:30:00.000Z');
    });
  });
});
