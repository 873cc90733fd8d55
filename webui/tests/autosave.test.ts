import { afterEach, describe, expect, it, vi } from 'vitest';
import { createAutosaver, loadSavedForm, LOCAL_KEY, saveForm } from '../src/lib/autosave';
import { defaultForm } from '../src/lib/caption';

function memoryStorage() {
  const m = new Map<string, string>();
  return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), map: m };
}
const ok = (body: unknown) => new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json' } });

afterEach(() => vi.useRealTimers());

describe('auto-save', () => {
  it('saves to the server and to localStorage', async () => {
    const storage = memoryStorage();
    const fetch = vi.fn(async () => ok({ ok: true }));
    const r = await saveForm({ ...defaultForm(), hld: 'hello' }, { fetch, storage });
    expect(r).toBe('server');
    expect(fetch).toHaveBeenCalledTimes(1);
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('/api/form');
    expect(init.method).toBe('POST');
    const body = JSON.parse(init.body as string);
    expect(JSON.parse(body.form_json).hld).toBe('hello');
    expect(JSON.parse(storage.getItem(LOCAL_KEY)!).hld).toBe('hello');
  });
  it('falls back to localStorage when the server is unreachable or fails', async () => {
    const storage = memoryStorage();
    expect(await saveForm({ ...defaultForm(), hld: 'offline' }, { fetch: async () => { throw new TypeError('Failed to fetch'); }, storage })).toBe('local');
    expect(JSON.parse(storage.getItem(LOCAL_KEY)!).hld).toBe('offline');
    expect(await saveForm(defaultForm(), { fetch: async () => new Response('', { status: 500 }), storage })).toBe('local');
  });
  it('restores from the server first', async () => {
    const storage = memoryStorage();
    storage.setItem(LOCAL_KEY, JSON.stringify({ ...defaultForm(), hld: 'local', _savedAt: '2026-01-01T00:00:00Z' }));
    const server = JSON.stringify({ ...defaultForm(), hld: 'server', _savedAt: '2026-01-02T00:00:00Z' });
    const r = await loadSavedForm({ fetch: async () => ok({ form_json: server }), storage });
    expect(r).toMatchObject({ source: 'server' });
    expect(r.form.hld).toBe('server');
  });
  it('restores from localStorage when the server is unreachable, or when the local copy is newer', async () => {
    const storage = memoryStorage();
    storage.setItem(LOCAL_KEY, JSON.stringify({ ...defaultForm(), hld: 'local', _savedAt: '2026-01-03T00:00:00Z' }));
    const down = await loadSavedForm({ fetch: async () => { throw new TypeError('network'); }, storage });
    expect(down.source).toBe('local');
    expect(down.form.hld).toBe('local');
    const older = JSON.stringify({ ...defaultForm(), hld: 'server', _savedAt: '2026-01-02T00:00:00Z' });
    const newer = await loadSavedForm({ fetch: async () => ok({ form_json: older }), storage });
    expect(newer.form.hld).toBe('local');
  });
  it('uses defaults when nothing was saved (server null, empty storage)', async () => {
    const r = await loadSavedForm({ fetch: async () => ok({ form_json: null }), storage: memoryStorage() });
    expect(r.source).toBe('default');
    expect(r.form).toMatchObject({ w: 1024, h: 1024, seed: '', rawJson: '' });
  });
  it('debounces: only the last state is saved, once, after the delay', async () => {
    vi.useFakeTimers();
    const fetch = vi.fn(async () => ok({ ok: true }));
    const saved: string[] = [];
    const s = createAutosaver((r) => saved.push(r), { fetch, storage: memoryStorage() }, 500);
    s.schedule({ ...defaultForm(), hld: 'a' });
    vi.advanceTimersByTime(300);
    s.schedule({ ...defaultForm(), hld: 'ab' });
    vi.advanceTimersByTime(499);
    expect(fetch).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(2);
    expect(fetch).toHaveBeenCalledTimes(1);
    const body = JSON.parse((fetch.mock.calls[0] as unknown as [string, RequestInit])[1].body as string);
    expect(JSON.parse(body.form_json).hld).toBe('ab');
    expect(saved).toEqual(['server']);
  });
});
