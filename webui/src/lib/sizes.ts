// Output size rules (docs/APP.md §3.3.4, §9.4.3).
import type { StepTiming } from './api';
import type { Preset } from './caption';

/** Built-in limits, replaced by the server's (GET /api/config) once it answers. */
export let MIN_SIZE = 128;
export let MAX_SIZE = 2048;
export let SIZE_MULTIPLE = 16;

export function setSizeLimits(min: number, max: number, multiple: number) {
  if (!(min > 0 && max >= min && multiple > 0)) return;
  MIN_SIZE = min;
  MAX_SIZE = max;
  SIZE_MULTIPLE = multiple;
}

export interface AspectPreset {
  name: string;
  w: number;
  h: number;
}

/** The seven ratio presets; "Social" is 1584x384 (1584x396 is not a multiple of 16). */
export const ASPECT_PRESETS: AspectPreset[] = [
  { name: 'Square', w: 1024, h: 1024 },
  { name: 'Landscape', w: 1536, h: 1024 },
  { name: 'Portrait', w: 1024, h: 1536 },
  { name: 'Widescreen', w: 1920, h: 1088 },
  { name: 'Ultrawide', w: 2048, h: 768 },
  { name: 'Phone', w: 1024, h: 1792 },
  { name: 'Social', w: 1584, h: 384 },
];

export const PRESETS: { id: Preset; label: string; steps: number }[] = [
  { id: 'V4_TURBO_12', label: 'Turbo', steps: 12 },
  { id: 'V4_DEFAULT_20', label: 'Default', steps: 20 },
  { id: 'V4_QUALITY_48', label: 'Quality', steps: 48 },
];

export function presetLabel(id: string): string {
  return PRESETS.find((p) => p.id === id)?.label ?? id;
}

export function presetSteps(id: string): number {
  return PRESETS.find((p) => p.id === id)?.steps ?? 48;
}

/** Clamp to 128..2048 and round to the nearest multiple of 16 (non-numbers -> fallback). */
export function snapSize(value: number | string, fallback = 1024): number {
  const v = typeof value === 'string' ? Number(value.trim()) : value;
  if (!Number.isFinite(v) || (typeof value === 'string' && value.trim() === '')) return fallback;
  const snapped = Math.round(v / SIZE_MULTIPLE) * SIZE_MULTIPLE;
  return Math.min(MAX_SIZE, Math.max(MIN_SIZE, snapped));
}

export function isValidSize(v: number): boolean {
  return Number.isInteger(v) && v >= MIN_SIZE && v <= MAX_SIZE && v % SIZE_MULTIPLE === 0;
}

export function matchingAspect(w: number, h: number): AspectPreset | undefined {
  return ASPECT_PRESETS.find((p) => p.w === w && p.h === h);
}

function gcd(a: number, b: number): number {
  return b ? gcd(b, a % b) : a;
}

/** "3:2" style ratio text from a size. */
export function ratioText(w: number, h: number): string {
  const g = gcd(w, h) || 1;
  const a = w / g;
  const b = h / g;
  if (a <= 21 && b <= 21) return `${a}:${b}`;
  return `${(w / h).toFixed(3)}:1`;
}

export function megapixels(w: number, h: number): string {
  return `${((w * h) / 1_000_000).toFixed(2)} MP`;
}

/** Reference estimate (docs/APP.md §9.4.3): W*H*350/1048576 * steps/48 seconds. */
export function referenceSeconds(w: number, h: number, preset: string): number {
  return ((w * h * 350) / 1048576) * (presetSteps(preset) / 48);
}

/**
 * Estimate from the steps measured on this machine (GET /api/model/status `timing`): the measured run's
 * encode time, plus the preset's steps at the measured seconds per step and the decode, both scaled by
 * the pixel count. Null when nothing was measured yet.
 */
export function estimateSeconds(w: number, h: number, preset: string, timing?: StepTiming | null): number | null {
  if (!timing || !(timing.step_seconds > 0) || !(timing.width > 0) || !(timing.height > 0)) return null;
  const scale = (w * h) / (timing.width * timing.height);
  return Math.max(0, timing.encode_seconds || 0) + (presetSteps(preset) * timing.step_seconds + Math.max(0, timing.decode_seconds || 0)) * scale;
}

/** "42s", "5m 50s"; under half a second reads "under 1s" (never "0s"). */
export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return '–';
  const s = Math.round(sec);
  if (s < 1) return 'under 1s';
  if (s < 60) return `${s}s`;
  const m = Math.floor(sec / 60);
  const r = Math.round(sec - m * 60);
  return r === 60 ? `${m + 1}m 0s` : `${m}m ${r}s`;
}

export function randomSeed(): number {
  const a = new Uint32Array(1);
  crypto.getRandomValues(a);
  return a[0];
}
