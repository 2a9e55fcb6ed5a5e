import { ErrorCode, ValidationError } from '../errors.ts';
import { builder } from '../graphql/builder.ts';
import { type Context, workspaceIdOf } from '../graphql/context.ts';
import { localId, requireLocalId } from '../graphql/ids.ts';
import { identifyContact } from './identify.ts';
import type { Writer } from './identity.ts';
import { ContactInput, optInDescription, PushSubscriptionJSONInput } from './inputs.ts';
import { registerPushSubscription, revokePushSubscription } from './push-subscriptions.ts';
import { ContactRef, PushSubscriptionRef } from './schema.ts';
import { deleteContact, type ImportResult as ImportResultShape, importContacts, setTags, upsertContact } from './service.ts';
import { FieldErrorRef } from '../graphql/errors.ts';

/** A web page (publishable key) may call these too. */
export const pageOrServer = { skipTypeScopes: true, authScopes: { secretKey: true, publishableKey: true } } as const;

/** A publishable key writes as a page: it proves whom it names and only fills gaps. */
export const writerOf = (context: Context): Writer => (context.principal.kind === 'publishable' ? 'page' : 'backend');
const identityToken = { description: "With a publishable key, required to name a customer: hex HMAC-SHA256 of the externalId under the workspace's identity secret." };

/** Inputs name contacts by global id; services want the database id. */
export function withLocalContactId<T extends { contactId?: string | number | null }>(input: T, path: string[]) {
  if (input.contactId == null) return { ...input, contactId: undefined };
  const contactId = localId(String(input.contactId), 'Contact');
  if (!contactId) throw ValidationError.field([...path, 'contactId'], 'no contact with this id');
  return { ...input, contactId };
}

/** GraphQL gives absent optional fields as null; services treat null and absent alike. */
export function withoutNulls<T extends object>(input: T): { [K in keyof T]: Exclude<T[K], null> } {
  return Object.fromEntries(Object.entries(input).filter(([, value]) => value !== null)) as never;
}

const ImportFailure = builder.objectRef<{ index: number; errors: { path: string[]; message: string }[] }>('ImportFailure').implement({
  fields: (t) => ({
    index: t.exposeInt('index', { description: 'Position of the row in input.contacts.' }),
    errors: t.field({ type: [FieldErrorRef], resolve: (failure) => failure.errors }),
  }),
});
const ImportResult = builder.objectRef<ImportResultShape>('ImportContactsResult').implement({
  fields: (t) => ({
    created: t.exposeInt('created'),
    updated: t.exposeInt('updated'),
    failed: t.field({ type: [ImportFailure], resolve: (result) => result.failed }),
  }),
});
const DeletedId = builder.objectRef<{ id: string }>('DeletedId').implement({ fields: (t) => ({ id: t.exposeID('id') }) });
const Count = builder.objectRef<{ count: number }>('AffectedCount').implement({
  fields: (t) => ({ count: t.exposeInt('count', { description: 'Contacts that changed.' }) }),
});

builder.mutationFields((t) => ({
  upsertContact: t.field({
    type: ContactRef,
    args: { input: t.arg({ type: ContactInput, required: true }) },
    errors: {},
    resolve: (_root, { input }, context) => upsertContact(context.herald, workspaceIdOf(context), withoutNulls(input)),
  }),
  importContacts: t.fieldWithInput({
    type: ImportResult,
    input: { contacts: t.input.field({ type: [ContactInput], required: true }) },
    errors: {},
    resolve: (_root, { input }, context) =>
      importContacts(context.herald, workspaceIdOf(context), input.contacts.map((contact) => withoutNulls(contact))),
  }),
  identifyContact: t.fieldWithInput({
    ...pageOrServer,
    type: ContactRef,
    input: {
      anonymousId: t.input.string({ required: true }),
      externalId: t.input.string({ required: true }),
      attributes: t.input.field({
        type: 'JSON',
        description: 'firstName, lastName, email, phone, locale and timezone in here are stored as the contact’s own fields.',
      }),
      identityToken: t.input.string(identityToken),
      emailOptIn: t.input.boolean({ description: optInDescription('email') }),
      smsOptIn: t.input.boolean({ description: optInDescription('phone') }),
    },
    errors: {},
    resolve: (_root, { input }, context) => identifyContact(context.herald, workspaceIdOf(context), withoutNulls(input), writerOf(context)),
  }),
  deleteContact: t.fieldWithInput({
    type: DeletedId,
    description: 'Erases the contact with its events, push subscriptions and messages.',
    input: { id: t.input.id({ required: true }) },
    errors: {},
    resolve: async (_root, { input }, context) => {
      await deleteContact(context.herald, workspaceIdOf(context), requireLocalId(String(input.id), 'Contact', ErrorCode.contactNotFound));
      return { id: String(input.id) };
    },
  }),
  tagContacts: t.fieldWithInput({
    type: Count,
    input: { ids: t.input.idList({ required: true }), tags: t.input.stringList({ required: true }) },
    errors: {},
    resolve: (_root, { input }, context) =>
      setTags(context.herald, workspaceIdOf(context), { ids: contactIds(input.ids), tags: input.tags }),
  }),
  untagContacts: t.fieldWithInput({
    type: Count,
    input: { ids: t.input.idList({ required: true }), tags: t.input.stringList({ required: true }) },
    errors: {},
    resolve: (_root, { input }, context) =>
      setTags(context.herald, workspaceIdOf(context), { ids: contactIds(input.ids), tags: input.tags }, true),
  }),
  registerPushSubscription: t.fieldWithInput({
    ...pageOrServer,
    type: PushSubscriptionRef,
    input: {
      contactId: t.input.id(),
      externalId: t.input.string(),
      anonymousId: t.input.string(),
      identityToken: t.input.string(identityToken),
      subscription: t.input.field({ type: PushSubscriptionJSONInput, required: true }),
      userAgent: t.input.string(),
      timezone: t.input.field({ type: 'TimeZone' }),
      locale: t.input.string(),
    },
    errors: {},
    resolve: (_root, { input }, context) =>
      registerPushSubscription(context.herald, workspaceIdOf(context), withoutNulls(withLocalContactId(input, ['input'])), writerOf(context)),
  }),
  revokePushSubscription: t.fieldWithInput({
    ...pageOrServer,
    type: PushSubscriptionRef,
    input: { endpoint: t.input.string({ required: true }) },
    errors: {},
    resolve: (_root, { input }, context) => revokePushSubscription(context.herald, workspaceIdOf(context), input.endpoint),
  }),
}));

/** Global contact ids to database ids; a malformed one is named in a ValidationError. */
function contactIds(ids: readonly (string | number)[]): string[] {
  return ids.map((id, index) => {
    const local = localId(String(id), 'Contact');
    if (!local) throw ValidationError.field(['input', 'ids', String(index)], 'no contact with this id');
    return local;
  });
}
