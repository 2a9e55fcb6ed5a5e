/*
 * The question model without its GraphQL types or checks (question.ts), so the dashboard's
 * preview shows the answers Herald takes from the same function.
 */

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
