import { type FormEvent, useState } from 'react';
import { workspaceOf } from '../client.ts';
import { Field } from '../ui/form.tsx';
import { Link } from '../router.tsx';

/** Sign in with a workspace's secret key; it is kept in this tab's session storage only. */
export function SignIn({ onSignIn }: { onSignIn: (secretKey: string) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    const secretKey = key.trim();
    if (!secretKey.startsWith('sk_')) {
      setError('A secret key starts with sk_ (a publishable key, pk_, cannot read the dashboard).');
    } else if (await workspaceOf(secretKey)) {
      onSignIn(secretKey);
    } else {
      setError('Herald does not know this key, or it was revoked.');
    }
    setBusy(false);
  };

  return (
    <main id="main" className="narrow">
      <h1 tabIndex={-1}>Sign in to Herald</h1>
      <form onSubmit={submit}>
        <Field label="Secret key" hint="Kept in this tab only, until you close it or sign out." error={error}>
          <input type="password" autoComplete="current-password" required value={key} onChange={(event) => setKey(event.target.value)} />
        </Field>
        <button type="submit" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
      <p>
        First time here? <Link to="/welcome">Create a workspace with the admin token</Link>.
      </p>
    </main>
  );
}
