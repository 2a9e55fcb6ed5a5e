import { encodeGlobalID } from '@pothos/plugin-relay';
import { ErrorCode } from '../errors.ts';
import { builder } from '../graphql/builder.ts';
import { workspaceIdOf } from '../graphql/context.ts';
import { requireLocalId } from '../graphql/ids.ts';
import { createApiKey, revokeApiKey } from './api-keys.ts';
import { emailSettingsOf, smtpHostOf } from './email-settings.ts';
import { ApnsSettingsInput, ApnsSettingsRef, FcmSettingsInput, FcmSettingsRef } from './mobile-push-schema.ts';
import { linkSettingsOf } from './link-settings.ts';
import { mobilePushSettingsOf } from './mobile-push-settings.ts';
import { SmsSettingsInput, SmsSettingsRef } from './sms-schema.ts';
import { identitySecretOf, rotateIdentitySecret, rotateWebhookSecret, webhookSecretOf } from './secrets.ts';
import { createWorkspace, frequencyCapsOf, getWorkspace, listWorkspaces, updateWorkspaceSettings } from './service.ts';
import { CapPeriods, Channels, type FrequencyCap } from './settings.ts';
import type { ApiKey, Workspace } from '../generated/prisma/client.ts';

const CapPeriod = builder.enumType('CapPeriod', { values: CapPeriods });
/** Declared here, the lowest domain that names a channel (frequency caps may); delivery re-exports it. */
export const ChannelEnum = builder.enumType('Channel', {
  description: 'Where a message goes.',
  values: Channels,
});
const ApiKeyKind = builder.enumType('ApiKeyKind', { values: ['SECRET', 'PUBLISHABLE'] as const });

const QuietHours = builder.objectRef<{ start: string; end: string }>('QuietHours').implement({
  description: 'Hours in the workspace time zone when no push is sent; messages wait until they end.',
  fields: (t) => ({ start: t.expose('start', { type: 'LocalTime' }), end: t.expose('end', { type: 'LocalTime' }) }),
});

const FrequencyCapRef = builder.objectRef<FrequencyCap>('FrequencyCap').implement({
  description: 'At most `limit` messages per contact per `period`, counted across campaigns: on `channel` only, or on all channels when it is null.',
  fields: (t) => ({
    limit: t.exposeInt('limit'),
    period: t.expose('period', { type: CapPeriod }),
    channel: t.expose('channel', { type: ChannelEnum, nullable: true }),
  }),
});

const DkimSettings = builder.objectRef<{ domain: string; selector: string }>('DkimSettings').implement({
  description: 'Email is signed for `domain` with the key published at `<selector>._domainkey.<domain>`; the private key is never shown.',
  fields: (t) => ({ domain: t.exposeString('domain'), selector: t.exposeString('selector') }),
});

const EmailSettings = builder.objectRef<Workspace>('EmailSettings').implement({
  description: 'Who email comes from and how it leaves. The SMTP URL and the DKIM key are write-only: only whether they are set shows.',
  fields: (t) => ({
    fromAddress: t.string({ nullable: true, resolve: (w) => emailSettingsOf(w).fromAddress ?? null }),
    fromName: t.string({ nullable: true, resolve: (w) => emailSettingsOf(w).fromName ?? null }),
    replyTo: t.string({ nullable: true, resolve: (w) => emailSettingsOf(w).replyTo ?? null }),
    doubleOptIn: t.boolean({
      description: 'Contacts opting in to email get a confirmation email first and are SUBSCRIBED when they confirm.',
      resolve: (w) => emailSettingsOf(w).doubleOptIn ?? false,
    }),
    smtpConfigured: t.boolean({
      description: "The workspace has its own SMTP server; without one email goes through the deployment's HERALD_SMTP_URL, if set.",
      resolve: (w) => w.smtpUrl !== null,
    }),
    smtpHost: t.string({ nullable: true, description: "The host of the workspace's own SMTP server.", resolve: (w, _args, context) => smtpHostOf(context.herald, w) }),
    dkim: t.field({ type: DkimSettings, nullable: true, resolve: (w) => (w.dkimPrivateKey ? (emailSettingsOf(w).dkim ?? null) : null) }),
  }),
});

const LinkSettingsRef = builder.objectRef<Workspace>('LinkSettings').implement({
  description: "What the workspace's smart links (createLink) may send a phone to besides http(s).",
  fields: (t) => ({
    appSchemes: t.stringList({ description: 'App schemes (e.g. "myapp" for myapp://…) an ios or android target may use.', resolve: (w) => linkSettingsOf(w).appSchemes }),
  }),
});

const WorkspaceSettings = builder.objectRef<Workspace>('WorkspaceSettings').implement({
  fields: (t) => ({
    timezone: t.expose('timezone', { type: 'TimeZone' }),
    quietHours: t.field({
      type: QuietHours,
      nullable: true,
      resolve: (w) => (w.quietHoursStart && w.quietHoursEnd ? { start: w.quietHoursStart, end: w.quietHoursEnd } : null),
    }),
    frequencyCaps: t.field({ type: [FrequencyCapRef], resolve: frequencyCapsOf }),
    consentTag: t.exposeString('consentTag', { description: 'Tag given to a contact when they consent to push.' }),
    requireIdentityVerification: t.exposeBoolean('requireIdentityVerification', {
      description: 'Whether a publishable key must send an identityToken to name a customer (default true).',
    }),
    controlGroupPercent: t.exposeInt('controlGroupPercent', {
      description: 'The share (0-50) of contacts in the global control group: they get no marketing message from any campaign or journey.',
    }),
    email: t.field({ type: EmailSettings, resolve: (workspace) => workspace }),
    apns: t.field({ type: ApnsSettingsRef, nullable: true, resolve: (w) => (w.apnsPrivateKey ? (mobilePushSettingsOf(w).apns ?? null) : null) }),
    fcm: t.field({ type: FcmSettingsRef, nullable: true, resolve: (w) => (w.fcmServiceAccount ? (mobilePushSettingsOf(w).fcm ?? null) : null) }),
    sms: t.field({ type: SmsSettingsRef, resolve: (workspace) => workspace }),
    links: t.field({ type: LinkSettingsRef, resolve: (workspace) => workspace }),
  }),
});

export const WorkspaceRef = builder.prismaNode('Workspace', {
  nullable: true,
  id: { field: 'id' },
  // A key reaches only its own workspace, whatever id it asks for.
  findUnique: (id, context) => ({ id, AND: [{ id: workspaceIdOf(context) }] }),
  fields: (t) => ({
    name: t.exposeString('name'),
    vapidPublicKey: t.exposeString('vapidPublicKey', { description: 'Give it to pushManager.subscribe as applicationServerKey.' }),
    settings: t.field({ type: WorkspaceSettings, resolve: (workspace) => workspace }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    apiKeys: t.relation('apiKeys', {
      authScopes: { secretKey: true },
      query: { orderBy: { createdAt: 'asc' } },
    }),
    identitySecret: t.string({
      nullable: true,
      description: "Signs identity tokens: your server computes hex HMAC-SHA256(externalId) with it. Keep it on your server.",
      authScopes: { secretKey: true },
      resolve: (workspace, _args, context) => identitySecretOf(context.herald, workspace.id),
    }),
    webhookSigningSecret: t.string({
      nullable: true,
      description: 'Signs webhook requests (Standard Webhooks, whsec_…): give it to your receiver to verify webhook-signature. Keep it on your server.',
      authScopes: { secretKey: true },
      resolve: (workspace, _args, context) => webhookSecretOf(context.herald, workspace.id),
    }),
  }),
});

export const ApiKeyRef = builder.prismaNode('ApiKey', {
  nullable: true,
  id: { field: 'id' },
  findUnique: (id, context) => ({ id, workspaceId: workspaceIdOf(context) }),
  fields: (t) => ({
    kind: t.expose('kind', { type: ApiKeyKind }),
    prefix: t.exposeString('prefix', { description: 'The first characters of the key, to recognise it.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
  }),
});

const PublicConfig = builder.objectRef<{ workspaceId: string; vapidPublicKey: string }>('PublicConfig').implement({
  description: 'What a web page needs to subscribe a browser; safe to read with a publishable key.',
  fields: (t) => ({
    workspaceId: t.exposeID('workspaceId'),
    vapidPublicKey: t.exposeString('vapidPublicKey'),
  }),
});

builder.queryFields((t) => ({
  viewer: t.prismaField({
    type: 'Workspace',
    description: 'The workspace of the key used.',
    resolve: (query, _root, _args, context) =>
      context.herald.prisma.workspace.findUniqueOrThrow({ ...query, where: { id: workspaceIdOf(context) } }),
  }),
  publicConfig: t.field({
    type: PublicConfig,
    skipTypeScopes: true,
    authScopes: { secretKey: true, publishableKey: true },
    resolve: async (_root, _args, context) => {
      const workspace = await getWorkspace(context.herald, workspaceIdOf(context));
      return { workspaceId: encodeGlobalID('Workspace', workspace.id), vapidPublicKey: workspace.vapidPublicKey };
    },
  }),
  workspaces: t.prismaField({
    type: ['Workspace'],
    description: 'All workspaces (admin token only).',
    skipTypeScopes: true,
    authScopes: { admin: true },
    resolve: (_query, _root, _args, context) => listWorkspaces(context.herald),
  }),
}));

const WorkspaceCreated = builder
  .objectRef<{ workspace: Workspace; secretKey: string; publishableKey: string }>('WorkspaceCreated')
  .implement({
    fields: (t) => ({
      workspace: t.field({ type: WorkspaceRef, resolve: (created) => created.workspace }),
      secretKey: t.exposeString('secretKey', { description: 'Shown once: store it now.' }),
      publishableKey: t.exposeString('publishableKey', { description: 'Shown once; safe to ship in a web page.' }),
    }),
  });

const ApiKeyCreated = builder.objectRef<{ key: string; apiKey: ApiKey }>('ApiKeyCreated').implement({
  fields: (t) => ({
    key: t.exposeString('key', { description: 'Shown once: store it now.' }),
    apiKey: t.field({ type: ApiKeyRef, resolve: (created) => created.apiKey }),
  }),
});

const QuietHoursInput = builder.inputType('QuietHoursInput', {
  fields: (t) => ({ start: t.field({ type: 'LocalTime', required: true }), end: t.field({ type: 'LocalTime', required: true }) }),
});
const FrequencyCapInput = builder.inputType('FrequencyCapInput', {
  fields: (t) => ({
    limit: t.int({ required: true }),
    period: t.field({ type: CapPeriod, required: true }),
    channel: t.field({ type: ChannelEnum, description: 'Count and limit only this channel’s messages; absent: all channels.' }),
  }),
});

const DkimInput = builder.inputType('DkimInput', {
  fields: (t) => ({
    domain: t.string({ required: true, description: 'The domain the signature vouches for, e.g. shop.example (the From address’s or a parent of it).' }),
    selector: t.string({ required: true, description: 'A DNS label: the public key is published at <selector>._domainkey.<domain>.' }),
    privateKey: t.string({ description: 'An RSA private key (at least 1024 bits; 2048 recommended) in PEM. Absent keeps the stored key; write-only.' }),
  }),
});

const EmailSettingsInput = builder.inputType('EmailSettingsInput', {
  description: 'Fields left out keep their values; null clears one.',
  fields: (t) => ({
    fromAddress: t.string(),
    fromName: t.string(),
    replyTo: t.string(),
    smtpUrl: t.string({
      description: 'smtp://user:password@host:587 (STARTTLS) or smtps://…:465 (TLS), write-only. null clears it: email then goes through HERALD_SMTP_URL.',
    }),
    dkim: t.field({ type: DkimInput, description: 'null turns DKIM signing off and forgets the key.' }),
    doubleOptIn: t.boolean({ description: 'Send a confirmation email before an opt-in counts.' }),
  }),
});

const LinkSettingsInput = builder.inputType('LinkSettingsInput', {
  fields: (t) => ({
    appSchemes: t.stringList({
      description: 'Replaces the registered app schemes (e.g. ["myapp"]); a smart link may then send a phone to myapp://…. Never javascript:, data:, file: and the like.',
    }),
  }),
});

builder.mutationFields((t) => ({
  createWorkspace: t.fieldWithInput({
    type: WorkspaceCreated,
    skipTypeScopes: true,
    authScopes: { admin: true },
    input: { name: t.input.string({ required: true }) },
    errors: {},
    resolve: (_root, { input }, context) => createWorkspace(context.herald, input),
  }),
  createApiKey: t.fieldWithInput({
    type: ApiKeyCreated,
    input: { kind: t.input.field({ type: ApiKeyKind, required: true }) },
    errors: {},
    resolve: (_root, { input }, context) => createApiKey(context.herald, workspaceIdOf(context), input.kind),
  }),
  revokeApiKey: t.fieldWithInput({
    type: ApiKeyRef,
    input: { id: t.input.id({ required: true }) },
    errors: {},
    resolve: (_root, { input }, context) =>
      revokeApiKey(context.herald, workspaceIdOf(context), requireLocalId(String(input.id), 'ApiKey', ErrorCode.apiKeyNotFound)),
  }),
  updateWorkspaceSettings: t.fieldWithInput({
    type: WorkspaceRef,
    input: {
      timezone: t.input.field({ type: 'TimeZone' }),
      quietHours: t.input.field({ type: QuietHoursInput, description: 'null removes quiet hours.' }),
      frequencyCaps: t.input.field({ type: [FrequencyCapInput] }),
      consentTag: t.input.string(),
      requireIdentityVerification: t.input.boolean({
        description: 'Turn off only if you accept that any web page may act as any customer it can name.',
      }),
      controlGroupPercent: t.input.int({
        description: 'Holds this share (0-50) of contacts out of every marketing message, to measure what messaging changes; the same contacts as long as it is unchanged.',
      }),
      email: t.input.field({ type: EmailSettingsInput, description: 'null clears every email setting, secrets included.' }),
      apns: t.input.field({ type: ApnsSettingsInput, description: 'null clears the APNs settings and forgets the key.' }),
      fcm: t.input.field({ type: FcmSettingsInput, description: 'null clears the FCM settings and forgets the service account.' }),
      sms: t.input.field({ type: SmsSettingsInput, description: 'null clears the SMS settings and forgets the auth token.' }),
      links: t.input.field({ type: LinkSettingsInput, description: 'Smart links: the app schemes their targets may use; null clears them.' }),
    },
    errors: {},
    resolve: (_root, { input }, context) =>
      updateWorkspaceSettings(context.herald, workspaceIdOf(context), {
        timezone: input.timezone ?? undefined,
        quietHours: input.quietHours,
        frequencyCaps: input.frequencyCaps ?? undefined,
        consentTag: input.consentTag ?? undefined,
        requireIdentityVerification: input.requireIdentityVerification ?? undefined,
        controlGroupPercent: input.controlGroupPercent ?? undefined,
        email: input.email,
        apns: input.apns,
        fcm: input.fcm,
        sms: input.sms,
        links: input.links,
      }),
  }),
  rotateIdentitySecret: t.fieldWithInput({
    type: WorkspaceRef,
    description: 'Replaces the identity secret at once: tokens made with the old one stop verifying.',
    input: { reason: t.input.string({ description: 'Why, for the log.' }) },
    errors: {},
    resolve: (_root, { input }, context) => rotateIdentitySecret(context.herald, workspaceIdOf(context), input.reason),
  }),
  rotateWebhookSecret: t.fieldWithInput({
    type: WorkspaceRef,
    description: 'Replaces the webhook signing secret; for 24 hours webhooks carry a signature with the old one too, so receivers can switch.',
    input: { reason: t.input.string({ description: 'Why, for the log.' }) },
    errors: {},
    resolve: (_root, { input }, context) => rotateWebhookSecret(context.herald, workspaceIdOf(context), input.reason),
  }),
}));
