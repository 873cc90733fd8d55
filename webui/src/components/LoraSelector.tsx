// LoRA selector (docs/APP.md §9.7): every discovered file with its own strength; apply a stack or remove.
import { useCallback, useEffect, useState } from 'react';
import { Api, type LoraOperation, type LoraStatus } from '../lib/api';
import { useApp } from '../state';
import { IconSpinner } from './Icons';
import { LoraPresets } from './LoraPresets';

export function friendlyLoraName(name: string): string {
  return name.replace(/\.safetensors$/i, '').replace(/_/g, ' ');
}

export function LoraSelector() {
  const { model, toast } = useApp();
  const [status, setStatus] = useState<LoraStatus | null>(null);
  const [unavailable, setUnavailable] = useState<string | null>(null);
  const [chosen, setChosen] = useState<Record<string, number>>({});
  const [op, setOp] = useState<LoraOperation | null>(null);
  const refresh = useCallback(async () => {
    try {
      const s = await Api.loraStatus();
      setStatus(s);
      setUnavailable(null);
      const c: Record<string, number> = {};
      for (const a of s.applied_loras ?? []) c[a.name] = a.strength;
      if (!s.applied_loras && s.applied) c[s.applied] = s.strength;
      setChosen(c);
    } catch (e) {
      setUnavailable((e as Error).message);
    }
  }, []);
  useEffect(() => {
    void refresh();
  }, [refresh]);

  const track = async (taskId: string) => {
    for (;;) {
      await new Promise((r) => setTimeout(r, 1000));
      let o: LoraOperation;
      try {
        o = await Api.loraOperation(taskId);
      } catch (e) {
        setOp(null);
        toast(`LoRA operation status failed: ${(e as Error).message}`, 'error');
        return;
      }
      setOp(o);
      if (o.state === 'done') {
        setOp(null);
        const ok = o.result?.ok !== false && !o.error;
        toast(o.result?.msg || o.error || o.msg, ok ? 'success' : 'error');
        await refresh();
        return;
      }
    }
  };
  const run = async (call: () => Promise<{ ok: boolean; task_id?: string; msg?: string }>) => {
    setOp({ state: 'running', msg: 'Starting…', progress: 0 });
    try {
      const r = await call();
      if (!r.ok || !r.task_id) throw new Error(r.msg || 'Rejected.');
      await track(r.task_id);
    } catch (e) {
      setOp(null);
      toast(`LoRA: ${(e as Error).message}`, 'error');
    }
  };

  const applied = status?.applied_loras ?? (status?.applied ? [{ name: status.applied, strength: status.strength }] : []);
  const loaded = model?.state === 'loaded';
  const busy = op !== null;
  const names = Object.keys(chosen);
  return (
    <fieldset className="min-w-0 border-t border-neutral-200 pt-3 dark:border-neutral-800" aria-describedby="lora-state">
      <legend className="sr-only">LoRA</legend>
      <h3 className="label" aria-hidden="true">LoRA</h3>
      <p id="lora-state" className="mb-2 text-xs" data-testid="lora-applied">
        Applied: {applied.length ? applied.map((a) => `${friendlyLoraName(a.name)} (${a.strength})`).join(' + ') : 'none'}
      </p>
      {status?.dir && status.available.length > 0 && (
        <p className="mb-1 text-xs text-neutral-500" data-testid="lora-dir">Files from <code className="break-all">{status.dir}</code></p>
      )}
      {unavailable ? (
        <p className="text-xs text-neutral-500">LoRA status unavailable ({unavailable}).</p>
      ) : !status ? (
        <p className="text-xs text-neutral-500">Checking LoRA files…</p>
      ) : status.available.length === 0 ? (
        <p className="text-xs text-neutral-500" data-testid="lora-empty">
          No LoRA files in {status.dir ? <code className="break-all">{status.dir}</code> : 'the LoRA folder'}. Put <code>.safetensors</code> LoRA files
          there (or set <code>IDEOGRAM4_LORA_DIR</code>) and reload.
        </p>
      ) : (
        <ul className="space-y-2">
          {status.available.map((l) => {
            const on = l.name in chosen;
            const id = `lora-${l.name.replace(/[^a-zA-Z0-9]/g, '_')}`;
            return (
              <li key={l.name} className="rounded-md border border-neutral-200 p-2 dark:border-neutral-800">
                <label className="flex items-center gap-2 text-sm" htmlFor={id}>
                  <input id={id} type="checkbox" checked={on} disabled={busy}
                    onChange={(e) => setChosen((c) => {
                      const n = { ...c };
                      if (e.target.checked) n[l.name] = status.default_strength ?? (status.strength || 0.6);
                      else delete n[l.name];
                      return n;
                    })} />
                  <span className="flex-1 truncate">{friendlyLoraName(l.name)}</span>
                  <span className="text-xs text-neutral-500">{l.format}{l.size_mb ? ` · ${l.size_mb >= 1024 ? `${(l.size_mb / 1024).toFixed(1)}G` : `${Math.round(l.size_mb)}M`}` : ''}</span>
                </label>
                {on && (
                  <div className="mt-1 flex items-center gap-2">
                    <label className="text-xs text-neutral-500" htmlFor={`${id}-s`}>Strength</label>
                    <input id={`${id}-s`} type="range" min={0.05} max={1.5} step={0.05} value={chosen[l.name]} disabled={busy} className="flex-1"
                      onChange={(e) => setChosen((c) => ({ ...c, [l.name]: Number(e.target.value) }))} />
                    <output htmlFor={`${id}-s`} className="w-10 text-right font-mono text-xs">{chosen[l.name].toFixed(2)}</output>
                  </div>
                )}
              </li>
            );
          })}
        </ul>
      )}
      {op && (
        <div className="mt-2 text-xs" role="status">
          <div className="flex items-center gap-1"><IconSpinner /> {op.msg} {op.progress ? `${op.progress}%` : ''}</div>
          <div className="mt-1 h-1 overflow-hidden rounded bg-neutral-200 dark:bg-neutral-800">
            <div className="h-full bg-sky-500" style={{ width: `${op.progress ?? 0}%` }} />
          </div>
        </div>
      )}
      {status && (status.available.length > 0 || applied.length > 0) && (
        <div className="mt-2 flex gap-2">
          <button type="button" className="btn btn-sm" disabled={!loaded || busy || names.length === 0}
            onClick={() => void run(() => Api.loraApply(names.map((n) => ({ name: n, strength: chosen[n] }))))}>
            Apply{names.length > 1 ? ` stack (${names.length})` : ''}
          </button>
          <button type="button" className="btn btn-sm" disabled={!loaded || busy || applied.length === 0}
            onClick={() => void run(() => Api.loraRemove())}>Remove</button>
          {!loaded && <span className="self-center text-xs text-neutral-500">Load the model first.</span>}
        </div>
      )}
      {!unavailable && status && <LoraPresets onInstalled={refresh} open={status.available.length === 0} />}
    </fieldset>
  );
}
