import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  captionForGenerate, captionToForm, defaultForm, formToCaption, locateJsonError, normalizeHex, normalizePalette,
  parseBBox, prettyJson, restoreForm, withFormEdit, withRawEdit, type JsonObject,
} from '../src/lib/caption';

const EXAMPLES = join(__dirname, '..', '..', 'examples');
const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.json')).sort();

describe('example captions round trip (caption -> form -> caption)', () => {
  it('finds the example captions', () => {
    expect(files.length).toBeGreaterThanOrEqual(5);
  });
  for (const f of files) {
    it(`${f} survives the round trip with identical keys, values and key order`, () => {
      const caption = JSON.parse(readFileSync(join(EXAMPLES, f), 'utf8')) as JsonObject;
      const back = formToCaption(captionToForm(caption));
      expect(back).toEqual(caption);
      // toEqual ignores key order: compare serialisations too.
      expect(JSON.stringify(back)).toBe(JSON.stringify(caption));
      // And the round trip through the saved form (form_json) as well.
      const restored = restoreForm(JSON.parse(JSON.stringify({ ...captionToForm(caption), rawJson: '' })));
      expect(JSON.stringify(formToCaption(restored))).toBe(JSON.stringify(caption));
    });
  }
});

describe('form -> caption', () => {
  it('photo captions use the canonical order aesthetics, lighting, photo, medium, color_palette', () => {
    const f = { ...defaultForm(), hld: 'A cat', aes: 'calm', light: 'soft', cam: '85mm', med: 'photograph', cp: '#ff0000, abc', bg: 'room' };
    const c = formToCaption(f);
    expect(Object.keys(c)).toEqual(['high_level_description', 'style_description', 'compositional_deconstruction']);
    expect(Object.keys(c.style_description as object)).toEqual(['aesthetics', 'lighting', 'photo', 'medium', 'color_palette']);
    expect((c.style_description as JsonObject).color_palette).toEqual(['#FF0000', '#AABBCC']);
  });
  it('non-photo captions use aesthetics, lighting, medium, art_style', () => {
    const c = formToCaption({ ...defaultForm(), cam: 'watercolor', med: 'illustration' });
    expect(Object.keys(c.style_description as object)).toEqual(['aesthetics', 'lighting', 'medium', 'art_style']);
  });
  it('elements: obj -> type, bbox, desc; text -> type, bbox, text, desc; blank elements are skipped', () => {
    const f = defaultForm();
    f.els = [
      { id: 'a', type: 'obj', text: '', bbox: '10, 20, 30, 40', desc: 'a box' },
      { id: 'b', type: 'obj', text: '', bbox: '', desc: '' },
      { id: 'c', type: 'text', text: 'HELLO', bbox: '0,0,100,1000', desc: 'title' },
    ];
    const els = (formToCaption(f).compositional_deconstruction as JsonObject).elements as JsonObject[];
    expect(els).toHaveLength(2);
    expect(Object.keys(els[0])).toEqual(['type', 'bbox', 'desc']);
    expect(els[0].bbox).toEqual([10, 20, 30, 40]);
    expect(Object.keys(els[1])).toEqual(['type', 'bbox', 'text', 'desc']);
  });
  it('keeps unknown keys at every level and element palettes after a form edit', () => {
    const caption: JsonObject = {
      high_level_description: 'x',
      style_description: { aesthetics: 'a', lighting: 'l', medium: 'painting', art_style: 's', mood: 'eerie' },
      compositional_deconstruction: {
        background: 'bg',
        elements: [{ type: 'obj', desc: 'd', color_palette: ['#112233'], weight: 2 }],
        notes: 'keep me',
      },
      custom_root: { nested: [1, 2] },
    };
    const form = captionToForm(caption);
    const edited = withFormEdit(form, { hld: 'changed' });
    const back = JSON.parse(edited.rawJson);
    expect(back.high_level_description).toBe('changed');
    expect(back.custom_root).toEqual({ nested: [1, 2] });
    expect(back.style_description.mood).toBe('eerie');
    expect(back.compositional_deconstruction.notes).toBe('keep me');
    expect(back.compositional_deconstruction.elements[0]).toEqual({ type: 'obj', desc: 'd', color_palette: ['#112233'], weight: 2 });
  });
  it('captions without a style block stay without one; typing a style field adds it', () => {
    const form = captionToForm({ high_level_description: 'h', compositional_deconstruction: { background: 'b', elements: [] } });
    expect(formToCaption(form).style_description).toBeUndefined();
    expect(formToCaption({ ...form, aes: 'moody' }).style_description).toBeDefined();
  });
});

describe('raw JSON editing', () => {
  it('valid JSON re-derives the form and keeps the text verbatim', () => {
    const text = '{"compositional_deconstruction": {"background": "sea", "elements": [{"type": "text", "text": "HI", "desc": "big"}]}, "high_level_description": "boat"}';
    const r = withRawEdit(defaultForm(), text);
    expect(r.error).toBeNull();
    expect(r.form.rawJson).toBe(text);
    expect(r.form.hld).toBe('boat');
    expect(r.form.bg).toBe('sea');
    expect(r.form.els[0]).toMatchObject({ type: 'text', text: 'HI', desc: 'big' });
  });
  it('invalid JSON keeps the text, leaves the form untouched and reports the position', () => {
    const base = { ...defaultForm(), hld: 'before' };
    const text = '{\n  "high_level_description": "x",\n  "style_description": {\n    "aesthetics": "a"\n    "lighting": "b"\n  }\n}';
    const r = withRawEdit(base, text);
    expect(r.form.rawJson).toBe(text);
    expect(r.form.hld).toBe('before');
    expect(r.error).toMatchObject({ line: 5, col: 5 });
    expect(text[r.error!.pos]).toBe('"');
  });
  it('a JSON value that is not an object is reported', () => {
    expect(withRawEdit(defaultForm(), '[1,2]').error?.message).toMatch(/object/);
    expect(captionForGenerate({ ...defaultForm(), rawJson: '[1]' })).toEqual({ error: 'Raw JSON must be a JSON object.' });
  });
  it('Generate sends the raw JSON as typed (custom order kept), or the form-built caption when empty', () => {
    const text = '{"compositional_deconstruction":{"elements":[],"background":"b"},"zzz":1}';
    const r = captionForGenerate({ ...defaultForm(), rawJson: text });
    expect('caption' in r && JSON.stringify(r.caption)).toBe(text);
    const f = { ...defaultForm(), hld: 'from form' };
    const r2 = captionForGenerate(f);
    expect('caption' in r2 && r2.caption.high_level_description).toBe('from form');
  });
  it('locateJsonError finds errors in several shapes and accepts valid JSON', () => {
    expect(locateJsonError('{"a": [1, 2,]}')?.pos).toBe(12);
    expect(locateJsonError('{"a": "unterminated')?.message).toMatch(/Unterminated/);
    expect(locateJsonError('{"a": 1} x')?.message).toMatch(/after the JSON/);
    expect(locateJsonError('{"a": tru}')?.col).toBe(7);
    expect(locateJsonError(prettyJson({ a: [1, { b: 'ü\n' }], c: null }))).toBeNull();
  });
  it('prettyJson: 2-space indentation with each number array (a bbox) on one line, same content', () => {
    const v = { a: { bbox: [100, 200, 500, 600], tags: ['x', 'y'], e: [], o: {} }, s: '[1,\n2]', n: null };
    const text = prettyJson(v);
    expect(JSON.parse(text)).toEqual(v);
    expect(text).toBe('{\n  "a": {\n    "bbox": [100, 200, 500, 600],\n    "tags": [\n      "x",\n      "y"\n    ],\n    "e": [],\n    "o": {}\n  },\n  "s": "[1,\\n2]",\n  "n": null\n}');
    expect(prettyJson({ k: 'v', m: [true, 1] })).toBe(JSON.stringify({ k: 'v', m: [true, 1] }, null, 2));
  });
});

describe('helpers', () => {
  it('normalizeHex / normalizePalette', () => {
    expect(normalizeHex('#abc')).toBe('#AABBCC');
    expect(normalizeHex('1b2a49')).toBe('#1B2A49');
    expect(normalizeHex('#12345')).toBeNull();
    expect(normalizePalette('#fff, #FFFFFF, red, #000')).toEqual(['#FFFFFF', 'red', '#000000']);
  });
  it('parseBBox accepts four ints 0..1000 with min <= max only', () => {
    expect(parseBBox('1,2,3,4')).toEqual([1, 2, 3, 4]);
    expect(parseBBox(' 0 , 0 , 1000 , 1000 ')).toEqual([0, 0, 1000, 1000]);
    expect(parseBBox('1,2,3')).toBeNull();
    expect(parseBBox('1,2,3,1001')).toBeNull();
    expect(parseBBox('500,0,100,10')).toBeNull();
    expect(parseBBox('1.5,2,3,4')).toBeNull();
  });
  it('restoreForm: rawJson wins when it parses; unparsable rawJson is kept with the saved fields', () => {
    const saved = { ...defaultForm(), hld: 'old', rawJson: '{"high_level_description":"new","compositional_deconstruction":{"background":"","elements":[]}}' };
    expect(restoreForm(saved).hld).toBe('new');
    const broken = { ...defaultForm(), hld: 'kept', rawJson: '{"oops' };
    const r = restoreForm(broken);
    expect(r.hld).toBe('kept');
    expect(r.rawJson).toBe('{"oops');
    expect(restoreForm({ preset: 'BOGUS', format: 'gif', w: 'x' }).preset).toBe('V4_TURBO_12');
  });
});
