import { useEffect } from 'react';
import { useQuery } from 'urql';
import { graphql } from './generated/index.ts';
import { ROUTES } from './routes.tsx';
import { Link, match, navigate, useLocation } from './router.tsx';

const Viewer = graphql(`
  query ShellViewer {
    viewer { id name }
  }
`);

/** The signed-in frame: skip link, navigation, the workspace's name, sign out, and the page. */
export function Shell({ onSignOut }: { onSignOut: () => void }) {
  const { path } = useLocation();
  const [{ data, error }] = useQuery({ query: Viewer });
  const signedOut = error?.graphQLErrors.some((one) => one.extensions?.code === 'UNAUTHENTICATED');
  useEffect(() => {
    if (signedOut) onSignOut();
  }, [signedOut, onSignOut]);
  useEffect(() => {
    if (path === '/welcome' || path === '/sign-in') navigate('/', { replace: true });
  }, [path]);

  let page = null;
  for (const route of ROUTES) {
    const params = match(route.path, path);
    if (params) {
      page = route.render(params);
      break;
    }
  }
  const section = (to: string) => (to === '/' ? path === '/' : path === to || path.startsWith(`${to}/`));
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Herald</span>
        <nav aria-label="Main">
          <ul>
            {ROUTES.filter((route) => route.nav).map((route) => (
              <li key={route.path}>
                <Link to={route.path} aria-current={section(route.path) ? 'page' : undefined}>
                  {route.nav}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <span className="workspace">{data?.viewer.name}</span>
        <button type="button" className="quiet" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <main id="main">{page ?? <NotFound />}</main>
    </>
  );
}

function NotFound() {
  return (
    <>
      <h1 tabIndex={-1}>Not found</h1>
      <p>
        There is no page here. <Link to="/">Go to the overview</Link>.
      </p>
    </>
  );
}
