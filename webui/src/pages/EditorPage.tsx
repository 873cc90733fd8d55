// Editor page: `/` (new image) and `/history/<promptId>` (restored from a saved prompt).
import { useEffect, useState } from 'react';
import { Link, useLocation, useParams } from 'react-router';
import { CaptionEditor } from '../components/CaptionEditor';
import { IconPlay, IconSpinner } from '../components/Icons';
import { ResultView } from '../components/ResultView';
import { SettingsCard } from '../components/SettingsCard';
import { Api } from '../lib/api';
import { restoreForm } from '../lib/caption';
import { useApp } from '../state';

export function EditorPage() {
  const { id } = useParams();
  const location = useLocation();
  const app = useApp();
  const { replaceForm, setCurrentPromptId, setResults, setSelectedResult, currentPromptId, toast } = app;
  const [notFound, setNotFound] = useState(false);
  const [loading, setLoading] = useState(false);
  const promptId = id !== undefined ? Number(id) : null;
  const fromGenerate = (location.state as { fromGenerate?: boolean } | null)?.fromGenerate === true;

  useEffect(() => {
    setNotFound(false);
    if (promptId === null) {
      setCurrentPromptId(null);
      return;
    }
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

  const busy = app.gen.phase === 'submitting' || app.gen.phase === 'running';
  const loaded = app.model?.state === 'loaded';
  return (
    <div className="mx-auto grid max-w-7xl gap-6 lg:grid-cols-[minmax(0,1fr)_380px]">
      <div className="min-w-0 space-y-4">
        <div className="flex flex-wrap items-baseline gap-2">
          <h1 className="text-xl font-semibold">{promptId !== null ? `Prompt #${promptId}` : 'New image'}</h1>
          {loading && <span className="text-sm text-neutral-500">Loading…</span>}
          <span className="flex-1" />
          <span className="text-xs text-neutral-500" data-testid="autosave-state">
            {app.saveState === 'server' ? 'Form saved' : app.saveState === 'local' ? 'Saved in this browser (server unreachable)' : ''}
          </span>
        </div>
        {notFound && (
          <div role="alert" className="card border-red-300 text-sm">
            Prompt not found. It may have been deleted. <Link className="underline" to="/">Start a new image</Link>.
          </div>
        )}
        <ResultView />
        <CaptionEditor />
      </div>
      <aside className="space-y-3 lg:sticky lg:top-16 lg:max-h-[calc(100vh-5rem)] lg:self-start lg:overflow-y-auto" aria-label="Generation">
        <SettingsCard />
        <button type="button" className="btn btn-primary w-full py-2.5 text-base" data-testid="generate"
          onClick={() => void app.generate()} disabled={busy || !loaded}
          aria-describedby={!loaded ? 'generate-hint' : undefined}>
          {busy ? <><IconSpinner /> Generating…</> : <><IconPlay /> Generate</>}
        </button>
        {!loaded && <p id="generate-hint" className="text-center text-xs text-neutral-500">Load the model (top right) to generate.</p>}
      </aside>
    </div>
  );
}
