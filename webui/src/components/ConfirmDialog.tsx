// Accessible modal dialog: focus moves in, Tab stays inside, Escape closes, focus returns.
import { useEffect, useRef, type ReactNode } from 'react';
import { createPortal } from 'react-dom';

export function useFocusTrap(active: boolean, onEscape?: () => void) {
  const ref = useRef<HTMLDivElement>(null);
  const esc = useRef(onEscape);
  esc.current = onEscape;
  useEffect(() => {
    if (!active) return;
    const prev = document.activeElement as HTMLElement | null;
    const root = ref.current;
    const focusables = () =>
      Array.from(
        root?.querySelectorAll<HTMLElement>('button:not([disabled]), [href], input:not([disabled]), select, textarea, [tabindex]:not([tabindex="-1"])') ?? [],
      );
    const first = root?.querySelector<HTMLElement>('[data-autofocus]') ?? focusables()[0];
    first?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape' && esc.current) {
        e.preventDefault();
        esc.current();
      } else if (e.key === 'Tab') {
        const f = focusables();
        if (!f.length) return;
        const i = f.indexOf(document.activeElement as HTMLElement);
        if (e.shiftKey && (i <= 0)) {
          e.preventDefault();
          f[f.length - 1].focus();
        } else if (!e.shiftKey && i === f.length - 1) {
          e.preventDefault();
          f[0].focus();
        }
      }
    };
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('keydown', onKey);
      prev?.focus?.();
    };
  }, [active]);
  return ref;
}

export function Modal({ open, labelledBy, onClose, children, className = '' }: {
  open: boolean;
  labelledBy: string;
  onClose?: () => void;
  children: ReactNode;
  className?: string;
}) {
  const ref = useFocusTrap(open, onClose);
  if (!open) return null;
  // A portal: an ancestor with a transform or backdrop-filter (the header) would otherwise become the
  // containing block of this fixed overlay and squeeze the dialog into it.
  return createPortal(
    <div className="fixed inset-0 z-50 flex items-center justify-center bg-black/50 p-4" onMouseDown={(e) => {
      if (e.target === e.currentTarget) onClose?.();
    }}>
      <div ref={ref} role="dialog" aria-modal="true" aria-labelledby={labelledBy}
        className={`card w-full max-w-md shadow-xl ${className}`}>
        {children}
      </div>
    </div>,
    document.body,
  );
}

export function ConfirmDialog({ open, title, message, confirmLabel = 'Delete', onConfirm, onCancel }: {
  open: boolean;
  title: string;
  message: ReactNode;
  confirmLabel?: string;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  return (
    <Modal open={open} labelledBy="confirm-title" onClose={onCancel}>
      <h2 id="confirm-title" className="mb-2 text-lg font-semibold">{title}</h2>
      <div className="mb-4 text-sm text-neutral-600 dark:text-neutral-300">{message}</div>
      <div className="flex justify-end gap-2">
        <button type="button" className="btn" onClick={onCancel} data-autofocus>Cancel</button>
        <button type="button" className="btn btn-danger" onClick={onConfirm}>{confirmLabel}</button>
      </div>
    </Modal>
  );
}
