/** Who is signed in, and what their role may do. Controls a role may not use are not rendered. */
import { roleAtLeast, type Role } from '@entrada/core';
import { createContext, useContext, type ReactNode } from 'react';
import type { ConsoleUser } from '../api/client.ts';

export interface Session {
  user: ConsoleUser;
  logout: () => void;
}

const SessionContext = createContext<Session | null>(null);

export function SessionProvider({ value, children }: { value: Session; children: ReactNode }): ReactNode {
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside SessionProvider');
  return s;
}

/** Whether the signed-in user holds at least `role`. */
export function useCan(role: Role): boolean {
  return roleAtLeast(useSession().user.role, role);
}

/** Renders its children only for `role` and above. */
export function IfRole({ role, children }: { role: Role; children: ReactNode }): ReactNode {
  return useCan(role) ? children : null;
}
