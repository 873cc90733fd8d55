// Layout preview of the output's aspect ratio on which element boxes are
// drawn, moved and resized (coordinates 0-1000, [y1, x1, y2, x2], docs/APP.md §8.4).
import { useRef, useState, type KeyboardEvent, type PointerEvent } from 'react';
import { formatBBox, parseBBox, type BBox, type FormElement } from '../lib/caption';

export const MIN_BOX = 20;
export const DEFAULT_BOX = 420;

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** A box of `size` units centred at (y, x), kept inside the frame. */
export function centredBox(y: number, x: number, size = DEFAULT_BOX): BBox {
  const half = size / 2;
  const cy = clamp(y, half, 1000 - half);
  const cx = clamp(x, half, 1000 - half);
  return [Math.round(cy - half), Math.round(cx - half), Math.round(cy + half), Math.round(cx + half)];
}

/** Move a box by (dy, dx), clamped to the frame. */
export function moveBox(b: BBox, dy: number, dx: number): BBox {
  const h = b[2] - b[0];
  const w = b[3] - b[1];
  const y1 = clamp(Math.round(b[0] + dy), 0, 1000 - h);
  const x1 = clamp(Math.round(b[1] + dx), 0, 1000 - w);
  return [y1, x1, y1 + h, x1 + w];
}

export type Corner = 'nw' | 'ne' | 'sw' | 'se';

/** Move one corner to (y, x), keeping the opposite corner and at least MIN_BOX units. */
export function resizeBox(b: BBox, corner: Corner, y: number, x: number): BBox {
  let [y1, x1, y2, x2] = b;
  y = clamp(Math.round(y), 0, 1000);
  x = clamp(Math.round(x), 0, 1000);
  if (corner[0] === 'n') y1 = Math.min(y, y2 - MIN_BOX);
  else y2 = Math.max(y, y1 + MIN_BOX);
  if (corner[1] === 'w') x1 = Math.min(x, x2 - MIN_BOX);
  else x2 = Math.max(x, x1 + MIN_BOX);
  return [clamp(y1, 0, 1000), clamp(x1, 0, 1000), clamp(y2, 0, 1000), clamp(x2, 0, 1000)];
}

/** Box spanned by two points (drag to create). */
export function spanBox(ay: number, ax: number, by: number, bx: number): BBox {
  const c = (v: number) => clamp(Math.round(v), 0, 1000);
  return [c(Math.min(ay, by)), c(Math.min(ax, bx)), c(Math.max(ay, by)), c(Math.max(ax, bx))];
}

/** What changed a box: drawn (drag or click on empty space, Enter), moved (drag, arrows), resized, cleared. */
export type BoxEdit = 'create' | 'move' | 'resize' | 'clear';

type Drag =
  | { kind: 'move'; index: number; start: BBox; py: number; px: number }
  | { kind: 'resize'; index: number; start: BBox; corner: Corner }
  | { kind: 'create'; index: number; ay: number; ax: number; moved: boolean };

export function BBoxCanvas({ width, height, elements, selected, onSelect, onChange }: {
  width: number;
  height: number;
  elements: FormElement[];
  selected: number;
  onSelect: (i: number) => void;
  /** `kind` names the gesture and `gesture` numbers pointer drags, so the editor can make each one its own undo step. */
  onChange: (i: number, bbox: string, kind: BoxEdit, gesture?: number) => void;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const [drag, setDrag] = useState<Drag | null>(null);
  const gesture = useRef(0);
  const point = (e: { clientX: number; clientY: number }) => {
    const r = ref.current!.getBoundingClientRect();
    return {
      y: clamp(((e.clientY - r.top) / (r.height || 1)) * 1000, 0, 1000),
      x: clamp(((e.clientX - r.left) / (r.width || 1)) * 1000, 0, 1000),
    };
  };
  const sel = elements[selected] ? selected : 0;
  const selBox = elements[sel] ? parseBBox(elements[sel].bbox) : null;

  const onDown = (e: PointerEvent<HTMLDivElement>) => {
    if (e.button !== 0) return;
    const target = e.target as HTMLElement;
    const p = point(e);
    const handle = target.dataset.handle as Corner | undefined;
    const boxIndex = target.closest<HTMLElement>('[data-box]')?.dataset.box;
    let d: Drag;
    if (handle && boxIndex !== undefined) {
      const i = Number(boxIndex);
      d = { kind: 'resize', index: i, start: parseBBox(elements[i].bbox)!, corner: handle };
      onSelect(i);
    } else if (boxIndex !== undefined) {
      const i = Number(boxIndex);
      d = { kind: 'move', index: i, start: parseBBox(elements[i].bbox)!, py: p.y, px: p.x };
      onSelect(i);
    } else {
      if (!elements[sel]) return;
      d = { kind: 'create', index: sel, ay: p.y, ax: p.x, moved: false };
    }
    e.preventDefault();
    gesture.current++;
    ref.current?.focus();
    ref.current?.setPointerCapture?.(e.pointerId);
    setDrag(d);
  };
  const onMove = (e: PointerEvent<HTMLDivElement>) => {
    if (!drag) return;
    const p = point(e);
    if (drag.kind === 'move') onChange(drag.index, formatBBox(moveBox(drag.start, p.y - drag.py, p.x - drag.px)), 'move', gesture.current);
    else if (drag.kind === 'resize') onChange(drag.index, formatBBox(resizeBox(drag.start, drag.corner, p.y, p.x)), 'resize', gesture.current);
    else if (Math.abs(p.y - drag.ay) > 8 || Math.abs(p.x - drag.ax) > 8 || drag.moved) {
      if (!drag.moved) setDrag({ ...drag, moved: true });
      onChange(drag.index, formatBBox(spanBox(drag.ay, drag.ax, p.y, p.x)), 'create', gesture.current);
    }
  };
  const onUp = (e: PointerEvent<HTMLDivElement>) => {
    if (!drag) return;
    ref.current?.releasePointerCapture?.(e.pointerId);
    if (drag.kind === 'create') {
      const p = point(e);
      // A click on empty space creates a box only for an element that has none (never replaces one).
      if (!drag.moved) {
        if (!parseBBox(elements[drag.index]?.bbox ?? '')) onChange(drag.index, formatBBox(centredBox(drag.ay, drag.ax)), 'create', gesture.current);
      }
      else {
        // Too small a drag: grow to the minimum size.
        const b = spanBox(drag.ay, drag.ax, p.y, p.x);
        if (b[2] - b[0] < MIN_BOX || b[3] - b[1] < MIN_BOX) onChange(drag.index, formatBBox(resizeBox(b, 'se', b[2], b[3])), 'create', gesture.current);
      }
    }
    setDrag(null);
  };
  const onKey = (e: KeyboardEvent<HTMLDivElement>) => {
    if (!elements[sel]) return;
    const step = e.shiftKey ? 50 : 10;
    const moves: Record<string, [number, number]> = { ArrowUp: [-step, 0], ArrowDown: [step, 0], ArrowLeft: [0, -step], ArrowRight: [0, step] };
    if (moves[e.key] && selBox) {
      e.preventDefault();
      onChange(sel, formatBBox(moveBox(selBox, moves[e.key][0], moves[e.key][1])), 'move');
    } else if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      if (!selBox) onChange(sel, formatBBox(centredBox(500, 500)), 'create');
    } else if (e.key === 'Delete' || e.key === 'Backspace') {
      e.preventDefault();
      onChange(sel, '', 'clear');
    } else if (e.key === 'Tab' && !e.shiftKey && e.altKey) {
      e.preventDefault();
      onSelect((sel + 1) % elements.length);
    }
  };
  const ratio = width / height;
  return (
    <div>
      <div className="mx-auto" style={{ maxWidth: `min(100%, ${Math.round(300 * ratio)}px)` }}>
        <div ref={ref} tabIndex={0} role="application" data-testid="bbox-canvas"
          aria-label={`Layout canvas ${width}×${height}. Selected element #${sel + 1}${selBox ? `, box ${formatBBox(selBox)}` : ', no box'}. Drag to draw a box; arrows move it (Shift: faster); Enter: centred box when there is none; Delete: clear.`}
          onPointerDown={onDown} onPointerMove={onMove} onPointerUp={onUp} onPointerCancel={onUp} onKeyDown={onKey}
          className="relative w-full touch-none select-none overflow-hidden rounded-md border border-neutral-300 bg-neutral-50 dark:border-neutral-700 dark:bg-neutral-950"
          style={{ aspectRatio: `${width} / ${height}`, cursor: 'crosshair',
            backgroundImage: 'linear-gradient(to right, rgba(128,128,128,.18) 1px, transparent 1px), linear-gradient(to bottom, rgba(128,128,128,.18) 1px, transparent 1px)',
            backgroundSize: '25% 25%' }}>
          <span className="pointer-events-none absolute bottom-1 right-1.5 text-[10px] text-neutral-600 dark:text-neutral-400" data-testid="canvas-size">{width}×{height}</span>
          {elements.map((el, i) => {
            const b = parseBBox(el.bbox);
            if (!b) return null;
            const active = i === sel;
            return (
              <div key={el.id} data-box={i} data-testid={`bbox-${i}`}
                className={`absolute border-2 ${active ? 'z-10 border-sky-500 bg-sky-500/15' : 'border-neutral-500/70 bg-neutral-500/10'}`}
                style={{ top: `${b[0] / 10}%`, left: `${b[1] / 10}%`, height: `${(b[2] - b[0]) / 10}%`, width: `${(b[3] - b[1]) / 10}%`, cursor: 'move' }}>
                <span className={`pointer-events-none absolute left-0.5 top-0 text-[10px] font-semibold ${active ? 'text-sky-700 dark:text-sky-300' : 'text-neutral-600 dark:text-neutral-300'}`}>
                  #{i + 1}{el.type === 'text' ? ' T' : ''}
                </span>
                {active && (['nw', 'ne', 'sw', 'se'] as Corner[]).map((c) => (
                  <span key={c} data-handle={c} data-testid={`handle-${c}`}
                    className="absolute h-3 w-3 rounded-full border-2 border-white bg-sky-500 shadow"
                    style={{ top: c[0] === 'n' ? -6 : undefined, bottom: c[0] === 's' ? -6 : undefined,
                      left: c[1] === 'w' ? -6 : undefined, right: c[1] === 'e' ? -6 : undefined,
                      cursor: c === 'nw' || c === 'se' ? 'nwse-resize' : 'nesw-resize' }} />
                ))}
              </div>
            );
          })}
        </div>
      </div>
      <p className="mt-1 text-center text-xs text-neutral-500">
        Drawing for element #{sel + 1}. Drag on empty space to draw, drag a box to move it, drag a corner to resize.
      </p>
    </div>
  );
}

/** Why a typed box number is refused, or null when `next` is a usable box. */
export function bboxFieldError(name: string, raw: string, next: BBox): string | null {
  if (raw.trim() === '' || !Number.isFinite(Number(raw))) return `${name} must be a number from 0 to 1000.`;
  const v = Number(raw);
  if (v < 0 || v > 1000) return `${name} must be from 0 to 1000 (the box scale), not ${raw}.`;
  if (next[2] - next[0] < 1) return 'Top must be less than Bottom.';
  if (next[3] - next[1] < 1) return 'Left must be less than Right.';
  return null;
}

/** Four numeric fields (Top/Left/Bottom/Right, 0-1000). Out-of-range or crossed values are refused at the field, not clamped. */
export function BBoxFields({ value, onChange, idPrefix }: { value: string; onChange: (v: string) => void; idPrefix: string }) {
  const b = parseBBox(value);
  const names = ['Top', 'Left', 'Bottom', 'Right'];
  const [typed, setTyped] = useState<{ k: number; raw: string; error: string } | null>(null);
  const set = (k: number, raw: string) => {
    const cur: BBox = b ?? [0, 0, 1000, 1000];
    const next = [...cur] as BBox;
    next[k] = Math.round(Number(raw));
    const error = bboxFieldError(names[k], raw, next);
    if (error) {
      setTyped({ k, raw, error });
      return;
    }
    setTyped(null);
    onChange(formatBBox(next));
  };
  const errId = `${idPrefix}-error`;
  return (
    <div>
      <div className="grid grid-cols-4 gap-1.5">
        {names.map((n, k) => (
          <div key={n}>
            <label className="block text-[11px] text-neutral-500" htmlFor={`${idPrefix}-${n}`}>{n}</label>
            <input id={`${idPrefix}-${n}`} type="number" min={0} max={1000} inputMode="numeric"
              className={`input px-1.5 py-1 text-xs ${typed?.k === k ? 'input-invalid' : ''}`}
              aria-invalid={typed?.k === k || undefined} aria-describedby={typed?.k === k ? errId : undefined}
              value={typed?.k === k ? typed.raw : b ? b[k] : ''} placeholder="–"
              onChange={(e) => set(k, e.target.value)} onBlur={() => setTyped(null)} />
          </div>
        ))}
      </div>
      {typed && <p id={errId} role="alert" className="field-error" data-testid="bbox-field-error">{typed.error} The box was not changed.</p>}
    </div>
  );
}
