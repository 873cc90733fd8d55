// Client-side checks (instant feedback) and placement of the server
// verifier's warnings (POST /api/verify, docs/APP.md §8.5) next to form fields.
import { normalizeHex, paletteTokens, parseBBox, type FormElement, type FormState } from './caption';
import { isValidSize, MAX_SIZE, MIN_SIZE, SIZE_MULTIPLE } from './sizes';

/** Field keys: hld, aes, light, cam, med, cp, style, bg, elements, root, size, el:<i>, el:<i>:bbox|text|desc|type|color_palette. */
export type Issues = Record<string, string[]>;

export const BBOX_MESSAGE = 'BBox must be four numbers from 0 to 1000.';

function add(issues: Issues, key: string, msg: string) {
  (issues[key] ??= []).push(msg);
}

function isBlank(el: FormElement) {
  return !el.desc.trim() && !el.text.trim() && !el.bbox.trim() && !el.extra && el.type === 'obj';
}

/** Local validation of the form (the server verifier remains the reference). */
export function validateForm(form: FormState): Issues {
  const issues: Issues = {};
  if (!form.hld.trim()) add(issues, 'hld', 'A high-level description is strongly recommended.');
  const tokens = paletteTokens(form.cp);
  if (tokens.length > 16) add(issues, 'cp', `Too many colours (${tokens.length}); at most 16.`);
  for (const t of tokens) if (!normalizeHex(t)) add(issues, 'cp', `'${t}' is not a #RRGGBB colour.`);
  if (!form.bg.trim()) add(issues, 'bg', 'Background is required.');
  const used = form.els.filter((e) => !isBlank(e));
  if (used.length === 0) add(issues, 'elements', 'Add at least one element.');
  form.els.forEach((el, i) => {
    if (isBlank(el)) return;
    if (el.type !== 'obj' && el.type !== 'text') add(issues, `el:${i}:type`, "Type must be 'obj' or 'text'.");
    if (el.bbox.trim() && !parseBBox(el.bbox)) add(issues, `el:${i}:bbox`, BBOX_MESSAGE);
    if (el.type === 'text' && !el.text.trim()) add(issues, `el:${i}:text`, 'A text element needs the text to render.');
    if (!el.desc.trim()) add(issues, `el:${i}:desc`, 'A description is required.');
  });
  if (!isValidSize(form.w) || !isValidSize(form.h)) add(issues, 'size', `Width and height must be ${MIN_SIZE}–${MAX_SIZE} and multiples of ${SIZE_MULTIPLE}.`);
  return issues;
}

/** Index map caption element index -> form element index (blank form elements are not emitted). */
export function emittedElementIndex(form: FormState): number[] {
  const map: number[] = [];
  form.els.forEach((el, i) => {
    if (!isBlank(el)) map.push(i);
  });
  return map;
}

/** Which form field a verifier warning concerns. */
export function warningField(warning: string, elementMap?: number[]): string {
  const m = /^elements\[(\d+)\](?:\.(\w+))?/.exec(warning);
  if (m) {
    const ci = Number(m[1]);
    const fi = elementMap && elementMap[ci] !== undefined ? elementMap[ci] : ci;
    if (m[2]) return `el:${fi}:${m[2]}`;
    if (/'type'/.test(warning)) return `el:${fi}:type`;
    return `el:${fi}`;
  }
  if (warning.startsWith('high_level_description')) return 'hld';
  if (warning.startsWith('style_description.color_palette')) return 'cp';
  if (warning.startsWith('style_description')) {
    if (/'photo'|'art_style'/.test(warning)) return 'cam';
    return 'style';
  }
  if (warning.startsWith('compositional_deconstruction.background') || /'background' must exist/.test(warning)) return 'bg';
  if (warning.startsWith('compositional_deconstruction.elements') || /'elements' must exist/.test(warning)) return 'elements';
  if (warning.startsWith('compositional_deconstruction')) return 'composition';
  return 'root';
}

export function groupWarnings(warnings: string[], elementMap?: number[]): Issues {
  const out: Issues = {};
  for (const w of warnings) add(out, warningField(w, elementMap), w);
  return out;
}

/** Issues for one element (all keys starting with el:<i>). */
export function elementIssues(issues: Issues, i: number): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(issues)) if (k === `el:${i}` || k.startsWith(`el:${i}:`)) out.push(...v);
  return out;
}
