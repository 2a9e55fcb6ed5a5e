import { type FormEvent, useState } from 'react';
import { useMutation } from 'urql';
import { Check, Field, ProblemBox } from '../ui/form.tsx';
import { fieldError, outcome, type Problem } from '../ui/outcome.ts';
import { UpdateSettings } from './settings-email.tsx';
import type { SettingsData } from './settings.tsx';

type Settings = SettingsData['viewer']['settings'];

/**
 * Saves one part of the settings and says how it went; `clear` sends null (Herald forgets it).
 * The APNs and FCM forms share it: each is saved on its own.
 */
function useSave(part: 'apns' | 'fcm', onSaved: () => void) {
  const [problem, setProblem] = useState<Problem>();
  const [saved, setSaved] = useState('');
  const [state, update] = useMutation(UpdateSettings);
  const save = async (value: Record<string, unknown> | null) => {
    const result = outcome(await update({ input: { [part]: value } }), 'updateWorkspaceSettings');
    setProblem(result.problem);
    setSaved(result.problem ? '' : value ? ' Saved.' : ' Removed.');
    if (!result.problem) onSaved();
    return !result.problem;
  };
  return { problem, saved, busy: state.fetching, save, error: (path: string) => fieldError(problem, `${part}.${path}`) };
}

/**
 * APNs token authentication (team, key id, bundle id, the .p8 key). The key is write-only: Herald
 * answers only that one is stored (the settings show only then); left empty, the stored key stays.
 */
export function ApnsSettings({ apns, onSaved }: { apns: Settings['apns']; onSaved: () => void }) {
  const [teamId, setTeamId] = useState(apns?.teamId ?? '');
  const [keyId, setKeyId] = useState(apns?.keyId ?? '');
  const [bundleId, setBundleId] = useState(apns?.bundleId ?? '');
  const [production, setProduction] = useState(apns?.production ?? true);
  const [baseUrl, setBaseUrl] = useState(apns?.baseUrl ?? '');
  const [privateKey, setPrivateKey] = useState('');
  const { problem, saved, busy, save, error } = useSave('apns', onSaved);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const input = { teamId, keyId, bundleId, production, baseUrl: baseUrl || null, ...(privateKey ? { privateKey } : {}) };
    if (await save(input)) setPrivateKey('');
  };
  const remove = async () => {
    if (confirm('Remove the APNs settings? Herald forgets the key, and pushes to iPhones stop.') && (await save(null))) {
      for (const clear of [setTeamId, setKeyId, setBundleId, setBaseUrl]) clear('');
    }
  };
  return (
    <section aria-labelledby="apns-settings">
      <h2 id="apns-settings">Push to iPhones (APNs)</h2>
      <p data-testid="apns-state">
        <span className={`badge ${apns ? 'active' : ''}`}>{apns ? 'configured' : 'not configured'}</span>
      </p>
      <form onSubmit={submit}>
        <div className="row">
          <Field label="Team ID" error={error('teamId')}>
            <input value={teamId} onChange={(event) => setTeamId(event.target.value)} autoComplete="off" placeholder="ABCDE12345" />
          </Field>
          <Field label="Key ID" error={error('keyId')}>
            <input value={keyId} onChange={(event) => setKeyId(event.target.value)} autoComplete="off" />
          </Field>
          <Field label="Bundle ID" error={error('bundleId')}>
            <input value={bundleId} onChange={(event) => setBundleId(event.target.value)} placeholder="com.shop.app" />
          </Field>
        </div>
        <Field label="Private key (AuthKey_….p8)" hint={apns ? 'A key is stored; paste a new one to replace it.' : 'Not set.'} error={error('privateKey')}>
          <textarea rows={4} className="code" value={privateKey} onChange={(event) => setPrivateKey(event.target.value)} autoComplete="off" spellCheck={false} placeholder="-----BEGIN PRIVATE KEY-----" />
        </Field>
        <Check label="Production (off: the sandbox, for development builds)" checked={production} onChange={setProduction} />
        <Field label="APNs host (empty: Apple’s)" error={error('baseUrl')}>
          <input value={baseUrl} onChange={(event) => setBaseUrl(event.target.value)} placeholder="https://api.push.apple.com" />
        </Field>
        <ProblemBox problem={problem} shown={['apns']} />
        <button type="submit" disabled={busy}>
          Save APNs settings
        </button>{' '}
        {apns && (
          <button type="button" className="quiet danger" onClick={remove} disabled={busy}>
            Remove APNs settings
          </button>
        )}
        <span role="status">{saved}</span>
      </form>
    </section>
  );
}

/**
 * FCM through a service account's JSON key file. The file holds a private key, so it is
 * write-only: Herald answers only its project and client email; left empty, the stored one stays.
 */
export function FcmSettings({ fcm, onSaved }: { fcm: Settings['fcm']; onSaved: () => void }) {
  const [serviceAccount, setServiceAccount] = useState('');
  const [baseUrl, setBaseUrl] = useState(fcm?.baseUrl ?? '');
  const { problem, saved, busy, save, error } = useSave('fcm', onSaved);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (await save({ baseUrl: baseUrl || null, ...(serviceAccount ? { serviceAccount } : {}) })) setServiceAccount('');
  };
  const remove = async () => {
    if (confirm('Remove the FCM settings? Herald forgets the service account, and pushes to Android phones stop.') && (await save(null))) setBaseUrl('');
  };
  return (
    <section aria-labelledby="fcm-settings">
      <h2 id="fcm-settings">Push to Android phones (FCM)</h2>
      <p data-testid="fcm-state">
        <span className={`badge ${fcm ? 'active' : ''}`}>{fcm ? 'configured' : 'not configured'}</span>
        {fcm && (
          <>
            {' '}
            project <code>{fcm.projectId}</code> as <code>{fcm.clientEmail}</code>
          </>
        )}
      </p>
      <form onSubmit={submit}>
        <Field
          label="Service account (its JSON key file)"
          hint={fcm ? 'A service account is stored; paste a new key file to replace it.' : 'Not set. Firebase console → Project settings → Service accounts → Generate new private key.'}
          error={error('serviceAccount')}
        >
          <textarea rows={4} className="code" value={serviceAccount} onChange={(event) => setServiceAccount(event.target.value)} autoComplete="off" spellCheck={false} placeholder='{"type": "service_account", …}' />
        </Field>
        <Field label="FCM host (empty: Google’s)" error={error('baseUrl')}>
          <input value={baseUrl} onChange={(event) => setBaseUrl(event.target.value)} placeholder="https://fcm.googleapis.com" />
        </Field>
        <ProblemBox problem={problem} shown={['fcm']} />
        <button type="submit" disabled={busy}>
          Save FCM settings
        </button>{' '}
        {fcm && (
          <button type="button" className="quiet danger" onClick={remove} disabled={busy}>
            Remove FCM settings
          </button>
        )}
        <span role="status">{saved}</span>
      </form>
    </section>
  );
}
