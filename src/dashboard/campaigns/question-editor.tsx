import { Check, Field } from '../ui/form.tsx';
import type { QuestionForm } from './question.ts';

const HOW: Record<string, string> = {
  NPS: 'NPS: 0 to 10 (how likely to recommend)',
  STARS: 'Stars: 1 to 5',
  THUMBS: 'Thumbs up or down',
  CHOICE: 'A choice of 2 to 6 answers',
};

/**
 * The feedback question a message asks (docs/feedback.md): its kind, its text, a CHOICE's answers
 * and, on-site, a free-text box. Errors come at `<at>.question.*` (inApp, content or email).
 */
export function QuestionEditor({
  question,
  onChange,
  error,
  at,
  onSite = false,
  hint,
}: {
  question: QuestionForm;
  onChange: (question: QuestionForm) => void;
  error: (path: string) => string | undefined;
  at: string;
  onSite?: boolean;
  hint?: string;
}) {
  const set = (patch: Partial<QuestionForm>) => onChange({ ...question, ...patch });
  return (
    <fieldset className="question-editor">
      <legend>Feedback question</legend>
      <Field label="Ask" error={error(`${at}.question.kind`)} hint={question.kind ? hint : undefined}>
        <select value={question.kind} onChange={(event) => set({ kind: event.target.value as QuestionForm['kind'] })}>
          <option value="">No question</option>
          {Object.entries(HOW).map(([kind, words]) => (
            <option key={kind} value={kind}>
              {words}
            </option>
          ))}
        </select>
      </Field>
      {question.kind && (
        <Field label="Question" error={error(`${at}.question.text`)}>
          <input value={question.text} onChange={(event) => set({ text: event.target.value })} placeholder="How likely are you to recommend us?" maxLength={300} />
        </Field>
      )}
      {question.kind === 'CHOICE' && (
        <Field label="Answers (one per line, 2 to 6)" error={error(`${at}.question.choices`)}>
          <textarea rows={4} value={question.choices} onChange={(event) => set({ choices: event.target.value })} />
        </Field>
      )}
      {question.kind && onSite && <Check label="Offer a box for a comment beside the answer" checked={question.freeText} onChange={(freeText) => set({ freeText })} />}
    </fieldset>
  );
}
