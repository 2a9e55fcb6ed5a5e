import { isValidPhoneNumber } from 'libphonenumber-js';
import { z } from 'zod';
import type { Config } from '../config.ts';
import { ValidationError } from '../errors.ts';
import type { Workspace } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';
import { smsPolicy } from '../net/allowed-hosts.ts';
import { credentialFromRow } from './secrets.ts';

/**
 * A workspace's SMS provider, in the shape of Twilio's Messages API (compatible providers share
 * it): the account, a sender (a number or alphanumeric id in `from`, or a messaging service) and
 * the auth token, which both authenticates Herald's requests and signs the provider's callbacks.
 * The token lives sealed in its own column and is never shown again once written.
 */
export interface SmsSettings {
  accountSid: string;
  from?: string;
  messagingServiceSid?: string;
  /** Replaces https://api.twilio.com: a compatible provider, or a test's kit. */
  baseUrl?: string;
  /** The most segments one message may take (default 3): checked on the worst case at save and on every message. */
  maxSegments?: number;
}

export const TWILIO_BASE_URL = 'https://api.twilio.com';
export const MAX_SEGMENTS_LIMIT = 10;

/** An E.164 number libphonenumber-js knows to be valid for its country. */
export function isPhoneNumber(value: string): boolean {
  return /^\+[1-9]\d{6,14}$/.test(value) && isValidPhoneNumber(value);
}

const sid = (prefix: string, name: string) =>
  z
    .string()
    .trim()
    .regex(new RegExp(`^${prefix}[0-9a-fA-F]{32}$|^[A-Za-z0-9_-]{1,64}$`), `must be your ${name} (Twilio's start with ${prefix})`);

const sender = z
  .string()
  .trim()
  .refine(
    (value) => isPhoneNumber(value) || /^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$/.test(value),
    'must be a phone number in E.164 (e.g. +15017122661) or an alphanumeric sender id of at most 11 letters, digits and spaces',
  );

/** `updateWorkspaceSettings(input: { sms })`: the whole setting; a missing authToken keeps the stored one. null clears it. */
export const smsSettingsInput = z
  .object({
    accountSid: sid('AC', 'account SID'),
    authToken: z.string().trim().min(8, 'must be your auth token').max(256, 'must be at most 256 characters').nullish(),
    from: sender.nullish(),
    messagingServiceSid: sid('MG', 'messaging service SID').nullish(),
    baseUrl: z
      .url({ protocol: /^https$/, message: 'must be an https:// URL' })
      .max(2048)
      .transform((url) => url.replace(/\/+$/, ''))
      .nullish(),
    maxSegments: z.number().int().min(1, 'must be at least 1').max(MAX_SEGMENTS_LIMIT, `must be at most ${MAX_SEGMENTS_LIMIT}`).nullish(),
  })
  .refine((sms) => sms.from || sms.messagingServiceSid, { message: 'give from or messagingServiceSid: who the messages come from', path: ['from'] });

type ValidSms = z.output<typeof smsSettingsInput>;
type Stored = Pick<Workspace, 'smsSettings' | 'smsAuthToken'>;

export function smsSettingsOf(workspace: Pick<Workspace, 'smsSettings'>): SmsSettings | null {
  const settings = (workspace.smsSettings ?? {}) as Partial<SmsSettings>;
  return settings.accountSid ? (settings as SmsSettings) : null;
}

export const maxSegmentsOf = (workspace: Pick<Workspace, 'smsSettings'>): number => smsSettingsOf(workspace)?.maxSegments ?? 3;

/** A baseUrl must be Twilio's, or a host HERALD_SMS_ALLOWED_HOSTS names; connections check it again. */
export function checkSmsHost(herald: Pick<Herald, 'config'>, input: ValidSms | null | undefined): void {
  const refusal = input?.baseUrl ? smsPolicy(herald.config).endpointRefusal(input.baseUrl) : null;
  if (refusal) throw ValidationError.field(['input', 'sms', 'baseUrl'], `${refusal}: Herald sends SMS only to api.twilio.com and the hosts in HERALD_SMS_ALLOWED_HOSTS`);
}

/** The columns that make a workspace's SMS settings what the input says, given what is stored now. */
export function smsSettingsData(herald: Pick<Herald, 'secrets'>, current: Stored, input: ValidSms | null) {
  if (input === null) return { smsSettings: {} as Record<string, never>, smsAuthToken: null };
  const { accountSid, authToken, from, messagingServiceSid, baseUrl, maxSegments } = input;
  if (!authToken && !current.smsAuthToken) throw ValidationError.field(['input', 'sms', 'authToken'], 'is required: no auth token is stored yet');
  const settings: SmsSettings = {
    accountSid,
    ...(from ? { from } : {}),
    ...(messagingServiceSid ? { messagingServiceSid } : {}),
    ...(baseUrl ? { baseUrl } : {}),
    ...(maxSegments ? { maxSegments } : {}),
  };
  return { smsSettings: settings as unknown as Record<string, never>, ...(authToken ? { smsAuthToken: herald.secrets.seal(authToken) } : {}) };
}

/** The settings with the auth token opened: for the SMS channel's sender and the callbacks' signature check. */
export type SmsCredentials = SmsSettings & { authToken: string; baseUrl: string };

export async function smsCredentialsOf(herald: Herald, workspace: Pick<Workspace, 'id' | 'smsSettings' | 'smsAuthToken'>): Promise<SmsCredentials | null> {
  const settings = smsSettingsOf(workspace);
  const authToken = await credentialFromRow(herald, workspace, 'smsAuthToken');
  return settings && authToken ? { ...settings, baseUrl: settings.baseUrl ?? TWILIO_BASE_URL, authToken } : null;
}

/** What stops a workspace from sending SMS, in the user's words, or null. */
export function smsSendingProblem(workspace: Pick<Workspace, 'smsSettings' | 'smsAuthToken'>): string | null {
  return smsSettingsOf(workspace) && workspace.smsAuthToken ? null : "set up the SMS provider in the workspace's settings (sms) first";
}

/** Where the provider posts inbound messages (STOP, START, HELP) for this workspace. */
export const smsInboundUrl = (publicUrl: string, workspaceId: string) => `${publicUrl}/sms/inbound/${workspaceId}`;
/** Where the provider posts status callbacks: one message's, named by its ledger id. */
export const smsStatusUrl = (publicUrl: string, workspaceId: string, messageId: string) => `${publicUrl}/sms/status/${workspaceId}?m=${messageId}`;

export type SmsConfig = Pick<Config, 'HERALD_SMS_ALLOWED_HOSTS' | 'HERALD_PUSH_CA' | 'HERALD_PUSH_CONCURRENCY' | 'HERALD_PUSH_TIMEOUT_MS'>;
