import { builder } from '../graphql/builder.ts';
import type { ApnsSettings, FcmSettings } from './mobile-push-settings.ts';

export const ApnsSettingsRef = builder.objectRef<ApnsSettings>('ApnsSettings').implement({
  description: 'APNs token authentication. The .p8 key is write-only: these settings show only while a key is stored.',
  fields: (t) => ({
    teamId: t.exposeString('teamId'),
    keyId: t.exposeString('keyId'),
    bundleId: t.exposeString('bundleId', { description: 'The apns-topic of every push.' }),
    production: t.exposeBoolean('production', { description: 'APNs’ production host; false: the sandbox (development builds).' }),
    baseUrl: t.string({ nullable: true, resolve: (apns) => apns.baseUrl ?? null }),
  }),
});

export const FcmSettingsRef = builder.objectRef<FcmSettings>('FcmSettings').implement({
  description: 'FCM HTTP v1 through a service account. Its private key is write-only: these settings show only while one is stored.',
  fields: (t) => ({
    projectId: t.exposeString('projectId'),
    clientEmail: t.exposeString('clientEmail'),
    baseUrl: t.string({ nullable: true, resolve: (fcm) => fcm.baseUrl ?? null }),
  }),
});

export const ApnsSettingsInput = builder.inputType('ApnsSettingsInput', {
  description: 'Replaces the APNs settings; privateKey left out keeps the stored key.',
  fields: (t) => ({
    teamId: t.string({ required: true, description: 'Your Apple Developer team id (10 characters).' }),
    keyId: t.string({ required: true, description: 'The id of the APNs key (10 characters).' }),
    privateKey: t.string({ description: 'The contents of AuthKey_<keyId>.p8; write-only.' }),
    bundleId: t.string({ required: true }),
    production: t.boolean({ description: 'Default true; false sends to the sandbox (development builds).' }),
    baseUrl: t.string({ description: 'Replaces APNs’ host (an https URL in HERALD_MOBILE_PUSH_ALLOWED_HOSTS): a gateway or a test server.' }),
  }),
});

export const FcmSettingsInput = builder.inputType('FcmSettingsInput', {
  description: 'Replaces the FCM settings; serviceAccount left out keeps the stored one.',
  fields: (t) => ({
    serviceAccount: t.string({ description: 'The service account’s JSON key file, as text; write-only.' }),
    baseUrl: t.string({ description: 'Replaces https://fcm.googleapis.com (an https URL in HERALD_MOBILE_PUSH_ALLOWED_HOSTS).' }),
  }),
});
