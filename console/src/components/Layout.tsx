// Page frame: skip link, header with theme toggle and sign-out, the main
// navigation (collapsible at phone width) and the screen.
import { useState, type MouseEvent, type ReactNode } from 'react';
import type { Session } from '../api/session';
import { hrefOf, navigate } from '../lib/router';
import { nextTheme, useTheme } from '../lib/theme';
import { NAV } from '../nav';

/** onLinkClick turns a same-origin link click into client-side navigation. */
export function onLinkClick(route: string) {
  return (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(route);
  };
}

/** Link is an anchor to a console route. */
export function Link({ route, children, className }: { route: string; children: ReactNode; className?: string }) {
  return (
    <a href={hrefOf(route)} onClick={onLinkClick(route)} className={className}>
      {children}
    </a>
  );
}

const themeLabel = { system: 'Theme: system', light: 'Theme: light', dark: 'Theme: dark' };

/** Layout frames every signed-in screen. */
export function Layout({
  session,
  current,
  onSignOut,
  children,
}: {
  session: Session;
  current: string;
  onSignOut: () => void;
  children: ReactNode;
}) {
  const [theme, setTheme] = useTheme();
  const [menuOpen, setMenuOpen] = useState(false);
  return (
    <div className="app">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <button
          type="button"
          className="menu-button"
          aria-expanded={menuOpen}
          aria-controls="main-nav"
          onClick={() => setMenuOpen((o) => !o)}
        >
          Menu
        </button>
        <span className="brand">Outcrop</span>
        <span className="spacer" />
        <span className="principal" title={session.account ? `account ${session.account}` : undefined}>
          {session.openMode ? 'open mode' : session.principal}
        </span>
        <button type="button" onClick={() => setTheme(nextTheme(theme))} aria-label={`${themeLabel[theme]} (change)`}>
          {theme === 'dark' ? '☾' : theme === 'light' ? '☀' : '◐'}
        </button>
        {!session.openMode && (
          <button type="button" onClick={onSignOut}>
            Sign out
          </button>
        )}
      </header>
      {session.openMode && (
        <div className="banner" role="status">
          This server runs in open mode: it accepts requests without credentials on loopback, so anyone on this machine can use it.
        </div>
      )}
      <div className="body">
        <nav aria-label="Main" id="main-nav" className={menuOpen ? 'nav open' : 'nav'}>
          <ul>
            {NAV.map((n) => (
              <li key={n.route}>
                <a
                  href={hrefOf(n.route)}
                  aria-current={current === n.route ? 'page' : undefined}
                  onClick={(e) => {
                    setMenuOpen(false);
                    onLinkClick(n.route)(e);
                  }}
                >
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <main id="main" tabIndex={-1}>
          {children}
        </main>
      </div>
    </div>
  );
}
