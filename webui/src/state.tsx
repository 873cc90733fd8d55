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
import { Api, ApiError, type ImageInfo, type ModelStatus, type PromptRow, type TaskStatus } from './lib/api';
import { createAutosaver, loadSavedForm, type SaveResult } from './lib/autosave';
import { randomSeed } from './lib/sizes';

export type Toast = { id: number; kind: 'info' | 'success' | 'error'; text: string };

export type GenPhase = 'idle' | 'submitting' | 'running' | 'done' | 'error' | 'cancelled';
export interface GenState {
  phase: GenPhase;
  taskId: string | null;
  status: TaskStatus | null;
  error: string | null;
  startedAt: number;
  cancelling: boolean;
  retry: number;
}

const idleGen: GenState = { phase: 'idle', taskId: null, status: null, error: null, startedAt: 0, cancelling: false, retry: 0 };

export const POLL_MS = 1000;
const RATE_KEY = 'ideogram4_rate';

interface AppCtx {
  form: FormState;
  editForm: (patch: Partial<FormState>) => void;
  setRawJson: (text: string) => void;
  setCaption: (caption: JsonObject) => void;
  rawError: JsonErrorInfo | null;
  resetForm: () => void;
  replaceForm: (f: FormState) => void;
  formReady: boolean;
  saveState: SaveResult | 'idle';

  model: ModelStatus | null;
  modelError: string | null;
  refreshModel: () => Promise<ModelStatus | null>;
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

  gen: GenState;
  generate: () => Promise<void>;
  cancel: () => Promise<void>;
  dismissGen: () => void;
  rate: number | null;

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

function readRate(): number | null {
  try {
    const v = Number(localStorage.getItem(RATE_KEY));
    return v > 0 ? v : null;
  } catch {
    return null;
  }
}

export function AppProvider({ children }: { children: ReactNode }) {
  const navigate = useNavigate();
  const [form, setForm] = useState<FormState>(defaultForm);
  const [rawError, setRawError] = useState<JsonErrorInfo | null>(null);
  const [formReady, setFormReady] = useState(false);
  const [saveState, setSaveState] = useState<SaveResult | 'idle'>('idle');
  const [model, setModel] = useState<ModelStatus | null>(null);
  const [modelError, setModelError] = useState<string | null>(null);
  const [prompts, setPrompts] = useState<PromptRow[]>([]);
  const [thumbs, setThumbs] = useState<Record<number, ImageInfo>>({});
  const [historyError, setHistoryError] = useState<string | null>(null);
  const [currentPromptId, setCurrentPromptId] = useState<number | null>(null);
  const [results, setResults] = useState<ImageInfo[]>([]);
  const [selectedResult, setSelectedResult] = useState<number | null>(null);
  const [gen, setGen] = useState<GenState>(idleGen);
  const [toasts, setToasts] = useState<Toast[]>([]);
  const [rate, setRate] = useState<number | null>(readRate);
  const toastId = useRef(0);
  const formRef = useRef(form);
  formRef.current = form;
  const skipAutosave = useRef(true);
  const initialForm = useRef(form);

  const toast = useCallback((text: string, kind: Toast['kind'] = 'info') => {
    const id = ++toastId.current;
    setToasts((t) => [...t.slice(-4), { id, kind, text }]);
    setTimeout(() => setToasts((t) => t.filter((x) => x.id !== id)), kind === 'error' ? 8000 : 4000);
  }, []);
  const dismissToast = useCallback((id: number) => setToasts((t) => t.filter((x) => x.id !== id)), []);

  // ------------------------------------------------------------ form + autosave
  const autosaver = useMemo(() => createAutosaver((r) => setSaveState(r)), []);
  useEffect(() => () => autosaver.cancel(), [autosaver]);
  useEffect(() => {
    let alive = true;
    loadSavedForm().then(({ form: f }) => {
      if (!alive) return;
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
    autosaver.schedule(form);
  }, [form, formReady, autosaver]);

  const editForm = useCallback((patch: Partial<FormState>) => {
    setForm((f) => withFormEdit(f, patch));
    setRawError(null);
  }, []);
  const setRawJson = useCallback((text: string) => {
    const r = withRawEdit(formRef.current, text);
    setForm(r.form);
    setRawError(r.error);
  }, []);
  const setCaption = useCallback((caption: JsonObject) => {
    const r = withRawEdit(formRef.current, prettyJson(caption));
    setForm(r.form);
    setRawError(r.error);
  }, []);
  const resetForm = useCallback(() => {
    setForm(defaultForm());
    setRawError(null);
  }, []);
  const replaceForm = useCallback((f: FormState) => {
    setForm(f);
    setRawError(null);
  }, []);

  // ------------------------------------------------------------ model
  const refreshModel = useCallback(async () => {
    try {
      const s = await Api.modelStatus();
      setModel(s);
      setModelError(null);
      return s;
    } catch (e) {
      setModelError((e as Error).message);
      return null;
    }
  }, []);
  useEffect(() => {
    void refreshModel();
  }, [refreshModel]);
  // Poll while loading (3 s, docs/APP.md §9.3; faster at first so short loads show quickly).
  useEffect(() => {
    if (model?.state !== 'loading') return;
    const t = setTimeout(() => void refreshModel(), 700);
    return () => clearTimeout(t);
  }, [model, refreshModel]);

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
  useEffect(() => {
    void refreshHistory();
  }, [refreshHistory]);

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
    [currentPromptId, navigate, refreshHistory, toast],
  );

  // ------------------------------------------------------------ generation
  const pollTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => () => {
    if (pollTimer.current) clearTimeout(pollTimer.current);
  }, []);

  const finishWithImage = useCallback(
    (st: TaskStatus, size: { w: number; h: number; preset: string }) => {
      const img = st.image!;
      setResults((r) => [img, ...r.filter((x) => x.id !== img.id)].slice(0, 20));
      setSelectedResult(img.id);
      const secs = img.generation_seconds ?? st.elapsed_seconds;
      if (secs && secs > 0) {
        const steps = st.total_steps || 1;
        const r = secs / (size.w * size.h * steps);
        setRate(r);
        try {
          localStorage.setItem(RATE_KEY, String(r));
        } catch {
          /* ignore */
        }
      }
      void refreshHistory();
      void refreshModel();
    },
    [refreshHistory, refreshModel],
  );

  const poll = useCallback(
    (taskId: string, size: { w: number; h: number; preset: string }, failures = 0) => {
      pollTimer.current = setTimeout(async () => {
        let st: TaskStatus;
        try {
          st = await Api.status(taskId);
        } catch (e) {
          if (failures + 1 >= 3) {
            setGen((g) => ({ ...g, phase: 'error', error: `Network error after 3 retries (${(e as Error).message}).` }));
            return;
          }
          setGen((g) => ({ ...g, retry: failures + 1 }));
          poll(taskId, size, failures + 1);
          return;
        }
        const status = st.status ?? (st.state === 'running' ? 'running' : st.image ? 'done' : st.cancelled ? 'cancelled' : 'error');
        if (st.state === 'running' && status !== 'done' && status !== 'error' && status !== 'cancelled') {
          setGen((g) => (g.taskId === taskId ? { ...g, phase: 'running', status: st, retry: 0 } : g));
          poll(taskId, size, 0);
          return;
        }
        if (status === 'cancelled' || st.cancelled) {
          setGen((g) => ({ ...g, phase: 'cancelled', status: st, cancelling: false }));
          toast('Generation cancelled.', 'info');
          void refreshHistory();
          return;
        }
        if (st.image) {
          setGen((g) => ({ ...g, phase: 'done', status: { ...st, progress: 100, percent: 100 } }));
          finishWithImage(st, size);
          return;
        }
        const msg = st.error || (st.msg?.startsWith('Error: ') ? st.msg.slice(7) : st.msg) || 'Generation failed.';
        setGen((g) => ({ ...g, phase: 'error', status: st, error: msg }));
        void refreshHistory();
      }, POLL_MS);
    },
    [finishWithImage, refreshHistory, toast],
  );

  const generate = useCallback(async () => {
    if (gen.phase === 'submitting' || gen.phase === 'running') return;
    if (model?.state !== 'loaded') {
      toast('Model is not loaded. Please load the model first.', 'error');
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
    const saved: FormState = { ...f, seed: seedText, _savedAt: new Date().toISOString() };
    setGen({ ...idleGen, phase: 'submitting', startedAt: Date.now() });
    let promptId: number | null = null;
    try {
      const r = await Api.savePrompt(hld.slice(0, 12000), JSON.stringify(saved));
      promptId = typeof r.id === 'number' ? r.id : null;
    } catch (e) {
      toast(`Could not save the prompt to history: ${(e as Error).message}`, 'error');
    }
    const size = { w: f.w, h: f.h, preset: f.preset };
    let taskId: string;
    try {
      const r = await Api.generate({
        caption: c.caption,
        width: f.w,
        height: f.h,
        preset: f.preset,
        seed: seedNum,
        format: f.format,
        prompt_id: promptId,
      });
      taskId = r.task_id;
    } catch (e) {
      const status = e instanceof ApiError ? e.status : 0;
      const msg = (e as Error).message;
      setGen((g) => ({ ...g, phase: 'error', error: status === 409 ? `Busy (409): ${msg}` : msg }));
      // The server refused the job: drop the prompt row saved for it (the form stays in the editor).
      if (promptId !== null) await Api.deletePrompt(promptId).catch(() => undefined);
      return;
    }
    // Show the seed that was used.
    setForm((cur) => ({ ...cur, seed: seedText }));
    setGen((g) => ({ ...g, phase: 'running', taskId, status: null }));
    if (promptId !== null) {
      setCurrentPromptId(promptId);
      setResults([]);
      setSelectedResult(null);
      navigate(`/history/${promptId}`, { state: { fromGenerate: true } });
      void refreshHistory();
    }
    poll(taskId, size, 0);
  }, [gen.phase, model, navigate, poll, refreshHistory, toast]);

  const cancel = useCallback(async () => {
    const id = gen.taskId;
    if (!id) return;
    setGen((g) => ({ ...g, cancelling: true }));
    try {
      const r = await Api.cancel(id);
      if (r && r.ok === false) throw new Error(r.error || 'The task has already finished.');
    } catch (e) {
      setGen((g) => ({ ...g, cancelling: false }));
      toast(`Cancel failed: ${(e as Error).message}`, 'error');
    }
  }, [gen.taskId, toast]);

  const dismissGen = useCallback(() => {
    if (pollTimer.current && (gen.phase === 'error' || gen.phase === 'done' || gen.phase === 'cancelled')) {
      clearTimeout(pollTimer.current);
    }
    setGen(idleGen);
  }, [gen.phase]);

  // Close the overlay on its own shortly after success (the result is shown on the page).
  useEffect(() => {
    if (gen.phase !== 'done' && gen.phase !== 'cancelled') return;
    const t = setTimeout(() => setGen(idleGen), gen.phase === 'done' ? 1200 : 600);
    return () => clearTimeout(t);
  }, [gen.phase]);

  const value: AppCtx = {
    form,
    editForm,
    setRawJson,
    setCaption,
    rawError,
    resetForm,
    replaceForm,
    formReady,
    saveState,
    model,
    modelError,
    refreshModel,
    loadModel,
    unloadModel,
    prompts,
    thumbs,
    historyError,
    refreshHistory,
    deletePrompt,
    currentPromptId,
    setCurrentPromptId,
    results,
    setResults,
    selectedResult,
    setSelectedResult,
    gen,
    generate,
    cancel,
    dismissGen,
    rate,
    toasts,
    toast,
    dismissToast,
  };
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}
