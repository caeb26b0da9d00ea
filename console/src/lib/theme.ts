// Light/dark theme: follows prefers-color-scheme unless the user picked one.
import { useEffect, useState } from 'react';

/** Theme choice. */
export type Theme = 'system' | 'light' | 'dark';

const KEY = 'outcrop.theme';

/** nextTheme cycles system → light → dark → system. */
export function nextTheme(t: Theme): Theme {
  return t === 'system' ? 'light' : t === 'light' ? 'dark' : 'system';
}

function stored(): Theme {
  try {
    const v = localStorage.getItem(KEY);
    return v === 'light' || v === 'dark' ? v : 'system';
  } catch {
    return 'system';
  }
}

/** useTheme returns the theme choice and a setter; it sets data-theme on <html>. */
export function useTheme(): [Theme, (t: Theme) => void] {
  const [theme, setTheme] = useState<Theme>(stored);
  useEffect(() => {
    const root = document.documentElement;
    if (theme === 'system') root.removeAttribute('data-theme');
    else root.setAttribute('data-theme', theme);
    try {
      if (theme === 'system') localStorage.removeItem(KEY);
      else localStorage.setItem(KEY, theme);
    } catch {
      // storage may be disabled; the choice then lasts for this page only
    }
  }, [theme]);
  return [theme, setTheme];
}
