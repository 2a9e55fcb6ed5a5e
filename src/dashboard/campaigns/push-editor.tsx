import { Check, Field } from '../ui/form.tsx';
import type { CampaignForm } from './form-state.ts';
import { PushPreview } from './push-preview.tsx';
import { answersOf, type QuestionForm } from './question.ts';
import { QuestionEditor } from './question-editor.tsx';

type Push = CampaignForm['push'];

/**
 * A web push: title, body and links are Liquid; the preview shows it as Chrome or Firefox do, with
 * the payload meter. A feedback question replaces the buttons: THUMBS or a CHOICE of two are
 * answered with them, anything else on its answer page, which the notification's click opens.
 */
export function PushEditor({
  push,
  question,
  onChange,
  onQuestion,
  error,
}: {
  push: Push;
  question: QuestionForm;
  onChange: (patch: Partial<Push>) => void;
  onQuestion: (question: QuestionForm) => void;
  error: (path: string) => string | undefined;
}) {
  const setPush = onChange;
  return (
    <section aria-labelledby="message" className="columns">
      <div>
        <h2 id="message">Notification</h2>
        <p className="hint">
          Title, body and links are Liquid templates, e.g. <code>{"Hi {{ contact.firstName | default: 'there' }}"}</code>.
        </p>
        <Field label="Title" error={error('content.title')}>
          <input required value={push.title} onChange={(event) => setPush({ title: event.target.value })} />
        </Field>
        <Field label="Body" error={error('content.body')}>
          <textarea rows={3} value={push.body} onChange={(event) => setPush({ body: event.target.value })} />
        </Field>
        <Field label="Opens (URL)" error={error('content.url')}>
          <input type="url" required value={push.url} onChange={(event) => setPush({ url: event.target.value })} placeholder="https://shop.example/sale" />
        </Field>
        <Field label="Large image URL (a rich push)" error={error('content.imageUrl')}>
          <input type="url" value={push.imageUrl} onChange={(event) => setPush({ imageUrl: event.target.value })} />
        </Field>
        <div className="row">
          <Field label="Icon URL" error={error('content.iconUrl')}>
            <input type="url" value={push.iconUrl} onChange={(event) => setPush({ iconUrl: event.target.value })} />
          </Field>
          <Field label="Badge URL" error={error('content.badgeUrl')}>
            <input type="url" value={push.badgeUrl} onChange={(event) => setPush({ badgeUrl: event.target.value })} />
          </Field>
        </div>
        {question.kind ? (
          <p className="hint">The question’s answers take the notification’s buttons.</p>
        ) : (
          <fieldset>
            <legend>Buttons (at most 2)</legend>
            {push.actions.map((action, index) => {
              const change = (patch: Partial<typeof action>) => setPush({ actions: push.actions.map((one, at) => (at === index ? { ...one, ...patch } : one)) });
              return (
                <div className="row" key={index}>
                  <Field label={`Button ${index + 1} label`} error={error(`content.actions.${index}.title`)}>
                    <input value={action.title} onChange={(event) => change({ title: event.target.value })} />
                  </Field>
                  <Field label="Id" error={error(`content.actions.${index}.action`)}>
                    <input value={action.action} onChange={(event) => change({ action: event.target.value })} size={8} />
                  </Field>
                  <Field label="Opens (URL, optional)" error={error(`content.actions.${index}.url`)}>
                    <input type="url" value={action.url} onChange={(event) => change({ url: event.target.value })} />
                  </Field>
                  <button type="button" className="quiet small" onClick={() => setPush({ actions: push.actions.filter((_, at) => at !== index) })}>
                    Remove button {index + 1}
                  </button>
                </div>
              );
            })}
            {push.actions.length < 2 && (
              <button type="button" className="quiet small" onClick={() => setPush({ actions: [...push.actions, { action: `action${push.actions.length + 1}`, title: '', url: '' }] })}>
                Add a button
              </button>
            )}
          </fieldset>
        )}
        <QuestionEditor
          question={question}
          onChange={onQuestion}
          error={error}
          at="content"
          hint={
            question.kind === 'THUMBS' || question.kind === 'CHOICE'
              ? 'Thumbs or a choice of two: answered with the buttons. More choices: the click opens a page with every answer.'
              : 'Clicking the notification opens a page with every answer (its URL is not used).'
          }
        />
        <details>
          <summary>Delivery options</summary>
          <div className="row">
            <Field label="Urgency" error={error('content.urgency')}>
              <select value={push.urgency} onChange={(event) => setPush({ urgency: event.target.value })}>
                <option value="">Default (normal)</option>
                <option value="VERY_LOW">Very low</option>
                <option value="LOW">Low</option>
                <option value="NORMAL">Normal</option>
                <option value="HIGH">High</option>
              </select>
            </Field>
            <Field label="Kept for offline browsers (hours)" error={error('content.ttlSeconds')}>
              <input type="number" min={0} value={push.ttlHours} onChange={(event) => setPush({ ttlHours: event.target.value })} placeholder="28 days" />
            </Field>
            <Field label="Topic (replaces an undelivered one)" error={error('content.topic')}>
              <input value={push.topic} onChange={(event) => setPush({ topic: event.target.value })} />
            </Field>
          </div>
          <Check label="Stays on screen until the person acts" checked={push.requireInteraction} onChange={(requireInteraction) => setPush({ requireInteraction })} />
        </details>
      </div>
      <aside aria-label="Preview">
        <h2>Preview</h2>
        <PushPreview content={withAnswers(push, question)} />
      </aside>
    </section>
  );
}

/** The push as sent with a question: answers that fit two buttons are its buttons, and the body defaults to the question. */
function withAnswers(push: Push, question: QuestionForm): Push {
  if (!question.kind) return push;
  const answers = question.kind === 'THUMBS' ? ['👍', '👎'] : question.kind === 'CHOICE' ? answersOf(question) : [];
  const actions = answers.length <= 2 ? answers.map((title, index) => ({ action: `answer${index}`, title, url: '' })) : [];
  return { ...push, body: push.body || question.text, actions };
}
