import { type FormEvent, useState } from 'react';
import { useMutation } from 'urql';
import { Field, ProblemBox } from '../ui/form.tsx';
import { fieldError, outcome, type Problem } from '../ui/outcome.ts';
import { UpdateSettings } from './settings-email.tsx';
import type { SettingsData } from './settings.tsx';

/**
 * SMS's settings: the provider account (Twilio's Messages API or a compatible one), the sender and
 * the segment limit. The auth token is write-only: left empty, the stored one stays.
 */
export function SmsSettings({ sms, onSaved }: { sms: SettingsData['viewer']['settings']['sms']; onSaved: () => void }) {
  const [accountSid, setAccountSid] = useState(sms.accountSid ?? '');
  const [authToken, setAuthToken] = useState('');
  const [from, setFrom] = useState(sms.from ?? '');
  const [messagingServiceSid, setMessagingServiceSid] = useState(sms.messagingServiceSid ?? '');
  const [maxSegments, setMaxSegments] = useState(String(sms.maxSegments));
  const [baseUrl, setBaseUrl] = useState(sms.baseUrl ?? '');
  const [problem, setProblem] = useState<Problem>();
  const [saved, setSaved] = useState(false);
  const [state, update] = useMutation(UpdateSettings);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const input = {
      sms: {
        accountSid,
        ...(authToken ? { authToken } : {}),
        from: from || null,
        messagingServiceSid: messagingServiceSid || null,
        maxSegments: maxSegments ? Number(maxSegments) : null,
        baseUrl: baseUrl || null,
      },
    };
    const result = outcome(await update({ input }), 'updateWorkspaceSettings');
    setProblem(result.problem);
    setSaved(!result.problem);
    if (!result.problem) {
      setAuthToken('');
      onSaved();
    }
  };
  const error = (path: string) => fieldError(problem, `sms.${path}`);
  return (
    <section aria-labelledby="sms-settings">
      <h2 id="sms-settings">SMS</h2>
      <form onSubmit={submit}>
        <div className="row">
          <Field label="Account SID" error={error('accountSid')}>
            <input value={accountSid} onChange={(event) => setAccountSid(event.target.value)} autoComplete="off" />
          </Field>
          <Field label="Auth token" hint={sms.authTokenConfigured ? 'Set; type a new one to replace it.' : 'Not set.'} error={error('authToken')}>
            <input type="password" autoComplete="off" value={authToken} onChange={(event) => setAuthToken(event.target.value)} />
          </Field>
        </div>
        <div className="row">
          <Field label="From (E.164 number or sender id)" error={error('from')}>
            <input value={from} onChange={(event) => setFrom(event.target.value)} placeholder="+15017122661" />
          </Field>
          <Field label="Messaging service SID" error={error('messagingServiceSid')}>
            <input value={messagingServiceSid} onChange={(event) => setMessagingServiceSid(event.target.value)} />
          </Field>
          <Field label="Most segments per message" error={error('maxSegments')}>
            <input type="number" min={1} max={10} value={maxSegments} onChange={(event) => setMaxSegments(event.target.value)} />
          </Field>
        </div>
        <Field label="Provider URL (empty: Twilio)" error={error('baseUrl')}>
          <input value={baseUrl} onChange={(event) => setBaseUrl(event.target.value)} placeholder="https://api.twilio.com" />
        </Field>
        <p className="hint">
          Incoming messages (STOP, START, HELP): give the provider <code data-testid="sms-inbound-url">{sms.inboundUrl}</code>
        </p>
        <ProblemBox problem={problem} shown={['sms']} />
        <button type="submit" disabled={state.fetching}>
          Save SMS settings
        </button>
        <span role="status">{saved ? ' Saved.' : ''}</span>
      </form>
    </section>
  );
}
