import { type ReactNode, cloneElement, isValidElement, useId } from 'react';
import type { Problem } from './outcome.ts';

/**
 * A labelled control with its hint and its error: the error is tied to the control
 * (aria-describedby, aria-invalid) so a screen reader reads it where it applies.
 */
export function Field({ label, hint, error, children }: { label: string; hint?: ReactNode; error?: string; children: ReactNode }) {
  const id = useId();
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const describedBy = [hint ? hintId : '', error ? errorId : ''].filter(Boolean).join(' ') || undefined;
  const control = isValidElement<Record<string, unknown>>(children)
    ? cloneElement(children, { id, 'aria-describedby': describedBy, 'aria-invalid': error ? true : undefined })
    : children;
  return (
    <div className={error ? 'field invalid' : 'field'}>
      <label htmlFor={id}>{label}</label>
      {control}
      {hint && <small id={hintId}>{hint}</small>}
      {error && (
        <small id={errorId} className="error" role="alert">
          {error}
        </small>
      )}
    </div>
  );
}

/** A checkbox with its label after it. */
export function Check({ label, checked, onChange }: { label: string; checked: boolean; onChange: (checked: boolean) => void }) {
  return (
    <label className="check">
      <input type="checkbox" checked={checked} onChange={(event) => onChange(event.target.checked)} /> {label}
    </label>
  );
}

/** The error of a whole form, with the fields it names that have no control of their own. */
export function ProblemBox({ problem, shown = [] }: { problem?: Problem; shown?: string[] }) {
  if (!problem) return null;
  const others = [...problem.fields].filter(([path]) => !shown.some((field) => path === field || path.startsWith(`${field}.`)));
  return (
    <div className="problem" role="alert">
      <strong>{problem.message}</strong>
      {others.length > 0 && (
        <ul>
          {others.map(([path, message]) => (
            <li key={path}>
              <code>{path}</code>: {message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
