import type { Workspace } from '../generated/prisma/client.ts';
import { builder } from '../graphql/builder.ts';
import { maxSegmentsOf, smsInboundUrl, smsSettingsOf } from './sms-settings.ts';

export const SmsSettingsRef = builder.objectRef<Workspace>('SmsSettings').implement({
  description: 'The SMS provider (Twilio’s Messages API or a compatible one). The auth token is write-only: only whether it is set shows.',
  fields: (t) => ({
    accountSid: t.string({ nullable: true, resolve: (w) => smsSettingsOf(w)?.accountSid ?? null }),
    from: t.string({ nullable: true, description: 'The sending number (E.164) or alphanumeric sender id.', resolve: (w) => smsSettingsOf(w)?.from ?? null }),
    messagingServiceSid: t.string({ nullable: true, resolve: (w) => smsSettingsOf(w)?.messagingServiceSid ?? null }),
    baseUrl: t.string({ nullable: true, description: 'Replaces https://api.twilio.com.', resolve: (w) => smsSettingsOf(w)?.baseUrl ?? null }),
    maxSegments: t.int({ description: 'The most segments one message may take (default 3).', resolve: maxSegmentsOf }),
    authTokenConfigured: t.boolean({ resolve: (w) => w.smsAuthToken !== null }),
    inboundUrl: t.string({
      description: 'Give this URL to the provider for incoming messages (STOP, START, HELP); status callbacks go where each message says.',
      resolve: (w, _args, context) => smsInboundUrl(context.herald.publicUrl, w.id),
    }),
  }),
});

export const SmsSettingsInput = builder.inputType('SmsSettingsInput', {
  description: 'Replaces the SMS settings; authToken left out keeps the stored token. Give from, messagingServiceSid or both.',
  fields: (t) => ({
    accountSid: t.string({ required: true }),
    authToken: t.string({ description: 'Write-only: authenticates the requests and verifies the provider’s X-Twilio-Signature.' }),
    from: t.string({ description: 'A number in E.164 or an alphanumeric sender id (at most 11 characters).' }),
    messagingServiceSid: t.string({ description: 'Sends through a messaging service instead of (or choosing among) numbers.' }),
    baseUrl: t.string({ description: 'Replaces https://api.twilio.com (an https URL in HERALD_SMS_ALLOWED_HOSTS): a compatible provider or a test server.' }),
    maxSegments: t.int({ description: 'The most segments (1-10) one message may take; default 3.' }),
  }),
});
