// Prompt history (docs/APP.md §9.6): newest first, thumbnail, search, stable URLs, delete with confirmation.
import { useEffect, useMemo, useState } from 'react';
import { Link, NavLink, useNavigate } from 'react-router';
import { Api, imageUrl, parseServerTime, type PromptRow } from '../lib/api';
import { presetLabel } from '../lib/sizes';
import { useApp } from '../state';
import { ConfirmDialog } from './ConfirmDialog';
import { IconImage, IconPlus, IconTrash, IconX } from './Icons';

function promptMeta(p: PromptRow): { preset?: string; w?: number; h?: number } {
  try {
    const f = JSON.parse(p.form_json);
    return { preset: f.preset, w: f.w, h: f.h };
  } catch {
    return {};
  }
}

/** "14:03" for today, "Jun 16" otherwise. */
function shortTime(d: Date): string {
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return d.toLocaleDateString([], { month: 'short', day: 'numeric' });
}

export function HistorySidebar({ onNavigate, onClose }: { onNavigate?: () => void; onClose?: () => void }) {
  const { prompts, thumbs, historyError, deletePrompt, currentPromptId, resetForm, setCurrentPromptId, setResults } = useApp();
  const navigate = useNavigate();
  const [q, setQ] = useState('');
  const [toDelete, setToDelete] = useState<PromptRow | null>(null);
  // Search: instant filter of the loaded list, then the server's search over every prompt.
  const [found, setFound] = useState<{ q: string; rows: PromptRow[] } | null>(null);
  useEffect(() => {
    const t = q.trim();
    if (!t) return;
    let alive = true;
    const timer = setTimeout(() => {
      Api.prompts(t).then((rows) => alive && Array.isArray(rows) && setFound({ q: t, rows })).catch(() => {});
    }, 250);
    return () => {
      alive = false;
      clearTimeout(timer);
    };
  }, [q, prompts]);
  const filtered = useMemo(() => {
    const t = q.trim().toLowerCase();
    if (!t) return prompts;
    if (found && found.q.toLowerCase() === t) return found.rows;
    return prompts.filter((p) => (p.hld || '').toLowerCase().includes(t));
  }, [prompts, q, found]);
  const newImage = () => {
    resetForm();
    setCurrentPromptId(null);
    setResults([]);
    navigate('/');
    onNavigate?.();
  };
  return (
    <nav aria-label="Main" className="flex h-full flex-col">
      <div className="flex items-center gap-2 px-3 py-3">
        <Link to="/" className="flex items-center gap-2 font-semibold" onClick={onNavigate}>
          <img src="/favicon.svg" alt="" width={24} height={24} /> Ideogram 4
        </Link>
        <span className="chip">C</span>
        <span className="flex-1" />
        {onClose && <button type="button" className="btn btn-ghost btn-sm" aria-label="Close sidebar" onClick={onClose}><IconX /></button>}
      </div>
      <div className="space-y-1 px-3">
        <button type="button" className="btn btn-primary w-full" onClick={newImage}><IconPlus /> Create new image</button>
        <NavLink to="/gallery" onClick={onNavigate}
          className={({ isActive }) => `btn w-full ${isActive ? 'bg-neutral-100 dark:bg-neutral-800' : 'btn-ghost'}`}>
          <IconImage /> Gallery
        </NavLink>
      </div>
      <h2 className="mt-4 px-3 text-xs font-semibold uppercase tracking-wide text-neutral-500">History</h2>
      <div className="px-3 py-2">
        <label htmlFor="history-search" className="sr-only">Search history</label>
        <input id="history-search" type="search" className="input" data-native-undo placeholder="Search prompts…" value={q} onChange={(e) => setQ(e.target.value)} />
      </div>
      <ul className="flex-1 space-y-0.5 overflow-y-auto px-2 pb-4" data-testid="history-list">
        {historyError && <li className="px-2 text-xs text-red-600">History unavailable: {historyError}</li>}
        {!historyError && filtered.length === 0 && (
          <li className="px-2 text-xs text-neutral-500">{prompts.length ? 'No prompt matches the search.' : 'No saved prompts yet.'}</li>
        )}
        {filtered.map((p) => {
          const m = promptMeta(p);
          const thumb = p.thumb_url ? { id: 0, url: p.thumb_url } : thumbs[p.id];
          const when = parseServerTime(p.saved_at);
          const active = p.id === currentPromptId;
          return (
            <li key={p.id} className={`group relative flex items-center rounded-md ${active ? 'bg-neutral-100 dark:bg-neutral-800' : 'hover:bg-neutral-50 dark:hover:bg-neutral-900'}`}
              data-testid="history-item" data-prompt-id={p.id}>
              <Link to={`/history/${p.id}`} onClick={onNavigate} aria-current={active ? 'page' : undefined}
                className="flex min-w-0 flex-1 items-center gap-2 rounded-md p-1.5">
                {thumb ? (
                  <img src={imageUrl(thumb)} alt="" loading="lazy" className="h-10 w-10 shrink-0 rounded object-cover" />
                ) : (
                  <span className="flex h-10 w-10 shrink-0 items-center justify-center rounded bg-neutral-100 text-neutral-400 dark:bg-neutral-800"><IconImage /></span>
                )}
                <span className="min-w-0 flex-1">
                  <span className="block truncate text-sm">{(p.hld || '(empty)').slice(0, 60)}</span>
                  <span className="flex items-center gap-1 text-[11px] text-neutral-500">
                    {m.preset && <span className="chip">{presetLabel(m.preset)}</span>}
                    {m.w && m.h && <span>{m.w}×{m.h}</span>}
                    {p.image_count !== undefined && p.image_count > 1 && <span>· {p.image_count} images</span>}
                    {when && <time dateTime={when.toISOString()} title={when.toLocaleString()}>{shortTime(when)}</time>}
                  </span>
                </span>
              </Link>
              <button type="button" aria-label={`Delete prompt: ${(p.hld || '(empty)').slice(0, 40)}`} onClick={() => setToDelete(p)}
                className="btn btn-ghost btn-sm mr-1 text-neutral-500 hover:text-red-600 lg:opacity-0 lg:group-hover:opacity-100 lg:focus:opacity-100">
                <IconTrash />
              </button>
            </li>
          );
        })}
      </ul>
      <ConfirmDialog open={!!toDelete} title="Delete this prompt?"
        message={<>This deletes the prompt <q>{(toDelete?.hld || '(empty)').slice(0, 80)}</q> and every image generated from it, including the files.</>}
        onCancel={() => setToDelete(null)}
        onConfirm={() => { const p = toDelete; setToDelete(null); if (p) void deletePrompt(p.id); }} />
    </nav>
  );
}
