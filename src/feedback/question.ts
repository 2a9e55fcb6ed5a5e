import { type FieldError, ValidationError } from '../errors.ts';
import { builder } from '../graphql/builder.ts';
import { answersOf, type Question, QuestionKinds } from './kinds.ts';

/** A message's question (kinds.ts) as Herald checks it at save and answers it in GraphQL. */
export { answersOf, type Question, type QuestionKind, QuestionKinds } from './kinds.ts';

export const MAX_CHOICES = 6;
const MAX_TEXT = 300;
const MAX_CHOICE = 60;

/** The Net Promoter Score of NPS answers: % of 9–10 minus % of 0–6, null with no answers. */
export function npsOf(distribution: ReadonlyMap<string, number>): number | null {
  let promoters = 0;
  let detractors = 0;
  let total = 0;
  for (const [answer, count] of distribution) {
    const score = Number(answer);
    if (!Number.isInteger(score) || score < 0 || score > 10) continue;
    total += count;
    if (score >= 9) promoters += count;
    else if (score <= 6) detractors += count;
  }
  return total ? Math.round(((promoters - detractors) / total) * 1000) / 10 : null;
}

/** `input` checked and normalised (trimmed, choices only for CHOICE), or a ValidationError at `path`. */
export function checkedQuestion(input: Question, path: string[]): Question {
  const errors: FieldError[] = [];
  const text = input.text.trim();
  if (!text || text.length > MAX_TEXT) errors.push({ path: [...path, 'text'], message: `must be 1 to ${MAX_TEXT} characters` });
  const choices = input.kind === 'CHOICE' ? (input.choices ?? []).map((choice) => choice.trim()) : undefined;
  if (choices) {
    if (choices.length < 2 || choices.length > MAX_CHOICES) errors.push({ path: [...path, 'choices'], message: `a CHOICE question offers 2 to ${MAX_CHOICES} choices` });
    if (choices.some((choice) => !choice || choice.length > MAX_CHOICE)) errors.push({ path: [...path, 'choices'], message: `each choice must be 1 to ${MAX_CHOICE} characters` });
    if (new Set(choices).size !== choices.length) errors.push({ path: [...path, 'choices'], message: 'choices must differ' });
  } else if (input.choices?.length) {
    errors.push({ path: [...path, 'choices'], message: 'only a CHOICE question has choices' });
  }
  if (errors.length) throw new ValidationError(errors);
  return { kind: input.kind, text, ...(choices && { choices }), ...(input.freeText && { freeText: true }) };
}

export const QuestionKindEnum = builder.enumType('QuestionKind', {
  description: 'NPS: 0–10; STARS: 1–5; THUMBS: up or down; CHOICE: one of the question’s choices.',
  values: QuestionKinds,
});

export const QuestionInput = builder.inputType('QuestionInput', {
  description: 'A question a message asks; answers are recorded as `feedback` events, once per message.',
  fields: (t) => ({
    kind: t.field({ type: QuestionKindEnum, required: true }),
    text: t.string({ required: true }),
    choices: t.stringList({ description: `CHOICE only: 2 to ${MAX_CHOICES} labels.` }),
    freeText: t.boolean({ description: 'On-site only: offer a free-text box beside the answer.' }),
  }),
});

export const QuestionRef = builder.objectRef<Question>('Question').implement({
  description: 'A question a message asks.',
  fields: (t) => ({
    kind: t.field({ type: QuestionKindEnum, resolve: (question) => question.kind }),
    text: t.exposeString('text'),
    choices: t.stringList({ nullable: true, resolve: (question) => question.choices ?? null }),
    freeText: t.boolean({ resolve: (question) => question.freeText ?? false }),
    answers: t.stringList({ description: 'Every answer the question accepts, in the order shown.', resolve: answersOf }),
  }),
});
