import { z } from 'zod';
import { ValidationError } from '../errors.ts';
import { checkedQuestion, type Question, QuestionKinds } from './question.ts';

/**
 * `question` inside a channel's content (zod), checked and normalised by checkedQuestion. Neither
 * a push nor an email has a text box (`freeText` is on-site only).
 */
const shape = z.object({
  kind: z.enum(QuestionKinds),
  text: z.string(),
  choices: z.array(z.string()).nullish(),
  freeText: z.boolean().nullish(),
});

function questionOf(input: z.output<typeof shape>): Question {
  return { kind: input.kind, text: input.text, ...(input.choices && { choices: input.choices }), ...(input.freeText && { freeText: true }) };
}

/** A question checked with checkedQuestion, its problems as zod issues at their fields. */
function questionField(extra: (question: Question, context: z.RefinementCtx) => void) {
  return shape
    .superRefine((input, context) => {
      try {
        checkedQuestion(questionOf(input), []);
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        for (const fieldError of error.fieldErrors) context.addIssue({ code: 'custom', path: fieldError.path, message: fieldError.message });
        return;
      }
      if (input.freeText) context.addIssue({ code: 'custom', path: ['freeText'], message: 'a free-text answer is for on-site messages only' });
      extra(questionOf(input), context);
    })
    .transform((input) => checkedQuestion(questionOf(input), []));
}

/**
 * Any kind: a push offers THUMBS or a CHOICE of two as its action buttons, and anything more (NPS,
 * STARS, more choices) on the answer page its click opens (feedback/push.ts).
 */
export const pushQuestionInput = questionField(() => undefined);

export const emailQuestionInput = questionField(() => undefined);

/** A saved question, read back (it was checked when saved; any channel's content, on-site included). */
export const storedQuestion: z.ZodType<Question, unknown> = z
  .object({ kind: z.enum(QuestionKinds), text: z.string(), choices: z.array(z.string()).nullish(), freeText: z.boolean().nullish() })
  .transform(questionOf);
