import { z } from 'zod';
import { resolveZone } from '../delivery/time.ts';
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
