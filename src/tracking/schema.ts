import { ErrorCode } from '../errors.ts';
import { MessageRef } from '../delivery/schema.ts';
import { builder } from '../graphql/builder.ts';
import { workspaceIdOf } from '../graphql/context.ts';
import { requireLocalId } from '../graphql/ids.ts';
import { EmailFeedbackTypes, recordEmailFeedback } from './email-feedback.ts';
import { MessageEventTypes, recordMessageEvent } from './service.ts';

export const MessageEventTypeEnum = builder.enumType('MessageEventType', { values: MessageEventTypes });

builder.mutationField('recordMessageEvent', (t) =>
  t.fieldWithInput({
    type: MessageRef,
    description: 'What a browser did with a push, by the token in its payload (as POST /track does). Each type counts once per message; CLICKED implies DISPLAYED.',
    skipTypeScopes: true,
    authScopes: { secretKey: true, publishableKey: true },
    input: {
      token: t.input.string({ required: true }),
      type: t.input.field({ type: MessageEventTypeEnum, required: true }),
    },
    errors: {},
    resolve: (_root, { input }, context) => recordMessageEvent(context.herald, input, workspaceIdOf(context)),
  }),
);

export const EmailFeedbackTypeEnum = builder.enumType('EmailFeedbackType', { values: EmailFeedbackTypes });

builder.mutationField('recordEmailFeedback', (t) =>
  t.fieldWithInput({
    type: MessageRef,
    description:
      'An asynchronous bounce or complaint about one email (e.g. from a mail provider’s webhook), named by its tracking token or id. ' +
      'A permanent BOUNCE fails the message (BOUNCED) and marks the contact BOUNCED; a transient one only records the diagnostic; ' +
      'a COMPLAINT marks the contact COMPLAINED. Recording the same feedback again changes nothing.',
    input: {
      token: t.input.string({ description: 'The tracking token of the email’s links.' }),
      messageId: t.input.id({ description: 'The Message id; with a token too, both must name the same message.' }),
      type: t.input.field({ type: EmailFeedbackTypeEnum, required: true }),
      permanent: t.input.boolean({ defaultValue: false, description: 'BOUNCE only: the address cannot receive mail (a 5.x.x status).' }),
      diagnostic: t.input.string({ description: 'What the mail server said; kept as the message’s error (at most 500 characters).' }),
    },
    errors: {},
    resolve: (_root, { input }, context) =>
      recordEmailFeedback(context.herald, workspaceIdOf(context), {
        token: input.token,
        messageId: input.messageId == null ? null : requireLocalId(String(input.messageId), 'Message', ErrorCode.messageNotFound),
        type: input.type,
        permanent: input.permanent ?? false,
        diagnostic: input.diagnostic,
      }),
  }),
);
