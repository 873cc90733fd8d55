// Model status dot, Load / Unload, weights in use and memory (APP.md §9.3).
import { useState } from 'react';
import { useApp } from '../state';
import { ConfirmDialog } from './ConfirmDialog';
import { IconSpinner } from './Icons';

export function formatMemory(mb: number | undefined): string {
  if (mb === undefined || mb === null || !Number.isFinite(mb)) return '';
  return mb >= 1024 ? `${(mb / 1024).toFixed(1)} GB` : `${Math.round(mb)} MB`;
}

export function ModelPanel() {
  const { model, modelError, loadModel, unloadModel } = useApp();
  const [confirm, setConfirm] = useState(false);
  const state = modelError ? 'error' : model?.state ?? 'unknown';
  const failed = !modelError && model?.state === 'idle' && !!model.msg;
  const shown = failed ? 'error' : state;
  const dot: Record<string, string> = {
    loaded: 'bg-emerald-500',
    loading: 'bg-amber-500 animate-pulse',
    idle: 'bg-neutral-400',
    error: 'bg-red-500',
    unknown: 'bg-neutral-300',
  };
  const label: Record<string, string> = {
    loaded: 'Loaded',
    loading: model?.progress ? `Loading ${model.progress}%` : 'Loading…',
    idle: 'Not loaded',
    error: 'Error',
    unknown: 'Checking…',
  };
  const weights = model ? (model.demo ? 'Demo model (built-in tiny weights)' : model.weights || 'Ideogram 4 weights') : '';
  const tooltip = modelError ? `Server unreachable: ${modelError}` : model?.msg || label[shown];
  return (
    <section aria-label="Model" className="flex min-w-0 items-center gap-2 text-sm" data-testid="model-panel">
      <span className={`inline-block h-2.5 w-2.5 shrink-0 rounded-full ${dot[shown]}`} aria-hidden="true" />
      <div className="min-w-0 leading-tight" title={tooltip}>
        <div className="flex items-center gap-1.5">
          <span className="font-medium" data-testid="model-state" role="status">{label[shown]}</span>
          {model?.demo && <span className="chip hidden sm:inline-flex" data-testid="demo-badge">demo</span>}
          {model?.rss_mb !== undefined && (
            <span className="hidden text-xs text-neutral-500 sm:inline" data-testid="model-memory">
              · {formatMemory(model.rss_mb)} in use
            </span>
          )}
        </div>
        <div className="hidden max-w-[22rem] truncate text-xs text-neutral-500 md:block" data-testid="model-weights">
          {shown === 'error' ? (modelError ? `Server unreachable: ${modelError}` : model?.msg) : weights}
        </div>
      </div>
      {model?.state === 'loading' && (
        <div className="hidden h-1.5 w-20 overflow-hidden rounded bg-neutral-200 sm:block dark:bg-neutral-800" role="progressbar"
          aria-label="Model load progress" aria-valuemin={0} aria-valuemax={100} aria-valuenow={model.progress ?? 0}>
          <div className="h-full bg-amber-500 transition-all" style={{ width: `${model.progress ?? 5}%` }} />
        </div>
      )}
      {model?.state === 'loaded' ? (
        <button type="button" className="btn btn-sm" onClick={() => setConfirm(true)}>Unload</button>
      ) : (
        <button type="button" className="btn btn-sm btn-primary" onClick={() => void loadModel()}
          disabled={model?.state === 'loading' || !!modelError}>
          {model?.state === 'loading' ? <><IconSpinner /> Loading…</> : 'Load'}
        </button>
      )}
      <ConfirmDialog open={confirm} title="Unload model?" confirmLabel="Unload"
        message={model?.demo ? 'The demo model will be released.' : 'This frees the memory held by the model weights.'}
        onCancel={() => setConfirm(false)} onConfirm={() => { setConfirm(false); void unloadModel(); }} />
    </section>
  );
}
