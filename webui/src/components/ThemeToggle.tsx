import { useEffect, useState } from 'react';
import { IconMonitor, IconMoon, IconSun } from './Icons';

export type Theme = 'light' | 'dark' | 'system';
export const THEME_KEY = 'ideogram4_theme';

export function applyTheme(t: Theme) {
  const dark = t === 'dark' || (t === 'system' && typeof matchMedia === 'function' && matchMedia('(prefers-color-scheme: dark)').matches);
  document.documentElement.classList.toggle('dark', dark);
}

function readTheme(): Theme {
  try {
    const t = localStorage.getItem(THEME_KEY);
    return t === 'light' || t === 'dark' ? t : 'system';
  } catch {
    return 'system';
  }
}

export function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>(readTheme);
  useEffect(() => {
    applyTheme(theme);
    try {
      localStorage.setItem(THEME_KEY, theme);
    } catch {
      /* ignore */
    }
  }, [theme]);
  const next: Record<Theme, Theme> = { light: 'dark', dark: 'system', system: 'light' };
  return (
    <button type="button" className="btn btn-ghost" onClick={() => setTheme(next[theme])}
      aria-label={`Theme: ${theme}. Switch to ${next[theme]}`} title={`Theme: ${theme}`} data-testid="theme-toggle">
      {theme === 'light' ? <IconSun /> : theme === 'dark' ? <IconMoon /> : <IconMonitor />}
      <span className="hidden text-xs sm:inline">{theme}</span>
    </button>
  );
}
