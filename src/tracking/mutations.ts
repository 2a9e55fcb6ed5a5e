import { pageOrServer, withLocalContactId, withoutNulls, writerOf } from '../contacts/mutations.ts';
import { EventRef } from '../contacts/schema.ts';
import { builder } from '../graphql/builder.ts';
import { workspaceIdOf } from '../graphql/context.ts';
import { trackEvent, trackEvents } from './events.ts';

const EventInput = builder.inputType('EventInput', {
  description: 'Names its contact by one of contactId, externalId or anonymousId (unknown ones are created).',
  fields: (t) => ({
    contactId: t.id(),
    externalId: t.string(),
    anonymousId: t.string(),
    identityToken: t.string({ description: "With a publishable key, required to name a customer: hex HMAC-SHA256 of the externalId under the workspace's identity secret." }),
    name: t.string({ required: true, description: 'Letters, digits, _ . - (at most 100).' }),
    properties: t.field({ type: 'JSON', description: 'A JSON object of at most 8 KB.' }),
    occurredAt: t.field({ type: 'DateTime', description: 'Defaults to now; at most 24 hours ahead.' }),
    idempotencyKey: t.string({ description: 'The same key again stores nothing new.' }),
  }),
});

const TrackedEvents = builder.objectRef<{ count: number; duplicates: number }>('TrackedEvents').implement({
  fields: (t) => ({
    count: t.exposeInt('count', { description: 'Events stored.' }),
    duplicates: t.exposeInt('duplicates', { description: 'Events whose idempotency key was seen before, not stored again.' }),
  }),
});

builder.mutationFields((t) => ({
  trackEvent: t.field({
    ...pageOrServer,
    type: EventRef,
    args: { input: t.arg({ type: EventInput, required: true }) },
    errors: {},
    resolve: (_root, { input }, context) =>
      trackEvent(context.herald, workspaceIdOf(context), withoutNulls(withLocalContactId(input, ['input'])), writerOf(context)),
  }),
  trackEvents: t.fieldWithInput({
    type: TrackedEvents,
    input: { events: t.input.field({ type: [EventInput], required: true }) },
    errors: {},
    resolve: (_root, { input }, context) =>
      trackEvents(
        context.herald,
        workspaceIdOf(context),
        input.events.map((event, index) => withoutNulls(withLocalContactId(event, ['input', 'events', String(index)]))),
      ),
  }),
}));
