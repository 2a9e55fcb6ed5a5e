import { builder } from '../graphql/builder.ts';

export const ContactInput = builder.inputType('ContactInput', {
  description: 'Matched by externalId, else email, else anonymousId. Absent fields stay as they are; attributes are merged, tags added.',
  fields: (t) => ({
    externalId: t.string(),
    anonymousId: t.string(),
    email: t.string(),
    phone: t.string({ description: 'E.164, e.g. +48123456789' }),
    firstName: t.string(),
    lastName: t.string(),
    locale: t.string({ description: 'BCP 47, e.g. en-US' }),
    timezone: t.field({ type: 'TimeZone' }),
    attributes: t.field({ type: 'JSON', description: 'A JSON object of at most 16 KB.' }),
    tags: t.stringList(),
  }),
});

const PushSubscriptionKeysInput = builder.inputType('PushSubscriptionKeysInput', {
  fields: (t) => ({ p256dh: t.string({ required: true }), auth: t.string({ required: true }) }),
});

export const PushSubscriptionJSONInput = builder.inputType('PushSubscriptionJSONInput', {
  description: "The browser's PushSubscription.toJSON().",
  fields: (t) => ({
    endpoint: t.string({ required: true }),
    keys: t.field({ type: PushSubscriptionKeysInput, required: true }),
    expirationTime: t.field({ type: 'DateTime' }),
  }),
});
