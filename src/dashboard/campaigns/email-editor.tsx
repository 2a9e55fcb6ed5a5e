import { Field } from '../ui/form.tsx';
import { EmailPreview } from './email-preview.tsx';
import type { CampaignForm } from './form-state.ts';
import type { QuestionForm } from './question.ts';
import { QuestionEditor } from './question-editor.tsx';

type Email = CampaignForm['email'];

/** An email in HTML (previewed in a sandboxed frame) or MJML (compiled on save), with an optional feedback question. */
export function EmailEditor({
  email,
  question,
  onChange,
  onQuestion,
  error,
}: {
  email: Email;
  question: QuestionForm;
  onChange: (patch: Partial<Email>) => void;
  onQuestion: (question: QuestionForm) => void;
  error: (path: string) => string | undefined;
}) {
  const setEmail = onChange;
  return (
    <section aria-labelledby="message" className="columns">
      <div>
        <h2 id="message">Email</h2>
        <Field label="Subject" error={error('email.subject')}>
          <input required value={email.subject} onChange={(event) => setEmail({ subject: event.target.value })} />
        </Field>
        <Field label="Preheader" error={error('email.preheader')}>
          <input value={email.preheader} onChange={(event) => setEmail({ preheader: event.target.value })} />
        </Field>
        <Field label="Written in" error={undefined}>
          <select value={email.format} onChange={(event) => setEmail({ format: event.target.value as 'html' | 'mjml' })}>
            <option value="html">HTML</option>
            <option value="mjml">MJML</option>
          </select>
        </Field>
        <Field label={email.format === 'html' ? 'HTML' : 'MJML'} error={error(`email.${email.format}`)} hint="{{ unsubscribe_url }} links to the one-click unsubscribe.">
          <textarea rows={12} className="code" value={email.body} onChange={(event) => setEmail({ body: event.target.value })} spellCheck={false} />
        </Field>
        <Field label="Plain text (derived from the HTML when empty)" error={error('email.text')}>
          <textarea rows={4} value={email.text} onChange={(event) => setEmail({ text: event.target.value })} />
        </Field>
        <div className="row">
          <Field label="From name" error={error('email.fromName')}>
            <input value={email.fromName} onChange={(event) => setEmail({ fromName: event.target.value })} />
          </Field>
          <Field label="Reply to" error={error('email.replyTo')}>
            <input type="email" value={email.replyTo} onChange={(event) => setEmail({ replyTo: event.target.value })} />
          </Field>
        </div>
        <QuestionEditor
          question={question}
          onChange={onQuestion}
          error={error}
          at="email"
          hint="One-tap answer buttons go where the body writes {{ question_buttons }}, else at its end."
        />
      </div>
      <aside aria-label="Preview">
        <h2>Preview</h2>
        <EmailPreview subject={email.subject} preheader={email.preheader} html={email.body} mjml={email.format === 'mjml'} />
      </aside>
    </section>
  );
}
