// Thin client for the C server's HTTP API (docs/APP.md §3). Same origin, /api/*.
import type { JsonObject } from './caption';

export class ApiError extends Error {
  constructor(
    message: string,
    public status: number,
    public body: unknown,
  ) {
    super(message);
  }
}

/** The message the UI shows for a failed call: body.error, else "HTTP <status>: <reason>". */
export function errorMessage(status: number, statusText: string, body: unknown): string {
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    if (typeof b.error === 'string' && b.error) return b.error;
    if (Array.isArray(b.detail) && b.detail.length) {
      const d = b.detail[0] as Record<string, unknown>;
      if (d && typeof d.msg === 'string') return d.msg;
    }
    if (typeof b.msg === 'string' && b.msg && b.ok === false) return b.msg;
  }
  return `HTTP ${status}: ${statusText || 'error'}`;
}

export async function api<T = unknown>(path: string, init?: { method?: string; body?: unknown; signal?: AbortSignal }): Promise<T> {
  const res = await fetch(path, {
    method: init?.method ?? (init?.body !== undefined ? 'POST' : 'GET'),
    headers: init?.body !== undefined ? { 'Content-Type': 'application/json' } : undefined,
    body: init?.body !== undefined ? JSON.stringify(init.body) : undefined,
    signal: init?.signal,
  });
  let body: unknown = null;
  const text = await res.text();
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  if (!res.ok) throw new ApiError(errorMessage(res.status, res.statusText, body), res.status, body);
  return body as T;
}

export interface ModelStatus {
  /** 'error': the last load failed; `msg` holds the reason (Load retries). */
  state: 'idle' | 'loading' | 'loaded' | 'error';
  msg: string;
  demo?: boolean;
  weights?: string;
  rss_mb?: number;
  progress?: number;
  /** Whether the weights are on disk (a --model folder, or the repo's snapshot in the Hub cache); absent on older servers. */
  weights_present?: boolean;
  /** The latest model download (POST /api/model/download), or null. */
  download?: ModelDownload | null;
  /** The last image's sampling steps, measured on this machine; null until an image was made since the load. */
  timing?: StepTiming | null;
}

/** A measured run: seconds per sampling step at width x height, and that run's encode and decode seconds. */
export interface StepTiming {
  step_seconds: number;
  width: number;
  height: number;
  encode_seconds: number;
  decode_seconds: number;
}

/** GET /api/model/download/{task} (docs/APP.md §5.1). */
export interface ModelDownload {
  task_id: string;
  state: 'running' | 'done';
  status?: 'queued' | 'running' | 'done' | 'error' | 'cancelled';
  msg: string;
  progress?: number;
  phase?: string;
  repo?: string;
  revision?: string;
  bytes_done?: number;
  bytes_total?: number;
  files_done?: number;
  files_total?: number;
  file?: string | null;
  error?: string | null;
  snapshot?: string | null;
}

/** One built-in LoRA preset of GET /api/lora/presets (docs/APP.md §6.5). */
export interface LoraPreset {
  id: string;
  label: string;
  installed: boolean;
  loras: { name: string; repo: string; revision: string; filename: string; strength: number; installed: boolean; format: string | null; size_mb: number | null }[];
}

/** GET /api/lora/download/{task}. */
export interface LoraDownload {
  state: 'running' | 'done';
  msg: string;
  files: { name: string; status: 'already_installed' | 'downloaded' }[];
  error?: string | null;
  progress?: number;
  phase?: string;
  preset_id?: string;
}

export interface ImageInfo {
  id: number;
  url?: string;
  hld: string;
  time?: string;
  created_at?: string;
  prompt_id: number | null;
  width?: number;
  height?: number;
  seed?: number;
  preset?: string;
  format?: string;
  file_path?: string;
  generation_seconds?: number;
  lora_name?: string | null;
  lora_strength?: number | null;
}

export interface TaskStatus {
  state: 'running' | 'done';
  status?: 'queued' | 'running' | 'done' | 'error' | 'cancelled';
  msg: string;
  image: ImageInfo | null;
  progress: number;
  percent?: number;
  step?: number;
  total_steps: number;
  phase?: string;
  elapsed_seconds?: number;
  eta_seconds?: number | null;
  error?: string;
  cancelled?: boolean;
  /** Batches (n 1-8): the images made so far, the batch size, the image being made. */
  images?: ImageInfo[];
  n?: number;
  image_index?: number;
  /** Live preview of the latest sampling step (PNG data URL, one pixel per 16x16 patch); null when none. */
  preview?: string | null;
  preview_step?: number | null;
  prompt_id?: number | null;
  width?: number;
  height?: number;
  seed?: number;
  preset?: string;
  generation_seconds?: number | null;
  queue_position?: number;
}

export interface QueueEntry {
  id: string;
  kind?: string;
  status: 'running' | 'queued';
  position: number;
  n?: number;
  width?: number;
  height?: number;
  preset?: string;
  seed?: number;
  images_done?: number;
}

export interface QueueReply {
  running: string | null;
  queued: string[];
  queue_size?: number;
  jobs: QueueEntry[];
}

export interface PromptRow {
  id: number;
  saved_at: string;
  hld: string;
  form_json: string;
  /** Additive fields of the C server: number of images and the newest image's file URL. */
  image_count?: number;
  thumb_url?: string | null;
}

export interface LoraStatus {
  applied: string | null;
  strength: number;
  applied_loras?: { name: string; strength: number; format?: string }[];
  available: { name: string; format?: string; size_mb?: number }[];
  default_strength?: number;
  /** The folder the server reads LoRA files from. */
  dir?: string;
}

export interface LoraOperation {
  state: 'running' | 'done';
  msg: string;
  phase?: string;
  progress?: number;
  error?: string | null;
  result?: { ok: boolean; msg: string } | null;
}

export interface MagicStatus {
  configured: boolean;
  provider?: string;
  model?: string;
  missing_env?: string[];
  llm_reachable?: boolean;
  llm_error?: string | null;
  /** A malformed magic-prompt setting on the server (the route answers 503 not_configured). */
  config_error?: string;
}

export const imageUrl = (img: Pick<ImageInfo, 'id' | 'url'>) => img.url || `/api/images/${img.id}/file`;

export function imageExt(img: ImageInfo): string {
  const f = img.format || img.file_path?.split('.').pop() || 'png';
  return f === 'jpg' ? 'jpeg' : f;
}

/** Server times are UTC; zone-less "YYYY-MM-DD HH:MM:SS" strings are read as UTC. */
export function parseServerTime(t: string | undefined): Date | null {
  if (!t) return null;
  let s = t.trim();
  if (/^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(s)) s = s.replace(' ', 'T') + 'Z';
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? null : d;
}

export const Api = {
  health: () => api<{ ok: boolean; version?: string }>('/api/health'),
  modelStatus: () => api<ModelStatus>('/api/model/status'),
  loadModel: () => api<{ ok: boolean; msg?: string }>('/api/model/load', { method: 'POST' }),
  unloadModel: () => api<{ ok: boolean }>('/api/model/unload', { method: 'POST' }),
  verify: (caption: JsonObject) => api<{ valid: boolean; warnings: string[] }>('/api/verify', { body: { caption } }),
  generate: (body: Record<string, unknown>) => api<{ task_id: string }>('/api/generate', { body }),
  status: (id: string) => api<TaskStatus>(`/api/status/${encodeURIComponent(id)}`),
  queue: () => api<QueueReply>('/api/queue'),
  cancel: (id: string) => api<{ ok: boolean; error?: string }>(`/api/tasks/${encodeURIComponent(id)}/cancel`, { method: 'POST' }),
  images: (params?: { prompt_id?: number; limit?: number; offset?: number }) => {
    const q = new URLSearchParams();
    if (params?.prompt_id !== undefined) q.set('prompt_id', String(params.prompt_id));
    if (params?.limit !== undefined) q.set('limit', String(params.limit));
    if (params?.offset) q.set('offset', String(params.offset));
    const qs = q.toString();
    return api<ImageInfo[]>(`/api/images${qs ? `?${qs}` : ''}`);
  },
  deleteImage: (id: number) => api<{ ok: boolean }>(`/api/images/${id}`, { method: 'DELETE' }),
  prompts: (search?: string) => api<PromptRow[]>(search ? `/api/prompts?search=${encodeURIComponent(search)}` : '/api/prompts'),
  prompt: (id: number) => api<PromptRow & { error?: string }>(`/api/prompts/${id}`),
  savePrompt: (hld: string, form_json: string) => api<{ id: number }>('/api/prompts', { body: { hld, form_json } }),
  deletePrompt: (id: number) => api<{ ok: boolean }>(`/api/prompts/${id}`, { method: 'DELETE' }),
  loraStatus: () => api<LoraStatus>('/api/lora/status'),
  loraApply: (loras: { name: string; strength: number }[]) =>
    api<{ ok: boolean; task_id?: string; msg?: string }>('/api/lora/apply', { body: { loras } }),
  loraRemove: () => api<{ ok: boolean; task_id?: string; msg?: string }>('/api/lora/remove', { method: 'POST' }),
  loraOperation: (id: string) => api<LoraOperation>(`/api/lora/operation/${encodeURIComponent(id)}`),
  modelDownload: () => api<{ ok: boolean; task_id?: string; msg?: string }>('/api/model/download', { method: 'POST' }),
  modelDownloadStatus: (id: string) => api<ModelDownload>(`/api/model/download/${encodeURIComponent(id)}`),
  modelDownloadCancel: (id: string) => api<{ ok: boolean; msg?: string }>(`/api/model/download/${encodeURIComponent(id)}/cancel`, { method: 'POST' }),
  loraPresets: () => api<{ presets: LoraPreset[] }>('/api/lora/presets'),
  loraDownload: (presetId: string) => api<{ ok: boolean; task_id?: string; msg?: string }>('/api/lora/download', { body: { preset_id: presetId } }),
  loraDownloadStatus: (id: string) => api<LoraDownload>(`/api/lora/download/${encodeURIComponent(id)}`),
  magicStatus: () => api<MagicStatus>('/api/magic-prompt/status'),
  magicPrompt: (body: { prompt: string; width: number; height: number; images_b64: string[] | null }) =>
    api<{ caption: JsonObject; model?: string }>('/api/magic-prompt', { body }),
};
