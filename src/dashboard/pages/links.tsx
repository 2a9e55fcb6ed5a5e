import { type FormEvent, useEffect, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import { graphql } from '../generated/index.ts';
import { CopyBox } from '../ui/copy.tsx';
import { Field, ProblemBox } from '../ui/form.tsx';
import { count, dateTime } from '../ui/format.ts';
import { fieldError, outcome, type Problem } from '../ui/outcome.ts';
import { UpdateSettings } from './settings-email.tsx';

const LinksQuery = graphql(`
  query Links($before: String) {
    viewer { id settings { timezone links { appSchemes } } }
    links(last: 100, before: $before) {
      totalCount
      pageInfo { hasPreviousPage startCursor }
      edges { node { id code shortUrl url ios android fallback utm clicks clicksByDevice { device clicks } createdAt } }
    }
  }
`);

const CreateLink = graphql(`
  mutation CreateLink($input: MutationCreateLinkInput!) {
    createLink(input: $input) {
      __typename
      ... on MutationCreateLinkSuccess { data { id shortUrl } }
      ... on Error { message }
      ... on ValidationError { fieldErrors { path message } }
    }
  }
`);

const UTM_KEYS = ['utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content'] as const;
const DEVICES = [
  ['IOS', 'iOS'],
  ['ANDROID', 'Android'],
  ['DESKTOP', 'Desktop'],
] as const;
/** Clicks are counted on the server with no event to the dashboard: the list is read again this often. */
const REFRESH_MS = 3_000;

/** The workspace's smart links, newest first, with their clicks per device; a form for a new one; the app schemes they may open. */
export function Links() {
  const [before, setBefore] = useState<string | null>(null);
  const [{ data, error }, refetch] = useQuery({ query: LinksQuery, variables: { before } });
  useEffect(() => {
    const timer = setInterval(() => document.visibilityState === 'visible' && refetch({ requestPolicy: 'network-only' }), REFRESH_MS);
    return () => clearInterval(timer);
  }, [refetch]);
  if (error) return <p className="problem">{error.message}</p>;
  if (!data) return <p aria-busy="true">Loading…</p>;
  const reload = () => refetch({ requestPolicy: 'network-only' });
  const links = data.links.edges.map((edge) => edge.node).reverse();
  const timeZone = data.viewer.settings.timezone;
  return (
    <>
      <h1 tabIndex={-1}>Smart links</h1>
      <p className="hint">
        A short address under Herald’s that sends iPhones, Android phones and desktops each to their own target, adds UTM parameters, and counts who followed it.
        Put it in a push or an email as it is: each click then names the contact.
      </p>
      <NewLink onCreated={reload} />
      <section aria-labelledby="all-links">
        <h2 id="all-links">
          {count(data.links.totalCount)} link{data.links.totalCount === 1 ? '' : 's'}
        </h2>
        {links.length === 0 ? (
          <p className="hint">No smart links yet.</p>
        ) : (
          <table className="list" data-testid="links">
            <thead>
              <tr>
                <th scope="col">Short link</th>
                <th scope="col">Goes to</th>
                <th scope="col" className="num">
                  Clicks
                </th>
                {DEVICES.map(([device, words]) => (
                  <th key={device} scope="col" className="num">
                    {words}
                  </th>
                ))}
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody aria-live="polite">
              {links.map((link) => (
                <tr key={link.id} data-code={link.code}>
                  <td>
                    <code>{link.shortUrl}</code>
                  </td>
                  <td className="targets">
                    <span>{link.url}</span>
                    {link.ios && <span>iOS: {link.ios}</span>}
                    {link.android && <span>Android: {link.android}</span>}
                    {link.fallback && <span>Other phones: {link.fallback}</span>}
                    {utmWords(link.utm) && <span className="hint">{utmWords(link.utm)}</span>}
                  </td>
                  <td className="num" data-testid="link-clicks">
                    {count(link.clicks)}
                  </td>
                  {DEVICES.map(([device]) => (
                    <td key={device} className="num" data-device={device}>
                      {count(link.clicksByDevice.find((one) => one.device === device)?.clicks ?? 0)}
                    </td>
                  ))}
                  <td>{dateTime(link.createdAt, timeZone)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <div className="toolbar">
          {before && (
            <button type="button" className="quiet" onClick={() => setBefore(null)}>
              Newest links
            </button>
          )}
          {data.links.pageInfo.hasPreviousPage && (
            <button type="button" className="quiet" onClick={() => setBefore(data.links.pageInfo.startCursor ?? null)}>
              Older links
            </button>
          )}
        </div>
      </section>
      <AppSchemes schemes={data.viewer.settings.links.appSchemes} onSaved={reload} />
    </>
  );
}

const utmWords = (utm: unknown) =>
  utm && typeof utm === 'object'
    ? Object.entries(utm as Record<string, string>)
        .map(([key, value]) => `${key}=${value}`)
        .join(' · ')
    : '';

function NewLink({ onCreated }: { onCreated: () => void }) {
  const blank = { url: '', ios: '', android: '', fallback: '' };
  const [targets, setTargets] = useState(blank);
  const [utm, setUtm] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState<Problem>();
  const [created, setCreated] = useState<string>();
  const [state, create] = useMutation(CreateLink);
  const set = (patch: Partial<typeof blank>) => setTargets({ ...targets, ...patch });
  const error = (path: string) => fieldError(problem, path);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const filled = Object.fromEntries(Object.entries(utm).filter(([, value]) => value.trim() !== ''));
    const input = {
      url: targets.url.trim(),
      ios: targets.ios.trim() || null,
      android: targets.android.trim() || null,
      fallback: targets.fallback.trim() || null,
      utm: Object.keys(filled).length ? filled : null,
    };
    const result = outcome(await create({ input }), 'createLink');
    setProblem(result.problem);
    if (result.problem) return;
    setCreated((result.data as { shortUrl: string }).shortUrl);
    setTargets(blank);
    setUtm({});
    onCreated();
  };
  return (
    <section aria-labelledby="new-link">
      <h2 id="new-link">New smart link</h2>
      <form onSubmit={submit} noValidate>
        <Field label="Goes to (desktops, and phones without their own target)" error={error('url')}>
          <input type="url" required value={targets.url} onChange={(event) => set({ url: event.target.value })} placeholder="https://shop.example/spring" />
        </Field>
        <div className="row">
          <Field label="iPhone and iPad" error={error('ios')} hint="A page, a universal link, the App Store, or a deep link in a registered app scheme.">
            <input value={targets.ios} onChange={(event) => set({ ios: event.target.value })} placeholder="https://apps.apple.com/app/id123456789" />
          </Field>
          <Field label="Android" error={error('android')} hint="A page, an App Link, the Play Store, or a deep link.">
            <input value={targets.android} onChange={(event) => set({ android: event.target.value })} placeholder="shopapp://sale/42" />
          </Field>
          <Field label="Other phones (fallback)" error={error('fallback')}>
            <input type="url" value={targets.fallback} onChange={(event) => set({ fallback: event.target.value })} />
          </Field>
        </div>
        <fieldset>
          <legend>UTM parameters (added to web targets that do not carry them)</legend>
          <div className="row">
            {UTM_KEYS.map((key) => (
              <Field key={key} label={key} error={error(`utm.${key}`)}>
                <input value={utm[key] ?? ''} onChange={(event) => setUtm({ ...utm, [key]: event.target.value })} />
              </Field>
            ))}
          </div>
        </fieldset>
        <ProblemBox problem={problem} shown={['url', 'ios', 'android', 'fallback', ...UTM_KEYS.map((key) => `utm.${key}`)]} />
        <button type="submit" disabled={state.fetching}>
          Create the link
        </button>
      </form>
      {created && (
        <div className="notice">
          <CopyBox label="The new short link" value={created} />
        </div>
      )}
    </section>
  );
}

/** The app schemes a link's iOS or Android target may open (settings.links); saving replaces the list. */
function AppSchemes({ schemes, onSaved }: { schemes: string[]; onSaved: () => void }) {
  const [text, setText] = useState(schemes.join(', '));
  const [problem, setProblem] = useState<Problem>();
  const [saved, setSaved] = useState(false);
  const [state, update] = useMutation(UpdateSettings);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const appSchemes = text
      .split(',')
      .map((scheme) => scheme.trim())
      .filter(Boolean);
    const result = outcome(await update({ input: { links: { appSchemes } } }), 'updateWorkspaceSettings');
    setProblem(result.problem);
    setSaved(!result.problem);
    if (!result.problem) onSaved();
  };
  return (
    <section aria-labelledby="link-settings">
      <h2 id="link-settings">Link settings</h2>
      <form onSubmit={submit}>
        <Field
          label="App schemes (comma separated)"
          error={fieldError(problem, 'links.appSchemes')}
          hint="A link may send a phone to a deep link in these schemes (myapp for myapp://…); never javascript:, data: and the like."
        >
          <input value={text} onChange={(event) => (setText(event.target.value), setSaved(false))} placeholder="shopapp" />
        </Field>
        <ProblemBox problem={problem} shown={['links']} />
        <button type="submit" disabled={state.fetching}>
          Save link settings
        </button>
        <span role="status">{saved ? ' Saved.' : ''}</span>
      </form>
    </section>
  );
}
