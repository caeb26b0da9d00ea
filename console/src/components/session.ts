import { createContext, useContext } from 'react';
import type { Session } from '../api/session';

/** SessionContext carries the signed-in session to every screen. */
export const SessionContext = createContext<Session | null>(null);

/** useSession returns the current session (the layout renders only with one). */
export function useSession(): Session | null {
  return useContext(SessionContext);
}
