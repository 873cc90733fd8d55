import { useApp } from '../state';
import { IconX } from './Icons';

export function Toasts() {
  const { toasts, dismissToast } = useApp();
  return (
    <div className="pointer-events-none fixed right-4 top-16 z-[60] flex w-[min(24rem,calc(100vw-2rem))] flex-col gap-2" aria-live="polite" role="status">
      {toasts.map((t) => (
        <div key={t.id} data-testid="toast" className={`pointer-events-auto flex items-start gap-2 rounded-md border px-3 py-2 text-sm shadow-lg ${
          t.kind === 'error'
            ? 'border-red-300 bg-red-50 text-red-900 dark:border-red-800 dark:bg-red-950 dark:text-red-100'
            : t.kind === 'success'
              ? 'border-emerald-300 bg-emerald-50 text-emerald-900 dark:border-emerald-800 dark:bg-emerald-950 dark:text-emerald-100'
              : 'border-neutral-200 bg-white text-neutral-900 dark:border-neutral-700 dark:bg-neutral-900 dark:text-neutral-100'
        }`}>
          <span className="flex-1">{t.text}</span>
          <button type="button" className="opacity-70 hover:opacity-100" aria-label="Dismiss notification" onClick={() => dismissToast(t.id)}>
            <IconX />
          </button>
        </div>
      ))}
    </div>
  );
}
