// Path routing under /console/ with the History API. The server answers
// index.html for every unknown path under /console/, so deep links work.
import { useEffect, useState } from 'react';

/** BASE is where the console is served. */
export const BASE = '/console/';

/** routeOf returns the console route ("playground", "logs/abc") of a location pathname. */
export function routeOf(pathname: string): string {
  if (!pathname.startsWith(BASE)) return '';
  return pathname.slice(BASE.length).replace(/\/+$/, '');
}

/** hrefOf is the inverse of routeOf. */
export function hrefOf(route: string): string {
  return BASE + route.replace(/^\/+/, '');
}

const listeners = new Set<() => void>();

/** navigate pushes route onto the history and re-renders subscribers. */
export function navigate(route: string, replace = false) {
  const href = hrefOf(route);
  if (replace) history.replaceState(null, '', href);
  else history.pushState(null, '', href);
  for (const l of listeners) l();
}

/** useRoute returns the current route and re-renders on navigation. */
export function useRoute(): string {
  const [route, setRoute] = useState(() => routeOf(location.pathname));
  useEffect(() => {
    const update = () => setRoute(routeOf(location.pathname));
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  return route;
}

/**
 * afterSignIn is the route to open once signed in: the page the server sent
 * the user from (/console/signin?next=/console/logs), else the current route,
 * else the playground. next must be a path under /console/ (no open redirect).
 */
export function afterSignIn(route: string, search: string): string {
  if (route === 'signin') {
    const next = new URLSearchParams(search).get('next') ?? '';
    if (next.startsWith(BASE) && !next.startsWith('//') && !/[\\]/.test(next) && !next.includes('/../')) {
      const r = routeOf(next.split(/[?#]/)[0]);
      if (r !== 'signin') return r || 'playground';
    }
    return 'playground';
  }
  return route || 'playground';
}
