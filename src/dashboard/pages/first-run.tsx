import { type FormEvent, useState } from 'react';
import { asAdmin } from '../client.ts';
import { Field } from '../ui/form.tsx';
import { Link } from '../router.tsx';
import { CopyBox } from '../ui/copy.tsx';

const CREATE = `mutation FirstRunCreateWorkspace($name: String!) {
  createWorkspace(input: { name: $name }) {
    __typename
    ... on MutationCreateWorkspaceSuccess { data { secretKey publishableKey workspace { id name } } }
    ... on ValidationError { message fieldErrors { path message } }
    ... on Error { message }
  }
}`;

interface Created {
  secretKey: string;
  publishableKey: string;
  workspace: { id: string; name: string };
}
type Answer = { createWorkspace: { __typename: string; data?: Created; message?: string; fieldErrors?: { path: string[]; message: string }[] } };

/**
 * The first run: the admin token (printed by `npm start`) creates a workspace; its keys are shown
 * once, with the lines a website needs, then the secret key signs in. The admin token is sent
 * once and kept nowhere.
 */
export function FirstRun({ onSignIn }: { onSignIn: (secretKey: string) => void }) {
  const [token, setToken] = useState('');
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ token?: string; name?: string; form?: string }>({});
  const [created, setCreated] = useState<Created>();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError({});
    try {
      const { createWorkspace: result } = await asAdmin<Answer>(token.trim(), CREATE, { name });
      if (result.data) setCreated(result.data);
      else setError({ name: result.fieldErrors?.find((one) => one.path.at(-1) === 'name')?.message ?? result.message });
    } catch (problem) {
      setError({ token: (problem as Error).message });
    } finally {
      setBusy(false);
    }
  };

  if (created) {
    const origin = location.origin;
    return (
      <main id="main" className="narrow">
        <h1 tabIndex={-1}>{created.workspace.name} is ready</h1>
        <p className="notice" role="status">
          These keys are shown <strong>once</strong>. Store the secret key now (a password manager, your server’s configuration): Herald keeps only its hash.
        </p>
        <CopyBox label="Secret key (for your server and this dashboard)" value={created.secretKey} />
        <CopyBox label="Publishable key (safe in a web page)" value={created.publishableKey} />
        <h2>On your website</h2>
        <CopyBox
          label="The SDK, in your pages"
          multiline
          value={`<script type="module">
  import Herald from '${origin}/sdk/herald.js';
  Herald.init({ publishableKey: '${created.publishableKey}', apiUrl: '${origin}', serviceWorkerPath: '/herald-sw.js' });
  document.querySelector('#notify').onclick = () => Herald.subscribe();
</script>`}
        />
        <CopyBox label="The service worker, one line at /herald-sw.js on your site" value={`importScripts('${origin}/sdk/herald-sw.js');`} />
        <button type="button" onClick={() => onSignIn(created.secretKey)}>
          I stored the keys: open the dashboard
        </button>
      </main>
    );
  }

  return (
    <main id="main" className="narrow">
      <h1 tabIndex={-1}>Welcome to Herald</h1>
      <p>Create your first workspace: a website or app with its own contacts, campaigns and keys.</p>
      <form onSubmit={submit}>
        <Field label="Admin token" hint="npm start printed it, or it is your HERALD_ADMIN_TOKEN. It is used once and not stored." error={error.token}>
          <input type="password" autoComplete="off" required value={token} onChange={(event) => setToken(event.target.value)} />
        </Field>
        <Field label="Workspace name" error={error.name}>
          <input required value={name} onChange={(event) => setName(event.target.value)} placeholder="My shop" />
        </Field>
        <button type="submit" disabled={busy}>
          {busy ? 'Creating…' : 'Create workspace'}
        </button>
      </form>
      <p>
        Already have a workspace? <Link to="/sign-in">Sign in with its secret key</Link>.
      </p>
    </main>
  );
}
