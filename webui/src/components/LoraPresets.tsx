// Built-in LoRA presets (docs/APP.md §6.5): GET /api/lora/presets with a Download button each;
// POST /api/lora/download, then poll GET /api/lora/download/{task} until it is done, and refresh
// the LoRA list (`onInstalled`) so the new files can be applied.
import { useCallback, useEffect, useState } from 'react';
import { Api, type LoraDownload, type LoraPreset } from '../lib/api';
import { useApp } from '../state';
import { IconSpinner } from './Icons';

export const LORA_DOWNLOAD_POLL_MS = 1000;

export function LoraPresets({ onInstalled, open }: { onInstalled: () => void | Promise<void>; open?: boolean }) {
  const { toast } = useApp();
  const [presets, setPresets] = useState<LoraPreset[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [active, setActive] = useState<{ preset: string; op: LoraDownload } | null>(null);
  // Open at first when the folder has no LoRA; then the user's choice (not closed by a refresh of the list).
  const [isOpen, setOpen] = useState(!!open);
  const refresh = useCallback(async () => {
    try {
      const r = await Api.loraPresets();
      setPresets(Array.isArray(r?.presets) ? r.presets : []);
      setError(null);
    } catch (e) {
      // An older server without the route: no presets section.
      if ((e as { status?: number }).status === 404) setPresets([]);
      else setError((e as Error).message);
    }
  }, []);
  useEffect(() => {
    void refresh();
  }, [refresh]);

  const download = async (p: LoraPreset) => {
    setActive({ preset: p.id, op: { state: 'running', msg: 'Starting download…', files: [], progress: 0 } });
    try {
      const r = await Api.loraDownload(p.id);
      if (!r.ok || !r.task_id) throw new Error(r.msg || 'The server refused the download.');
      for (;;) {
        await new Promise((res) => setTimeout(res, LORA_DOWNLOAD_POLL_MS));
        const op = await Api.loraDownloadStatus(r.task_id);
        setActive({ preset: p.id, op });
        if (op.state === 'done') {
          if (op.error) toast(`${p.label}: ${op.error}`, 'error');
          else toast(`${p.label}: ${op.msg}`, 'success');
          break;
        }
      }
    } catch (e) {
      toast(`${p.label}: ${(e as Error).message}`, 'error');
    } finally {
      setActive(null);
      await refresh();
      await onInstalled();
    }
  };

  if (error) return <p className="mt-2 text-xs text-neutral-500">LoRA presets unavailable ({error}).</p>;
  if (!presets || presets.length === 0) return null;
  return (
    <details className="mt-3" open={isOpen} onToggle={(e) => setOpen(e.currentTarget.open)} data-testid="lora-presets">
      <summary className="cursor-pointer text-xs font-medium text-neutral-600 dark:text-neutral-400">Download LoRA presets ({presets.length})</summary>
      <ul className="mt-1 space-y-1">
        {presets.map((p) => {
          const mine = active?.preset === p.id ? active.op : null;
          const size = p.loras.reduce((a, l) => a + (l.size_mb ?? 0), 0);
          return (
            <li key={p.id} className="rounded-md border border-neutral-200 p-1.5 text-xs dark:border-neutral-800" data-testid="lora-preset" data-preset={p.id}>
              <div className="flex items-center gap-2">
                <span className="flex-1 truncate" title={p.loras.map((l) => `${l.repo}/${l.filename}`).join(', ')}>
                  {p.label} <span className="text-neutral-500">· {p.loras.map((l) => l.name).join(' + ')}</span>
                </span>
                {p.installed ? (
                  <span className="chip" data-testid="preset-installed">Installed{size ? ` · ${Math.round(size)}M` : ''}</span>
                ) : (
                  <button type="button" className="btn btn-sm" disabled={active !== null} aria-label={`Download ${p.label}`}
                    onClick={() => void download(p)}>Download</button>
                )}
              </div>
              {mine && (
                <div className="mt-1" role="status">
                  <div className="flex items-center gap-1"><IconSpinner /> <span data-testid="preset-msg">{mine.msg}</span></div>
                  <div className="mt-1 h-1 overflow-hidden rounded bg-neutral-200 dark:bg-neutral-800" role="progressbar" aria-label={`${p.label} download`}
                    aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(mine.progress ?? 0)}>
                    <div className="h-full bg-sky-500" style={{ width: `${mine.progress ?? 0}%` }} />
                  </div>
                </div>
              )}
            </li>
          );
        })}
      </ul>
    </details>
  );
}
