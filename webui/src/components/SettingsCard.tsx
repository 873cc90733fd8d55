// Generation settings (docs/APP.md §9.4.3): ratio presets, size, quality, seed, format, estimate.
import { useEffect, useState } from 'react';
import type { ImageFormat, Preset } from '../lib/caption';
import {
  ASPECT_PRESETS, estimateSeconds, formatDuration, isValidSize, matchingAspect, megapixels, MAX_SIZE, MIN_SIZE, PRESETS, randomSeed, ratioText,
  referenceSeconds, SIZE_MULTIPLE, snapSize,
} from '../lib/sizes';
import { useApp } from '../state';
import { IconLock, IconShuffle, IconUnlock } from './Icons';
import { LoraSelector } from './LoraSelector';

function Frame({ w, h, max = 28 }: { w: number; h: number; max?: number }) {
  const s = max / Math.max(w, h);
  return <span aria-hidden="true" className="inline-block shrink-0 rounded-sm border-2 border-current opacity-70"
    style={{ width: Math.max(6, Math.round(w * s)), height: Math.max(4, Math.round(h * s)) }} />;
}

/** Number input that accepts free typing and snaps to a multiple of 16 (128-2048) on blur / Enter. */
function SizeInput({ id, label, value, onCommit }: { id: string; label: string; value: number; onCommit: (v: number) => void }) {
  const [text, setText] = useState(String(value));
  useEffect(() => setText(String(value)), [value]);
  const commit = () => {
    const v = snapSize(text, value);
    setText(String(v));
    if (v !== value) onCommit(v);
  };
  return (
    <div>
      <label className="label" htmlFor={id}>{label}</label>
      <input id={id} type="number" inputMode="numeric" min={MIN_SIZE} max={MAX_SIZE} step={SIZE_MULTIPLE} className="input"
        value={text} onChange={(e) => setText(e.target.value)} onBlur={commit}
        onKeyDown={(e) => { if (e.key === 'Enter') commit(); }} aria-describedby="size-hint" />
    </div>
  );
}

export function SettingsCard() {
  const { form, editForm, model, lastSeed } = useApp();
  const match = matchingAspect(form.w, form.h);
  const loaded = model?.state === 'loaded';
  const timing = model?.timing ?? null;
  const est = estimateSeconds(form.w, form.h, form.preset, timing);
  // From the last image's steps measured on this machine; before any image the real model falls back to
  // the reference formula, the demo model (a test model, nothing like the reference) has none.
  const estimate = est !== null && timing
    ? `${formatDuration(est)} (from steps measured at ${timing.width}×${timing.height} on this machine)`
    : model?.demo
      ? loaded ? 'measured with the first image' : 'measured with the first image after loading'
      : `${loaded ? '' : 'load + '}${formatDuration(referenceSeconds(form.w, form.h, form.preset))} (reference hardware, until an image is made here)`;
  const setSeed = (seed: string) => editForm({ seed, seedLocked: seed.trim() !== '' ? true : form.seedLocked });
  return (
    <section className="card space-y-4" aria-labelledby="settings-title">
      <h2 id="settings-title" className="card-title">Generation settings</h2>
      <div className="flex items-center gap-3">
        <div className="flex h-20 w-20 shrink-0 items-center justify-center rounded-md bg-neutral-100 dark:bg-neutral-800" aria-hidden="true">
          <div className="flex items-center justify-center rounded-sm border-2 border-neutral-700 text-[9px] text-neutral-600 dark:border-neutral-300 dark:text-neutral-300"
            style={{ width: Math.round((64 * form.w) / Math.max(form.w, form.h)), height: Math.round((64 * form.h) / Math.max(form.w, form.h)) }}>
            <span style={{ writingMode: form.h > form.w * 1.6 ? 'vertical-rl' : undefined }}>{form.w}×{form.h}</span>
          </div>
        </div>
        <dl className="grid grid-cols-[auto_1fr] gap-x-3 text-xs">
          <dt className="text-neutral-500">Ratio</dt><dd data-testid="ratio">{ratioText(form.w, form.h)}</dd>
          <dt className="text-neutral-500">Pixels</dt><dd>{form.w}×{form.h}</dd>
          <dt className="text-neutral-500">Size</dt><dd>{megapixels(form.w, form.h)}</dd>
        </dl>
      </div>
      <fieldset className="min-w-0">
        <legend className="label">Aspect ratio</legend>
        <div className="grid grid-cols-2 gap-1.5">
          {ASPECT_PRESETS.map((p) => (
            <button key={p.name} type="button" aria-pressed={match?.name === p.name} onClick={() => editForm({ w: p.w, h: p.h })}
              disabled={!isValidSize(p.w) || !isValidSize(p.h)}
              title={!isValidSize(p.w) || !isValidSize(p.h) ? `Outside this server's limits (${MIN_SIZE}–${MAX_SIZE}, multiple of ${SIZE_MULTIPLE})` : undefined}
              className={`flex items-center gap-2 rounded-md border px-2 py-1.5 text-left text-xs disabled:cursor-not-allowed disabled:opacity-50 ${match?.name === p.name
                ? 'border-neutral-900 bg-neutral-900 text-white dark:border-white dark:bg-white dark:text-neutral-900'
                : 'border-neutral-300 hover:bg-neutral-100 dark:border-neutral-700 dark:hover:bg-neutral-800'}`}>
              <span className="flex w-7 justify-center"><Frame w={p.w} h={p.h} max={22} /></span>
              <span><span className="block font-medium">{p.name}</span><span className="opacity-70">{p.w}×{p.h}</span></span>
            </button>
          ))}
        </div>
      </fieldset>
      <div>
        <div className="grid grid-cols-2 gap-2">
          <SizeInput id="s-w" label="Width" value={form.w} onCommit={(w) => editForm({ w })} />
          <SizeInput id="s-h" label="Height" value={form.h} onCommit={(h) => editForm({ h })} />
        </div>
        <p id="size-hint" className="mt-1 text-xs text-neutral-500">{MIN_SIZE}–{MAX_SIZE}, snapped to a multiple of {SIZE_MULTIPLE}.</p>
      </div>
      <div className="grid grid-cols-1 gap-2 sm:grid-cols-2">
        <div className="min-w-0">
          <label className="label" htmlFor="s-preset">Quality</label>
          <select id="s-preset" className="input" value={form.preset} onChange={(e) => editForm({ preset: e.target.value as Preset })}>
            {PRESETS.map((p) => <option key={p.id} value={p.id}>{p.label} ({p.steps} steps)</option>)}
          </select>
        </div>
        <div className="min-w-0">
          <label className="label" htmlFor="s-format">Format</label>
          <select id="s-format" className="input" value={form.format} onChange={(e) => editForm({ format: e.target.value as ImageFormat })}>
            <option value="png">PNG (lossless)</option>
            <option value="webp">WebP (q 90)</option>
            <option value="jpeg">JPEG (q 95)</option>
          </select>
        </div>
      </div>
      <div>
        <label className="label" htmlFor="s-seed">Seed</label>
        <div className="flex gap-1.5">
          <input id="s-seed" className="input font-mono" inputMode="numeric" placeholder="random" value={form.seedLocked ? form.seed : ''}
            onChange={(e) => setSeed(e.target.value.replace(/[^0-9]/g, ''))} />
          <button type="button" className="btn" aria-label="Random seed" title="Random seed"
            onClick={() => editForm({ seed: String(randomSeed()), seedLocked: true })}><IconShuffle /></button>
          <button type="button" className="btn" aria-pressed={!!form.seedLocked} data-testid="seed-lock"
            aria-label={form.seedLocked ? 'Seed locked: the same seed is used every time (click to unlock)' : 'Seed unlocked: a new random seed each time (click to lock)'}
            title={form.seedLocked ? 'Seed locked' : 'New seed every time'}
            onClick={() => editForm(form.seedLocked ? { seedLocked: false, seed: '' } : { seedLocked: true, seed: form.seed || lastSeed || '' })}>
            {form.seedLocked ? <IconLock /> : <IconUnlock />}
          </button>
        </div>
        <p className="mt-1 text-xs text-neutral-500" data-testid="seed-hint">
          {form.seedLocked ? 'Locked: this seed is reused.' : 'Unlocked: a fresh random seed for every image.'}
          {!form.seedLocked && lastSeed ? ` Last seed: ${lastSeed} (lock to reuse it).` : ''}
        </p>
      </div>
      <p className="text-xs text-neutral-600 dark:text-neutral-400" data-testid="estimate">
        Estimated time: {estimate}
      </p>
      <LoraSelector />
    </section>
  );
}
