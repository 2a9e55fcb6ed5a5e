import { type FieldError, ValidationError } from '../errors.ts';
import { builder } from '../graphql/builder.ts';

/**
 * A question a message asks (issue #23): an on-site message, a push (its action buttons) or an
 * email (its buttons). Saved inside the channel's content as `question`; an answer is one of
 * `answersOf(question)`, recorded once per message as a `feedback` event (feedback/answers.ts).
 */
export const QuestionKinds = ['NPS', 'STARS', 'THUMBS', 'CHOICE'] as const;
export type QuestionKind = (typeof QuestionKinds)[number];

export interface Question {
  kind: QuestionKind;
  /** What is asked, shown with the answers ("How likely are you to recommend us?"). */
  text: string;
  /** CHOICE only: the answers offered, 2 to 6 distinct labels. */
  choices?: string[];
  /** On-site only: a free-text box beside the answer. */
  freeText?: boolean;
}

export const MAX_CHOICES = 6;
const MAX_TEXT = 300;
const MAX_CHOICE = 60;

/** Every answer `question` accepts, in the order shown: NPS 0–10, STARS 1–5, THUMBS up/down, CHOICE its labels. */
export function answersOf(question: Question): string[] {
  switch (question.kind) {
    case 'NPS':
      return Array.from({ length: 11 }, (_, score) => String(score));
    case 'STARS':
      return ['1', '2', '3', '4', '5'];
    case 'THUMBS':
      return ['up', 'down'];
    case 'CHOICE':
      return question.choices ?? [];
  }
}

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
