// Session API of the console (docs/CONSOLE.md "Session API").
import { ApiError, Client } from './client';

/** Session as returned by /console/api/session. */
export interface Session {
  principal: string;
  account: string;
  csrfToken: string;
  expiresAt: string;
  openMode: boolean;
}

/** Credentials for sign-in: an API key or an access key pair. */
export type Credentials = { apiKey: string } | { accessKeyId: string; secretAccessKey: string };

const PATH = '/console/api/session';

/** currentSession returns the session, or null when there is none (401). */
export async function currentSession(c: Client): Promise<Session | null> {
  try {
    const s = await c.json<Session>(PATH);
    c.setCSRF(s.csrfToken);
    return s;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return null;
    throw e;
  }
}

/** signIn exchanges credentials for a session cookie. */
export async function signIn(c: Client, creds: Credentials): Promise<Session> {
  const s = await c.json<Session>(PATH, { method: 'POST', body: creds });
  c.setCSRF(s.csrfToken);
  return s;
}

/** signOut revokes the session server-side. */
export async function signOut(c: Client): Promise<void> {
  await c.raw(PATH, { method: 'DELETE' });
  c.setCSRF('');
}
