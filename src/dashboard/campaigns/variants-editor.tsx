import { Field } from '../ui/form.tsx';
import { type CampaignForm, VARIANT_TEXT, type VariantForm } from './form-state.ts';

/**
 * An A/B test and a holdout. The message above is the first variant; each other variant changes
 * its title (push, on-site; and body), subject (email), text (SMS) or body (webhook). Each contact gets one variant, always
 * the same; the held-out share gets nothing, to measure what the campaign changes.
 */
export function VariantsEditor({ form, onChange, error }: { form: CampaignForm; onChange: (patch: Partial<CampaignForm>) => void; error: (path: string) => string | undefined }) {
  const { variants } = form;
  const label = VARIANT_TEXT[form.channel];
  const setVariant = (index: number, patch: Partial<VariantForm>) => onChange({ variants: variants.map((one, at) => (at === index ? { ...one, ...patch } : one)) });
  const add = () => onChange({ variants: [...variants, { name: String.fromCharCode(66 + variants.length), weight: '1', text: '', body: '' }] });
  return (
    <section aria-labelledby="experiment-editor">
      <h2 id="experiment-editor">A/B test and holdout</h2>
      <p className="hint">
        With variants, the message above is variant <strong>{form.firstVariantName || 'A'}</strong>; each contact gets one variant, always the same. The campaign page shows
        which wins, live.
      </p>
      {!label && <p className="hint">A push to phones has no variants; a holdout still measures what it changes.</p>}
      {label && variants.length > 0 && (
        <div className="row">
          <Field label="Name of the message above" error={error('variants.0.name')}>
            <input value={form.firstVariantName} onChange={(event) => onChange({ firstVariantName: event.target.value })} />
          </Field>
          <Field label="Its weight" error={error('variants.0.weight')}>
            <input type="number" min={1} value={form.firstVariantWeight} onChange={(event) => onChange({ firstVariantWeight: event.target.value })} />
          </Field>
        </div>
      )}
      {label && variants.map((variant, index) => (
        <fieldset key={index} className="variant" data-variant-editor={index + 1}>
          <legend>Variant {index + 2}</legend>
          <div className="row">
            <Field label={`Variant ${index + 2} name`} error={error(`variants.${index + 1}.name`)}>
              <input value={variant.name} onChange={(event) => setVariant(index, { name: event.target.value })} />
            </Field>
            <Field label={`Variant ${index + 2} weight`} error={error(`variants.${index + 1}.weight`)}>
              <input type="number" min={1} value={variant.weight} onChange={(event) => setVariant(index, { weight: event.target.value })} />
            </Field>
          </div>
          <Field label={`Variant ${index + 2} ${label.toLowerCase()}`} error={error(`variants.${index + 1}`)}>
            {form.channel === 'SMS' || form.channel === 'WEBHOOK' ? (
              <textarea rows={3} className={form.channel === 'WEBHOOK' ? 'code' : undefined} value={variant.text} onChange={(event) => setVariant(index, { text: event.target.value })} />
            ) : (
              <input value={variant.text} onChange={(event) => setVariant(index, { text: event.target.value })} />
            )}
          </Field>
          {(form.channel === 'WEB_PUSH' || form.channel === 'IN_APP') && (
            <Field label={`Variant ${index + 2} body`}>
              <input value={variant.body} onChange={(event) => setVariant(index, { body: event.target.value })} />
            </Field>
          )}
          <button type="button" className="quiet small" onClick={() => onChange({ variants: variants.filter((_, at) => at !== index) })}>
            Remove variant {index + 2}
          </button>
        </fieldset>
      ))}
      {label && (
        <div className="toolbar">
          <button type="button" className="quiet small" onClick={add} disabled={variants.length >= 7}>
            Add a variant
          </button>
        </div>
      )}
      <Field label="Holdout (% of the audience sent nothing)" error={error('holdoutPercent')} hint="0-50. Comparing against a holdout needs a conversion event (under Delivery).">
        <input type="number" min={0} max={50} value={form.holdoutPercent} onChange={(event) => onChange({ holdoutPercent: event.target.value })} />
      </Field>
    </section>
  );
}
