import { MessageRef } from '../delivery/schema.ts';
import { builder } from '../graphql/builder.ts';
import { workspaceIdOf } from '../graphql/context.ts';
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
