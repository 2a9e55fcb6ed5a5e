import { type FormEvent, useState } from 'react';
import { useMutation } from 'urql';
import { Check, Field, ProblemBox } from '../ui/form.tsx';
import { fieldError, outcome, type Problem } from '../ui/outcome.ts';
import { graphql } from '../generated/index.ts';
import type { SettingsData } from './settings.tsx';

export const UpdateSettings = graphql(`
  mutation UpdateSettings($input: MutationUpdateWorkspaceSettingsInput!) {
    updateWorkspaceSettings(input: $input) {
      __typename
      ... on MutationUpdateWorkspaceSettingsSuccess { data { id } }
      ... on Error { message }
      ... on ValidationError { fieldErrors { path message } }
    }
  }
`);

/** Email's settings: the sender, the SMTP server and DKIM (write-only secrets: only "set" shows). */
export function EmailSettings({ email, onSaved }: { email: SettingsData['viewer']['settings']['email']; onSaved: () => void }) {
  const [fromAddress, setFromAddress] = useState(email.fromAddress ?? '');
  const [fromName, setFromName] = useState(email.fromName ?? '');
  const [replyTo, setReplyTo] = useState(email.replyTo ?? '');
  const [doubleOptIn, setDoubleOptIn] = useState(email.doubleOptIn);
  const [smtpUrl, setSmtpUrl] = useState('');
  const [dkimDomain, setDkimDomain] = useState(email.dkim?.domain ?? '');
  const [dkimSelector, setDkimSelector] = useState(email.dkim?.selector ?? '');
  const [dkimKey, setDkimKey] = useState('');
  const [problem, setProblem] = useState<Problem>();
  const [saved, setSaved] = useState(false);
  const [state, update] = useMutation(UpdateSettings);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const input = {
      email: {
        fromAddress: fromAddress || null,
        fromName: fromName || null,
        replyTo: replyTo || null,
        doubleOptIn,
        // Left empty, the stored secrets stay as they are.
        ...(smtpUrl ? { smtpUrl } : {}),
        ...(dkimDomain && dkimSelector ? { dkim: { domain: dkimDomain, selector: dkimSelector, ...(dkimKey ? { privateKey: dkimKey } : {}) } } : {}),
      },
    };
    const result = outcome(await update({ input }), 'updateWorkspaceSettings');
    setProblem(result.problem);
    setSaved(!result.problem);
    if (!result.problem) {
      setSmtpUrl('');
      setDkimKey('');
      onSaved();
    }
  };
  const error = (path: string) => fieldError(problem, `email.${path}`);
  return (
    <section aria-labelledby="email-settings">
      <h2 id="email-settings">Email</h2>
      <form onSubmit={submit}>
        <div className="row">
          <Field label="From address" error={error('fromAddress')}>
            <input type="email" value={fromAddress} onChange={(event) => setFromAddress(event.target.value)} />
          </Field>
          <Field label="From name" error={error('fromName')}>
            <input value={fromName} onChange={(event) => setFromName(event.target.value)} />
          </Field>
          <Field label="Reply to" error={error('replyTo')}>
            <input type="email" value={replyTo} onChange={(event) => setReplyTo(event.target.value)} />
          </Field>
        </div>
        <Field
          label="SMTP server URL"
          hint={email.smtpConfigured ? `Set (${email.smtpHost}); type a new one to replace it.` : 'Not set: email goes through the server’s HERALD_SMTP_URL, if any.'}
          error={error('smtpUrl')}
        >
          <input type="password" autoComplete="off" value={smtpUrl} onChange={(event) => setSmtpUrl(event.target.value)} placeholder="smtps://user:password@smtp.example:465" />
        </Field>
        <div className="row">
          <Field label="DKIM domain" error={error('dkim.domain')}>
            <input value={dkimDomain} onChange={(event) => setDkimDomain(event.target.value)} />
          </Field>
          <Field label="DKIM selector" error={error('dkim.selector')}>
            <input value={dkimSelector} onChange={(event) => setDkimSelector(event.target.value)} />
          </Field>
        </div>
        <Field label="DKIM private key (PEM)" hint={email.dkim ? 'Set; paste a new one to replace it.' : undefined} error={error('dkim.privateKey')}>
          <textarea rows={3} className="code" value={dkimKey} onChange={(event) => setDkimKey(event.target.value)} />
        </Field>
        <Check label="Double opt-in: confirm by email before an opt-in counts" checked={doubleOptIn} onChange={setDoubleOptIn} />
        <ProblemBox problem={problem} shown={['email']} />
        <button type="submit" disabled={state.fetching}>
          Save email settings
        </button>
        <span role="status">{saved ? ' Saved.' : ''}</span>
      </form>
    </section>
  );
}
