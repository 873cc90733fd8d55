// Generation progress overlay (docs/APP.md §9.5): percent, step x/n, phase, elapsed, ETA, Cancel, errors.
import type { TaskStatus } from '../lib/api';
import { formatDuration } from '../lib/sizes';
import { useApp, type GenState } from '../state';
import { useFocusTrap } from './ConfirmDialog';
import { IconSpinner } from './Icons';

const PHASES: Record<string, string> = {
  queued: 'Queued', waiting: 'Waiting for the model', encoding: 'Encoding prompt', sampling: 'Sampling',
  decoding: 'Decoding', saving: 'Saving', done: 'Done',
};

/** Numbers the overlay shows, with fallbacks for servers that only send the 06-16 fields. */
export function progressView(st: TaskStatus | null, gen: Pick<GenState, 'phase' | 'startedAt'>, now = Date.now()) {
  const percent = gen.phase === 'done' ? 100 : Math.max(0, Math.min(100, st?.percent ?? st?.progress ?? 0));
  const total = st?.total_steps ?? 0;
  const step = gen.phase === 'done' ? total : st?.step ?? (total ? Math.floor((percent * total) / 100) : 0);
  let phase = st?.phase;
  if (!phase) {
    const m = st?.msg ?? '';
    phase = /^Queued/.test(m) ? 'queued' : /^Waiting/.test(m) ? 'waiting' : /Encoding/.test(m) ? 'encoding' : percent > 0 ? 'sampling' : 'queued';
  }
  if (gen.phase === 'done') phase = 'done';
  const elapsed = st?.elapsed_seconds ?? (gen.startedAt ? (now - gen.startedAt) / 1000 : 0);
  let eta = st?.eta_seconds ?? null;
  if (eta === null && percent > 0 && percent < 100 && elapsed > 0) eta = (elapsed * (100 - percent)) / percent;
  return { percent, step, total, phase, phaseLabel: PHASES[phase] ?? phase, elapsed, eta };
}

export function StatusOverlay() {
  const { gen, cancel, dismissGen } = useApp();
  const open = gen.phase !== 'idle';
  const isError = gen.phase === 'error';
  const ref = useFocusTrap(open, isError || gen.phase === 'done' || gen.phase === 'cancelled' ? dismissGen : undefined);
  if (!open) return null;
  const v = progressView(gen.status, gen);
  const title = gen.phase === 'submitting' ? 'Submitting…' : isError ? 'Generation failed' : gen.phase === 'cancelled' ? 'Cancelled' : gen.phase === 'done' ? 'Done' : 'Generating';
  return (
    <div className="fixed inset-0 z-50 flex items-center justify-center bg-black/50 p-4">
      <div ref={ref} role={isError ? 'alertdialog' : 'dialog'} aria-modal="true" aria-labelledby="overlay-title" aria-describedby="overlay-msg"
        className="card w-full max-w-md shadow-xl" data-testid="status-overlay" data-phase={gen.phase}>
        <h2 id="overlay-title" className="mb-1 text-lg font-semibold">{title}</h2>
        {isError ? (
          <>
            <p id="overlay-msg" role="alert" className="mb-4 text-sm text-red-700 dark:text-red-300" data-testid="overlay-error">{gen.error}</p>
            <div className="flex justify-end"><button type="button" className="btn btn-primary" onClick={dismissGen}>Dismiss</button></div>
          </>
        ) : (
          <>
            <p id="overlay-msg" className="mb-3 flex items-center gap-2 text-sm text-neutral-600 dark:text-neutral-300">
              {gen.phase === 'done' ? '✓' : <IconSpinner />}
              <span data-testid="overlay-msg">{gen.retry ? `Retrying (${gen.retry}/3)…` : gen.status?.msg || (gen.phase === 'submitting' ? 'Saving the prompt and submitting…' : 'Starting…')}</span>
            </p>
            <div className="h-2 overflow-hidden rounded bg-neutral-200 dark:bg-neutral-800" role="progressbar" aria-label="Generation progress"
              aria-valuemin={0} aria-valuemax={100} aria-valuenow={v.percent} data-testid="overlay-progress">
              <div className={`h-full bg-sky-600 transition-[width] duration-300 ${v.percent === 0 ? 'w-1/4 animate-pulse' : ''}`}
                style={v.percent ? { width: `${v.percent}%` } : undefined} />
            </div>
            <dl className="mt-3 grid grid-cols-2 gap-x-4 gap-y-1 text-sm sm:grid-cols-3">
              <div><dt className="text-xs text-neutral-500">Progress</dt><dd className="font-mono" data-testid="overlay-percent">{v.percent}%</dd></div>
              <div><dt className="text-xs text-neutral-500">Step</dt><dd className="font-mono" data-testid="overlay-step">{v.total ? `${v.step} / ${v.total}` : '–'}</dd></div>
              <div><dt className="text-xs text-neutral-500">Phase</dt><dd data-testid="overlay-phase">{v.phaseLabel}</dd></div>
              <div><dt className="text-xs text-neutral-500">Elapsed</dt><dd className="font-mono">{formatDuration(v.elapsed)}</dd></div>
              <div><dt className="text-xs text-neutral-500">Remaining</dt><dd className="font-mono">{v.eta === null ? '–' : `~${formatDuration(v.eta)}`}</dd></div>
            </dl>
            <div className="mt-4 flex justify-end gap-2">
              {(gen.phase === 'running' || gen.phase === 'submitting') && (
                <button type="button" className="btn" onClick={() => void cancel()} disabled={!gen.taskId || gen.cancelling}>
                  {gen.cancelling ? 'Cancelling…' : 'Cancel'}
                </button>
              )}
              {(gen.phase === 'done' || gen.phase === 'cancelled') && <button type="button" className="btn" onClick={dismissGen}>Close</button>}
            </div>
          </>
        )}
      </div>
    </div>
  );
}
