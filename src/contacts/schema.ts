import type { ChannelStatus } from '../generated/prisma/enums.ts';
import { builder } from '../graphql/builder.ts';
import { checkCursorArgs } from '../graphql/connections.ts';
import { workspaceIdOf } from '../graphql/context.ts';
import { inQuery } from '../graphql/errors.ts';
import { localId } from '../graphql/ids.ts';
import { findContact } from './service.ts';

export const ChannelStatusEnum = builder.enumType('ChannelStatus', {
  description: 'A contact’s consent and deliverability on a channel such as email or SMS.',
  values: ['NONE', 'SUBSCRIBED', 'UNSUBSCRIBED', 'BOUNCED', 'COMPLAINED'] as const satisfies readonly ChannelStatus[],
});

export const ContactRef = builder.prismaNode('Contact', {
  id: { field: 'id' },
  nullable: true,
  findUnique: (id, context) => ({ id, workspaceId: workspaceIdOf(context) }),
  fields: (t) => ({
    externalId: t.exposeString('externalId', { nullable: true }),
    anonymousId: t.exposeString('anonymousId', { nullable: true }),
    identified: t.exposeBoolean('identified'),
    email: t.exposeString('email', { nullable: true}),
    phone: t.exposeString('phone', { nullable: true}),
    firstName: t.exposeString('firstName', { nullable: true}),
    lastName: t.exposeString('lastName', { nullable: true}),
    locale: t.exposeString('locale', { nullable: true }),
    timezone: t.expose('timezone', { type: 'TimeZone', nullable: true }),
    attributes: t.expose('attributes', { type: 'JSON'}),
    tags: t.exposeStringList('tags'),
    consentedAt: t.expose('consentedAt', { type: 'DateTime', nullable: true }),
    emailStatus: t.expose('emailStatus', { type: ChannelStatusEnum, description: 'Consent and deliverability of the contact’s email.' }),
    emailStatusAt: t.expose('emailStatusAt', { type: 'DateTime', nullable: true, description: 'Since when emailStatus holds.' }),
    emailStatusSource: t.exposeString('emailStatusSource', {
      nullable: true,
      description: 'Who set emailStatus: api (a secret key), page (a publishable key), unsubscribe-link, bounce, complaint.',
    }),
    smsStatus: t.expose('smsStatus', { type: ChannelStatusEnum, description: 'Consent and deliverability of the contact’s phone for SMS.' }),
    smsStatusAt: t.expose('smsStatusAt', { type: 'DateTime', nullable: true, description: 'Since when smsStatus holds.' }),
    smsStatusSource: t.exposeString('smsStatusSource', { nullable: true, description: 'Who set smsStatus: api, page, sms-stop, bounce.' }),
    lastSeenAt: t.expose('lastSeenAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the contact was last seen: its newest event to the minute (events less than a minute after it leave it as it is), or its latest registration.',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    pushSubscriptions: t.relation('pushSubscriptions', { query: { orderBy: { createdAt: 'asc' } } }),
    devices: t.relation('devices', { description: 'The phones the contact gets mobile pushes on.', query: { orderBy: { createdAt: 'asc' } } }),
    events: t.relatedConnection('events', {
      description: 'Newest first.',
      cursor: 'contactId_occurredAt_id',
      totalCount: true,
      query: (args) => {
        checkCursorArgs(args, 'uuid', 'time', 'uuid');
        return { orderBy: [{ occurredAt: 'desc' }, { id: 'desc' }] };
      },
    }, { name: 'EventConnection' }, { name: 'EventEdge' }),
  }),
});

const SubscriptionStatus = builder.enumType('PushSubscriptionStatus', { values: ['ACTIVE', 'EXPIRED', 'REVOKED'] as const });

export const PushSubscriptionRef = builder.prismaNode('PushSubscription', {
  id: { field: 'id' },
  nullable: true,
  findUnique: (id, context) => ({ id, workspaceId: workspaceIdOf(context) }),
  fields: (t) => ({
    endpoint: t.exposeString('endpoint'),
    status: t.expose('status', { type: SubscriptionStatus }),
    userAgent: t.exposeString('userAgent', { nullable: true }),
    timezone: t.expose('timezone', { type: 'TimeZone', nullable: true }),
    locale: t.exposeString('locale', { nullable: true }),
    expirationTime: t.expose('expirationTime', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
    contact: t.relation('contact'),
  }),
});

export const EventRef = builder.prismaNode('Event', {
  id: { field: 'id' },
  nullable: true,
  findUnique: (id, context) => ({ id, workspaceId: workspaceIdOf(context) }),
  fields: (t) => ({
    name: t.exposeString('name'),
    properties: t.expose('properties', { type: 'JSON' }),
    occurredAt: t.expose('occurredAt', { type: 'DateTime' }),
    idempotencyKey: t.exposeString('idempotencyKey', { nullable: true }),
  }),
});

builder.queryFields((t) => ({
  contact: t.prismaField({
    type: 'Contact',
    nullable: true,
    description: 'One contact, by exactly one of id, externalId or email.',
    args: { id: t.arg.id(), externalId: t.arg.string(), email: t.arg.string() },
    resolve: (query, _root, args, context) => inQuery(async () => {
      // A malformed id is still "an id was given": it just finds nobody.
      const id = args.id == null ? null : (localId(String(args.id), 'Contact') ?? '');
      return findContact(context.herald, workspaceIdOf(context), { id, externalId: args.externalId, email: args.email }, query);
    }),
  }),
}));
