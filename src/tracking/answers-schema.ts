import { MessageRef } from '../delivery/schema.ts';
import { builder } from '../graphql/builder.ts';
import { workspaceIdOf } from '../graphql/context.ts';
import { answerQuestion, MAX_ANSWER_TEXT } from './answers.ts';

builder.mutationField('answerQuestion', (t) =>
  t.fieldWithInput({
    type: MessageRef,
    description:
      'Answers the question a message asked, by the token in its payload (as recordMessageEvent). The first answer of a message is kept and stored as the ' +
      'contact’s `feedback` event; it also counts as a click. An answer the question does not offer is a ValidationError and changes nothing.',
    skipTypeScopes: true,
    authScopes: { secretKey: true, publishableKey: true },
    input: {
      token: t.input.string({ required: true }),
      answer: t.input.string({ required: true, description: 'One of the question’s `answers`: "0"–"10" (NPS), "1"–"5" (STARS), "up"/"down" (THUMBS), a choice.' }),
      text: t.input.string({ description: `A free-text answer beside it, where the question has freeText (at most ${MAX_ANSWER_TEXT} characters).` }),
    },
    errors: {},
    resolve: (_root, { input }, context) => answerQuestion(context.herald, input, workspaceIdOf(context)),
  }),
);
