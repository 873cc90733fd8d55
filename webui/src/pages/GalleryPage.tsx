// Gallery (docs/APP.md §9.8): all images, grid, lightbox with keyboard navigation, incremental loading.
import { useCallback, useEffect, useRef, useState } from 'react';
import { Link } from 'react-router';
import { ConfirmDialog, Modal } from '../components/ConfirmDialog';
import { IconChevronLeft, IconChevronRight, IconDownload, IconTrash, IconX } from '../components/Icons';
import { Api, imageExt, imageUrl, type ImageInfo } from '../lib/api';
import { presetLabel } from '../lib/sizes';
import { useApp } from '../state';

export const PAGE = 24;

/** Append a page, dropping ids already shown (rows shift when images are added or deleted meanwhile). */
export function mergePage(cur: ImageInfo[], page: ImageInfo[]): { items: ImageInfo[]; added: number } {
  const seen = new Set(cur.map((i) => i.id));
  const fresh = page.filter((i) => !seen.has(i.id));
  return { items: [...cur, ...fresh], added: fresh.length };
}

export function GalleryPage() {
  const { toast, refreshHistory } = useApp();
  const [items, setItems] = useState<ImageInfo[]>([]);
  const [done, setDone] = useState(false);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState<number | null>(null);
  const [confirm, setConfirm] = useState(false);
  const sentinel = useRef<HTMLDivElement>(null);
  const itemsRef = useRef(items);
  itemsRef.current = items;
  const loadingRef = useRef(false);

  const loadMore = useCallback(async () => {
    if (loadingRef.current) return;
    loadingRef.current = true;
    setLoading(true);
    try {
      const cur = itemsRef.current;
      const page = await Api.images({ limit: PAGE, offset: cur.length });
      const { items: next, added } = mergePage(cur, Array.isArray(page) ? page : []);
      setItems(next);
      if (added === 0 || page.length < PAGE) setDone(true);
      setError(null);
    } catch (e) {
      setError((e as Error).message);
      setDone(true);
    } finally {
      loadingRef.current = false;
      setLoading(false);
    }
  }, []);

  useEffect(() => {
    void loadMore();
  }, [loadMore]);

  useEffect(() => {
    const el = sentinel.current;
    if (!el || done || typeof IntersectionObserver === 'undefined') return;
    const io = new IntersectionObserver((e) => {
      if (e.some((x) => x.isIntersecting)) void loadMore();
    }, { rootMargin: '400px' });
    io.observe(el);
    return () => io.disconnect();
  }, [done, loadMore, items.length]);

  const cur = open !== null ? items[open] : null;
  const step = useCallback((d: number) => setOpen((o) => (o === null ? o : (o + d + items.length) % items.length)), [items.length]);
  useEffect(() => {
    if (open === null || confirm) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'ArrowRight') step(1);
      else if (e.key === 'ArrowLeft') step(-1);
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [open, step, confirm]);

  const remove = async () => {
    if (!cur) return;
    setConfirm(false);
    try {
      const r = await Api.deleteImage(cur.id);
      if (!r.ok) throw new Error('not found');
      setItems((it) => it.filter((i) => i.id !== cur.id));
      setOpen((o) => (o === null || items.length <= 1 ? null : Math.min(o, items.length - 2)));
      toast('Image deleted.', 'success');
      void refreshHistory();
    } catch (e) {
      toast(`Delete failed: ${(e as Error).message}`, 'error');
    }
  };

  return (
    <div className="mx-auto max-w-7xl">
      <h1 className="mb-4 text-xl font-semibold">Gallery</h1>
      {error && <p role="alert" className="mb-3 text-sm text-red-600">Could not load images: {error}</p>}
      {!error && !loading && items.length === 0 && <p className="text-sm text-neutral-500">Generated images will appear here.</p>}
      <ul className="grid grid-cols-2 gap-3 sm:grid-cols-3 lg:grid-cols-4" data-testid="gallery-grid">
        {items.map((img, i) => (
          <li key={img.id}>
            <button type="button" onClick={() => setOpen(i)} aria-label={`Open image ${img.id}: ${img.hld || 'untitled'}`}
              className="group relative block w-full overflow-hidden rounded-md bg-neutral-100 dark:bg-neutral-800" data-testid="gallery-item">
              <img src={imageUrl(img)} alt="" loading="lazy" className="aspect-square w-full object-cover transition group-hover:scale-[1.02]" />
              <span className="absolute inset-x-0 bottom-0 truncate bg-black/60 px-2 py-1 text-left text-xs text-white">{(img.hld || '(empty)').slice(0, 32)}</span>
            </button>
          </li>
        ))}
      </ul>
      <div ref={sentinel} className="h-8" />
      {!done && (
        <div className="mt-2 text-center">
          <button type="button" className="btn" onClick={() => void loadMore()} disabled={loading}>{loading ? 'Loading…' : 'Load more'}</button>
        </div>
      )}
      <Modal open={cur !== null && !confirm} labelledBy="lightbox-title" onClose={() => setOpen(null)} className="max-w-[95vw] !p-3 sm:max-w-5xl">
        {cur && (
          <div data-testid="lightbox">
            <div className="mb-2 flex items-center gap-2">
              <h2 id="lightbox-title" className="min-w-0 flex-1 truncate text-sm font-medium">{cur.hld || '(empty)'}</h2>
              <span className="text-xs text-neutral-500" data-testid="lightbox-counter">{open! + 1} / {items.length}</span>
              <button type="button" className="btn btn-ghost btn-sm" aria-label="Close" onClick={() => setOpen(null)}><IconX /></button>
            </div>
            <div className="relative flex items-center justify-center">
              <button type="button" className="btn btn-ghost absolute left-0 z-10 bg-white/70 dark:bg-black/50" aria-label="Previous image" onClick={() => step(-1)}><IconChevronLeft /></button>
              <img src={imageUrl(cur)} alt={cur.hld || 'Generated image'} className="max-h-[75vh] max-w-full rounded object-contain" data-testid="lightbox-image" data-image-id={cur.id} />
              <button type="button" className="btn btn-ghost absolute right-0 z-10 bg-white/70 dark:bg-black/50" aria-label="Next image" onClick={() => step(1)}><IconChevronRight /></button>
            </div>
            <div className="mt-2 flex flex-wrap items-center gap-2 text-xs text-neutral-500">
              {cur.width && <span>{cur.width}×{cur.height}</span>}
              {cur.preset && <span className="chip">{presetLabel(cur.preset)}</span>}
              {cur.seed !== undefined && <span>seed {cur.seed}</span>}
              <span className="flex-1" />
              {cur.prompt_id != null && <Link className="btn btn-sm" to={`/history/${cur.prompt_id}`}>Open prompt</Link>}
              <a className="btn btn-sm" href={imageUrl(cur)} download={`ideogram4-${cur.id}.${imageExt(cur)}`}><IconDownload /> Download</a>
              <button type="button" className="btn btn-sm text-red-600" onClick={() => setConfirm(true)}><IconTrash /> Delete</button>
            </div>
          </div>
        )}
      </Modal>
      <ConfirmDialog open={confirm} title="Delete this image?" message="The image file is deleted from the output folder."
        onCancel={() => setConfirm(false)} onConfirm={() => void remove()} />
    </div>
  );
}
