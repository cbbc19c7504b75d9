/** Top bar (user, role, event switcher, log out), left navigation, and the screen. */
import { useQuery } from '@tanstack/react-query';
import { useEffect, type ReactNode } from 'react';
import { Navigate, NavLink, Outlet, useLocation, useNavigate, useParams } from 'react-router';
import { eventsQuery } from '../api/queries.ts';
import { IfRole, useSession } from '../auth/session.tsx';

const LAST_EVENT = 'entrada.console.event';

export function rememberEvent(id: string): void {
  try {
    localStorage.setItem(LAST_EVENT, id);
  } catch {
    /* private mode */
  }
}
function lastEvent(): string | null {
  try {
    return localStorage.getItem(LAST_EVENT);
  } catch {
    return null;
  }
}

const SECTIONS = [
  'setup',
  'dashboard',
  'tickets',
  'devices',
  'staff',
  'alerts',
  'scans',
  'conflicts',
  'rule-check',
] as const;

export function useCurrentEventId(): string | null {
  const { eventId } = useParams();
  const events = useQuery(eventsQuery());
  if (eventId) return eventId;
  const last = lastEvent();
  if (last && events.data?.some((e) => e.id === last)) return last;
  return events.data?.[0]?.id ?? null;
}

export function Shell(): ReactNode {
  const { user, logout } = useSession();
  const events = useQuery(eventsQuery());
  const current = useCurrentEventId();
  const navigate = useNavigate();
  const location = useLocation();
  const section = SECTIONS.find((s) => location.pathname.endsWith(`/${s}`)) ?? 'setup';

  useEffect(() => {
    if (current) rememberEvent(current);
  }, [current]);

  const link = (s: string): string => (current ? `/e/${current}/${s}` : `/${s === 'setup' ? 'events' : s}`);
  return (
    <div className="shell">
      <header className="topbar">
        <a className="brand" href="/console/events">
          Entrada
        </a>
        <label className="switcher">
          <span>Event</span>
          <select
            value={current ?? ''}
            disabled={!events.data?.length}
            onChange={(e) =>
              navigate(`/e/${e.target.value}/${location.pathname.startsWith('/e/') ? section : 'setup'}`)
            }
          >
            {!events.data?.length && <option value="">No events yet</option>}
            {events.data?.map((e) => (
              <option key={e.id} value={e.id}>
                {e.name}
              </option>
            ))}
          </select>
        </label>
        <div className="who" data-testid="who">
          <span className="who-name">{user.name}</span>
          <span className="role">{user.role}</span>
        </div>
        <button type="button" onClick={logout}>
          Log out
        </button>
      </header>
      <nav className="sidenav" aria-label="Main">
        <NavLink to="/events" end>
          Events
        </NavLink>
        {current && (
          <NavLink to={link('setup')} className="sub">
            Set-up
          </NavLink>
        )}
        {current && (
          <NavLink to={link('dashboard')} className="sub">
            Live dashboard
          </NavLink>
        )}
        <NavLink to={link('tickets')}>Tickets</NavLink>
        <NavLink to={link('devices')}>Devices</NavLink>
        <NavLink to={link('staff')}>Staff</NavLink>
        <NavLink to={link('alerts')}>Alerts</NavLink>
        {current && <NavLink to={link('scans')}>Scan log</NavLink>}
        {current && <NavLink to={link('conflicts')}>Conflicts</NavLink>}
        {current && <NavLink to={link('rule-check')}>Rule check</NavLink>}
        <IfRole role="owner">
          <NavLink to="/users">Users &amp; tokens</NavLink>
        </IfRole>
      </nav>
      <main className="content" id="main">
        <Outlet />
      </main>
    </div>
  );
}

/** A section opened before any event exists, or before one is chosen. */
export function NoEvent({ section }: { section: string }): ReactNode {
  const current = useCurrentEventId();
  if (current) return <Navigate to={`/e/${current}/${section}`} replace />;
  return (
    <section>
      <h1>{section[0]!.toUpperCase() + section.slice(1)}</h1>
      <p className="empty">
        Create an event first: {section} belong to an event. <NavLink to="/events">Go to events</NavLink>
      </p>
    </section>
  );
}
