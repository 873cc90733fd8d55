import { describe, expect, it } from 'vitest';
import { defaultForm } from '../src/lib/caption';
import { BBOX_MESSAGE, elementIssues, emittedElementIndex, groupWarnings, validateForm, warningField } from '../src/lib/validate';
import { errorMessage, parseServerTime } from '../src/lib/api';

describe('validateForm', () => {
  it('flags bad palette colours, bad boxes, text elements without text, missing background', () => {
    const f = { ...defaultForm(), hld: 'h', cp: '#FFF, nope', bg: '' };
    f.els = [
      { id: '1', type: 'obj', text: '', bbox: '10,10,5,20', desc: 'd' },
      { id: '2', type: 'text', text: '', bbox: '', desc: 'title' },
    ];
    const issues = validateForm(f);
    expect(issues.cp).toEqual(["'nope' is not a #RRGGBB colour."]);
    expect(issues['el:0:bbox']).toEqual([BBOX_MESSAGE]);
    expect(issues['el:1:text']).toHaveLength(1);
    expect(issues.bg).toHaveLength(1);
    expect(issues.hld).toBeUndefined();
  });
  it('a complete form has no issues', () => {
    const f = { ...defaultForm(), hld: 'h', bg: 'b', cp: '#112233' };
    f.els = [{ id: '1', type: 'obj', text: '', bbox: '0,0,1000,1000', desc: 'd' }];
    expect(validateForm(f)).toEqual({});
  });
  it('sizes must be valid for the API', () => {
    expect(validateForm({ ...defaultForm(), w: 1000 }).size).toHaveLength(1);
  });
  it('more than 16 colours is an error', () => {
    const cp = Array.from({ length: 17 }, (_, i) => `#0000${(i + 16).toString(16).toUpperCase()}`).join(',');
    expect(validateForm({ ...defaultForm(), cp }).cp?.[0]).toMatch(/Too many colours \(17\)/);
  });
});

describe('verifier warnings placed next to fields', () => {
  it('maps message paths to fields', () => {
    expect(warningField('high_level_description: expected a string, got int')).toBe('hld');
    expect(warningField("style_description.color_palette[1]: '#fff' is not a valid #RRGGBB hex color")).toBe('cp');
    expect(warningField("style_description: expected one of 'photo' (for photo captions) or 'art_style' (for non-photo captions)")).toBe('cam');
    expect(warningField('style_description: key order is (medium), expected (aesthetics, lighting, medium, art_style)')).toBe('style');
    expect(warningField("compositional_deconstruction: 'background' must exist")).toBe('bg');
    expect(warningField('elements[2].bbox: ymin (600) > ymax (100)')).toBe('el:2:bbox');
    expect(warningField("elements[0]: 'type' must be one of {'obj', 'text'}")).toBe('el:0:type');
    expect(warningField('root: unknown keys [foo] (not in schema)')).toBe('root');
  });
  it('element indexes are translated past blank form elements', () => {
    const f = defaultForm();
    f.els = [
      { id: 'a', type: 'obj', text: '', bbox: '', desc: '' },
      { id: 'b', type: 'obj', text: '', bbox: '', desc: 'x' },
    ];
    const map = emittedElementIndex(f);
    expect(map).toEqual([1]);
    const g = groupWarnings(['elements[0]: key order is (type), expected (type, desc)'], map);
    expect(elementIssues(g, 1)).toHaveLength(1);
    expect(elementIssues(g, 0)).toHaveLength(0);
  });
});

describe('API helpers', () => {
  it('errorMessage prefers body.error, then 422 detail, else HTTP status', () => {
    expect(errorMessage(409, 'Conflict', { error: 'A generation is already running.' })).toBe('A generation is already running.');
    expect(errorMessage(422, 'Unprocessable', { detail: [{ msg: 'must be a multiple of 16' }] })).toBe('must be a multiple of 16');
    expect(errorMessage(500, 'Internal Server Error', 'boom')).toBe('HTTP 500: Internal Server Error');
  });
  it('parseServerTime reads zone-less server times as UTC', () => {
    expect(parseServerTime('2026-06-16 10:00:00')?.toISOString()).toBe('2026-06-16T10:00:00.000Z');
    expect(parseServerTime('2026-06-16T10:00:00+02:00')?.toISOString()).toBe('2026-06-16T08:00:00.000Z');
    expect(parseServerTime('nonsense')).toBeNull();
  });
});
