import { builder } from '../graphql/builder.ts';

/** Shared by ContactInput and identifyContact's input. */
export const optInDescription = (address: 'email' | 'phone') =>
  `true subscribes the contact's ${address} (SUBSCRIBED), false unsubscribes it (UNSUBSCRIBED); absent leaves it. ` +
  `A BOUNCED or COMPLAINED ${address} stays so; a new ${address} starts over (NONE unless this says otherwise).` +
  (address === 'email' ? ' With the workspace setting email.doubleOptIn, true mails a confirmation link instead and subscribes once it is confirmed.' : '');

export const ContactInput = builder.inputType('ContactInput', {
  description:
    'Matched by externalId, else email, else anonymousId. Absent fields stay as they are; attributes are merged, tags added. ' +
    'firstName, lastName, email, phone, locale and timezone given inside attributes are stored as those fields (the explicit field wins).',
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
    emailOptIn: t.boolean({ description: optInDescription('email') }),
    smsOptIn: t.boolean({ description: optInDescription('phone') }),
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
