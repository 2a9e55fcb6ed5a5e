import { StrictMode, useEffect, useMemo, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { Provider } from 'urql';
import { createHeraldClient } from './client.ts';
import { FirstRun } from './pages/first-run.tsx';
import { SignIn } from './pages/sign-in.tsx';
import { Shell } from './shell.tsx';
import { forgetKey, keepKey, storedKey } from './session.ts';
import { navigate, useLocation } from './router.tsx';
import './styles.css';

/** Signed out: the first run (admin token → workspace) or sign-in; signed in: the app. */
function App() {
  const [key, setKey] = useState(storedKey);
  const { path } = useLocation();
  const client = useMemo(() => (key ? createHeraldClient(key) : undefined), [key]);
  useEffect(() => () => client?.close(), [client]);

  const signIn = (secretKey: string) => {
    keepKey(secretKey);
    setKey(secretKey);
  };
  const signOut = () => {
    forgetKey();
    setKey(null);
    navigate('/sign-in', { replace: true });
  };

  if (!client) return path === '/welcome' ? <FirstRun onSignIn={signIn} /> : <SignIn onSignIn={signIn} />;
  return (
    <Provider value={client}>
      <Shell onSignOut={signOut} />
    </Provider>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
