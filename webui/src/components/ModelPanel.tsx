// Model status dot, Load / Unload, weights in use and memory (docs/APP.md §9.3).
import { useEffect, useState } from 'react';
import { useApp } from '../state';
import { ConfirmDialog } from './ConfirmDialog';
import { IconSpinner } from './Icons';

export function formatMemory(mb: number | undefined): string {
  if (mb === undefined || mb === null || !Number.isFinite(mb)) return '';
  return mb >= 1024 ? `${(mb / 1024).toFixed(1)} GB` : `${Math.round(mb)} MB`;
}

/** One line for the header: the first line of a failure message, cut at `max` characters. */
export function shortError(text: string, max = 90): string {
  const line = text.trim().split(/\r?\n/)[0].trim();
  return line.length > max ? `${line.slice(0, max - 1).trimEnd()}…` : line;
}

export function ModelPanel() {
  const { model, modelError, loadModel, unloadModel, reconnect, reconnectIn } = useApp();
  const [confirm, setConfirm] = useState(false);
  const [details, setDetails] = useState(false);
  const shown = modelError ? 'error' : model?.state ?? 'unknown';
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
    error: modelError ? 'Server unreachable' : 'Load failed',
    unknown: 'Checking…',
  };
  const errorText = shown === 'error'
    ? (modelError || model?.msg?.trim() || 'The model could not be loaded.')
    : '';
  useEffect(() => setDetails(false), [errorText]);
  const weights = model ? (model.demo ? 'Demo model (built-in tiny weights)' : model.weights || 'Ideogram 4 weights') : '';
  const tooltip = errorText || model?.msg || label[shown];
  return (
    <section aria-label="Model" className="relative flex min-w-0 items-center gap-2 text-sm" data-testid="model-panel">
      <span className={`inline-block h-2.5 w-2.5 shrink-0 rounded-full ${dot[shown]}`} aria-hidden="true"
        data-testid="model-dot" data-state={shown} />
      <div className="min-w-0 leading-tight" title={tooltip}>
        <div className="flex items-center gap-1.5">
          <span className={`font-medium ${shown === 'error' ? 'text-red-700 dark:text-red-400' : ''}`} data-testid="model-state" role="status">{label[shown]}</span>
          {model?.demo && <span className="chip hidden sm:inline-flex" data-testid="demo-badge">demo</span>}
          {model?.rss_mb !== undefined && shown !== 'error' && (
            <span className="hidden text-xs text-neutral-500 sm:inline" data-testid="model-memory">
              · {formatMemory(model.rss_mb)} in use
            </span>
          )}
        </div>
        {shown === 'error' ? (
          // Visible at every width: one short line; the whole message is in the
          // button's accessible name, its tooltip and the details box it opens.
          <button type="button" id="model-error" data-testid="model-error"
            className="block max-w-[9rem] truncate text-left text-xs text-red-700 hover:underline sm:max-w-[16rem] md:max-w-[22rem] dark:text-red-400"
            aria-label={`${label[shown]}: ${errorText}`} aria-expanded={details} aria-controls="model-error-details"
            title={errorText} onClick={() => setDetails((d) => !d)}>
            {shortError(errorText)}
          </button>
        ) : (
          <div className="hidden max-w-[22rem] truncate text-xs text-neutral-500 md:block" data-testid="model-weights">{weights}</div>
        )}
      </div>
      {shown === 'error' && details && (
        <div id="model-error-details" role="region" aria-label="Model load error" data-testid="model-error-details"
          className="absolute right-0 top-full z-30 mt-2 w-80 max-w-[85vw] whitespace-pre-wrap break-words rounded-md border border-red-300 bg-white p-3 text-xs text-neutral-800 shadow-lg dark:border-red-800 dark:bg-neutral-900 dark:text-neutral-100">
          <div className="mb-1 font-medium text-red-700 dark:text-red-400">{modelError ? 'The server did not answer' : 'The model could not be loaded'}</div>
          {errorText}
          <div className="mt-2 flex justify-end">
            <button type="button" className="btn btn-sm" onClick={() => setDetails(false)}>Close</button>
          </div>
        </div>
      )}
      {model?.state === 'loading' && (
        <div className="hidden h-1.5 w-20 overflow-hidden rounded bg-neutral-200 sm:block dark:bg-neutral-800" role="progressbar"
          aria-label="Model load progress" aria-valuemin={0} aria-valuemax={100} aria-valuenow={model.progress ?? 0}>
          <div className="h-full bg-amber-500 transition-all" style={{ width: `${model.progress ?? 5}%` }} />
        </div>
      )}
      {modelError && (
        <>
          <span className="hidden text-xs text-neutral-500 sm:inline" data-testid="reconnect-countdown">
            {reconnectIn !== null && reconnectIn > 0 ? `retry in ${reconnectIn}s` : 'retrying…'}
          </span>
          <button type="button" className="btn btn-sm" onClick={() => void reconnect()}>Reconnect</button>
        </>
      )}
      {model?.state === 'loaded' && !modelError ? (
        <button type="button" className="btn btn-sm" onClick={() => setConfirm(true)}>Unload</button>
      ) : (
        <button type="button" className="btn btn-sm btn-primary" onClick={() => { setDetails(false); void loadModel(); }}
          disabled={model?.state === 'loading' || !!modelError}
          title={shown === 'error' && !modelError ? 'Try loading the model again' : undefined}
          aria-describedby={shown === 'error' ? 'model-error' : undefined}>
          {model?.state === 'loading' ? <><IconSpinner /> Loading…</> : 'Load'}
        </button>
      )}
      <ConfirmDialog open={confirm} title="Unload model?" confirmLabel="Unload"
        message={model?.demo ? 'The demo model will be released.' : 'This frees the memory held by the model weights.'}
        onCancel={() => setConfirm(false)} onConfirm={() => { setConfirm(false); void unloadModel(); }} />
    </section>
  );
}
