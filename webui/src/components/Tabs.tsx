// WAI-ARIA tabs with arrow-key navigation (roving tabindex).
import { useRef, type KeyboardEvent, type ReactNode } from 'react';

export function Tabs<T extends string>({ id, tabs, value, onChange, label }: {
  id: string;
  tabs: { value: T; label: ReactNode }[];
  value: T;
  onChange: (v: T) => void;
  label: string;
}) {
  const refs = useRef<(HTMLButtonElement | null)[]>([]);
  const onKey = (e: KeyboardEvent, i: number) => {
    let j = -1;
    if (e.key === 'ArrowRight') j = (i + 1) % tabs.length;
    else if (e.key === 'ArrowLeft') j = (i - 1 + tabs.length) % tabs.length;
    else if (e.key === 'Home') j = 0;
    else if (e.key === 'End') j = tabs.length - 1;
    if (j < 0) return;
    e.preventDefault();
    onChange(tabs[j].value);
    refs.current[j]?.focus();
  };
  return (
    <div role="tablist" aria-label={label} className="flex gap-1 border-b border-neutral-200 dark:border-neutral-800">
      {tabs.map((t, i) => {
        const sel = t.value === value;
        return (
          <button key={t.value} ref={(el) => { refs.current[i] = el; }} type="button" role="tab" id={`${id}-tab-${t.value}`}
            aria-selected={sel} aria-controls={`${id}-panel-${t.value}`} tabIndex={sel ? 0 : -1}
            onClick={() => onChange(t.value)} onKeyDown={(e) => onKey(e, i)}
            className={`-mb-px border-b-2 px-3 py-2 text-sm font-medium ${sel
              ? 'border-neutral-900 text-neutral-900 dark:border-white dark:text-white'
              : 'border-transparent text-neutral-500 hover:text-neutral-800 dark:hover:text-neutral-200'}`}>
            {t.label}
          </button>
        );
      })}
    </div>
  );
}

export function TabPanel({ id, value, current, children }: { id: string; value: string; current: string; children: ReactNode }) {
  return (
    <div role="tabpanel" id={`${id}-panel-${value}`} aria-labelledby={`${id}-tab-${value}`} hidden={value !== current} tabIndex={0}
      className="pt-4 focus-visible:outline-none">
      {value === current && children}
    </div>
  );
}
