// Structured caption <-> editor form mapping (docs/APP.md §4.3, §8, §9.4.2).
//
// The form holds one field per caption value the editor can show, plus
// `extra` bags that keep every key the form has no field for (unknown keys,
// element palettes), so that JSON -> form -> JSON never loses data.
// Captions built from the form always use the canonical key order of §8.2-8.3.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export type ElementType = 'obj' | 'text';

export interface FormElement {
  id: string;
  type: ElementType | string;
  text: string;
  /** "y1,x1,y2,x2" or "" (docs/APP.md §4.3). */
  bbox: string;
  desc: string;
  /** Keys of the element the form has no field for (color_palette, unknown keys). */
  extra?: JsonObject;
}

export type Preset = 'V4_TURBO_12' | 'V4_DEFAULT_20' | 'V4_QUALITY_48';
export type ImageFormat = 'png' | 'webp' | 'jpeg';

export interface FormState {
  hld: string;
  aes: string;
  light: string;
  /** Camera text (photographs) or art style (everything else). */
  cam: string;
  med: string;
  /** Colour palette as comma-separated text. */
  cp: string;
  bg: string;
  els: FormElement[];
  w: number;
  h: number;
  preset: Preset;
  /** Seed as typed; "" = random on Generate. */
  seed: string;
  seedLocked?: boolean;
  format: ImageFormat;
  /** The caption JSON text: authoritative when non-empty. */
  rawJson: string;
  /** Whether the caption has a style block (kept absent for captions without one). */
  hasStyle?: boolean;
  /** Key used for `cam`, remembered from a loaded caption. */
  camKey?: 'photo' | 'art_style';
  /** Unknown keys at the top level, inside style_description, inside compositional_deconstruction. */
  extra?: { root?: JsonObject; style?: JsonObject; comp?: JsonObject; stylePresent?: string[] };
  _savedAt?: string;
}

export const MEDIUMS = ['photograph', 'illustration', '3d_render', 'painting', 'graphic_design'] as const;

const ROOT_KEYS = ['high_level_description', 'style_description', 'compositional_deconstruction'];
const STYLE_KEYS = ['aesthetics', 'lighting', 'photo', 'medium', 'art_style', 'color_palette'];
const COMP_KEYS = ['background', 'elements'];
const ELEMENT_KEYS = ['type', 'bbox', 'text', 'desc'];

let idCounter = 0;
export function newElementId(): string {
  idCounter += 1;
  return `el-${Date.now().toString(36)}-${idCounter}`;
}

export function blankElement(type: ElementType = 'obj'): FormElement {
  return { id: newElementId(), type, text: '', bbox: '', desc: '' };
}

export function defaultForm(): FormState {
  return {
    hld: '',
    aes: '',
    light: '',
    cam: '',
    med: 'photograph',
    cp: '',
    bg: '',
    els: [blankElement()],
    w: 1024,
    h: 1024,
    preset: 'V4_TURBO_12',
    seed: '',
    seedLocked: false,
    format: 'webp',
    rawJson: '',
    hasStyle: true,
  };
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A medium is "photographic" when it names a photograph ("photograph", "digital photograph"...). */
export function isPhotoMedium(med: string): boolean {
  return /photo/i.test(med);
}

export function camKeyFor(form: Pick<FormState, 'med' | 'camKey'>): 'photo' | 'art_style' {
  return form.camKey ?? (isPhotoMedium(form.med) ? 'photo' : 'art_style');
}

function pick(obj: JsonObject, known: string[]): JsonObject | undefined {
  const out: JsonObject = {};
  let any = false;
  for (const [k, v] of Object.entries(obj)) {
    if (!known.includes(k)) {
      out[k] = v;
      any = true;
    }
  }
  return any ? out : undefined;
}

function str(v: Json | undefined): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

// ------------------------------------------------------------------ palette

/** Normalise one colour: "#abc" -> "#AABBCC", "ff0000" -> "#FF0000"; null when not a colour. */
export function normalizeHex(value: string): string | null {
  let v = value.trim();
  if (!v) return null;
  if (!v.startsWith('#')) v = `#${v}`;
  if (/^#[0-9a-fA-F]{3}$/.test(v)) v = `#${v[1]}${v[1]}${v[2]}${v[2]}${v[3]}${v[3]}`;
  if (!/^#[0-9a-fA-F]{6}$/.test(v)) return null;
  return v.toUpperCase();
}

export function paletteTokens(cp: string): string[] {
  return cp
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
}

/** Upper-case, expand #RGB, de-duplicate; invalid tokens are kept (the verifier reports them). */
export function normalizePalette(cp: string): string[] {
  const out: string[] = [];
  for (const t of paletteTokens(cp)) {
    const n = normalizeHex(t) ?? t;
    if (!out.includes(n)) out.push(n);
  }
  return out;
}

// ------------------------------------------------------------------ bbox

export type BBox = [number, number, number, number];

/** Parse "y1,x1,y2,x2" into four integers 0..1000 with min <= max; null if invalid. */
export function parseBBox(text: string): BBox | null {
  const parts = text.split(',').map((t) => t.trim());
  if (parts.length !== 4 || parts.some((p) => !/^-?\d+$/.test(p))) return null;
  const v = parts.map((p) => Number(p)) as BBox;
  if (v.some((x) => x < 0 || x > 1000)) return null;
  if (v[0] > v[2] || v[1] > v[3]) return null;
  return v;
}

export function formatBBox(b: BBox | null): string {
  return b ? b.map((x) => Math.round(x)).join(',') : '';
}

// ------------------------------------------------------------------ caption -> form

/** Derive form fields from a caption; generation settings and rawJson are taken from `base`. */
export function captionToForm(caption: JsonObject, base: FormState = defaultForm()): FormState {
  const style = caption.style_description;
  const comp = caption.compositional_deconstruction;
  const form: FormState = {
    ...base,
    hld: str(caption.high_level_description),
    aes: '',
    light: '',
    cam: '',
    med: 'photograph',
    cp: '',
    bg: '',
    els: [],
    hasStyle: style !== undefined,
    camKey: undefined,
    extra: {},
  };
  const extra = form.extra!;
  const rootExtra = pick(caption, ROOT_KEYS);
  if (rootExtra) extra.root = rootExtra;
  if (isObject(style)) {
    form.aes = str(style.aesthetics);
    form.light = str(style.lighting);
    form.med = style.medium === undefined ? 'photograph' : str(style.medium);
    if (style.photo !== undefined) {
      form.cam = str(style.photo);
      form.camKey = 'photo';
    } else if (style.art_style !== undefined) {
      form.cam = str(style.art_style);
      form.camKey = 'art_style';
    }
    if (Array.isArray(style.color_palette)) form.cp = style.color_palette.map((c) => str(c)).join(', ');
    else if (style.color_palette !== undefined) form.cp = str(style.color_palette);
    extra.stylePresent = STYLE_KEYS.filter((k) => k in style);
    const se = pick(style, STYLE_KEYS);
    if (se) extra.style = se;
  } else if (style !== undefined) {
    // Not an object: keep it verbatim and let the verifier complain.
    extra.root = { ...(extra.root ?? {}), style_description: style };
    form.hasStyle = false;
  }
  if (isObject(comp)) {
    form.bg = str(comp.background);
    const ce = pick(comp, COMP_KEYS);
    if (ce) extra.comp = ce;
    if (Array.isArray(comp.elements)) {
      for (const el of comp.elements) {
        if (!isObject(el)) continue;
        const fe: FormElement = {
          id: newElementId(),
          type: el.type === undefined ? 'obj' : str(el.type),
          text: str(el.text),
          bbox: Array.isArray(el.bbox) ? el.bbox.map((x) => str(x)).join(',') : str(el.bbox),
          desc: str(el.desc),
        };
        const ee = pick(el, ELEMENT_KEYS);
        if (ee) fe.extra = ee;
        if (el.type === undefined && !fe.desc && !fe.text && !ee) continue;
        form.els.push(fe);
      }
    }
  } else if (comp !== undefined) {
    extra.root = { ...(extra.root ?? {}), compositional_deconstruction: comp };
  }
  if (form.els.length === 0) form.els.push(blankElement());
  if (!extra.root && !extra.style && !extra.comp && !extra.stylePresent) form.extra = undefined;
  return form;
}

// ------------------------------------------------------------------ form -> caption

function bboxJson(text: string): Json | undefined {
  const t = text.trim();
  if (!t) return undefined;
  const b = parseBBox(t);
  if (b) return b;
  // Not a valid box: keep the numbers the user typed so the verifier can point at them.
  const parts = t.split(',').map((p) => p.trim());
  if (parts.every((p) => /^-?\d+(\.\d+)?$/.test(p))) return parts.map(Number);
  return undefined;
}

function isBlankElement(el: FormElement): boolean {
  return !el.desc.trim() && !el.text.trim() && !el.bbox.trim() && !el.extra && el.type === 'obj';
}

/** Build the caption from the form in the canonical key order (docs/APP.md §8.2-8.3). */
export function formToCaption(form: FormState): JsonObject {
  const extra = form.extra ?? {};
  const out: JsonObject = { high_level_description: form.hld };
  const palette = normalizePalette(form.cp);
  const stylePresent = extra.stylePresent ?? [];
  const hasStyle =
    form.hasStyle !== false ||
    !!(form.aes.trim() || form.light.trim() || form.cam.trim() || palette.length);
  if (hasStyle) {
    const style: JsonObject = {};
    const key = camKeyFor(form);
    style.aesthetics = form.aes;
    style.lighting = form.light;
    const cam = form.cam.trim() || stylePresent.includes(key) ? form.cam : undefined;
    if (key === 'photo') {
      if (cam !== undefined) style.photo = cam;
      style.medium = form.med;
    } else {
      style.medium = form.med;
      if (cam !== undefined) style.art_style = cam;
    }
    if (palette.length || stylePresent.includes('color_palette')) style.color_palette = palette;
    Object.assign(style, extra.style ?? {});
    out.style_description = style;
  }
  const elements: Json[] = [];
  for (const el of form.els) {
    if (isBlankElement(el)) continue;
    const e: JsonObject = { type: el.type };
    const bbox = bboxJson(el.bbox);
    if (bbox !== undefined) e.bbox = bbox;
    if (el.type === 'text') e.text = el.text;
    e.desc = el.desc;
    const ee = el.extra ?? {};
    if ('color_palette' in ee) e.color_palette = ee.color_palette;
    for (const [k, v] of Object.entries(ee)) if (k !== 'color_palette') e[k] = v;
    elements.push(e);
  }
  const comp: JsonObject = { background: form.bg, elements, ...(extra.comp ?? {}) };
  // Root extras may also carry a non-object style/composition kept verbatim.
  const rootExtra = extra.root ?? {};
  if ('compositional_deconstruction' in rootExtra) {
    out.compositional_deconstruction = rootExtra.compositional_deconstruction;
  } else {
    out.compositional_deconstruction = comp;
  }
  if ('style_description' in rootExtra && !hasStyle) {
    const { compositional_deconstruction: c, ...rest } = out;
    return { ...rest, style_description: rootExtra.style_description, compositional_deconstruction: c, ...stripKnown(rootExtra) };
  }
  return { ...out, ...stripKnown(rootExtra) };
}

function stripKnown(o: JsonObject): JsonObject {
  const r: JsonObject = {};
  for (const [k, v] of Object.entries(o)) if (!ROOT_KEYS.includes(k)) r[k] = v;
  return r;
}

/**
 * JSON with 2-space indentation, except that an array of numbers (a bbox) stays on one line:
 * `"bbox": [100, 200, 500, 600]` instead of six lines. Same content as JSON.stringify(v, null, 2).
 */
export function prettyJson(v: Json): string {
  return prettyAt(v, '');
}

function prettyAt(v: Json, pad: string): string {
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    if (v.every((x) => typeof x === 'number')) return `[${v.map((x) => JSON.stringify(x)).join(', ')}]`;
    const inner = pad + '  ';
    return `[\n${v.map((x) => inner + prettyAt(x, inner)).join(',\n')}\n${pad}]`;
  }
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v).filter(([, x]) => x !== undefined);
    if (entries.length === 0) return '{}';
    const inner = pad + '  ';
    return `{\n${entries.map(([k, x]) => `${inner}${JSON.stringify(k)}: ${prettyAt(x, inner)}`).join(',\n')}\n${pad}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** The caption Generate sends: the raw JSON as typed when non-empty, else the form-built one. */
export function captionForGenerate(form: FormState): { caption: JsonObject } | { error: string } {
  const raw = form.rawJson.trim();
  if (!raw) return { caption: formToCaption(form) };
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (e) {
    return { error: `Invalid JSON: ${(e as Error).message}` };
  }
  if (!isObject(v)) return { error: 'Raw JSON must be a JSON object.' };
  return { caption: v };
}

/** Apply a form edit: the JSON text is rebuilt from the form (docs/APP.md §9.4.2). */
export function withFormEdit(form: FormState, patch: Partial<FormState>): FormState {
  const next = { ...form, ...patch };
  next.rawJson = prettyJson(formToCaption(next));
  return next;
}

export type RawEditResult = { form: FormState; error: JsonErrorInfo | null };

/** Apply a raw JSON edit: valid object -> form re-derived (text kept verbatim); invalid -> text kept, form untouched. */
export function withRawEdit(form: FormState, text: string): RawEditResult {
  if (!text.trim()) return { form: { ...form, rawJson: text }, error: null };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { form: { ...form, rawJson: text }, error: locateJsonError(text) };
  }
  if (!isObject(v)) {
    return {
      form: { ...form, rawJson: text },
      error: { pos: 0, line: 1, col: 1, message: 'The caption must be a JSON object ({...}).' },
    };
  }
  const derived = captionToForm(v, form);
  // Keep element ids stable where possible so focus is not lost while typing.
  derived.els = derived.els.map((el, i) => (form.els[i] ? { ...el, id: form.els[i].id } : el));
  return { form: { ...derived, rawJson: text }, error: null };
}

/** Restore a saved form (prompt history, auto-save): rawJson wins when it parses. */
export function restoreForm(saved: unknown): FormState {
  const base = defaultForm();
  if (!isObject(saved)) return base;
  const s = saved as unknown as Partial<FormState>;
  const merged: FormState = {
    ...base,
    ...s,
    els: Array.isArray(s.els) && s.els.length
      ? s.els.map((e) => ({ ...blankElement(), ...e, id: e.id ? String(e.id) : newElementId() }))
      : base.els,
    w: Number(s.w) || base.w,
    h: Number(s.h) || base.h,
    seed: s.seed === undefined || s.seed === null ? '' : String(s.seed),
    // Forms saved before the lock existed: a typed seed was the seed used.
    seedLocked: typeof s.seedLocked === 'boolean' ? s.seedLocked : s.seed !== undefined && s.seed !== null && String(s.seed) !== '',
    rawJson: typeof s.rawJson === 'string' ? s.rawJson : '',
  };
  if (!['V4_TURBO_12', 'V4_DEFAULT_20', 'V4_QUALITY_48'].includes(merged.preset)) merged.preset = base.preset;
  if (!['png', 'webp', 'jpeg'].includes(merged.format)) merged.format = base.format;
  const raw = merged.rawJson.trim();
  if (raw) {
    try {
      const v = JSON.parse(raw);
      if (isObject(v)) return { ...captionToForm(v, merged), rawJson: merged.rawJson };
    } catch {
      /* keep the saved text as is (never lost) and the saved form fields */
    }
    return merged;
  }
  return merged;
}

// ------------------------------------------------------------------ JSON error position

export interface JsonErrorInfo {
  pos: number;
  line: number;
  col: number;
  message: string;
}

function lineCol(text: string, pos: number): { line: number; col: number } {
  let line = 1;
  let col = 1;
  for (let i = 0; i < pos && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      col = 1;
    } else col++;
  }
  return { line, col };
}

/**
 * Find where JSON text stops being valid. A small recursive-descent scanner
 * (no values built) so the position does not depend on the browser's message.
 */
export function locateJsonError(text: string): JsonErrorInfo | null {
  let i = 0;
  const n = text.length;
  class Fail extends Error {
    constructor(
      public at: number,
      msg: string,
    ) {
      super(msg);
    }
  }
  const ws = () => {
    while (i < n && ' \t\n\r'.includes(text[i])) i++;
  };
  const fail = (msg: string): never => {
    throw new Fail(i, msg);
  };
  const value = (): void => {
    ws();
    if (i >= n) fail('Unexpected end of JSON');
    const ch = text[i];
    if (ch === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('Expected a property name in double quotes');
        string();
        ws();
        if (text[i] !== ':') fail("Expected ':' after property name");
        i++;
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        fail(i >= n ? 'Unexpected end of JSON' : "Expected ',' or '}' after property value");
      }
    }
    if (ch === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        fail(i >= n ? 'Unexpected end of JSON' : "Expected ',' or ']' after array element");
      }
    }
    if (ch === '"') return string();
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (m && m[0].length) {
      i += m[0].length;
      return;
    }
    for (const lit of ['true', 'false', 'null']) {
      if (text.startsWith(lit, i)) {
        i += lit.length;
        return;
      }
    }
    fail(`Unexpected character '${ch}'`);
  };
  const string = (): void => {
    i++; // opening quote
    while (i < n) {
      const c = text[i];
      if (c === '"') {
        i++;
        return;
      }
      if (c === '\\') {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail('Bad unicode escape');
          i += 6;
          continue;
        }
        if (!e || !'"\\/bfnrt'.includes(e)) fail('Bad escape character');
        i += 2;
        continue;
      }
      if (c < ' ') fail('Control character in string (use \\n)');
      i++;
    }
    fail('Unterminated string');
  };
  try {
    value();
    ws();
    if (i < n) fail('Unexpected text after the JSON value');
    return null;
  } catch (e) {
    if (!(e instanceof Fail)) throw e;
    const { line, col } = lineCol(text, e.at);
    return { pos: e.at, line, col, message: e.message };
  }
}
