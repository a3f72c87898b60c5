import { useQuery } from '@tanstack/react-query';
import { useEffect, useSyncExternalStore } from 'react';
import { createBrowserRouter, NavLink, Outlet, RouterProvider, useNavigate } from 'react-router';
import { BatchesPage } from './pages/Batches.tsx';
import { BudgetsPage } from './pages/Budgets.tsx';
import { KeysPage } from './pages/Keys.tsx';
import { LiveTailPage } from './pages/LiveTail.tsx';
import { LoginPage } from './pages/Login.tsx';
import { ModelsPage } from './pages/Models.tsx';
import { OverviewPage } from './pages/Overview.tsx';
import { RequestDetailPage } from './pages/RequestDetail.tsx';
import { RequestsPage } from './pages/Requests.tsx';
import { UsagePage } from './pages/Usage.tsx';
import { UsersPage } from './pages/Users.tsx';
import { logout, refresh, session } from './session.ts';
import { useTRPC } from './trpc.ts';
import { ErrorBox, Loading } from './ui.tsx';

function useSession() {
  return useSyncExternalStore(session.subscribe, session.state);
}

function Layout() {
  const trpc = useTRPC();
  const me = useQuery(trpc.auth.me.queryOptions());
  const navigate = useNavigate();
  const isAdmin = me.data?.role === 'admin';
  const onLogout = async () => {
    await logout(); // main.tsx clears the query cache when the session ends
    await navigate('/');
  };
  return (
    <div className="shell">
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">Tollgate</span>
        <nav aria-label="Main">
          <ul>
            <li>
              <NavLink to="/" end>
                Overview
              </NavLink>
            </li>
            <li>
              <NavLink to="/requests" end>
                Requests
              </NavLink>
            </li>
            <li>
              <NavLink to="/requests/live">Live tail</NavLink>
            </li>
            <li>
              <NavLink to="/usage">Usage</NavLink>
            </li>
            <li>
              <NavLink to="/budgets">Budgets</NavLink>
            </li>
            <li>
              <NavLink to="/batches">Batches</NavLink>
            </li>
            <li>
              <NavLink to="/keys">API keys</NavLink>
            </li>
            {isAdmin ? (
              <>
                <li>
                  <NavLink to="/admin/users">Users</NavLink>
                </li>
                <li>
                  <NavLink to="/admin/models">Models</NavLink>
                </li>
              </>
            ) : null}
          </ul>
        </nav>
        <div className="who">
          <span className="muted" data-testid="who">
            {me.data ? `${me.data.email} (${me.data.role})` : ''}
          </span>
          <button type="button" onClick={() => void onLogout()}>
            Log out
          </button>
        </div>
      </header>
      <main id="main">
        <ErrorBox error={me.error} />
        <Outlet />
      </main>
    </div>
  );
}

const router = createBrowserRouter([
  {
    path: '/',
    element: <Layout />,
    children: [
      { index: true, element: <OverviewPage /> },
      { path: 'requests', element: <RequestsPage /> },
      { path: 'requests/live', element: <LiveTailPage /> },
      { path: 'requests/:id', element: <RequestDetailPage /> },
      { path: 'usage', element: <UsagePage /> },
      { path: 'budgets', element: <BudgetsPage /> },
      { path: 'batches', element: <BatchesPage /> },
      { path: 'keys', element: <KeysPage /> },
      { path: 'admin/users', element: <UsersPage /> },
      { path: 'admin/models', element: <ModelsPage /> },
      { path: '*', element: <p>Page not found.</p> },
    ],
  },
]);

export function App() {
  const state = useSession();
  useEffect(() => {
    // A reload: the access token is gone with the old page; the cookie gets a new one.
    if (session.state() === 'unknown') void refresh();
  }, []);
  if (state === 'unknown') {
    return (
      <main id="main" className="center">
        <Loading label="Signing in…" />
      </main>
    );
  }
  if (state === 'out') return <LoginPage />;
  return <RouterProvider router={router} />;
}
