/** Signs in, then routes: one folder per screen under features/. */
import { useQueryClient } from '@tanstack/react-query';
import { useCallback, useEffect, useState, useSyncExternalStore, type ReactNode } from 'react';
import { createBrowserRouter, Navigate, RouterProvider } from 'react-router';
import { api, type ConsoleUser } from '../api/client.ts';
import { LoginScreen } from '../auth/LoginScreen.tsx';
import { SessionProvider } from '../auth/session.tsx';
import { DevicesScreen } from '../features/devices/DevicesScreen.tsx';
import { EventSetupScreen } from '../features/events/EventSetupScreen.tsx';
import { EventsScreen } from '../features/events/EventsScreen.tsx';
import { StaffScreen } from '../features/events/StaffScreen.tsx';
import { TicketsScreen } from '../features/tickets/TicketsScreen.tsx';
import { UsersScreen } from '../features/users/UsersScreen.tsx';
import { AlertsScreen } from '../features/alerts/AlertsScreen.tsx';
import { NoEvent, Shell } from './Shell.tsx';

let signedOutListeners: Array<() => void> = [];
/** Called when the server answers 401: back to the sign-in screen. */
export function signedOut(): void { for (const l of signedOutListeners) l(); }

const router = createBrowserRouter([
  {
    path: '/',
    element: <Shell />,
    children: [
      { index: true, element: <Navigate to="/events" replace /> },
      { path: 'events', element: <EventsScreen /> },
      { path: 'e/:eventId/setup', element: <EventSetupScreen /> },
      { path: 'e/:eventId/tickets', element: <TicketsScreen /> },
      { path: 'e/:eventId/devices', element: <DevicesScreen /> },
      { path: 'e/:eventId/staff', element: <StaffScreen /> },
      { path: 'tickets', element: <NoEvent section="tickets" /> },
      { path: 'devices', element: <NoEvent section="devices" /> },
      { path: 'staff', element: <NoEvent section="staff" /> },
      { path: 'users', element: <UsersScreen /> },
      { path: 'events/:eventId/alerts', element: <AlertsScreen /> }, { path: 'e/:eventId/alerts', element: <AlertsScreen /> }, { path: 'alerts', element: <NoEvent section="alerts" /> },
      { path: '*', element: <Navigate to="/events" replace /> },
    ],
  },
], { basename: '/console' });

type State = { kind: 'checking' } | { kind: 'out' } | { kind: 'in'; user: ConsoleUser };

export function App(): ReactNode {
  const [state, setState] = useState<State>({ kind: 'checking' });
  const qc = useQueryClient();

  useEffect(() => {
    let live = true;
    api.me().then((user) => { if (live) setState({ kind: 'in', user }); }, () => { if (live) setState({ kind: 'out' }); });
    return () => { live = false; };
  }, []);

  useSyncExternalStore(useCallback((notify: () => void) => {
    const l = (): void => { setState({ kind: 'out' }); notify(); };
    signedOutListeners.push(l);
    return () => { signedOutListeners = signedOutListeners.filter((x) => x !== l); };
  }, []), () => 0);

  const logout = useCallback(() => {
    void api.logout().finally(() => { qc.clear(); setState({ kind: 'out' }); });
  }, [qc]);

  if (state.kind === 'checking') return <p className="loading" role="status">Loading…</p>;
  if (state.kind === 'out') return <LoginScreen onLogin={(user) => { qc.clear(); setState({ kind: 'in', user }); }} />;
  return (
    <SessionProvider value={{ user: state.user, logout }}>
      <RouterProvider router={router} />
    </SessionProvider>
  );
}
