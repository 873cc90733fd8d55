// Drop a generated PNG/WebP/JPEG anywhere on the page: its embedded caption and
// settings (lib/imagemeta.ts) are restored into the editor at `/`.
import { useEffect, useRef, useState } from 'react';
import { useNavigate } from 'react-router';
import { isObject, type ImageFormat, type JsonObject, type Preset } from '../lib/caption';
import { readImageMeta, type ImageMeta } from '../lib/imagemeta';
import { isValidSize, PRESETS } from '../lib/sizes';
import { useApp } from '../state';

const hasFiles = (e: DragEvent) => Array.from(e.dataTransfer?.types ?? []).includes('Files');

export function DropRestore() {
  const app = useApp();
  const ref = useRef(app);
  ref.current = app;
  const navigate = useNavigate();
  const [over, setOver] = useState(false);
  useEffect(() => {
    let depth = 0;
    const apply = (meta: ImageMeta, name: string) => {
      const { setCaption, editForm, toast, setCurrentPromptId } = ref.current;
      let caption: JsonObject | null = null;
      if (typeof meta.caption === 'string') {
        try {
          const v = JSON.parse(meta.caption);
          if (isObject(v)) caption = v;
        } catch {
          caption = { high_level_description: meta.caption };
        }
      }
      setCurrentPromptId(null);
      navigate('/');
      if (caption) setCaption(caption);
      const patch: Parameters<typeof editForm>[0] = {};
      const [w, h] = Array.isArray(meta.resolution) ? meta.resolution : [];
      if (isValidSize(Number(w)) && isValidSize(Number(h))) Object.assign(patch, { w: Number(w), h: Number(h) });
      if (typeof meta.preset === 'string' && PRESETS.some((p) => p.id === meta.preset)) patch.preset = meta.preset as Preset;
      if (typeof meta.seed === 'number' && Number.isInteger(meta.seed) && meta.seed >= 0) Object.assign(patch, { seed: String(meta.seed), seedLocked: true });
      const f = meta.format === 'jpg' ? 'jpeg' : meta.format;
      if (f === 'png' || f === 'webp' || f === 'jpeg') patch.format = f as ImageFormat;
      if (Object.keys(patch).length) editForm(patch, 'drop');
      const lora = Array.isArray(meta.loras) && meta.loras.length ? ` It was made with LoRA ${meta.loras.map((l) => `${l.name} (${l.strength})`).join(' + ')}; apply it to match.` : '';
      toast(caption ? `Restored the caption and settings of ${name}.${lora}` : `Restored the settings of ${name} (it does not carry its caption).${lora}`, 'success');
    };
    const onOver = (e: DragEvent) => {
      if (!hasFiles(e) || e.defaultPrevented) return;
      e.preventDefault();
      if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
    };
    const onEnter = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      depth += 1;
      setOver(true);
    };
    const onLeave = () => {
      depth = Math.max(0, depth - 1);
      if (!depth) setOver(false);
    };
    const onDrop = async (e: DragEvent) => {
      depth = 0;
      setOver(false);
      // Drop zones of their own (Quick Prompt attachments) handle their files.
      if (e.defaultPrevented || !e.dataTransfer?.files?.length) return;
      e.preventDefault();
      const file = Array.from(e.dataTransfer.files).find((f) => /^image\/(png|webp|jpeg)$/.test(f.type) || /\.(png|webp|jpe?g)$/i.test(f.name));
      const { toast } = ref.current;
      if (!file) {
        toast('Drop a PNG, WebP or JPEG made by Ideogram 4 to restore its settings.', 'error');
        return;
      }
      const meta = readImageMeta(new Uint8Array(await file.arrayBuffer()));
      if (!meta) {
        toast(`${file.name} carries no Ideogram 4 parameters.`, 'error');
        return;
      }
      apply(meta, file.name);
    };
    window.addEventListener('dragover', onOver);
    window.addEventListener('dragenter', onEnter);
    window.addEventListener('dragleave', onLeave);
    window.addEventListener('drop', onDrop);
    return () => {
      window.removeEventListener('dragover', onOver);
      window.removeEventListener('dragenter', onEnter);
      window.removeEventListener('dragleave', onLeave);
      window.removeEventListener('drop', onDrop);
    };
  }, [navigate]);
  if (!over) return null;
  return (
    <div className="pointer-events-none fixed inset-0 z-[65] flex items-center justify-center bg-sky-500/10 p-6" aria-hidden="true">
      <div className="rounded-lg border-2 border-dashed border-sky-500 bg-white/90 px-6 py-4 text-sm font-medium dark:bg-neutral-900/90">
        Drop a generated image to restore its caption and settings
      </div>
    </div>
  );
}
