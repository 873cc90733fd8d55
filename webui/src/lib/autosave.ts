// Auto-save of the editor form (docs/APP.md §9.9): server first (POST /api/form),
// localStorage always as the fallback; restore picks the newer copy.
import { restoreForm, type FormState } from './caption';

export const LOCAL_KEY = 'ideogram4_last_form';
export const DEBOUNCE_MS = 500;

type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;
type StorageLike = Pick<Storage, 'getItem' | 'setItem'>;

export type SaveResult = 'server' | 'local';

export interface AutosaveDeps {
  fetch?: FetchLike;
  storage?: StorageLike | null;
  now?: () => Date;
}

function deps(d: AutosaveDeps) {
  let storage: StorageLike | null = null;
  try {
    storage = d.storage === undefined ? globalThis.localStorage ?? null : d.storage;
  } catch {
    storage = null;
  }
  return {
    fetch: d.fetch ?? ((i: string, init?: RequestInit) => globalThis.fetch(i, init)),
    storage,
    now: d.now ?? (() => new Date()),
  };
}

/** Save once. Always writes localStorage; returns 'server' when the server accepted it too. */
export async function saveForm(form: FormState, d: AutosaveDeps = {}): Promise<SaveResult> {
  const { fetch, storage, now } = deps(d);
  const stamped: FormState = { ...form, _savedAt: now().toISOString() };
  const text = JSON.stringify(stamped);
  try {
    storage?.setItem(LOCAL_KEY, text);
  } catch {
    /* quota or disabled storage: the server copy still counts */
  }
  try {
    const res = await fetch('/api/form', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ form_json: text }),
    });
    if (!res.ok) return 'local';
    return 'server';
  } catch {
    return 'local';
  }
}

function parseSaved(text: unknown): Record<string, unknown> | null {
  if (typeof text !== 'string' || !text) return null;
  try {
    const v = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

export type RestoreSource = 'server' | 'local' | 'default';

/** Restore: GET /api/form and localStorage; the newer `_savedAt` wins; defaults when neither exists. */
export async function loadSavedForm(d: AutosaveDeps = {}): Promise<{ form: FormState; source: RestoreSource }> {
  const { fetch, storage } = deps(d);
  let server: Record<string, unknown> | null = null;
  try {
    const res = await fetch('/api/form');
    if (res.ok) {
      const body = await res.json();
      server = parseSaved(body?.form_json);
    }
  } catch {
    server = null;
  }
  let local: Record<string, unknown> | null = null;
  try {
    local = parseSaved(storage?.getItem(LOCAL_KEY));
  } catch {
    local = null;
  }
  const time = (v: Record<string, unknown> | null) => {
    const t = v && typeof v._savedAt === 'string' ? Date.parse(v._savedAt) : NaN;
    return Number.isNaN(t) ? 0 : t;
  };
  if (server && (!local || time(server) >= time(local))) return { form: restoreForm(server), source: 'server' };
  if (local) return { form: restoreForm(local), source: 'local' };
  return { form: restoreForm(null), source: 'default' };
}

/** Debounced saver: schedule() on every change, the last state is saved after `delay` ms. */
export function createAutosaver(onSaved: (r: SaveResult) => void, d: AutosaveDeps = {}, delay = DEBOUNCE_MS) {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let pending: FormState | null = null;
  const flush = async () => {
    if (timer) clearTimeout(timer);
    timer = null;
    const f = pending;
    pending = null;
    if (f) onSaved(await saveForm(f, d));
  };
  return {
    schedule(form: FormState) {
      pending = form;
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => void flush(), delay);
    },
    flush,
    cancel() {
      if (timer) clearTimeout(timer);
      timer = null;
      pending = null;
    },
  };
}
