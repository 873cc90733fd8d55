import { describe, expect, it } from 'vitest';
import { ASPECT_PRESETS, estimateSeconds, formatDuration, isValidSize, matchingAspect, ratioText, referenceSeconds, snapSize } from '../src/lib/sizes';
import { centredBox, moveBox, resizeBox, spanBox, MIN_BOX } from '../src/components/BBoxCanvas';

describe('sizes', () => {
  it('every aspect preset is valid for the API (128..2048, multiple of 16)', () => {
    expect(ASPECT_PRESETS).toHaveLength(7);
    for (const p of ASPECT_PRESETS) {
      expect(isValidSize(p.w), `${p.name} width`).toBe(true);
      expect(isValidSize(p.h), `${p.name} height`).toBe(true);
    }
    expect(ASPECT_PRESETS.find((p) => p.name === 'Social')).toEqual({ name: 'Social', w: 1584, h: 384 });
  });
  it('snapSize rounds to the nearest multiple of 16 and clamps to 128..2048', () => {
    expect(snapSize(1000)).toBe(1008);
    expect(snapSize(1031)).toBe(1024);
    expect(snapSize(1032)).toBe(1040);
    expect(snapSize(50)).toBe(128);
    expect(snapSize(5000)).toBe(2048);
    expect(snapSize('  300 ')).toBe(304);
    expect(snapSize('', 512)).toBe(512);
    expect(snapSize('abc', 768)).toBe(768);
  });
  it('matchingAspect and ratioText', () => {
    expect(matchingAspect(1536, 1024)?.name).toBe('Landscape');
    expect(matchingAspect(1000, 1000)).toBeUndefined();
    expect(ratioText(1536, 1024)).toBe('3:2');
    expect(ratioText(1920, 1088)).toBe('1.765:1');
    expect(ratioText(2048, 768)).toBe('8:3');
  });
  it('estimate: the reference formula (1024² Quality 5m 50s, Turbo 1m 28s), or the steps measured on this machine', () => {
    expect(formatDuration(referenceSeconds(1024, 1024, 'V4_QUALITY_48'))).toBe('5m 50s');
    expect(formatDuration(referenceSeconds(1024, 1024, 'V4_TURBO_12'))).toBe('1m 28s');
    const t = { step_seconds: 0.5, width: 256, height: 256, encode_seconds: 2, decode_seconds: 1 };
    // encode + (steps x step + decode) x pixel ratio
    expect(estimateSeconds(512, 512, 'V4_TURBO_12', t)).toBeCloseTo(2 + (12 * 0.5 + 1) * 4);
    expect(estimateSeconds(512, 512, 'V4_TURBO_12', null)).toBeNull();
    expect(estimateSeconds(512, 512, 'V4_TURBO_12', { ...t, step_seconds: 0 })).toBeNull();
    expect(formatDuration(42.4)).toBe('42s');
    expect(formatDuration(0.3)).toBe('under 1s');
    expect(formatDuration(0)).toBe('under 1s');
  });
});

describe('bbox geometry', () => {
  it('centredBox stays inside the frame', () => {
    expect(centredBox(500, 500)).toEqual([290, 290, 710, 710]);
    expect(centredBox(0, 1000)).toEqual([0, 580, 420, 1000]);
  });
  it('moveBox keeps the size and clamps', () => {
    expect(moveBox([100, 100, 300, 400], 50, -20)).toEqual([150, 80, 350, 380]);
    expect(moveBox([100, 100, 300, 400], -500, 900)).toEqual([0, 700, 200, 1000]);
  });
  it('resizeBox moves one corner and keeps a minimum size', () => {
    expect(resizeBox([100, 100, 300, 300], 'se', 500, 600)).toEqual([100, 100, 500, 600]);
    expect(resizeBox([100, 100, 300, 300], 'nw', 400, 400)).toEqual([300 - MIN_BOX, 300 - MIN_BOX, 300, 300]);
  });
  it('spanBox orders the corners', () => {
    expect(spanBox(800, 900, 200, 100)).toEqual([200, 100, 800, 900]);
  });
});
