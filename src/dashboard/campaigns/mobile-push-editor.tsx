import { useState } from 'react';
import { Field } from '../ui/form.tsx';
import type { MobilePushForm } from './form-state.ts';
import { parsedObject, sample } from './liquid-sample.ts';

/**
 * A push to phone apps (APNs and FCM): title, body, image and deep link are Liquid templates; the
 * data, badge, sound and category go to the app as written. The preview shows it as iOS or Android
 * would, on the lock screen.
 */
export function MobilePushEditor({ push, onChange, error }: { push: MobilePushForm; onChange: (push: MobilePushForm) => void; error: (path: string) => string | undefined }) {
  const set = (patch: Partial<MobilePushForm>) => onChange({ ...push, ...patch });
  const dataProblem = parsedObject(push.data).problem;
  return (
    <section aria-labelledby="message" className="columns">
      <div>
        <h2 id="message">Push to phones</h2>
        <p className="hint">
          Title, body, image and link are Liquid templates, e.g. <code>{"Hi {{ contact.firstName | default: 'there' }}"}</code>. Sent through the APNs and FCM settings.
        </p>
        <Field label="Title" error={error('mobilePush.title')}>
          <input required value={push.title} onChange={(event) => set({ title: event.target.value })} />
        </Field>
        <Field label="Body" error={error('mobilePush.body')}>
          <textarea rows={3} value={push.body} onChange={(event) => set({ body: event.target.value })} />
        </Field>
        <Field label="Image URL (https)" error={error('mobilePush.imageUrl')} hint="iOS shows it through the app’s notification service extension.">
          <input type="url" value={push.imageUrl} onChange={(event) => set({ imageUrl: event.target.value })} />
        </Field>
        <Field label="Deep link (opens in the app)" error={error('mobilePush.url')}>
          <input value={push.url} onChange={(event) => set({ url: event.target.value })} placeholder="myshop://product/42" />
        </Field>
        <Field label="Data for the app (a JSON object of strings, numbers and booleans)" error={error('mobilePush.data') ?? dataProblem}>
          <textarea rows={3} className="code" value={push.data} onChange={(event) => set({ data: event.target.value })} spellCheck={false} placeholder='{"productId": "42"}' />
        </Field>
        <div className="row">
          <Field label="Badge count" error={error('mobilePush.badge')}>
            <input type="number" min={0} value={push.badge} onChange={(event) => set({ badge: event.target.value })} />
          </Field>
          <Field label="Sound" error={error('mobilePush.sound')}>
            <input value={push.sound} onChange={(event) => set({ sound: event.target.value })} placeholder="default" />
          </Field>
          <Field label="Category (buttons)" error={error('mobilePush.category')}>
            <input value={push.category} onChange={(event) => set({ category: event.target.value })} />
          </Field>
        </div>
        <details>
          <summary>Delivery options</summary>
          <div className="row">
            <Field label="Kept for offline phones (hours)" error={error('mobilePush.ttlSeconds')}>
              <input type="number" min={0} value={push.ttlHours} onChange={(event) => set({ ttlHours: event.target.value })} placeholder="28 days" />
            </Field>
            <Field label="Topic (a newer push replaces it)" error={error('mobilePush.topic')}>
              <input value={push.topic} onChange={(event) => set({ topic: event.target.value })} />
            </Field>
          </div>
        </details>
      </div>
      <aside aria-label="Preview">
        <h2>Preview</h2>
        <MobilePushPreview push={push} />
      </aside>
    </section>
  );
}

/**
 * The push on a lock screen: iOS (app name, title, body, the image as a thumbnail, the badge) or
 * Android (app name, title, body, the large image below). An approximation: each phone draws its own.
 */
function MobilePushPreview({ push }: { push: MobilePushForm }) {
  const [system, setSystem] = useState<'ios' | 'android'>('ios');
  const image = push.imageUrl.startsWith('https://') && !push.imageUrl.includes('{{') ? push.imageUrl : '';
  const name = system === 'ios' ? 'iOS' : 'Android';
  return (
    <div className="push-preview">
      <div role="radiogroup" aria-label="Preview as" className="toolbar">
        {(['ios', 'android'] as const).map((one) => (
          <label key={one} className="check">
            <input type="radio" name="preview-phone" checked={system === one} onChange={() => setSystem(one)} /> {one === 'ios' ? 'iOS' : 'Android'}
          </label>
        ))}
      </div>
      <figure className={`phone-push ${system}`} aria-label={`The push as ${name} shows it`} data-testid="mobile-preview">
        <div className="notification-head">
          <span className="app-icon" aria-hidden="true" />
          <span className="app">Your app</span>
          <span className="when">now</span>
          {system === 'ios' && push.badge && <span className="badge-count" aria-label={`badge ${push.badge}`}>{push.badge}</span>}
        </div>
        <div className="notification-main">
          <div>
            <strong className="title">{sample(push.title) || 'Title'}</strong>
            <p className="body">{sample(push.body)}</p>
          </div>
          {system === 'ios' && image && <img className="thumb" src={image} alt="The push’s image" />}
        </div>
        {system === 'android' && image && <img className="image" src={image} alt="The push’s image" />}
      </figure>
      <p className="hint" data-testid="mobile-opens">
        {push.url ? `Tapping it opens ${sample(push.url)}.` : 'Tapping it opens the app.'}
        {push.sound ? ` Sound: ${push.sound}.` : ' Silent unless a sound is set.'}
      </p>
    </div>
  );
}
