// The result image, large, with its metadata, download and "reuse settings".
import { imageExt, imageUrl, parseServerTime, type ImageInfo } from '../lib/api';
import { presetLabel } from '../lib/sizes';
import { useApp } from '../state';
import type { ImageFormat, Preset } from '../lib/caption';
import { IconDownload } from './Icons';

export function ResultView() {
  const { results, selectedResult, setSelectedResult, editForm, toast } = useApp();
  if (!results.length) return null;
  const img = results.find((r) => r.id === selectedResult) ?? results[0];
  const reuse = (i: ImageInfo) => {
    const patch: Record<string, unknown> = {};
    if (i.width && i.height) Object.assign(patch, { w: i.width, h: i.height });
    if (i.preset) patch.preset = i.preset as Preset;
    if (i.seed !== undefined && i.seed !== null) Object.assign(patch, { seed: String(i.seed), seedLocked: true });
    const f = imageExt(i);
    if (f === 'png' || f === 'webp' || f === 'jpeg') patch.format = f as ImageFormat;
    editForm(patch);
    toast('Settings of this image restored (seed locked).', 'success');
  };
  const when = parseServerTime(img.created_at);
  return (
    <section className="card" aria-labelledby="result-title" data-testid="result">
      <h2 id="result-title" className="card-title">Result</h2>
      <a href={imageUrl(img)} target="_blank" rel="noreferrer" className="block">
        <img src={imageUrl(img)} alt={img.hld || 'Generated image'} data-testid="result-image"
          className="mx-auto h-auto max-h-[70vh] w-auto max-w-full rounded-md bg-neutral-100 object-contain dark:bg-neutral-800"
          width={img.width} height={img.height} />
      </a>
      {img.hld && <p className="mt-2 text-sm [overflow-wrap:anywhere]">{img.hld}</p>}
      <dl className="mt-2 grid grid-cols-2 gap-x-4 gap-y-1 text-xs sm:grid-cols-3" data-testid="result-meta">
        {img.width && img.height && <div><dt className="text-neutral-500">Size</dt><dd>{img.width}×{img.height}</dd></div>}
        {img.preset && <div><dt className="text-neutral-500">Quality</dt><dd>{presetLabel(img.preset)}</dd></div>}
        {img.seed !== undefined && <div><dt className="text-neutral-500">Seed</dt><dd className="font-mono" data-testid="result-seed">{img.seed}</dd></div>}
        <div><dt className="text-neutral-500">Format</dt><dd>{imageExt(img)}</dd></div>
        {img.generation_seconds !== undefined && <div><dt className="text-neutral-500">Time</dt><dd>{img.generation_seconds.toFixed(1)} s</dd></div>}
        {(when || img.time) && <div><dt className="text-neutral-500">Created</dt><dd>{when ? when.toLocaleString() : img.time}</dd></div>}
        {img.lora_name && <div><dt className="text-neutral-500">LoRA</dt><dd>{img.lora_name} {img.lora_strength ?? ''}</dd></div>}
      </dl>
      <div className="mt-3 flex flex-wrap gap-2">
        <a className="btn" href={imageUrl(img)} download={`ideogram4-${img.id}.${imageExt(img)}`}><IconDownload /> Download</a>
        <button type="button" className="btn" onClick={() => reuse(img)}>Reuse settings</button>
      </div>
      {results.length > 1 && (
        <ul className="mt-3 flex gap-2 overflow-x-auto" aria-label="Other images of this prompt">
          {results.map((r) => (
            <li key={r.id}>
              <button type="button" onClick={() => setSelectedResult(r.id)} aria-pressed={r.id === img.id} aria-label={`Show image ${r.id}`}
                className={`block overflow-hidden rounded border-2 ${r.id === img.id ? 'border-sky-500' : 'border-transparent'}`}>
                <img src={imageUrl(r)} alt="" loading="lazy" className="h-14 w-14 object-cover" />
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
