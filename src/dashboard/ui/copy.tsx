import { useId, useState } from 'react';

/** A value to copy (a key, a snippet): read-only text with a Copy button that says it worked. */
export function CopyBox({ label, value, multiline = false }: { label: string; value: string; multiline?: boolean }) {
  const id = useId();
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    await navigator.clipboard?.writeText(value).catch(() => undefined);
    setCopied(true);
    setTimeout(() => setCopied(false), 2000);
  };
  return (
    <div className="field copy">
      <label htmlFor={id}>{label}</label>
      <div className="copy-row">
        {multiline ? (
          <textarea id={id} readOnly value={value} rows={value.split('\n').length + 2} spellCheck={false} />
        ) : (
          <input id={id} readOnly value={value} spellCheck={false} />
        )}
        <button type="button" className="quiet" onClick={copy} aria-label={`Copy ${label}`}>
          Copy
        </button>
      </div>
      <span role="status" className="sr-status">
        {copied ? 'Copied' : ''}
      </span>
    </div>
  );
}
