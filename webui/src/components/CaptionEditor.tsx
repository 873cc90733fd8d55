// Caption editor: Quick Prompt / Form / JSON tabs kept in sync, with server verification.
import { useEffect, useMemo, useState } from 'react';
import { captionForGenerate } from '../lib/caption';
import { Api } from '../lib/api';
import { emittedElementIndex, groupWarnings, validateForm, type Issues } from '../lib/validate';
import { useApp } from '../state';
import { CaptionGuide } from './CaptionGuide';
import { FormTab } from './FormTab';
import { JsonTab } from './JsonTab';
import { QuickPrompt } from './QuickPrompt';
import { TabPanel, Tabs } from './Tabs';

type Tab = 'quick' | 'form' | 'json';
const TAB_KEY = 'ideogram4_tab';

function merge(a: Issues, b: Issues): Issues {
  const out: Issues = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = [...(out[k] ?? []), ...v];
  return out;
}

/** Verify the caption on the server 600 ms after it stops changing. */
function useVerify(captionText: string | null) {
  const [warnings, setWarnings] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [checked, setChecked] = useState<string | null>(null);
  useEffect(() => {
    if (captionText === null) return;
    let alive = true;
    const t = setTimeout(() => {
      Api.verify(JSON.parse(captionText))
        .then((r) => {
          if (!alive) return;
          setWarnings(Array.isArray(r.warnings) ? r.warnings : []);
          setError(null);
          setChecked(captionText);
        })
        .catch((e) => {
          if (!alive) return;
          setError((e as Error).message);
          setChecked(captionText);
        });
    }, 600);
    return () => {
      alive = false;
      clearTimeout(t);
    };
  }, [captionText]);
  return { warnings, error, pending: captionText !== null && checked !== captionText };
}

export function CaptionEditor() {
  const { form, rawError, touched, editForm } = useApp();
  const [tab, setTabState] = useState<Tab>(() => {
    try {
      const t = sessionStorage.getItem(TAB_KEY);
      return t === 'quick' || t === 'json' ? t : 'form';
    } catch {
      return 'form';
    }
  });
  const setTab = (t: Tab) => {
    setTabState(t);
    try {
      sessionStorage.setItem(TAB_KEY, t);
    } catch {
      /* ignore */
    }
  };
  const captionText = useMemo(() => {
    const c = captionForGenerate(form);
    return 'caption' in c ? JSON.stringify(c.caption) : null;
  }, [form]);
  const { warnings, error: verifyError, pending } = useVerify(captionText);
  const elementMap = useMemo(() => emittedElementIndex(form), [form]);
  const local = useMemo(() => {
    const all = validateForm(form);
    // Only content errors locally; missing-field notes come from the server verifier.
    const keep: Issues = {};
    for (const [k, v] of Object.entries(all)) if (k === 'cp' || k.endsWith(':bbox') || k.endsWith(':text')) keep[k] = v;
    return keep;
  }, [form]);
  // Nothing is flagged on a form the user has not touched yet (first visit, "Create new image").
  const issues = useMemo(() => (touched ? merge(local, groupWarnings(warnings, elementMap)) : {}), [touched, local, warnings, elementMap]);
  const count = warnings.length;
  const useText = (text: string) => {
    editForm({ hld: text });
    setTab('form');
  };
  return (
    <section aria-label="Caption editor" className="min-w-0">
      <div className="flex flex-wrap items-end gap-2">
      <div className="min-w-0 flex-1">
      <Tabs id="editor" label="Caption editor" value={tab} onChange={setTab} tabs={[
        { value: 'quick', label: 'Quick Prompt' },
        { value: 'form', label: 'Form' },
        { value: 'json', label: <>JSON{rawError && <span className="ml-1 text-red-600" aria-label="(invalid)">●</span>}</> },
      ]} />
      </div>
      <CaptionGuide />
      </div>
      <div className="mt-2 flex flex-wrap items-center gap-2 text-xs" data-testid="verify-summary" aria-live="polite">
        {!touched ? (
          <span className="text-neutral-500">Describe the scene, style, background and elements; the caption is checked as you type.</span>
        ) : verifyError ? (
          <span className="text-neutral-500">Verification unavailable: {verifyError}</span>
        ) : captionText === null ? (
          <span className="text-red-600">The JSON is not valid; fix it to verify and generate.</span>
        ) : pending && count === 0 ? (
          <span className="text-neutral-500">Checking the caption…</span>
        ) : count === 0 ? (
          <span className="text-emerald-700 dark:text-emerald-400">✓ Caption passes the verifier.</span>
        ) : (
          <details>
            <summary className="cursor-pointer text-amber-700 dark:text-amber-400">{count} verifier warning{count > 1 ? 's' : ''} (shown next to the fields)</summary>
            <ul className="mt-1 list-disc pl-5 text-amber-800 dark:text-amber-300">{warnings.map((w, i) => <li key={i}>{w}</li>)}</ul>
          </details>
        )}
      </div>
      <TabPanel id="editor" value="quick" current={tab}><QuickPrompt onUseText={useText} /></TabPanel>
      <TabPanel id="editor" value="form" current={tab}><FormTab form={form} issues={issues} /></TabPanel>
      <TabPanel id="editor" value="json" current={tab}><JsonTab form={form} error={rawError} rootIssues={issues.root} /></TabPanel>
    </section>
  );
}
