import { Field } from '../ui/form.tsx';
import type { InAppForm } from './form-state.ts';
import { InAppPreview } from './in-app-preview.tsx';
import type { QuestionForm } from './question.ts';
import { QuestionEditor } from './question-editor.tsx';

const LAYOUTS: Record<InAppForm['layout'], string> = {
  MODAL: 'Modal: a dialog over the page',
  BANNER: 'Banner: a bar across the top',
  SLIDE_IN: 'Slide-in: a card in the corner',
};

/**
 * An on-site message (channel IN_APP, docs/in-app.md): what Herald's browser SDK shows the contact
 * on your site at their next visit, with up to two buttons and a feedback question, previewed as
 * the SDK draws it.
 */
export function InAppEditor({
  inApp,
  question,
  onChange,
  onQuestion,
  error,
}: {
  inApp: InAppForm;
  question: QuestionForm;
  onChange: (inApp: InAppForm) => void;
  onQuestion: (question: QuestionForm) => void;
  error: (path: string) => string | undefined;
}) {
  const set = (patch: Partial<InAppForm>) => onChange({ ...inApp, ...patch });
  const setButton = (index: number, patch: Partial<InAppForm['buttons'][number]>) => set({ buttons: inApp.buttons.map((one, at) => (at === index ? { ...one, ...patch } : one)) });
  return (
    <section aria-labelledby="message">
      <h2 id="message">On-site message</h2>
      <p className="hint">
        Shown by Herald’s SDK on your site at the contact’s next visit. Texts and links are Liquid templates, e.g. <code>{"Hi {{ contact.firstName | default: 'there' }}"}</code>,
        shown as plain text.
      </p>
      <div className="columns">
        <div>
          <Field label="Shown as" error={error('inApp.layout')}>
            <select value={inApp.layout} onChange={(event) => set({ layout: event.target.value as InAppForm['layout'] })}>
              {Object.entries(LAYOUTS).map(([layout, words]) => (
                <option key={layout} value={layout}>
                  {words}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Title" error={error('inApp.title')} hint="A title or a body is required.">
            <input value={inApp.title} onChange={(event) => set({ title: event.target.value })} />
          </Field>
          <Field label="Body" error={error('inApp.body')}>
            <textarea rows={3} value={inApp.body} onChange={(event) => set({ body: event.target.value })} />
          </Field>
          <Field label="Image URL (https; not shown in a banner)" error={error('inApp.imageUrl')}>
            <input type="url" value={inApp.imageUrl} onChange={(event) => set({ imageUrl: event.target.value })} />
          </Field>
          <Field label="Waits for the visit (days; empty: 30)" error={error('inApp.ttlSeconds')}>
            <input type="number" min={1} max={365} value={inApp.ttlDays} onChange={(event) => set({ ttlDays: event.target.value })} />
          </Field>
        </div>
        <div>
          <fieldset>
            <legend>Buttons (at most 2)</legend>
            {inApp.buttons.map((button, index) => (
              <div className="row" key={index}>
                <Field label={`Button ${index + 1} label`} error={error(`inApp.buttons.${index}.label`)}>
                  <input value={button.label} onChange={(event) => setButton(index, { label: event.target.value })} />
                </Field>
                <Field label={`Button ${index + 1} opens (http or https URL)`} error={error(`inApp.buttons.${index}.url`)}>
                  <input type="url" value={button.url} onChange={(event) => setButton(index, { url: event.target.value })} placeholder="https://shop.example/sale" />
                </Field>
                <button type="button" className="quiet small" onClick={() => set({ buttons: inApp.buttons.filter((_, at) => at !== index) })}>
                  Remove button {index + 1}
                </button>
              </div>
            ))}
            {inApp.buttons.length < 2 && (
              <button type="button" className="quiet small" onClick={() => set({ buttons: [...inApp.buttons, { label: '', url: '' }] })}>
                Add a button
              </button>
            )}
          </fieldset>
          <QuestionEditor question={question} onChange={onQuestion} error={error} at="inApp" onSite hint="The visitor answers with one click; each answer is a feedback event." />
        </div>
      </div>
      <InAppPreview inApp={inApp} question={question} />
    </section>
  );
}
