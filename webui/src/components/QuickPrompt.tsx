// Quick Prompt: natural language (+ reference images) -> structured caption via the LLM (docs/APP.md §7, §9.4.4).
import { useEffect, useRef, useState, type DragEvent } from 'react';
import { Api, ApiError, type MagicStatus } from '../lib/api';
import { useApp } from '../state';
import { IconSpinner, IconX } from './Icons';

const MAX_IMAGES = 4;
const MAX_BYTES = 6 * 1024 * 1024;

function readDataUrl(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result));
    r.onerror = () => reject(r.error);
    r.readAsDataURL(file);
  });
}

/** The server settings Quick Prompt reads (src/server/magic_prompt.c). */
export const MAGIC_ENV = {
  base: 'IDEOGRAM4_MAGIC_PROMPT_BASE_URL',
  model: 'IDEOGRAM4_MAGIC_PROMPT_MODEL',
  key: 'IDEOGRAM4_MAGIC_PROMPT_API_KEY',
  provider: 'IDEOGRAM4_MAGIC_PROMPT_PROVIDER',
};

export function QuickPrompt({ onUseText }: { onUseText?: (text: string) => void }) {
  const { form, setCaption, toast } = useApp();
  const [status, setStatus] = useState<MagicStatus | null>(null);
  const [statusError, setStatusError] = useState<string | null>(null);
  const [text, setText] = useState('');
  const [images, setImages] = useState<{ name: string; url: string }[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [over, setOver] = useState(false);
  const fileRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    let alive = true;
    Api.magicStatus()
      .then((s) => alive && setStatus(s))
      .catch((e) => alive && setStatusError((e as Error).message));
    return () => {
      alive = false;
    };
  }, []);

  const addFiles = async (files: FileList | File[]) => {
    const list = Array.from(files).filter((f) => f.type.startsWith('image/'));
    if (!list.length) {
      setError('Only image files can be attached.');
      return;
    }
    const next = [...images];
    for (const f of list) {
      if (next.length >= MAX_IMAGES) {
        setError(`At most ${MAX_IMAGES} images.`);
        break;
      }
      if (f.size > MAX_BYTES) {
        setError(`${f.name} is larger than 6 MB.`);
        continue;
      }
      next.unshift({ name: f.name, url: await readDataUrl(f) });
    }
    setImages(next);
  };
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    if (e.dataTransfer.files?.length) void addFiles(e.dataTransfer.files);
  };

  const configured = status?.configured === true;
  const expand = async () => {
    setError(null);
    if (!configured) {
      setError('The Quick Prompt LLM is not configured on the server (see below).');
      return;
    }
    if (!text.trim() && !images.length) {
      setError('Please enter a prompt or attach an image.');
      return;
    }
    setBusy(true);
    try {
      const r = await Api.magicPrompt({
        prompt: text.trim() || 'Describe this image in detail.',
        width: form.w,
        height: form.h,
        images_b64: images.length ? images.map((i) => i.url) : null,
      });
      setCaption(r.caption);
      setImages([]);
      toast(`Expanded with ${r.model || 'the LLM'}. Every caption field was filled.`, 'success');
    } catch (e) {
      const msg = (e as Error).message;
      const kind = e instanceof ApiError && e.body && typeof e.body === 'object' ? (e.body as { kind?: unknown }).kind : undefined;
      if (kind === 'not_configured') {
        // The server's settings say no: show why and switch the tab to its "not configured" state.
        setError(`Quick Prompt is not configured on the server: ${msg}`);
        setStatus((s) => ({ ...(s ?? {}), configured: false, config_error: msg }));
      } else {
        setError(`Failed to expand prompt: ${msg}`);
      }
    } finally {
      setBusy(false);
    }
  };

  const notConfigured = !!status && !configured;
  let banner: { ok: boolean; text: string };
  if (statusError) banner = { ok: false, text: `Quick Prompt status unavailable: ${statusError}` };
  else if (!status) banner = { ok: true, text: 'Checking Quick Prompt settings…' };
  else if (status.config_error) banner = { ok: false, text: `Not configured: ${status.config_error}` };
  else if (configured) banner = { ok: true, text: `Configured: ${status.provider ?? 'LLM'} / ${status.model ?? 'model'}` };
  else if (status.missing_env?.length) banner = { ok: false, text: `Not configured. Missing environment: ${status.missing_env.join(', ')}` };
  else if (status.llm_error || status.llm_reachable === false) banner = { ok: false, text: `LLM unreachable: ${status.llm_error ?? 'no answer'}` };
  else banner = { ok: false, text: 'Not configured: set IDEOGRAM4_MAGIC_PROMPT_BASE_URL (and model) for the server.' };

  return (
    <div className="space-y-3">
      <div role="status" data-testid="magic-status"
        className={`rounded-md border p-2 text-xs ${banner.ok ? 'border-emerald-300 bg-emerald-50 text-emerald-900 dark:border-emerald-800 dark:bg-emerald-950 dark:text-emerald-100' : 'border-amber-300 bg-amber-50 text-amber-900 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-100'}`}>
        {banner.text}
        {!notConfigured && <div className="mt-0.5 opacity-80">Write your idea in plain language; an LLM turns it into a structured caption that fills the form.</div>}
      </div>
      {notConfigured && (
        <div className="rounded-md border border-neutral-200 p-2 text-xs dark:border-neutral-800" data-testid="magic-setup">
          <strong>Quick Prompt needs an LLM.</strong> Set these for the server (in its environment or the project's <code>.env</code>) and restart it:
          <ul className="mt-1 list-disc pl-5">
            <li><code>{MAGIC_ENV.base}</code> — an OpenAI-compatible endpoint (llama.cpp, Ollama, OpenAI…), e.g. <code>http://127.0.0.1:8080/v1</code></li>
            <li><code>{MAGIC_ENV.model}</code> — the model name</li>
            <li><code>{MAGIC_ENV.key}</code> — only if the endpoint needs a key</li>
          </ul>
          <p className="mt-1">Or skip it: write your description below and press <em>Use my text as the description</em>.</p>
        </div>
      )}
      <div>
        <label className="label" htmlFor="qp-text">Describe your image</label>
        <textarea id="qp-text" rows={4} className="input" data-native-undo value={text} onChange={(e) => setText(e.target.value)}
          placeholder="e.g. a fox reading a book under a giant mushroom at night, watercolor" />
      </div>
      <div onDragOver={(e) => { e.preventDefault(); setOver(true); }} onDragLeave={() => setOver(false)} onDrop={onDrop}
        className={`rounded-md border-2 border-dashed p-3 text-center text-sm ${over ? 'border-sky-500 bg-sky-50 dark:bg-sky-950' : 'border-neutral-300 dark:border-neutral-700'}`}
        data-testid="drop-zone">
        <button type="button" className="btn btn-sm" onClick={() => fileRef.current?.click()}>
          {images.length ? 'Add more images' : 'Attach reference images'}
        </button>
        <span className="ml-2 text-xs text-neutral-500">or drop images here (up to 4, 6 MB each)</span>
        <input ref={fileRef} type="file" accept="image/*" multiple className="sr-only" tabIndex={-1} aria-label="Attach reference images"
          onChange={(e) => { if (e.target.files) void addFiles(e.target.files); e.target.value = ''; }} />
        {images.length > 0 && (
          <ul className="mt-2 flex gap-2 overflow-x-auto" aria-label="Attached images">
            {images.map((img, i) => (
              <li key={`${img.name}-${i}`} className="relative shrink-0">
                <img src={img.url} alt={img.name} className="h-16 w-16 rounded object-cover" />
                <button type="button" aria-label={`Remove ${img.name}`} onClick={() => setImages(images.filter((_, k) => k !== i))}
                  className="absolute -right-1 -top-1 rounded-full bg-neutral-900 p-0.5 text-white"><IconX /></button>
              </li>
            ))}
          </ul>
        )}
      </div>
      <p className="text-xs text-neutral-500">Target aspect ratio: {form.w}×{form.h} (from Generation settings).</p>
      <div className="flex items-center gap-2">
        <button type="button" className="btn btn-primary" onClick={() => void expand()} disabled={busy || !configured}
          aria-describedby="magic-status-hint">
          {busy ? <><IconSpinner /> Expanding…</> : 'Expand to caption'}
        </button>
        {onUseText && (
          <button type="button" className={`btn ${notConfigured ? 'btn-primary' : ''}`} disabled={!text.trim()}
            onClick={() => { onUseText(text.trim()); toast('Your text is now the high-level description; fill in the rest in the Form.', 'success'); }}>
            Use my text as the description
          </button>
        )}
        {!configured && status && <span id="magic-status-hint" className="text-xs text-neutral-500">Unavailable until the LLM is configured.</span>}
      </div>
      {error && <p role="alert" className="field-error" data-testid="magic-error">{error}</p>}
    </div>
  );
}
