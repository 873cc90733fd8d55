// Editor page: `/` (new image) and `/history/<promptId>` (restored from a saved prompt).
import { useEffect, useRef, useState } from 'react';
import { Link, useLocation, useParams } from 'react-router';
import { CaptionEditor } from '../components/CaptionEditor';
import { FirstRunPanel } from '../components/FirstRunPanel';
import { IconPlay } from '../components/Icons';
import { QueuePanel } from '../components/QueuePanel';
import { ResultView } from '../components/ResultView';
import { SettingsCard } from '../components/SettingsCard';
import { Api } from '../lib/api';
import { restoreForm } from '../lib/caption';
import { isActive, useApp } from '../state';

const isMac = typeof navigator !== 'undefined' && /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);

/** Keyboard: Ctrl/Cmd+Enter generates; Ctrl/Cmd+Z undoes and Ctrl/Cmd+Shift+Z (or Ctrl+Y) redoes form and canvas edits. */
function useEditorKeys() {
  const { generate, undo, redo } = useApp();
  const ref = useRef({ generate, undo, redo });
  ref.current = { generate, undo, redo };
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (!(e.ctrlKey || e.metaKey) || e.altKey) return;
      const t = e.target as HTMLElement | null;
      if (e.key === 'Enter') {
        e.preventDefault();
        void ref.current.generate();
        return;
      }
      // Text boxes outside the caption (Quick Prompt idea, search) keep the browser's own undo.
      if (t?.closest?.('[data-native-undo]')) return;
      if (document.querySelector('[role="dialog"]')) return;
      const k = e.key.toLowerCase();
      if (k === 'z' && !e.shiftKey) {
        e.preventDefault();
        ref.current.undo();
      } else if ((k === 'z' && e.shiftKey) || k === 'y') {
        e.preventDefault();
        ref.current.redo();
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);
}

export function EditorPage() {
  const { id } = useParams();
  const location = useLocation();
  const app = useApp();
  const { replaceForm, restoreDraft, setCurrentPromptId, setResults, setSelectedResult, currentPromptId, toast } = app;
  const [notFound, setNotFound] = useState(false);
  const [loading, setLoading] = useState(false);
  const promptId = id !== undefined ? Number(id) : null;
  const fromGenerate = (location.state as { fromGenerate?: boolean } | null)?.fromGenerate === true;
  const cameFromHistory = useRef(false);
  useEditorKeys();

  useEffect(() => {
    setNotFound(false);
    if (promptId === null) {
      // Back at `/` from a history page: the unsaved draft comes back.
      if (cameFromHistory.current || currentPromptId !== null) restoreDraft();
      cameFromHistory.current = false;
      setCurrentPromptId(null);
      return;
    }
    cameFromHistory.current = true;
    if (!Number.isInteger(promptId) || promptId <= 0) {
      setNotFound(true);
      return;
    }
    if (fromGenerate && currentPromptId === promptId) return; // the form is already this prompt's
    let alive = true;
    setCurrentPromptId(promptId);
    setResults([]);
    setLoading(true);
    (async () => {
      try {
        const p = await Api.prompt(promptId);
        if (!alive) return;
        if (!p || p.error || typeof p.form_json !== 'string') throw new Error('not found');
        let saved: unknown = null;
        try {
          saved = JSON.parse(p.form_json);
        } catch {
          saved = null;
        }
        replaceForm(restoreForm(saved));
        const imgs = await Api.images({ prompt_id: promptId }).catch(() => []);
        if (!alive) return;
        setResults(imgs);
        setSelectedResult(imgs[0]?.id ?? null);
      } catch (e) {
        if (!alive) return;
        setNotFound(true);
        toast((e as Error).message === 'not found' ? 'Prompt not found.' : `Could not open the prompt: ${(e as Error).message}`, 'error');
      } finally {
        if (alive) setLoading(false);
      }
    })();
    return () => {
      alive = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [promptId]);

  const loaded = app.model?.state === 'loaded' && !app.modelError;
  const active = app.jobs.filter(isActive).length;
  const maxBatch = app.config?.max_batch ?? 8;
  const shortcut = isMac ? '⌘↵' : 'Ctrl+Enter';
  return (
    <div className="mx-auto grid max-w-7xl grid-cols-1 gap-6 pb-40 lg:grid-cols-[minmax(0,1fr)_380px] lg:pb-0">
      <div className="min-w-0 space-y-4">
        <div className="flex flex-wrap items-baseline gap-2">
          <h1 className="text-xl font-semibold">{promptId !== null ? `Prompt #${promptId}` : 'New image'}</h1>
          {loading && <span className="text-sm text-neutral-500">Loading…</span>}
          <span className="flex-1" />
          <button type="button" className="btn btn-ghost btn-sm" onClick={app.undo} disabled={!app.canUndo}
            title={`Undo (${isMac ? '⌘Z' : 'Ctrl+Z'})`}>Undo</button>
          <button type="button" className="btn btn-ghost btn-sm" onClick={app.redo} disabled={!app.canRedo}
            title={`Redo (${isMac ? '⇧⌘Z' : 'Ctrl+Shift+Z'})`}>Redo</button>
          <span className="text-xs text-neutral-500" data-testid="autosave-state">
            {promptId !== null ? '' : app.saveState === 'server' ? 'Draft saved' : app.saveState === 'local' ? 'Saved in this browser (server unreachable)' : ''}
          </span>
        </div>
        {notFound && (
          <div role="alert" className="card border-red-300 text-sm">
            Prompt not found. It may have been deleted. <Link className="underline" to="/">Start a new image</Link>.
          </div>
        )}
        <FirstRunPanel />
        <ResultView />
        <CaptionEditor />
      </div>
      <aside className="space-y-3 lg:sticky lg:top-16 lg:max-h-[calc(100vh-5rem)] lg:self-start lg:overflow-y-auto" aria-label="Generation">
        <SettingsCard />
        {/* Generate stays in reach: the bottom of the sticky column on wide screens, a fixed bar on narrow ones. */}
        <div data-testid="generate-bar"
          className="z-30 border-neutral-200 bg-white/95 backdrop-blur max-lg:fixed max-lg:inset-x-0 max-lg:bottom-0 max-lg:border-t max-lg:px-3 max-lg:pb-[calc(0.5rem+env(safe-area-inset-bottom))] max-lg:pt-2 max-lg:shadow-[0_-4px_12px_rgba(0,0,0,0.08)] lg:sticky lg:bottom-0 lg:rounded-lg lg:border lg:p-3 dark:border-neutral-800 dark:bg-neutral-950/95">
          <QueuePanel className="mb-2 max-lg:max-h-32 max-lg:overflow-y-auto" />
          <div className="flex items-stretch gap-2">
            <label className="sr-only" htmlFor="s-batch">Images per run</label>
            <select id="s-batch" className="input w-auto" value={app.batch} onChange={(e) => app.setBatch(Number(e.target.value))}
              title="Images per run (seeds seed, seed+1, …)">
              {Array.from({ length: maxBatch }, (_, i) => i + 1).map((n) => <option key={n} value={n}>{n === 1 ? '1 image' : `${n} images`}</option>)}
            </select>
            <button type="button" className="btn btn-primary flex-1 py-2.5 text-base" data-testid="generate"
              onClick={() => void app.generate()} disabled={!loaded}
              aria-keyshortcuts={isMac ? 'Meta+Enter' : 'Control+Enter'}
              aria-describedby={!loaded ? 'generate-hint' : undefined}>
              <IconPlay /> Generate
            </button>
          </div>
          <p id="generate-hint" className="mt-1 text-center text-xs text-neutral-500">
            {!loaded ? 'Load the model (top right) to generate.' : active ? `${active} job${active > 1 ? 's' : ''} running or queued · ${shortcut} adds another` : `${shortcut} to generate`}
          </p>
        </div>
      </aside>
    </div>
  );
}
