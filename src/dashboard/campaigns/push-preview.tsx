import { useState } from 'react';
import { sample } from './liquid-sample.ts';
import { MAX_PUSH_BYTES, type PushContent, worstCasePushBytes } from './push-size.ts';

const hostOf = (url: string) => {
  try {
    return new URL(sample(url)).host;
  } catch {
    return 'your site';
  }
};

/**
 * A notification as Chrome (on desktop) or Firefox show it: icon, title, body, the site, the large
 * image and up to two action buttons. An approximation: each system draws its own.
 */
export function PushPreview({ content }: { content: PushContent }) {
  const [browser, setBrowser] = useState<'chrome' | 'firefox'>('chrome');
  const image = content.imageUrl && !content.imageUrl.includes('{{') ? content.imageUrl : '';
  const icon = content.iconUrl && !content.iconUrl.includes('{{') ? content.iconUrl : '';
  return (
    <div className="push-preview">
      <div role="radiogroup" aria-label="Preview as" className="toolbar">
        {(['chrome', 'firefox'] as const).map((one) => (
          <label key={one} className="check">
            <input type="radio" name="preview-browser" checked={browser === one} onChange={() => setBrowser(one)} /> {one === 'chrome' ? 'Chrome' : 'Firefox'}
          </label>
        ))}
      </div>
      <figure className={`notification ${browser}`} aria-label={`The notification as ${browser === 'chrome' ? 'Chrome' : 'Firefox'} shows it`}>
        <div className="notification-head">
          {browser === 'chrome' ? <span className="app">Chromium · {hostOf(content.url)}</span> : <span className="app">{hostOf(content.url)} — Firefox</span>}
        </div>
        <div className="notification-main">
          {icon ? <img className="icon" src={icon} alt="" /> : <span className="icon blank" aria-hidden="true" />}
          <div>
            <strong className="title">{sample(content.title) || 'Title'}</strong>
            <p className="body">{sample(content.body)}</p>
          </div>
        </div>
        {image && <img className="image" src={image} alt="The notification’s large image" />}
        {content.actions.length > 0 && (
          <div className="actions">
            {content.actions.map((action, index) => (
              <span key={index}>{sample(action.title) || `Action ${index + 1}`}</span>
            ))}
          </div>
        )}
      </figure>
      <PayloadMeter content={content} />
    </div>
  );
}

/** How much of the 4 KB push limit the content's worst case takes. */
export function PayloadMeter({ content }: { content: PushContent }) {
  const bytes = worstCasePushBytes(content);
  const over = bytes > MAX_PUSH_BYTES;
  return (
    <div className={over ? 'meter over' : 'meter'}>
      <label htmlFor="payload-meter">Payload size (worst case, encrypted)</label>
      <meter id="payload-meter" min={0} max={MAX_PUSH_BYTES} high={MAX_PUSH_BYTES * 0.8} optimum={0} value={Math.min(bytes, MAX_PUSH_BYTES)} />
      <span data-testid="payload-bytes">
        {bytes.toLocaleString('en')} of {MAX_PUSH_BYTES.toLocaleString('en')} bytes{over ? ': too large, push services refuse it' : ''}
      </span>
    </div>
  );
}
