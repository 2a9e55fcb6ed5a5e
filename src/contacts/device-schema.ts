import { builder } from '../graphql/builder.ts';
import { workspaceIdOf } from '../graphql/context.ts';
import { DevicePlatforms, registerDevice, revokeDevice } from './devices.ts';
import { pageOrServer, withLocalContactId, withoutNulls, writerOf } from './mutations.ts';

const DevicePlatform = builder.enumType('DevicePlatform', { values: DevicePlatforms });
const DeviceStatus = builder.enumType('DeviceStatus', {
  description: 'ACTIVE: sent to. EXPIRED: the provider said the token is dead. REVOKED: the app or your server revoked it.',
  values: ['ACTIVE', 'EXPIRED', 'REVOKED'] as const,
});

export const DeviceRef = builder.prismaNode('Device', {
  id: { field: 'id' },
  nullable: true,
  findUnique: (id, context) => ({ id, workspaceId: workspaceIdOf(context) }),
  fields: (t) => ({
    platform: t.expose('platform', { type: DevicePlatform }),
    token: t.exposeString('token', { description: 'The APNs device token (hex) or FCM registration token.' }),
    appId: t.exposeString('appId', { description: 'The app’s bundle id (iOS) or package name (Android).' }),
    status: t.expose('status', { type: DeviceStatus }),
    locale: t.exposeString('locale', { nullable: true }),
    timezone: t.expose('timezone', { type: 'TimeZone', nullable: true }),
    appVersion: t.exposeString('appVersion', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
    contact: t.relation('contact'),
  }),
});

builder.mutationFields((t) => ({
  registerDevice: t.fieldWithInput({
    ...pageOrServer,
    type: DeviceRef,
    description: 'A phone app’s push token, after the person allowed notifications. With a publishable key, naming a customer needs an identityToken.',
    input: {
      platform: t.input.field({ type: DevicePlatform, required: true }),
      token: t.input.string({ required: true }),
      appId: t.input.string({ required: true }),
      contactId: t.input.id(),
      externalId: t.input.string(),
      anonymousId: t.input.string(),
      identityToken: t.input.string({ description: "Required with a publishable key to name a customer: hex HMAC-SHA256 of the externalId under the workspace's identity secret." }),
      locale: t.input.string(),
      timezone: t.input.field({ type: 'TimeZone' }),
      appVersion: t.input.string(),
    },
    errors: {},
    resolve: (_root, { input }, context) =>
      registerDevice(context.herald, workspaceIdOf(context), withoutNulls(withLocalContactId(input, ['input'])), writerOf(context)),
  }),
  revokeDevice: t.fieldWithInput({
    ...pageOrServer,
    type: DeviceRef,
    description: 'Stops pushes to a token (the person logged out or turned notifications off).',
    input: { token: t.input.string({ required: true }) },
    errors: {},
    resolve: (_root, { input }, context) => revokeDevice(context.herald, workspaceIdOf(context), input.token),
  }),
}));
