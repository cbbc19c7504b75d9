/** Signs in, then routes: one folder per screen under features/. */
import { useQueryClient } from '@tanstack/react-query';
import { useCallback, useEffect, useState, useSyncExternalStore, type ComponentType, type ReactNode } from 'react';
import { createBrowserRouter, Navigate, RouterProvider } from 'react-router';
import { api, type ConsoleUser } from '../api/client.ts';
import { LoginScreen } from '../auth/LoginScreen.tsx';
import { SessionProvider } from '../auth/session.tsx';
import { NoEvent, Shell } from './Shell.tsx';

let signedOutListeners: Array<() => void> = [];
/** Called when the server answers 401: back to the sign-in screen. */
export function signedOut(): void {
  for (const l of signedOutListeners) l();
}

/**
 * A screen loaded when its route is first visited (its own chunk), so the first load is the
 * shell and the sign-in screen only. A new screen is one line in the routes below:
 * `{ path: 'e/:eventId/thing', lazy: screen(() => import('../features/thing/ThingScreen.tsx'), 'ThingScreen') },`
 */
function screen<M>(load: () => Promise<M>, name: keyof M & string): () => Promise<{ Component: ComponentType }> {
  return async () => ({ Component: (await load())[name] as ComponentType });
}

const router = createBrowserRouter(
  [
    {
      path: '/',
      element: <Shell />,
      // Shown while the first screen's chunk loads.
      hydrateFallbackElement: (
        <p className="loading" role="status">
          Loading…
        </p>
      ),
      children: [
        { index: true, element: <Navigate to="/events" replace /> },
        { path: 'events', lazy: screen(() => import('../features/events/EventsScreen.tsx'), 'EventsScreen') },
        {
          path: 'e/:eventId/setup',
          lazy: screen(() => import('../features/events/EventSetupScreen.tsx'), 'EventSetupScreen'),
        },
        {
          path: 'e/:eventId/tickets',
          lazy: screen(() => import('../features/tickets/TicketsScreen.tsx'), 'TicketsScreen'),
        },
        {
          path: 'e/:eventId/devices',
          lazy: screen(() => import('../features/devices/DevicesScreen.tsx'), 'DevicesScreen'),
        },
        { path: 'e/:eventId/staff', lazy: screen(() => import('../features/events/StaffScreen.tsx'), 'StaffScreen') },
        {
          path: 'e/:eventId/dashboard',
          lazy: screen(() => import('../features/dashboard/DashboardScreen.tsx'), 'DashboardScreen'),
        },
        { path: 'e/:eventId/scans', lazy: screen(() => import('../features/scans/ScansScreen.tsx'), 'ScansScreen') },
        {
          path: 'e/:eventId/conflicts',
          lazy: screen(() => import('../features/conflicts/ConflictsScreen.tsx'), 'ConflictsScreen'),
        },
        {
          path: 'e/:eventId/rule-check',
          lazy: screen(() => import('../features/rule-check/RuleCheckScreen.tsx'), 'RuleCheckScreen'),
        },
        { path: 'tickets', element: <NoEvent section="tickets" /> },
        { path: 'devices', element: <NoEvent section="devices" /> },
        { path: 'staff', element: <NoEvent section="staff" /> },
        { path: 'users', lazy: screen(() => import('../features/users/UsersScreen.tsx'), 'UsersScreen') },
        {
          path: 'e/:eventId/alerts',
          lazy: screen(() => import('../features/alerts/AlertsScreen.tsx'), 'AlertsScreen'),
        },
        { path: 'alerts', element: <NoEvent section="alerts" /> },
        { path: '*', element: <Navigate to="/events" replace /> },
      ],
    },
  ],
  { basename: '/console' },
);

type State = { kind: 'checking' } | { kind: 'out' } | { kind: 'in'; user: ConsoleUser };

export function App(): ReactNode {
  const [state, setState] = useState<State>({ kind: 'checking' });
  const qc = useQueryClient();

  useEffect(() => {
    let live = true;
    api.me().then(
      (user) => {
        if (live) setState({ kind: 'in', user });
      },
      () => {
        if (live) setState({ kind: 'out' });
      },
    );
    return () => {
      live = false;
    };
  }, []);

  useSyncExternalStore(
    useCallback((notify: () => void) => {
      const l = (): void => {
        setState({ kind: 'out' });
        notify();
      };
      signedOutListeners.push(l);
      return () => {
        signedOutListeners = signedOutListeners.filter((x) => x !== l);
      };
    }, []),
    () => 0,
  );

  const logout = useCallback(() => {
    void api.logout().finally(() => {
      qc.clear();
      setState({ kind: 'out' });
    });
  }, [qc]);

  if (state.kind === 'checking')
    return (
      <p className="loading" role="status">
        Loading…
      </p>
    );
  if (state.kind === 'out')
    return (
      <LoginScreen
        onLogin={(user) => {
          qc.clear();
          setState({ kind: 'in', user });
        }}
      />
    );
  return (
    <SessionProvider value={{ user: state.user, logout }}>
      <RouterProvider router={router} />
    </SessionProvider>
  );
}
