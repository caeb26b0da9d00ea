// The console's root: loads the session, shows sign-in without one, and the
// layout with the routed screen with one.
import { lazy, Suspense, useCallback, useEffect, useState, type ComponentType } from 'react';
import { api, readableError } from './api/client';
import { currentSession, signOut, type Session } from './api/session';
import { Layout } from './components/Layout';
import { SessionContext } from './components/session';
import { afterSignIn, navigate, useRoute } from './lib/router';
import { screenOf } from './nav';
import { Playground } from './screens/Playground';
import { SignIn } from './screens/SignIn';

const screens: Record<string, ComponentType<{ route: string }>> = {
  playground: Playground,
  models: lazy(() => import('./screens/Models')),
  logs: lazy(() => import('./screens/Logs')),
  dashboards: lazy(() => import('./screens/Dashboards')),
  benchmarks: lazy(() => import('./screens/Benchmarks')),
  guardrails: lazy(() => import('./screens/Guardrails')),
  access: lazy(() => import('./screens/Access')),
  flows: lazy(() => import('./screens/Flows')),
  agents: lazy(() => import('./screens/Agents')),
  prompts: lazy(() => import('./screens/Prompts')),
  'knowledge-bases': lazy(() => import('./screens/KnowledgeBases')),
  evaluations: lazy(() => import('./screens/Evaluations')),
};

/** App is the console. */
export function App() {
  const route = useRoute();
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [error, setError] = useState('');

  const load = useCallback(() => {
    currentSession(api)
      .then((s) => {
        setSession(s);
        setError('');
      })
      .catch((e: unknown) => setError(readableError(e)));
  }, []);

  useEffect(() => {
    api.onUnauthorized = () => setSession(null);
    load();
    return () => {
      api.onUnauthorized = null;
    };
  }, [load]);

  const onSignOut = useCallback(() => {
    signOut(api)
      .catch(() => undefined)
      .finally(() => {
        setSession(null);
        navigate('signin');
      });
  }, []);

  if (session === undefined) {
    return (
      <main className="center-page" aria-busy={!error}>
        {error ? (
          <div role="alert" className="error">
            Cannot reach the server: {error}{' '}
            <button type="button" onClick={load}>
              Retry
            </button>
          </div>
        ) : (
          <p>Loading…</p>
        )}
      </main>
    );
  }
  if (session === null) {
    return (
      <SignIn
        onSignedIn={(s) => {
          setSession(s);
          navigate(afterSignIn(route, location.search), true);
        }}
      />
    );
  }
  const screen = screenOf(route);
  const Screen = screens[screen];
  return (
    <SessionContext.Provider value={session}>
      <Layout session={session} current={screen} onSignOut={onSignOut}>
        <Suspense fallback={<p aria-busy="true">Loading…</p>}>
          {Screen ? <Screen route={route} /> : <NotFound />}
        </Suspense>
      </Layout>
    </SessionContext.Provider>
  );
}

function NotFound() {
  return (
    <section>
      <h1>Not found</h1>
      <p>
        There is no screen here. <a href="/console/playground">Open the playground</a>.
      </p>
    </section>
  );
}
