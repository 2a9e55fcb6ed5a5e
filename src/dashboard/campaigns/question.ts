import { answersOf as answersOfQuestion } from '../../feedback/kinds.ts';
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

/** Every answer the question offers, in the order shown (Herald's own answersOf, for the preview). */
export function answersOf(question: QuestionForm): string[] {
  if (!question.kind) return [];
  return answersOfQuestion({ kind: question.kind, text: question.text, choices: question.choices.split('\n').map((choice) => choice.trim()).filter(Boolean) });
}
