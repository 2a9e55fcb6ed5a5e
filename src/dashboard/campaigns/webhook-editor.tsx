import { Field } from '../ui/form.tsx';
import type { WebhookForm } from './form-state.ts';
import { jsonTemplateProblem, sample } from './liquid-sample.ts';

/** The headers Herald adds to every request (Standard Webhooks), shown in the preview. */
const HERALD_HEADERS = ['content-type: application/json', 'webhook-id: ‹message id›', 'webhook-timestamp: ‹seconds›', 'webhook-signature: v1,‹signature›'];

/**
 * A webhook campaign's request: URL, method, headers and a JSON body, all but the headers Liquid
 * templates. The body is checked as Herald checks it on save; the preview shows the request as a
 * sample contact's would go. Header values are write-only once saved, like the SMS auth token.
 */
export function WebhookEditor({ webhook, onChange, error }: { webhook: WebhookForm; onChange: (webhook: WebhookForm) => void; error: (path: string) => string | undefined }) {
  const set = (patch: Partial<WebhookForm>) => onChange({ ...webhook, ...patch });
  const setHeader = (index: number, patch: Partial<WebhookForm['headers'][number]>) =>
    set({ headers: webhook.headers.map((header, at) => (at === index ? { ...header, ...patch } : header)) });
  const bodyProblem = jsonTemplateProblem(webhook.body);
  return (
    <section aria-labelledby="message" className="columns">
      <div>
        <h2 id="message">Webhook</h2>
        <p className="hint">
          One signed HTTPS request per contact. In the body, <code>{'"{{ contact.firstName }}"'}</code> writes inside a JSON string; <code>{'{{ contact.tags | json }}'}</code> writes a
          whole value.
        </p>
        <div className="row">
          <Field label="Method" error={error('webhook.method')}>
            <select value={webhook.method} onChange={(event) => set({ method: event.target.value as WebhookForm['method'] })}>
              <option value="POST">POST</option>
              <option value="PUT">PUT</option>
              <option value="PATCH">PATCH</option>
            </select>
          </Field>
          <Field label="URL" error={error('webhook.url')}>
            <input type="url" required value={webhook.url} onChange={(event) => set({ url: event.target.value })} placeholder="https://crm.example/hooks/{{ contact.externalId }}" />
          </Field>
        </div>
        <fieldset>
          <legend>Headers</legend>
          {webhook.headers.map((header, index) => (
            <div className="row" key={index}>
              <Field label={`Header ${index + 1} name`} error={error(`webhook.headers.${header.name.trim()}`)}>
                <input value={header.name} onChange={(event) => setHeader(index, { name: event.target.value })} placeholder="Authorization" autoComplete="off" />
              </Field>
              <Field label={`Header ${index + 1} value`} hint={header.stored ? 'Stored; type a new value to replace it.' : undefined}>
                <input type="password" value={header.value} onChange={(event) => setHeader(index, { value: event.target.value })} autoComplete="off" />
              </Field>
              <button type="button" className="quiet small" onClick={() => set({ headers: webhook.headers.filter((_, at) => at !== index) })}>
                Remove header {index + 1}
              </button>
            </div>
          ))}
          <button type="button" className="quiet small" onClick={() => set({ headers: [...webhook.headers, { name: '', value: '', stored: false }] })}>
            Add a header
          </button>
          {error('webhook.headers') && !webhook.headers.some((header) => error(`webhook.headers.${header.name.trim()}`)) && (
            <small className="error" role="alert">
              {error('webhook.headers')}
            </small>
          )}
        </fieldset>
        <Field label="Body (a JSON template; empty: Herald’s own payload)" error={error('webhook.body') ?? bodyProblem}>
          <textarea rows={8} className="code" value={webhook.body} onChange={(event) => set({ body: event.target.value })} spellCheck={false} />
        </Field>
        <p className="meter" aria-live="polite" data-testid="webhook-json">
          {webhook.body.trim() === '' ? 'Herald’s own JSON payload' : bodyProblem ? 'Not JSON yet' : 'JSON ✓'}
        </p>
      </div>
      <aside aria-label="Preview">
        <h2>Preview</h2>
        <WebhookPreview webhook={webhook} />
      </aside>
    </section>
  );
}

/** The request as a sample contact's would go: Liquid outputs as placeholders, header values hidden. */
function WebhookPreview({ webhook }: { webhook: WebhookForm }) {
  const headers = webhook.headers.filter((header) => header.name.trim()).map((header) => `${header.name.trim()}: ••••••`);
  const body = webhook.body.trim() ? sample(webhook.body) : '{"type": "campaign.message", "timestamp": "…", "data": {"messageId": "…", "campaignId": "…", "contact": {…}, "event": …}}';
  return (
    <pre className="request" data-testid="webhook-preview">
      {`${webhook.method} ${sample(webhook.url) || 'https://…'}\n${[...HERALD_HEADERS, ...headers].join('\n')}\n\n${body}`}
    </pre>
  );
}
