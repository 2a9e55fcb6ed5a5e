import { type FormEvent, useEffect, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import { graphql } from '../generated/index.ts';
import type { ApiKeyKind, SettingsQuery as SettingsData } from '../generated/graphql.ts';
import { CHANNELS } from '../ui/channels.ts';
import { CopyBox } from '../ui/copy.tsx';
import { Check, Field, ProblemBox } from '../ui/form.tsx';
import { dateTime, words } from '../ui/format.ts';
import { fieldError, outcome, type Problem } from '../ui/outcome.ts';
import { EmailSettings, UpdateSettings } from './settings-email.tsx';
import { ApnsSettings, FcmSettings } from './settings-mobile.tsx';
import { SmsSettings } from './settings-sms.tsx';

const SettingsQuery = graphql(`
  query Settings {
    viewer {
      id name vapidPublicKey identitySecret
      apiKeys { id kind prefix createdAt revokedAt }
      settings {
        timezone consentTag requireIdentityVerification
        quietHours { start end }
        frequencyCaps { limit period channel }
        email { fromAddress fromName replyTo doubleOptIn smtpConfigured smtpHost dkim { domain selector } }
        sms { accountSid authTokenConfigured baseUrl from inboundUrl maxSegments messagingServiceSid }
        apns { teamId keyId bundleId production baseUrl }
        fcm { projectId clientEmail baseUrl }
      }
    }
  }
`);

const CreateKey = graphql(`
  mutation CreateApiKey($kind: ApiKeyKind!) {
    createApiKey(input: { kind: $kind }) {
      __typename
      ... on MutationCreateApiKeySuccess { data { key apiKey { id kind prefix createdAt revokedAt } } }
      ... on Error { message }
    }
  }
`);

const RevokeKey = graphql(`
  mutation RevokeApiKey($id: ID!) {
    revokeApiKey(input: { id: $id }) {
      __typename
      ... on MutationRevokeApiKeySuccess { data { id revokedAt } }
      ... on Error { message }
    }
  }
`);

const RotateSecret = graphql(`
  mutation RotateIdentitySecret {
    rotateIdentitySecret(input: { reason: "rotated in the dashboard" }) {
      __typename
      ... on MutationRotateIdentitySecretSuccess { data { id identitySecret } }
      ... on Error { message }
    }
  }
`);

export type { SettingsQuery as SettingsData } from '../generated/graphql.ts';

/** The workspace's keys, identity secret, time zone, quiet hours, caps and channel settings. */
export function Settings() {
  const [{ data, error }, refetch] = useQuery({ query: SettingsQuery });
  if (error) return <p className="problem">{error.message}</p>;
  if (!data) return <p aria-busy="true">Loading…</p>;
  const reload = () => refetch({ requestPolicy: 'network-only' });
  return (
    <>
      <h1 tabIndex={-1}>Settings</h1>
      <ApiKeys keys={data.viewer.apiKeys} onChange={reload} />
      <Identity secret={data.viewer.identitySecret ?? ''} vapidPublicKey={data.viewer.vapidPublicKey} />
      <Delivery settings={data.viewer.settings} onSaved={reload} />
      <EmailSettings email={data.viewer.settings.email} onSaved={reload} />
      <SmsSettings sms={data.viewer.settings.sms} onSaved={reload} />
      <ApnsSettings apns={data.viewer.settings.apns} onSaved={reload} />
      <FcmSettings fcm={data.viewer.settings.fcm} onSaved={reload} />
    </>
  );
}

function ApiKeys({ keys, onChange }: { keys: SettingsData['viewer']['apiKeys']; onChange: () => void }) {
  const [created, setCreated] = useState<string>();
  const [problem, setProblem] = useState<Problem>();
  const [, create] = useMutation(CreateKey);
  const [, revoke] = useMutation(RevokeKey);
  const add = async (kind: ApiKeyKind) => {
    const result = outcome(await create({ kind }), 'createApiKey');
    setProblem(result.problem);
    if (result.data) setCreated((result.data as { key: string }).key);
    onChange();
  };
  const remove = async (id: string, prefix: string) => {
    if (!confirm(`Revoke ${prefix}…? Anything using it stops working at once.`)) return;
    const result = outcome(await revoke({ id }), 'revokeApiKey');
    setProblem(result.problem);
    onChange();
  };
  return (
    <section aria-labelledby="keys">
      <h2 id="keys">API keys</h2>
      <table className="list compact">
        <thead>
          <tr>
            <th scope="col">Key</th>
            <th scope="col">Kind</th>
            <th scope="col">Created</th>
            <th scope="col">State</th>
          </tr>
        </thead>
        <tbody>
          {keys.map((key) => (
            <tr key={key.id}>
              <td>
                <code>{key.prefix}…</code>
              </td>
              <td>{words(key.kind)}</td>
              <td>{dateTime(key.createdAt)}</td>
              <td>
                {key.revokedAt ? (
                  `Revoked ${dateTime(key.revokedAt)}`
                ) : (
                  <button type="button" className="quiet small danger" onClick={() => remove(key.id, key.prefix)}>
                    Revoke {key.prefix}…
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="toolbar">
        <button type="button" className="quiet" onClick={() => add('SECRET')}>
          New secret key
        </button>
        <button type="button" className="quiet" onClick={() => add('PUBLISHABLE')}>
          New publishable key
        </button>
      </div>
      {created && (
        <div className="notice">
          <CopyBox label="The new key, shown once" value={created} />
        </div>
      )}
      <ProblemBox problem={problem} />
    </section>
  );
}

function Identity({ secret, vapidPublicKey }: { secret: string; vapidPublicKey: string }) {
  const [shown, setShown] = useState(false);
  const [current, setCurrent] = useState(secret);
  const [, rotate] = useMutation(RotateSecret);
  const again = async () => {
    if (!confirm('Rotate the identity secret? Tokens your server made with the old one stop verifying at once.')) return;
    const result = outcome(await rotate({}), 'rotateIdentitySecret');
    if (result.data) setCurrent((result.data as { identitySecret?: string | null }).identitySecret ?? '');
  };
  return (
    <section aria-labelledby="identity">
      <h2 id="identity">Identity verification</h2>
      <p className="hint">Your server signs each customer’s id with this secret (hex HMAC-SHA256) so a web page can name only its own visitor.</p>
      {shown ? (
        <CopyBox label="Identity secret" value={current} />
      ) : (
        <button type="button" className="quiet" onClick={() => setShown(true)}>
          Show the identity secret
        </button>
      )}
      <button type="button" className="quiet danger" onClick={again}>
        Rotate it
      </button>
      <CopyBox label="VAPID public key (for pushManager.subscribe)" value={vapidPublicKey} />
    </section>
  );
}

type Cap = { limit: string; period: 'DAY' | 'WEEK'; channel: string };

function Delivery({ settings, onSaved }: { settings: SettingsData['viewer']['settings']; onSaved: () => void }) {
  const [timezone, setTimezone] = useState(settings.timezone);
  const [quietStart, setQuietStart] = useState(settings.quietHours?.start ?? '');
  const [quietEnd, setQuietEnd] = useState(settings.quietHours?.end ?? '');
  const [caps, setCaps] = useState<Cap[]>(settings.frequencyCaps.map((cap) => ({ limit: String(cap.limit), period: cap.period, channel: cap.channel ?? '' })));
  const [consentTag, setConsentTag] = useState(settings.consentTag);
  const [verify, setVerify] = useState(settings.requireIdentityVerification);
  const [problem, setProblem] = useState<Problem>();
  const [saved, setSaved] = useState(false);
  const [state, update] = useMutation(UpdateSettings);
  useEffect(() => setSaved(false), [timezone, quietStart, quietEnd, caps, consentTag, verify]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const input = {
      timezone,
      quietHours: quietStart && quietEnd ? { start: quietStart, end: quietEnd } : null,
      frequencyCaps: caps.map((cap) => ({ limit: Number(cap.limit), period: cap.period, channel: (cap.channel || null) as never })),
      consentTag,
      requireIdentityVerification: verify,
    };
    const result = outcome(await update({ input }), 'updateWorkspaceSettings');
    setProblem(result.problem);
    setSaved(!result.problem);
    if (!result.problem) onSaved();
  };
  const zones = Intl.supportedValuesOf?.('timeZone') ?? [];
  return (
    <section aria-labelledby="delivery-settings">
      <h2 id="delivery-settings">Time, quiet hours and caps</h2>
      <form onSubmit={submit}>
        <Field label="Time zone (figures, quiet hours, local-time schedules)" error={fieldError(problem, 'timezone')}>
          <input list="zones" value={timezone} onChange={(event) => setTimezone(event.target.value)} />
        </Field>
        <datalist id="zones">
          {zones.map((zone) => (
            <option key={zone} value={zone} />
          ))}
        </datalist>
        <div className="row">
          <Field label="Quiet hours from" error={fieldError(problem, 'quietHours.start')}>
            <input type="time" value={quietStart} onChange={(event) => setQuietStart(event.target.value)} />
          </Field>
          <Field label="to (empty: none)" error={fieldError(problem, 'quietHours.end')}>
            <input type="time" value={quietEnd} onChange={(event) => setQuietEnd(event.target.value)} />
          </Field>
        </div>
        <fieldset>
          <legend>Frequency caps (per contact, across campaigns)</legend>
          {caps.map((cap, index) => {
            const change = (patch: Partial<Cap>) => setCaps(caps.map((one, at) => (at === index ? { ...one, ...patch } : one)));
            return (
              <div className="row" key={index}>
                <Field label={`Cap ${index + 1}: at most`} error={fieldError(problem, `frequencyCaps.${index}.limit`)}>
                  <input type="number" min={1} value={cap.limit} onChange={(event) => change({ limit: event.target.value })} />
                </Field>
                <Field label="messages per" error={fieldError(problem, `frequencyCaps.${index}.period`)}>
                  <select value={cap.period} onChange={(event) => change({ period: event.target.value as Cap['period'] })}>
                    <option value="DAY">day</option>
                    <option value="WEEK">week</option>
                  </select>
                </Field>
                <Field label="on" error={fieldError(problem, `frequencyCaps.${index}.channel`)}>
                  <select value={cap.channel} onChange={(event) => change({ channel: event.target.value })}>
                    <option value="">Every channel</option>
                    {Object.entries(CHANNELS).map(([channel, words]) => (
                      <option key={channel} value={channel}>
                        {words}
                      </option>
                    ))}
                  </select>
                </Field>
                <button type="button" className="quiet small" onClick={() => setCaps(caps.filter((_, at) => at !== index))}>
                  Remove cap {index + 1}
                </button>
              </div>
            );
          })}
          <button type="button" className="quiet small" onClick={() => setCaps([...caps, { limit: '3', period: 'DAY', channel: '' }])}>
            Add a cap
          </button>
        </fieldset>
        <Field label="Consent tag (given to contacts who subscribe to push)" error={fieldError(problem, 'consentTag')}>
          <input value={consentTag} onChange={(event) => setConsentTag(event.target.value)} />
        </Field>
        <Check label="Require identity verification from web pages" checked={verify} onChange={setVerify} />
        <ProblemBox problem={problem} shown={['timezone', 'quietHours', 'frequencyCaps', 'consentTag']} />
        <button type="submit" disabled={state.fetching}>
          Save
        </button>
        <span role="status">{saved ? ' Saved.' : ''}</span>
      </form>
    </section>
  );
}
