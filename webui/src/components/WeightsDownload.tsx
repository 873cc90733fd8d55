// "Download the weights" in the first-run panel (docs/APP.md §5.1): POST /api/model/download,
// then poll GET /api/model/download/{task} for bytes, files and the current file; Cancel stops it
// (the partial file stays and the next download resumes it). A running download is picked up again
// after a reload from `download` in GET /api/model/status.
import { useEffect, useRef, useState } from 'react';
import { Api, type ModelDownload } from '../lib/api';
import { useApp } from '../state';

export const DOWNLOAD_POLL_MS = 1000;

/** Bytes as "12.3 MB" / "1.25 GB". */
export function formatBytes(n: number | undefined | null): string {
  const b = Math.max(0, Number(n) || 0);
  if (b >= 1e9) return `${(b / 1e9).toFixed(2)} GB`;
  if (b >= 1e6) return `${(b / 1e6).toFixed(1)} MB`;
  if (b >= 1e3) return `${Math.round(b / 1e3)} kB`;
  return `${b} B`;
}

/** The percentage a download shows: its `progress`, else bytes done over total. */
export function downloadPercent(d: Pick<ModelDownload, 'progress' | 'bytes_done' | 'bytes_total' | 'status'>): number {
  if (d.status === 'done') return 100;
  if (typeof d.progress === 'number' && Number.isFinite(d.progress)) return Math.max(0, Math.min(100, Math.round(d.progress)));
  if (d.bytes_total) return Math.max(0, Math.min(100, Math.floor(((d.bytes_done ?? 0) / d.bytes_total) * 100)));
  return 0;
}

const running = (d: ModelDownload | null | undefined) => !!d && d.state === 'running';

export function WeightsDownload() {
  const { model, refreshModel, toast } = useApp();
  const [dl, setDl] = useState<ModelDownload | null>(model?.download ?? null);
  const [startError, setStartError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const taskId = dl?.task_id;
  const isRunning = running(dl);
  const refreshRef = useRef(refreshModel);
  refreshRef.current = refreshModel;
  const toastRef = useRef(toast);
  toastRef.current = toast;

  // A download started elsewhere (another tab, before a reload) shows up in the model status.
  useEffect(() => {
    const d = model?.download;
    if (d && d.task_id !== taskId) setDl(d);
  }, [model?.download, taskId]);

  useEffect(() => {
    if (!taskId || !isRunning) return;
    let alive = true;
    let t: ReturnType<typeof setTimeout>;
    const tick = async () => {
      try {
        const d = await Api.modelDownloadStatus(taskId);
        if (!alive) return;
        setDl(d);
        if (d.state === 'done') {
          if (d.status === 'done') toastRef.current('Weights downloaded. Load the model to use them.', 'success');
          void refreshRef.current();
          return;
        }
      } catch {
        /* the header shows an unreachable server; keep polling */
      }
      if (alive) t = setTimeout(() => void tick(), DOWNLOAD_POLL_MS);
    };
    t = setTimeout(() => void tick(), DOWNLOAD_POLL_MS);
    return () => {
      alive = false;
      clearTimeout(t);
    };
  }, [taskId, isRunning]);

  const start = async () => {
    setBusy(true);
    setStartError(null);
    try {
      const r = await Api.modelDownload();
      if (!r.ok || !r.task_id) throw new Error(r.msg || 'The server refused the download.');
      setDl({ task_id: r.task_id, state: 'running', status: 'running', msg: r.msg || 'Starting download…', progress: 0 });
    } catch (e) {
      setStartError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const cancel = async () => {
    if (!taskId) return;
    try {
      await Api.modelDownloadCancel(taskId);
    } catch (e) {
      toast(`Cancel failed: ${(e as Error).message}`, 'error');
    }
  };

  const pct = dl ? downloadPercent(dl) : 0;
  const failed = dl && dl.state === 'done' && dl.status === 'error';
  const cancelled = dl && dl.state === 'done' && dl.status === 'cancelled';
  const done = dl && dl.state === 'done' && dl.status === 'done';
  return (
    <div className="mt-3 rounded-md border border-neutral-200 p-2 text-sm dark:border-neutral-800" data-testid="weights-download">
      {isRunning && dl ? (
        <div>
          <div className="flex items-center gap-2">
            <span className="flex-1 font-medium">Downloading the weights… {pct}%</span>
            <button type="button" className="btn btn-sm" onClick={() => void cancel()}>Cancel download</button>
          </div>
          <div className="mt-1 h-2 overflow-hidden rounded bg-neutral-200 dark:bg-neutral-800" role="progressbar" aria-label="Weights download"
            aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct} aria-valuetext={`${pct}%, ${formatBytes(dl.bytes_done)} of ${formatBytes(dl.bytes_total)}`}>
            <div className="h-full bg-sky-500 transition-[width]" style={{ width: `${pct}%` }} />
          </div>
          <p className="mt-1 text-xs text-neutral-600 dark:text-neutral-400" data-testid="download-bytes">
            {formatBytes(dl.bytes_done)} of {dl.bytes_total ? formatBytes(dl.bytes_total) : '…'}
            {dl.files_total ? ` · file ${Math.min((dl.files_done ?? 0) + 1, dl.files_total)} of ${dl.files_total}` : ''}
          </p>
          {dl.file && <p className="truncate font-mono text-xs text-neutral-500" data-testid="download-file" title={dl.file}>{dl.file}</p>}
        </div>
      ) : done ? (
        <p className="text-emerald-700 dark:text-emerald-400" data-testid="download-done">{dl.msg || 'Download complete. Load the model to use it.'}</p>
      ) : (
        <div>
          {failed && (
            <p role="alert" className="mb-2 whitespace-pre-wrap break-words rounded bg-red-50 p-2 text-xs text-red-800 dark:bg-red-950 dark:text-red-200" data-testid="download-error">
              {dl.error || dl.msg}
            </p>
          )}
          {startError && (
            <p role="alert" className="mb-2 rounded bg-red-50 p-2 text-xs text-red-800 dark:bg-red-950 dark:text-red-200" data-testid="download-error">{startError}</p>
          )}
          {cancelled && <p className="mb-2 text-xs text-neutral-600 dark:text-neutral-400" data-testid="download-cancelled">Download cancelled. The partial file is kept; downloading again resumes it.</p>}
          <div className="flex flex-wrap items-center gap-2">
            <button type="button" className="btn btn-sm btn-primary" disabled={busy} onClick={() => void start()}>
              {failed || cancelled ? 'Download again' : 'Download the weights'}
            </button>
            <span className="text-xs text-neutral-500">from the Hugging Face Hub into its cache on the server (about 26 GB; resumable).</span>
          </div>
        </div>
      )}
    </div>
  );
}
