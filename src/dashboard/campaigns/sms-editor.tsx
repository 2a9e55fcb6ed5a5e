import { countSegments } from '../../delivery/sms/segments.ts';
import { Field } from '../ui/form.tsx';

/**
 * An SMS campaign's text with its segment meter and a phone-style preview. The meter counts the
 * text as written, as carriers do (src/delivery/sms/segments.ts, the module Herald itself uses);
 * Herald checks the worst case of the rendered Liquid when it saves.
 */
export function SmsEditor({ body, onChange, error }: { body: string; onChange: (body: string) => void; error?: string }) {
  const { encoding, segments, units } = countSegments(body);
  return (
    <section aria-labelledby="message" className="columns">
      <div>
        <h2 id="message">SMS</h2>
        <Field
          label="Message"
          error={error}
          hint={
            <>
              A Liquid template, e.g. <code>{'Hi {{ contact.firstName }}'}</code>. Herald adds nothing: say how to stop (e.g. “Reply STOP to opt out”).
            </>
          }
        >
          <textarea rows={5} value={body} onChange={(event) => onChange(event.target.value)} />
        </Field>
        <p className="meter" aria-live="polite" data-testid="sms-segments">
          {segments} segment{segments === 1 ? '' : 's'} · {units} {encoding === 'GSM-7' ? 'GSM-7 characters' : 'UCS-2 units (a character outside GSM-7 makes the whole text UCS-2)'}
        </p>
      </div>
      <aside aria-label="Preview">
        <h2>Preview</h2>
        <div className="sms-bubble" data-testid="sms-preview">
          {body || <span className="hint">The message appears here.</span>}
        </div>
      </aside>
    </section>
  );
}
