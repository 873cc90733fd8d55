// Structured caption form (docs/APP.md §9.4.1): scene, style, composition, elements.
import { useState } from 'react';
import { blankElement, camKeyFor, formatBBox, MEDIUMS, type FormElement, type FormState } from '../lib/caption';
import { elementIssues, type Issues } from '../lib/validate';
import { useApp } from '../state';
import { BBoxCanvas, BBoxFields, centredBox } from './BBoxCanvas';
import { IconPlus, IconTrash } from './Icons';
import { FieldIssues } from './Issue';
import { PaletteEditor } from './PaletteEditor';

export const PHOTO_PRESETS: [string, string][] = [
  ['Shallow DOF 85mm', 'shallow depth of field, eye-level, 85mm f/1.4'],
  ['Wide landscape', 'wide angle, f/8, long exposure'],
  ['Natural 50mm', '50mm f/1.8, natural perspective'],
  ['35mm bokeh', '35mm f/1.4, bokeh'],
  ['Telephoto 200mm', 'telephoto 200mm f/2.8, compressed background'],
  ['Macro close-up', 'macro 100mm f/2.8, extreme close-up'],
  ['Tilt-shift', 'tilt-shift, selective focus, miniature effect'],
  ['Fisheye', 'fisheye, ultra wide, dramatic'],
  ['Low angle', 'low angle, 24mm, heroic perspective'],
  ['Studio portrait', 'studio lighting, 85mm f/5.6, sharp focus'],
  ['Cinematic', 'anamorphic, 35mm, cinematic, shallow depth of field'],
  ['Full body 50mm', 'full body shot, eye-level, 50mm f/2.8'],
  ['Full body wide', 'full body, 35mm f/4, environmental portrait'],
  ['Vintage film', 'vintage 35mm film, grainy, warm tones'],
];
export const ART_PRESETS: [string, string][] = [
  ['Watercolor', 'watercolor, soft edges, painterly'],
  ['Flat vector', 'flat vector illustration, bold outlines'],
  ['Oil painting', 'oil painting, impasto, textured brushstrokes'],
  ['Ghibli inspired', 'Studio Ghibli inspired'],
  ['3D realistic', 'photorealistic 3D render'],
  ['Low poly 3D', 'low poly 3D'],
  ['Isometric', 'isometric 3D'],
  ['Pencil sketch', 'pencil sketch, hand-drawn'],
  ['Line art', 'minimalist line art'],
  ['Vintage poster', 'vintage poster, screen print'],
  ['Pixel art', 'pixel art, retro'],
  ['Comic book', 'comic book style, halftone dots'],
];

const MEDIUM_LABELS: Record<string, string> = {
  photograph: 'Photograph', illustration: 'Illustration', '3d_render': '3D render', painting: 'Painting', graphic_design: 'Graphic design',
};

export function FormTab({ form, issues }: { form: FormState; issues: Issues }) {
  const { editForm } = useApp();
  const [selected, setSelected] = useState(0);
  const style = (patch: Partial<FormState>) => editForm({ ...patch, hasStyle: true });
  const camKey = camKeyFor(form);
  const presets = camKey === 'photo' ? PHOTO_PRESETS : ART_PRESETS;
  const presetValue = presets.find(([, v]) => v === form.cam)?.[1] ?? '';
  // Undo groups per element and field (`els.0.desc`), so typing a description, drawing a box and
  // moving it are separate undo steps even when they follow each other within the coalescing window.
  const setEl = (i: number, patch: Partial<FormElement>, group = `els.${i}.${Object.keys(patch).join(',')}`) =>
    editForm({ els: form.els.map((e, k) => (k === i ? { ...e, ...patch } : e)) }, group);
  const removeEl = (i: number) => {
    editForm({ els: form.els.filter((_, k) => k !== i) }, '');
    setSelected((s) => Math.max(0, s >= i ? s - 1 : s));
  };
  const addEl = () => {
    editForm({ els: [...form.els, blankElement()] }, '');
    setSelected(form.els.length);
  };
  const styleIssues = issues.style;
  return (
    <div className="space-y-4">
      <section className="card" aria-labelledby="sec-scene">
        <h3 id="sec-scene" className="card-title">Scene</h3>
        <label className="label" htmlFor="f-hld">High-level description <span aria-hidden="true">*</span></label>
        <textarea id="f-hld" rows={3} className={`input ${issues.hld ? 'input-invalid' : ''}`} value={form.hld}
          placeholder="One or two sentences: subject, scene, composition."
          aria-describedby={issues.hld ? 'i-hld' : undefined} onChange={(e) => editForm({ hld: e.target.value })} />
        <FieldIssues id="i-hld" messages={issues.hld} />
      </section>

      <section className="card" aria-labelledby="sec-style">
        <h3 id="sec-style" className="card-title">Style</h3>
        <div className="grid gap-3 sm:grid-cols-2">
          <div>
            <label className="label" htmlFor="f-aes">Aesthetics</label>
            <input id="f-aes" className="input" value={form.aes} placeholder="cinematic, ultra realistic"
              onChange={(e) => style({ aes: e.target.value })} />
          </div>
          <div>
            <label className="label" htmlFor="f-light">Lighting</label>
            <input id="f-light" className="input" value={form.light} placeholder="soft window light"
              onChange={(e) => style({ light: e.target.value })} />
          </div>
          <div>
            <label className="label" htmlFor="f-med">Medium</label>
            <select id="f-med" className="input" value={form.med}
              onChange={(e) => style({ med: e.target.value, camKey: undefined })}>
              {MEDIUMS.map((m) => <option key={m} value={m}>{MEDIUM_LABELS[m]}</option>)}
              {!(MEDIUMS as readonly string[]).includes(form.med) && <option value={form.med}>{form.med || '(empty)'}</option>}
            </select>
          </div>
          <div>
            <label className="label" htmlFor="f-cam-preset">{camKey === 'photo' ? 'Camera preset' : 'Art style preset'}</label>
            <select id="f-cam-preset" className="input" value={presetValue}
              onChange={(e) => { if (e.target.value) style({ cam: e.target.value }); }}>
              <option value="">— manual entry —</option>
              {presets.map(([l, v]) => <option key={l} value={v}>{l}</option>)}
            </select>
          </div>
        </div>
        <div className="mt-3">
          <label className="label" htmlFor="f-cam">{camKey === 'photo' ? 'Camera (photo)' : 'Art style'}</label>
          <input id="f-cam" className={`input ${issues.cam ? 'input-invalid' : ''}`} value={form.cam}
            placeholder={camKey === 'photo' ? '85mm f/1.4, shallow depth of field' : 'loose watercolor with ink outlines'}
            aria-describedby={issues.cam ? 'i-cam' : undefined} onChange={(e) => style({ cam: e.target.value })} />
          <FieldIssues id="i-cam" messages={issues.cam} />
        </div>
        <div className="mt-3">
          <label className="label" htmlFor="f-cp">Colour palette (comma-separated #RRGGBB)</label>
          <PaletteEditor value={form.cp} onChange={(cp) => style({ cp })} invalid={!!issues.cp} describedBy={issues.cp ? 'i-cp' : undefined} />
          <FieldIssues id="i-cp" messages={issues.cp} />
        </div>
        <FieldIssues messages={styleIssues} />
      </section>

      <section className="card" aria-labelledby="sec-comp">
        <h3 id="sec-comp" className="card-title">Composition</h3>
        <label className="label" htmlFor="f-bg">Background <span aria-hidden="true">*</span></label>
        <textarea id="f-bg" rows={3} className={`input ${issues.bg ? 'input-invalid' : ''}`} value={form.bg}
          placeholder="The environment: room, floor, walls, sky, weather."
          aria-describedby={issues.bg ? 'i-bg' : undefined} onChange={(e) => editForm({ bg: e.target.value })} />
        <FieldIssues id="i-bg" messages={issues.bg} />
        <FieldIssues messages={issues.composition} />

        <div className="mt-4 grid gap-4 lg:grid-cols-[minmax(0,1fr)_minmax(0,1fr)]">
          <div className="order-2 space-y-3 lg:order-1">
            <div className="flex items-center justify-between">
              <h4 className="text-sm font-semibold">Elements</h4>
              <button type="button" className="btn btn-sm" onClick={addEl}><IconPlus /> Add element</button>
            </div>
            <FieldIssues messages={issues.elements} />
            {form.els.map((el, i) => {
              const eIssues = elementIssues(issues, i);
              const id = `el-${i}`;
              return (
                <fieldset key={el.id} data-testid={`element-${i}`} onFocus={() => setSelected(i)} onClick={() => setSelected(i)}
                  className={`min-w-0 rounded-md border p-3 ${i === selected ? 'border-sky-500 ring-1 ring-sky-500/40' : 'border-neutral-200 dark:border-neutral-800'}`}>
                  <legend className="sr-only">Element {i + 1}</legend>
                  <div className="mb-2 flex items-center gap-2">
                    <span className="text-sm font-semibold">#{i + 1}</span>
                    <label className="sr-only" htmlFor={`${id}-type`}>Type of element {i + 1}</label>
                    <select id={`${id}-type`} className="input w-auto py-1 text-xs" value={el.type}
                      onChange={(e) => setEl(i, { type: e.target.value })}>
                      <option value="obj">object</option>
                      <option value="text">text</option>
                      {el.type !== 'obj' && el.type !== 'text' && <option value={el.type}>{el.type}</option>}
                    </select>
                    <span className="flex-1" />
                    {form.els.length > 1 && (
                      <button type="button" className="btn btn-ghost btn-sm text-red-600" aria-label={`Delete element ${i + 1}`}
                        onClick={(e) => { e.stopPropagation(); removeEl(i); }}>
                        <IconTrash />
                      </button>
                    )}
                  </div>
                  {el.type === 'text' && (
                    <div className="mb-2">
                      <label className="label" htmlFor={`${id}-text`}>Text (rendered verbatim)</label>
                      <input id={`${id}-text`} className="input" value={el.text} onChange={(e) => setEl(i, { text: e.target.value })} />
                    </div>
                  )}
                  <label className="label" htmlFor={`${id}-desc`}>{el.type === 'text' ? 'Full description (font, colour, placement)' : 'Description'}</label>
                  <textarea id={`${id}-desc`} rows={2} className="input" value={el.desc} onChange={(e) => setEl(i, { desc: e.target.value })} />
                  <div className="mt-2">
                    <div className="mb-1 flex items-center gap-2">
                      <span className="text-xs font-medium text-neutral-600 dark:text-neutral-400">Bounding box (0–1000)</span>
                      <span className="flex-1" />
                      <button type="button" className="btn btn-ghost btn-sm" onClick={() => setEl(i, { bbox: formatBBox(centredBox(500, 500)) }, '')}>Center</button>
                      {el.bbox && <button type="button" className="btn btn-ghost btn-sm" aria-label={`Clear box of element ${i + 1}`} onClick={() => setEl(i, { bbox: '' }, '')}>Clear</button>}
                    </div>
                    <BBoxFields idPrefix={`${id}-bbox`} value={el.bbox} onChange={(bbox) => setEl(i, { bbox })} />
                  </div>
                  {el.extra && Object.keys(el.extra).length > 0 && (
                    <p className="mt-2 text-xs text-neutral-500">Also kept: {Object.keys(el.extra).join(', ')}</p>
                  )}
                  <FieldIssues messages={eIssues} />
                </fieldset>
              );
            })}
          </div>
          <div className="order-1 lg:order-2">
            <div className="lg:sticky lg:top-16">
              <BBoxCanvas width={form.w} height={form.h} elements={form.els} selected={selected}
                onSelect={setSelected} onChange={(i, bbox, kind, gesture) => setEl(i, { bbox }, kind === 'clear' ? '' : `els.${i}.bbox.${kind}.${gesture ?? 'keys'}`)} />
            </div>
          </div>
        </div>
      </section>
    </div>
  );
}
