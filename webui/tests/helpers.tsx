import { act, render } from '@testing-library/react';
import { MemoryRouter } from 'react-router';
import { vi } from 'vitest';
import type { ReactNode } from 'react';
import { AppProvider } from '../src/state';

export type Route = (url: string, init?: RequestInit) => unknown | Promise<unknown>;

/** Install a fetch mock answering JSON by path; returns the mock for call inspection. */
export function mockApi(overrides: Record<string, Route> = {}) {
  const routes: Record<string, Route> = {
    '/api/form': () => ({ form_json: null }),
    '/api/model/status': () => ({ state: 'loaded', msg: 'Model loaded.', demo: true, rss_mb: 512 }),
    '/api/prompts': () => [],
    '/api/images': () => [],
    '/api/verify': () => ({ valid: true, warnings: [] }),
    '/api/lora/status': () => ({ applied: null, strength: 0.6, applied_loras: [], available: [] }),
    '/api/magic-prompt/status': () => ({ configured: false, missing_env: [], llm_reachable: false, llm_error: 'no base URL' }),
    ...overrides,
  };
  const fn = vi.fn(async (input: string | URL | Request, init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const path = url.replace(/^https?:\/\/[^/]+/, '').split('?')[0];
    const key = Object.keys(routes).sort((a, b) => b.length - a.length).find((k) => path === k || path.startsWith(k + '/'));
    if (!key) return new Response(JSON.stringify({ error: 'not found' }), { status: 404 });
    const body = await routes[key](url, init);
    if (body instanceof Response) return body;
    return new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json' } });
  });
  vi.stubGlobal('fetch', fn);
  return fn;
}

/** Render inside the router and the app state, then let the start-up fetches settle. */
export async function renderApp(ui: ReactNode, path = '/') {
  const r = render(
    <MemoryRouter initialEntries={[path]}>
      <AppProvider>{ui}</AppProvider>
    </MemoryRouter>,
  );
  for (let i = 0; i < 5; i++) await act(async () => {});
  return r;
}
