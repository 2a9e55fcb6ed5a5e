import type { QuestionKind } from '../generated/graphql.ts';

/** A message's feedback question as typed (docs/feedback.md); kind '' asks nothing. */
export interface QuestionForm {
  kind: QuestionKind | '';
  text: string;
  /** CHOICE only, one per line. */
  choices: string;
  /** On-site only. */
  freeText: boolean;
}

export const blankQuestion = (): QuestionForm => ({ kind: '', text: '', choices: '', freeText: false });

/** The QuestionInput, or null for none; choices only for CHOICE and a free-text box only on-site, as Herald takes them. */
export function questionInput(question: QuestionForm, onSite: boolean) {
  if (!question.kind) return null;
  return {
    kind: question.kind,
    text: question.text,
    choices: question.kind === 'CHOICE' ? question.choices.split('\n').map((choice) => choice.trim()).filter(Boolean) : null,
    freeText: onSite && question.freeText ? true : null,
  };
}

export function questionFrom(saved: { kind: QuestionKind; text: string; choices?: string[] | null; freeText: boolean } | null | undefined): QuestionForm {
  if (!saved) return blankQuestion();
  return { kind: saved.kind, text: saved.text, choices: (saved.choices ?? []).join('\n'), freeText: saved.freeText };
}

/** Every answer the question offers, in the order shown (src/feedback/question.ts answersOf, for the preview). */
export function answersOf(question: QuestionForm): string[] {
  switch (question.kind) {
    case 'NPS':
      return Array.from({ length: 11 }, (_, score) => String(score));
    case 'STARS':
      return ['1', '2', '3', '4', '5'];
    case 'THUMBS':
      return ['up', 'down'];
    case 'CHOICE':
      return question.choices.split('\n').map((choice) => choice.trim()).filter(Boolean);
    default:
      return [];
  }
}
