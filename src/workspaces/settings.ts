import { Temporal } from 'temporal-polyfill';
import { z } from 'zod';
import { emailSettingsInput } from './email-settings.ts';
import { linkSettingsInput } from './link-settings.ts';
import { apnsSettingsInput, fcmSettingsInput } from './mobile-push-settings.ts';
import { smsSettingsInput } from './sms-settings.ts';

export const CapPeriods = ['DAY', 'WEEK'] as const;
export type CapPeriod = (typeof CapPeriods)[number];
export const Channels = ['WEB_PUSH', 'EMAIL', 'SMS', 'WEBHOOK', 'IN_APP', 'MOBILE_PUSH'] as const;
export type ChannelName = (typeof Channels)[number];

export interface FrequencyCap {
  limit: number;
  period: CapPeriod;
  /** Only this channel's messages count and are limited; absent: all channels. */
  channel?: ChannelName | null;
}

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

/** A zone delivery can compute with (see resolveZone): "PST" and its like are refused. */
export const isTimeZone = (name: string): boolean => typeof resolveZone(name) === 'string';

/** A workspace's zone, stored by its canonical name. */
export const timeZone = z
  .string()
  .refine(isTimeZone, 'must be an IANA time zone name, e.g. "Europe/Warsaw"')
  .transform((name) => resolveZone(name)!);
export const localTime = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be a time "HH:MM" between 00:00 and 23:59');

/** What `updateWorkspaceSettings` accepts: absent fields stay as they are, `quietHours: null` clears. */
export const settingsInput = z.object({
  timezone: timeZone.optional(),
  quietHours: z
    .object({ start: localTime, end: localTime })
    .refine((hours) => hours.start !== hours.end, { message: 'start and end must differ', path: ['end'] })
    .nullable()
    .optional(),
  frequencyCaps: z
    .array(
      z.object({
        limit: z.number().int().min(1, 'must be at least 1').max(1000, 'must be at most 1000'),
        period: z.enum(CapPeriods),
        channel: z.enum(Channels).nullish().transform((channel) => channel ?? undefined),
      }),
    )
    .max(CapPeriods.length * (Channels.length + 1), 'at most one cap per period and channel')
    .refine(
      (caps) => new Set(caps.map((cap) => `${cap.period}/${cap.channel ?? '*'}`)).size === caps.length,
      'at most one cap per period and channel',
    )
    .optional(),
  consentTag: z
    .string()
    .trim()
    .regex(/^[\w:.-]{1,64}$/, 'must be 1-64 letters, digits or _ : . -')
    .optional(),
  requireIdentityVerification: z.boolean().optional(),
  controlGroupPercent: z.number().int().min(0, 'must be at least 0').max(50, 'must be at most 50').optional(),
  /** null clears every email setting, secrets included. */
  email: emailSettingsInput.nullable().optional(),
  /** null clears the APNs settings and forgets the key. */
  apns: apnsSettingsInput.nullable().optional(),
  /** null clears the FCM settings and forgets the service account. */
  fcm: fcmSettingsInput.nullable().optional(),
  /** null clears the SMS settings and forgets the auth token. */
  sms: smsSettingsInput.nullable().optional(),
  /** null clears the link settings (no app scheme registered). */
  links: linkSettingsInput.nullable().optional(),
});

export type SettingsInput = z.input<typeof settingsInput>;
export type ValidSettings = z.output<typeof settingsInput>;
