// Application state: editor form, model, history, generation task, toasts.
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { useNavigate } from 'react-router';
import {
  captionForGenerate,
  defaultForm,
  prettyJson,
  withFormEdit,
  withRawEdit,
  type FormState,
  type JsonErrorInfo,
  type JsonObject,
} from './lib/caption';
import { api, Api, ApiError, type ImageInfo, type ModelStatus, type PromptRow, type QueueReply, type TaskStatus } from './lib/api';
import { createAutosaver, loadSavedForm, type SaveResult } from './lib/autosave';
import { isValidSize, randomSeed, setSizeLimits, snapSize } from './lib/sizes';

export type Toast = { id: number; kind: 'info' | 'success' | 'error'; text: string };

export type JobPhase = 'submitting' | 'queued' | 'running' | 'done' | 'error' | 'cancelled';
/** One generation the UI follows: started here, or found in GET /api/queue on page load. */
export interface Job {
  /** Local key (the task id once known). */
  key: string;
  taskId: string | null;
  promptId: number | null;
  label: string;
  n: number;
  phase: JobPhase;
  status: TaskStatus | null;
  error: string | null;
  startedAt: number;
  cancelling: boolean;
  retry: number;
  /** Reattached after a reload (not started from this page). */
  reattached?: boolean;
}

export const POLL_MS = 1000;
const BASE_TITLE = 'Ideogram 4';
/** Health/model polling: this often while the server answers; backoff from 1 s up to 30 s while it does not. */
export const HEALTH_MS = 10000;
const BACKOFF_MAX_MS = 30000;

export interface ServerConfig {
  min_size: number;
  max_size: number;
  size_multiple: number;
  max_batch: number;
  queue_size?: number;
  demo?: boolean;
  lora_dir?: string;
  /** The weights repository (IDEOGRAM4_MODEL_REPO, else the default) and revision (null: main). */
  model_repo?: string;
  model_revision?: string | null;
}

export const isActive = (j: Job) => j.phase === 'submitting' || j.phase === 'queued' || j.phase === 'running';

interface AppCtx {
  form: FormState;
  editForm: (patch: Partial<FormState>, group?: string) => void;
  setRawJson: (text: string) => void;
  setCaption: (caption: JsonObject) => void;
  rawError: JsonErrorInfo | null;
  resetForm: () => void;
  replaceForm: (f: FormState) => void;
  restoreDraft: () => void;
  formReady: boolean;
  saveState: SaveResult | 'idle';
  /** The user edited the form, loaded a caption or pressed Generate: verifier issues are shown. */
  touched: boolean;
  undo: () => void;
  redo: () => void;
  canUndo: boolean;
  canRedo: boolean;

  config: ServerConfig | null;
  model: ModelStatus | null;
  modelError: string | null;
  reconnectIn: number | null;
  refreshModel: () => Promise<ModelStatus | null>;
  reconnect: () => Promise<void>;
  loadModel: () => Promise<void>;
  unloadModel: () => Promise<void>;

  prompts: PromptRow[];
  thumbs: Record<number, ImageInfo>;
  historyError: string | null;
  refreshHistory: () => Promise<void>;
  deletePrompt: (id: number) => Promise<boolean>;

  currentPromptId: number | null;
  setCurrentPromptId: (id: number | null) => void;
  results: ImageInfo[];
  setResults: (imgs: ImageInfo[]) => void;
  selectedResult: number | null;
  setSelectedResult: (id: number | null) => void;

  jobs: Job[];
  batch: number;
  setBatch: (n: number) => void;
  lastSeed: string | null;
  generate: () => Promise<void>;
  cancel: (key: string) => Promise<void>;
  dismissJob: (key: string) => void;

  toasts: Toast[];
  toast: (text: string, kind?: Toast['kind']) => void;
  dismissToast: (id: number) => void;
}

const Ctx = createContext<AppCtx | null>(null);

export function useApp(): AppCtx {
  const c = useContext(Ctx);
  if (!c) throw new Error('useApp outside AppProvider');
  return c;
}

const UNDO_LIMIT = 100;
const COALESCE_MS = 700;

/** Form defaults for "Create new image": a blank caption, the size, quality and format kept. */
export function freshForm(prev?: FormState): FormState {
  const d = defaultForm();
  return prev ? { ...d, w: prev.w, h: prev.h, preset: prev.preset, format: prev.format } : d;
}

function notify(title: string, body: string) {
  try {
    if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
    if (typeof document !== 'undefined' && document.visibilityState === 'visible' && document.hasFocus()) return;
    new Notification(title, { body, icon: '/favicon.svg' });
  } catch {
    /* notifications unavailable */
  }
}

export function AppProvider({ children }: { children: ReactNode }) {
  const navigate = useNavigate();
  const [form, setForm] = useState<FormState>(defaultForm);
  const [rawError, setRawError] = useState<JsonErrorInfo | null>(null);
  const [formReady, setFormReady] = useState(false);
  const [saveState, setSaveState] = useState<SaveResult | 'idle'>('idle');
  const [touched, setTouched] = useState(false);
  const [config, setConfig] = useState<ServerConfig | null>(null);
  const [model, setModel] = useState<ModelStatus | null>(null);
  const [modelError, setModelError] = useState<string | null>(null);
  const [reconnectIn, setReconnectIn] = useState<number | null>(null);
  const [prompts, setPrompts] = useState<PromptRow[]>([]);
  const [thumbs, setThumbs] = useState<Record<number, ImageInfo>>({});
  const [historyError, setHistoryError] = useState<string | null>(null);
  const [currentPromptId, setCurrentPromptIdState] = useState<number | null>(null);
  const [results, setResults] = useState<ImageInfo[]>([]);
  const [selectedResult, setSelectedResult] = useState<number | null>(null);
  const [jobs, setJobs] = useState<Job[]>([]);
  const [batch, setBatch] = useState(1);
  const [lastSeed, setLastSeed] = useState<string | null>(null);
  const [toasts, setToasts] = useState<Toast[]>([]);
  const toastId = useRef(0);
  const formRef = useRef(form);
  formRef.current = form;
  const jobsRef = useRef(jobs);
  jobsRef.current = jobs;
  const promptIdRef = useRef(currentPromptId);
  promptIdRef.current = currentPromptId;
  const skipAutosave = useRef(true);
  const initialForm = useRef(form);
  /** The unsaved editor at `/`: history pages never overwrite it. */
  const draft = useRef<FormState | null>(null);
  const undoStack = useRef<FormState[]>([]);
  const redoStack = useRef<FormState[]>([]);
  const lastEdit = useRef<{ group: string; at: number }>({ group: '', at: 0 });
  const [, setStackTick] = useState(0);

  const toast = useCallback((text: string, kind: Toast['kind'] = 'info') => {
    const id = ++toastId.current;
    setToasts((t) => [...t.slice(-4), { id, kind, text }]);
    setTimeout(() => setToasts((t) => t.filter((x) => x.id !== id)), kind === 'error' ? 8000 : 4000);
  }, []);
  const dismissToast = useCallback((id: number) => setToasts((t) => t.filter((x) => x.id !== id)), []);

  // ------------------------------------------------------------ form, undo, drafts, autosave
  const autosaver = useMemo(() => createAutosaver((r) => setSaveState(r)), []);
  useEffect(() => () => autosaver.cancel(), [autosaver]);
  useEffect(() => {
    let alive = true;
    loadSavedForm().then(({ form: f }) => {
      if (!alive) return;
      draft.current = f;
      // A history page may already have restored its own form; only fill the editor when untouched.
      setForm((cur) => (cur === initialForm.current ? f : cur));
      setFormReady(true);
    });
    return () => {
      alive = false;
    };
  }, []);
  useEffect(() => {
    if (!formReady) return;
    if (skipAutosave.current) {
      skipAutosave.current = false;
      return;
    }
    // Only the editor at `/` is the draft; a history page's form is that prompt's, not the draft.
    if (currentPromptId !== null) return;
    draft.current = form;
    autosaver.schedule(form);
  }, [form, formReady, autosaver, currentPromptId]);

  const setCurrentPromptId = useCallback((id: number | null) => {
    if (id !== null && promptIdRef.current === null) {
      // Leaving `/`: save its last state now.
      draft.current = formRef.current;
      void autosaver.flush();
    }
    promptIdRef.current = id;
    setCurrentPromptIdState(id);
  }, [autosaver]);

  /** Record the form before an edit (consecutive edits of one group within 700 ms are one undo step). */
  const remember = useCallback((group: string) => {
    const now = Date.now();
    const same = group !== '' && lastEdit.current.group === group && now - lastEdit.current.at < COALESCE_MS;
    lastEdit.current = { group, at: now };
    if (same) return;
    undoStack.current = [...undoStack.current.slice(-(UNDO_LIMIT - 1)), formRef.current];
    redoStack.current = [];
    setStackTick((t) => t + 1);
  }, []);
  const setFormTracked = useCallback((f: FormState) => {
    formRef.current = f;
    setForm(f);
  }, []);

  const editForm = useCallback((patch: Partial<FormState>, group?: string) => {
    remember(group ?? Object.keys(patch).join(','));
    setFormTracked(withFormEdit(formRef.current, patch));
    setRawError(null);
    setTouched(true);
  }, [remember, setFormTracked]);
  const setRawJson = useCallback((text: string) => {
    remember('json');
    const r = withRawEdit(formRef.current, text);
    setFormTracked(r.form);
    setRawError(r.error);
    setTouched(true);
  }, [remember, setFormTracked]);
  const setCaption = useCallback((caption: JsonObject) => {
    remember('');
    const r = withRawEdit(formRef.current, prettyJson(caption));
    setFormTracked(r.form);
    setRawError(r.error);
    setTouched(true);
  }, [remember, setFormTracked]);
  const resetForm = useCallback(() => {
    remember('');
    const f = freshForm(formRef.current);
    setFormTracked(f);
    draft.current = f;
    setRawError(null);
    setTouched(false);
  }, [remember, setFormTracked]);
  const replaceForm = useCallback((f: FormState) => {
    undoStack.current = [];
    redoStack.current = [];
    lastEdit.current = { group: '', at: 0 };
    setStackTick((t) => t + 1);
    setFormTracked(f);
    setRawError(null);
    setTouched(true);
  }, [setFormTracked]);
  const restoreDraft = useCallback(() => {
    if (draft.current) replaceForm(draft.current);
    setTouched(false);
  }, [replaceForm]);
  const undo = useCallback(() => {
    const prev = undoStack.current.pop();
    if (!prev) return;
    redoStack.current.push(formRef.current);
    lastEdit.current = { group: '', at: 0 };
    setFormTracked(prev);
    setRawError(null);
    setStackTick((t) => t + 1);
  }, [setFormTracked]);
  const redo = useCallback(() => {
    const next = redoStack.current.pop();
    if (!next) return;
    undoStack.current.push(formRef.current);
    lastEdit.current = { group: '', at: 0 };
    setFormTracked(next);
    setRawError(null);
    setStackTick((t) => t + 1);
  }, [setFormTracked]);

  // ------------------------------------------------------------ server config
  const refreshConfig = useCallback(async () => {
    try {
      const c = await api<ServerConfig>('/api/config');
      if (c && typeof c.min_size === 'number') {
        setSizeLimits(c.min_size, c.max_size, c.size_multiple);
        setConfig(c);
      }
    } catch {
      /* an older server: the built-in limits stay */
    }
  }, []);
  useEffect(() => {
    void refreshConfig();
  }, [refreshConfig]);
  // A size the server would refuse (the default 1024x1024 under a smaller
  // IDEOGRAM4_MAX_IMAGE_SIZE, or a saved draft from before a change) is
  // brought within its limits once they are known.
  useEffect(() => {
    if (!config) return;
    setForm((cur) =>
      isValidSize(cur.w) && isValidSize(cur.h) ? cur : { ...cur, w: snapSize(cur.w), h: snapSize(cur.h) },
    );
  }, [config, form.w, form.h]);

  // ------------------------------------------------------------ model + server health
  const failures = useRef(0);
  const [probe, setProbe] = useState(0);
  const refreshModel = useCallback(async () => {
    try {
      const s = await Api.modelStatus();
      setModel(s);
      setModelError(null);
      failures.current = 0;
      setReconnectIn(null);
      return s;
    } catch (e) {
      setModelError((e as Error).message);
      setProbe((p) => p + 1);
      return null;
    }
  }, []);
  useEffect(() => {
    void refreshModel();
  }, [refreshModel]);
  // Poll while loading (3 s, docs/APP.md §9.3; faster at first so short loads show quickly).
  useEffect(() => {
    if (model?.state !== 'loading' || modelError) return;
    const t = setTimeout(() => void refreshModel(), 700);
    return () => clearTimeout(t);
  }, [model, modelError, refreshModel]);

  const refreshHistory = useCallback(async () => {
    try {
      const [ps, imgs] = await Promise.all([Api.prompts(), Api.images().catch(() => [] as ImageInfo[])]);
      setPrompts(Array.isArray(ps) ? ps : []);
      const t: Record<number, ImageInfo> = {};
      for (const img of Array.isArray(imgs) ? imgs : []) {
        if (img.prompt_id != null && !t[img.prompt_id]) t[img.prompt_id] = img; // newest first
      }
      setThumbs(t);
      setHistoryError(null);
    } catch (e) {
      setHistoryError((e as Error).message);
    }
  }, []);

  /** Follow the server's running and queued generations (after a reload, or started elsewhere). */
  const reattach = useCallback(async () => {
    let q: QueueReply;
    try {
      q = await Api.queue();
    } catch {
      return;
    }
    const entries = (Array.isArray(q?.jobs) ? q.jobs : []).filter((j) => (j.kind ?? 'generate') === 'generate');
    const known = new Set(jobsRef.current.map((j) => j.taskId));
    const fresh = entries.filter((e) => !known.has(e.id));
    if (!fresh.length) return;
    const added: Job[] = [];
    for (const e of fresh) {
      let st: TaskStatus | null = null;
      try {
        st = await Api.status(e.id);
      } catch {
        st = null;
      }
      added.push({
        key: e.id, taskId: e.id, promptId: st?.prompt_id ?? null, n: e.n ?? st?.n ?? 1,
        label: `${e.width ?? st?.width ?? '?'}×${e.height ?? st?.height ?? '?'}${(e.n ?? 1) > 1 ? ` ×${e.n}` : ''}`,
        phase: e.status === 'running' ? 'running' : 'queued', status: st, error: null, startedAt: Date.now(),
        cancelling: false, retry: 0, reattached: true,
      });
    }
    setJobs((js) => [...js, ...added.filter((a) => !js.some((j) => j.taskId === a.taskId))]);
  }, []);

  const reconnect = useCallback(async () => {
    const s = await refreshModel();
    if (s) {
      void refreshConfig();
      void refreshHistory();
      void reattach();
    }
  }, [refreshModel, refreshConfig, refreshHistory, reattach]);

  // Health: every HEALTH_MS while reachable and on focus; backoff (1, 2, 4 … 30 s) while not.
  useEffect(() => {
    let t: ReturnType<typeof setTimeout> | null = null;
    let tick: ReturnType<typeof setInterval> | null = null;
    if (modelError) {
      const delay = Math.min(BACKOFF_MAX_MS, 1000 * 2 ** failures.current);
      failures.current += 1;
      const due = Date.now() + delay;
      setReconnectIn(Math.ceil(delay / 1000));
      tick = setInterval(() => setReconnectIn(Math.max(0, Math.ceil((due - Date.now()) / 1000))), 1000);
      t = setTimeout(() => void reconnect(), delay);
    } else {
      t = setTimeout(() => void refreshModel(), HEALTH_MS);
    }
    return () => {
      if (t) clearTimeout(t);
      if (tick) clearInterval(tick);
    };
  }, [model, modelError, probe, refreshModel, reconnect]);
  useEffect(() => {
    const onFocus = () => void reconnect();
    const onVisible = () => {
      if (document.visibilityState === 'visible') void reconnect();
    };
    window.addEventListener('focus', onFocus);
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      window.removeEventListener('focus', onFocus);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [reconnect]);

  const loadModel = useCallback(async () => {
    setModel((m) => ({ ...(m ?? { msg: '' }), state: 'loading', msg: 'Starting model load...', progress: 0 }));
    try {
      const r = await Api.loadModel();
      if (r && r.ok === false) throw new Error(r.msg || 'Failed to start model load.');
    } catch (e) {
      toast(`Failed to start model load: ${(e as Error).message}`, 'error');
    }
    await refreshModel();
  }, [refreshModel, toast]);

  const unloadModel = useCallback(async () => {
    try {
      await Api.unloadModel();
      toast('Model unloaded.', 'success');
    } catch (e) {
      toast(`Failed to unload model: ${(e as Error).message}`, 'error');
    }
    await refreshModel();
  }, [refreshModel, toast]);

  // ------------------------------------------------------------ history
  useEffect(() => {
    void refreshHistory();
    void reattach();
  }, [refreshHistory, reattach]);

  const deletePrompt = useCallback(
    async (id: number) => {
      try {
        const r = await Api.deletePrompt(id);
        if (!r.ok) throw new Error('Prompt not found.');
        toast('Prompt and its images deleted.', 'success');
        if (currentPromptId === id) {
          setCurrentPromptId(null);
          setResults([]);
          navigate('/');
        }
        await refreshHistory();
        return true;
      } catch (e) {
        toast(`Delete failed: ${(e as Error).message}`, 'error');
        return false;
      }
    },
    [currentPromptId, navigate, refreshHistory, setCurrentPromptId, toast],
  );

  // ------------------------------------------------------------ generation jobs
  const patchJob = useCallback((key: string, patch: Partial<Job> | ((j: Job) => Partial<Job>)) => {
    setJobs((js) => js.map((j) => (j.key === key ? { ...j, ...(typeof patch === 'function' ? patch(j) : patch) } : j)));
  }, []);

  const jobFinished = useCallback((job: Job, st: TaskStatus) => {
    const imgs = (Array.isArray(st.images) && st.images.length ? st.images : st.image ? [st.image] : []) as ImageInfo[];
    const promptId = job.promptId ?? st.prompt_id ?? imgs[0]?.prompt_id ?? null;
    if (imgs.length && promptId !== null && promptId === promptIdRef.current) {
      setResults((r) => [...imgs.slice().reverse(), ...r.filter((x) => !imgs.some((i) => i.id === x.id))].slice(0, 20));
      setSelectedResult(imgs[imgs.length - 1].id);
    }
    // The model status then carries this run's measured step time (the time estimate).
    void refreshHistory();
    void refreshModel();
  }, [refreshHistory, refreshModel]);

  const pollOne = useCallback(async (job: Job) => {
    if (!job.taskId) return;
    let st: TaskStatus;
    try {
      st = await Api.status(job.taskId);
    } catch (e) {
      const n = job.retry + 1;
      if (n >= 3) patchJob(job.key, { phase: 'error', error: `Network error after 3 retries (${(e as Error).message}).` });
      else patchJob(job.key, { retry: n });
      return;
    }
    const status = st.status ?? (st.state === 'running' ? 'running' : st.image ? 'done' : st.cancelled ? 'cancelled' : 'error');
    if (st.state === 'running' && status !== 'done' && status !== 'error' && status !== 'cancelled') {
      patchJob(job.key, { phase: status === 'queued' ? 'queued' : 'running', status: st, retry: 0 });
      return;
    }
    if (status === 'cancelled' || st.cancelled) {
      patchJob(job.key, { phase: 'cancelled', status: st, cancelling: false, retry: 0 });
      toast('Generation cancelled.', 'info');
      void refreshHistory();
      return;
    }
    if (st.image || (Array.isArray(st.images) && st.images.length && status === 'done')) {
      patchJob(job.key, { phase: 'done', status: { ...st, progress: 100, percent: 100 }, retry: 0 });
      jobFinished(job, st);
      const n = Array.isArray(st.images) ? st.images.length : 1;
      notify('Ideogram 4: image ready', `${n > 1 ? `${n} images` : 'Your image'} finished${st.msg ? ` (${st.msg})` : ''}.`);
      return;
    }
    const msg = st.error || (st.msg?.startsWith('Error: ') ? st.msg.slice(7) : st.msg) || 'Generation failed.';
    patchJob(job.key, { phase: 'error', status: st, error: msg, retry: 0 });
    notify('Ideogram 4: generation failed', msg);
    if (/model not loaded/i.test(msg)) void refreshModel();
    void refreshHistory();
  }, [jobFinished, patchJob, refreshHistory, refreshModel, toast]);

  const anyPolled = jobs.some((j) => j.taskId && (j.phase === 'queued' || j.phase === 'running'));
  useEffect(() => {
    if (!anyPolled) return;
    let alive = true;
    let t: ReturnType<typeof setTimeout>;
    const loop = () => {
      t = setTimeout(async () => {
        const active = jobsRef.current.filter((j) => j.taskId && (j.phase === 'queued' || j.phase === 'running'));
        await Promise.all(active.map((j) => pollOne(j)));
        if (alive) loop();
      }, POLL_MS);
    };
    loop();
    return () => {
      alive = false;
      clearTimeout(t);
    };
  }, [anyPolled, pollOne]);

  // Finished jobs leave the panel on their own after a while (errors stay until dismissed).
  useEffect(() => {
    const done = jobs.filter((j) => j.phase === 'done' || j.phase === 'cancelled');
    if (!done.length) return;
    const t = setTimeout(() => setJobs((js) => js.filter((j) => !done.some((d) => d.key === j.key))), 8000);
    return () => clearTimeout(t);
  }, [jobs]);

  // The tab title shows the progress of the running job (and how many wait).
  useEffect(() => {
    const active = jobs.filter(isActive);
    if (!active.length) {
      document.title = BASE_TITLE;
      return;
    }
    const run = active.find((j) => j.phase === 'running') ?? active[0];
    const pct = Math.round(run.status?.percent ?? run.status?.progress ?? 0);
    const more = active.length > 1 ? ` +${active.length - 1}` : '';
    document.title = `${run.phase === 'running' ? `${pct}%` : 'Queued'}${more} · ${BASE_TITLE}`;
  }, [jobs]);
  useEffect(() => () => {
    document.title = BASE_TITLE;
  }, []);

  const asked = useRef(false);
  const generate = useCallback(async () => {
    if (jobsRef.current.some((j) => j.phase === 'submitting')) return;
    setTouched(true);
    if (!asked.current) {
      asked.current = true;
      try {
        if (typeof Notification !== 'undefined' && Notification.permission === 'default') void Notification.requestPermission();
      } catch {
        /* ignore */
      }
    }
    if (model?.state !== 'loaded') {
      toast('Model is not loaded. Please load the model first.', 'error');
      void refreshModel();
      return;
    }
    const f = formRef.current;
    const c = captionForGenerate(f);
    if ('error' in c) {
      toast(c.error, 'error');
      return;
    }
    // Locked: the typed seed (0 included); unlocked: a fresh random seed every time.
    let seedNum = Number(f.seed);
    const typedOk = f.seed.trim() !== '' && Number.isInteger(seedNum) && seedNum >= 0 && seedNum <= 4294967295;
    if (!f.seedLocked || !typedOk) seedNum = randomSeed();
    const seedText = String(seedNum);
    const hld = typeof c.caption.high_level_description === 'string' && c.caption.high_level_description.trim()
      ? c.caption.high_level_description
      : f.hld.trim() || '(empty)';
    const n = Math.max(1, Math.min(config?.max_batch ?? 8, batch));
    const saved: FormState = { ...f, seed: f.seedLocked ? seedText : '', _savedAt: new Date().toISOString() };
    const key = `local-${Date.now()}-${Math.random().toString(36).slice(2, 7)}`;
    const label = `${hld.slice(0, 40)}${hld.length > 40 ? '…' : ''}`;
    setJobs((js) => [...js, {
      key, taskId: null, promptId: null, label, n, phase: 'submitting', status: null, error: null,
      startedAt: Date.now(), cancelling: false, retry: 0,
    }]);
    let promptId: number | null = null;
    try {
      const r = await Api.savePrompt(hld.slice(0, 12000), JSON.stringify({ ...saved, seed: seedText }));
      promptId = typeof r.id === 'number' ? r.id : null;
    } catch (e) {
      toast(`Could not save the prompt to history: ${(e as Error).message}`, 'error');
    }
    let taskId: string;
    try {
      const r = await Api.generate({
        caption: c.caption, width: f.w, height: f.h, preset: f.preset, seed: seedNum, format: f.format,
        prompt_id: promptId, ...(n > 1 ? { n } : {}),
      });
      taskId = r.task_id;
    } catch (e) {
      const status = e instanceof ApiError ? e.status : 0;
      const msg = (e as Error).message;
      patchJob(key, { phase: 'error', error: status === 409 ? `Busy (409): ${msg}` : msg });
      if (/model not loaded/i.test(msg)) void refreshModel();
      // The server refused the job: drop the prompt row saved for it (the form stays in the editor).
      if (promptId !== null) await Api.deletePrompt(promptId).catch(() => undefined);
      return;
    }
    // A locked seed stays in the field; an unlocked one is only reported ("last seed").
    setLastSeed(seedText);
    if (f.seedLocked) setForm((cur) => ({ ...cur, seed: seedText }));
    patchJob(key, { key: taskId, taskId, promptId, phase: 'queued' });
    if (promptId !== null) {
      setCurrentPromptId(promptId);
      setResults([]);
      setSelectedResult(null);
      navigate(`/history/${promptId}`, { state: { fromGenerate: true } });
      void refreshHistory();
    }
  }, [batch, config, model, navigate, patchJob, refreshHistory, refreshModel, setCurrentPromptId, toast]);

  const cancel = useCallback(async (key: string) => {
    const job = jobsRef.current.find((j) => j.key === key);
    if (!job?.taskId) return;
    patchJob(key, { cancelling: true });
    try {
      const r = await Api.cancel(job.taskId);
      if (r && r.ok === false) throw new Error(r.error || 'The task has already finished.');
    } catch (e) {
      patchJob(key, { cancelling: false });
      toast(`Cancel failed: ${(e as Error).message}`, 'error');
    }
  }, [patchJob, toast]);

  const dismissJob = useCallback((key: string) => setJobs((js) => js.filter((j) => j.key !== key)), []);

  const value: AppCtx = {
    form, editForm, setRawJson, setCaption, rawError, resetForm, replaceForm, restoreDraft, formReady, saveState, touched,
    undo, redo, canUndo: undoStack.current.length > 0, canRedo: redoStack.current.length > 0,
    config, model, modelError, reconnectIn, refreshModel, reconnect, loadModel, unloadModel,
    prompts, thumbs, historyError, refreshHistory, deletePrompt,
    currentPromptId, setCurrentPromptId, results, setResults, selectedResult, setSelectedResult,
    jobs, batch, setBatch, lastSeed, generate, cancel, dismissJob,
    toasts, toast, dismissToast,
  };
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}
