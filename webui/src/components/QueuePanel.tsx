// Docked generation panel (replaces the modal overlay): every job this page
// follows — started here or reattached from GET /api/queue after a reload —
// with its progress, step, ETA, a Cancel per job, and the latest image as a
// preview (the live preview of the latest step while sampling). The form
// stays editable while jobs run.
import { Link } from 'react-router';
import { imageUrl, type TaskStatus } from '../lib/api';
import { formatDuration } from '../lib/sizes';
import { isActive, useApp, type Job } from '../state';
import { IconSpinner, IconX } from './Icons';

const PHASES: Record<string, string> = {
  queued: 'Queued', waiting: 'Waiting for the model', encoding: 'Encoding prompt', sampling: 'Sampling',
  decoding: 'Decoding', saving: 'Saving', done: 'Done',
};

/** Numbers a job shows, with fallbacks for servers that only send the 06-16 fields. */
export function progressView(st: TaskStatus | null, job: Pick<Job, 'phase' | 'startedAt'>, now = Date.now()) {
  const percent = job.phase === 'done' ? 100 : Math.max(0, Math.min(100, st?.percent ?? st?.progress ?? 0));
  const total = st?.total_steps ?? 0;
  const step = job.phase === 'done' ? total : st?.step ?? (total ? Math.floor((percent * total) / 100) : 0);
  let phase = st?.phase;
  if (!phase) {
    const m = st?.msg ?? '';
    phase = /^Queued/.test(m) ? 'queued' : /^Waiting/.test(m) ? 'waiting' : /Encoding/.test(m) ? 'encoding' : percent > 0 ? 'sampling' : 'queued';
  }
  if (job.phase === 'done') phase = 'done';
  const elapsed = st?.elapsed_seconds ?? (job.startedAt ? (now - job.startedAt) / 1000 : 0);
  let eta = st?.eta_seconds ?? null;
  if (eta === null && percent > 0 && percent < 100 && elapsed > 0) eta = (elapsed * (100 - percent)) / percent;
  return { percent, step, total, phase, phaseLabel: PHASES[phase] ?? phase, elapsed, eta };
}

function JobRow({ job }: { job: Job }) {
  const { cancel, dismissJob } = useApp();
  const v = progressView(job.status, job);
  const st = job.status;
  const images = st?.images ?? (st?.image ? [st.image] : []);
  const latest = images.length ? images[images.length - 1] : null;
  const active = isActive(job);
  const title = job.phase === 'submitting' ? 'Submitting…' : job.phase === 'error' ? 'Generation failed'
    : job.phase === 'cancelled' ? 'Cancelled' : job.phase === 'done' ? 'Done' : job.phase === 'queued' ? 'Queued' : 'Generating';
  const batch = job.n > 1 ? ` · image ${Math.min(job.n, (st?.image_index ?? images.length) + (job.phase === 'done' ? 0 : 1))} of ${job.n}` : '';
  return (
    <li className="flex gap-2 py-2" data-testid="job" data-phase={job.phase} data-task={job.taskId ?? ''}>
      <div className="flex h-12 w-12 shrink-0 items-center justify-center overflow-hidden rounded bg-neutral-100 dark:bg-neutral-800" data-testid="job-preview">
        {active && st?.preview ? <img src={st.preview} alt="Live preview" className="h-full w-full object-cover" data-testid="job-live-preview" />
          : latest ? <img src={imageUrl(latest)} alt="Latest image of this job" className="h-full w-full object-cover" /> : active ? <IconSpinner /> : null}
      </div>
      <div className="min-w-0 flex-1">
        <div className="flex items-center gap-1 text-sm">
          <span className="font-medium" data-testid="job-title">{title}</span>
          <span className="truncate text-xs text-neutral-500">{job.label}{batch}</span>
          <span className="flex-1" />
          {active && (
            <button type="button" className="btn btn-ghost btn-sm" onClick={() => void cancel(job.key)} disabled={!job.taskId || job.cancelling}>
              {job.cancelling ? 'Cancelling…' : 'Cancel'}
            </button>
          )}
          {!active && (
            <button type="button" className="btn btn-ghost btn-sm" aria-label="Dismiss" title="Dismiss" onClick={() => dismissJob(job.key)}>
              <IconX />
            </button>
          )}
        </div>
        {job.phase === 'error' ? (
          <p role="alert" className="text-xs text-red-700 dark:text-red-300" data-testid="job-error">{job.error}</p>
        ) : (
          <>
            <div className="mt-1 h-1.5 overflow-hidden rounded bg-neutral-200 dark:bg-neutral-800" role="progressbar"
              aria-label={`Generation progress${job.label ? `: ${job.label}` : ''}`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={v.percent}
              data-testid="job-progress">
              <div className={`h-full bg-sky-600 transition-[width] duration-300 ${v.percent === 0 && active ? 'w-1/4 animate-pulse' : ''}`}
                style={v.percent ? { width: `${v.percent}%` } : undefined} />
            </div>
            <p className="mt-0.5 flex flex-wrap gap-x-2 text-xs text-neutral-500">
              <span data-testid="job-percent">{v.percent}%</span>
              <span data-testid="job-step">{v.total ? `step ${v.step} / ${v.total}` : v.phaseLabel}</span>
              {v.total > 0 && <span>{v.phaseLabel}</span>}
              {job.retry > 0 && <span>Retrying ({job.retry}/3)…</span>}
              {active && v.eta !== null && <span data-testid="job-eta">~{formatDuration(v.eta)} left</span>}
              {job.phase === 'queued' && st?.queue_position ? <span>position {st.queue_position}</span> : null}
              {job.promptId !== null && !active && <Link className="underline" to={`/history/${job.promptId}`}>Open</Link>}
            </p>
          </>
        )}
      </div>
    </li>
  );
}

/** The job list; renders nothing when there are no jobs. */
export function QueuePanel({ className = '' }: { className?: string }) {
  const { jobs } = useApp();
  if (!jobs.length) return null;
  const running = jobs.filter(isActive).length;
  return (
    <section aria-label="Generation queue" data-testid="queue-panel" className={className}>
      <h2 className="sr-only">Generation queue{running ? ` (${running} active)` : ''}</h2>
      <ul className="max-h-56 divide-y divide-neutral-200 overflow-y-auto dark:divide-neutral-800" aria-live="polite">
        {jobs.map((j) => <JobRow key={j.key} job={j} />)}
      </ul>
    </section>
  );
}
