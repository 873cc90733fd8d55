// First visit: what to do first (load the model), what demo mode is, and how to get the real weights.
import { useState } from 'react';
import { useApp } from '../state';
import { IconX } from './Icons';
import { WeightsDownload } from './WeightsDownload';

export const INTRO_KEY = 'ideogram4_intro_dismissed';
export const DEFAULT_REPO = 'ideogram-ai/ideogram-4-fp8';

/** The command that fetches the weights the server is configured with (IDEOGRAM4_MODEL_REPO / _REVISION). */
export function weightsCommand(repo: string, revision?: string | null): string {
  return `hf download ${repo}${revision && revision !== 'main' ? ` --revision ${revision}` : ''}`;
}

function readDismissed(): boolean {
  try {
    return localStorage.getItem(INTRO_KEY) === '1';
  } catch {
    return false;
  }
}

export function FirstRunPanel() {
  const { model, modelError, prompts, loadModel, toast, config } = useApp();
  const repo = config?.model_repo || DEFAULT_REPO;
  const command = weightsCommand(repo, config?.model_revision);
  const [dismissed, setDismissed] = useState(readDismissed);
  if (modelError || !model) return null;
  // A server without its weights (not demo, not loaded, nothing on disk) always offers the download.
  const needsWeights = !model.demo && model.state !== 'loaded' && (model.weights_present === false || model.download?.state === 'running');
  if (!needsWeights && (dismissed || prompts.length > 0)) return null;
  const close = () => {
    setDismissed(true);
    try {
      localStorage.setItem(INTRO_KEY, '1');
    } catch {
      /* ignore */
    }
  };
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(command);
      toast('Command copied.', 'success');
    } catch {
      toast('Copy failed (clipboard not available).', 'error');
    }
  };
  return (
    <section className="card border-sky-300 dark:border-sky-800" aria-labelledby="intro-title" data-testid="first-run">
      <div className="flex items-start gap-2">
        <h2 id="intro-title" className="flex-1 text-base font-semibold">Getting started</h2>
        <button type="button" className="btn btn-ghost btn-sm" aria-label="Hide getting started" onClick={close}><IconX /></button>
      </div>
      <ol className="mt-2 list-decimal space-y-2 pl-5 text-sm">
        <li>
          <strong>Load the model.</strong>{' '}
          {model.state === 'loaded' ? <span className="text-emerald-700 dark:text-emerald-400">Done — it is loaded.</span> : needsWeights ? (
            <>First download the weights (below).</>
          ) : (
            <>It stays in memory until you unload it.{' '}
              <button type="button" className="btn btn-sm btn-primary" onClick={() => void loadModel()} disabled={model.state === 'loading'}>
                {model.state === 'loading' ? 'Loading…' : 'Load model'}
              </button>
            </>
          )}
        </li>
        <li>
          <strong>Describe the image</strong> in Quick Prompt (needs an LLM) or fill in the Form: a scene, a style, a background and
          the elements, with optional boxes. The <em>Caption guide</em> explains each part.
        </li>
        <li><strong>Generate</strong> (or {'Ctrl/⌘+Enter'}); jobs show their progress at the bottom of the settings column and survive a reload.</li>
      </ol>
      {model.demo ? (
        <div className="mt-3 rounded-md bg-amber-50 p-2 text-sm text-amber-900 dark:bg-amber-950 dark:text-amber-100" data-testid="demo-explainer">
          <p><strong>Demo mode:</strong> this server runs a tiny random model built in for testing. Everything works, but the pictures are noise.</p>
          <p className="mt-1">For real images, accept the licence on the model page at huggingface.co/{repo}, then fetch the weights (about 26 GB) and start the server without <code>--demo</code>:</p>
        </div>
      ) : (
        <>
          {needsWeights && <WeightsDownload />}
          <p className="mt-3 text-sm">The real weights are fetched once (about 26 GB, after accepting the licence on huggingface.co/{repo}){needsWeights ? ' — here, or on the command line' : ''} with:</p>
        </>
      )}
      <div className="mt-1 flex items-center gap-2">
        <code className="flex-1 overflow-x-auto rounded bg-neutral-100 px-2 py-1 font-mono text-xs dark:bg-neutral-800" data-testid="weights-command">{command}</code>
        <button type="button" className="btn btn-sm" onClick={() => void copy()}>Copy</button>
      </div>
    </section>
  );
}
