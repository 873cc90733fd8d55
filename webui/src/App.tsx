// Shell: skip link, sidebar (history), header (model panel, theme), routed page, overlay, toasts.
import { useEffect, useState } from 'react';
import { Route, Routes, useLocation, Link } from 'react-router';
import { HistorySidebar } from './components/HistorySidebar';
import { IconMenu } from './components/Icons';
import { ModelPanel } from './components/ModelPanel';
import { DropRestore } from './components/DropRestore';
import { QueuePanel } from './components/QueuePanel';
import { ThemeToggle } from './components/ThemeToggle';
import { Toasts } from './components/Toasts';
import { EditorPage } from './pages/EditorPage';
import { GalleryPage } from './pages/GalleryPage';
import { AppProvider } from './state';

function NotFound() {
  return (
    <div className="mx-auto max-w-lg py-16 text-center">
      <h1 className="mb-2 text-xl font-semibold">Page not found</h1>
      <Link className="underline" to="/">Back to the editor</Link>
    </div>
  );
}

function Shell() {
  const [drawer, setDrawer] = useState(false);
  const location = useLocation();
  useEffect(() => setDrawer(false), [location.pathname]);
  useEffect(() => {
    if (!drawer) return;
    const onKey = (e: KeyboardEvent) => { if (e.key === 'Escape') setDrawer(false); };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [drawer]);
  return (
    <div className="min-h-screen lg:pl-72">
      <a href="#main" className="sr-only focus:not-sr-only focus:fixed focus:left-2 focus:top-2 focus:z-[70] focus:rounded focus:bg-white focus:px-3 focus:py-2 focus:text-sm focus:shadow dark:focus:bg-neutral-900">
        Skip to content
      </a>
      {/* Sidebar: fixed on wide screens, off-canvas drawer on narrow ones. */}
      <aside className="fixed inset-y-0 left-0 z-30 hidden w-72 border-r border-neutral-200 bg-white lg:block dark:border-neutral-800 dark:bg-neutral-950">
        <HistorySidebar />
      </aside>
      {drawer && (
        <div className="fixed inset-0 z-40 lg:hidden">
          <div className="absolute inset-0 bg-black/40" onClick={() => setDrawer(false)} aria-hidden="true" />
          <aside className="absolute inset-y-0 left-0 w-[85vw] max-w-xs border-r border-neutral-200 bg-white shadow-xl dark:border-neutral-800 dark:bg-neutral-950" aria-label="Navigation drawer">
            <HistorySidebar onNavigate={() => setDrawer(false)} onClose={() => setDrawer(false)} />
          </aside>
        </div>
      )}
      <header className="sticky top-0 z-20 flex h-14 items-center gap-2 border-b border-neutral-200 bg-white/90 px-3 backdrop-blur dark:border-neutral-800 dark:bg-neutral-950/90">
        <button type="button" className="btn btn-ghost lg:hidden" aria-label="Open navigation" aria-expanded={drawer} onClick={() => setDrawer(true)}>
          <IconMenu />
        </button>
        <span className="hidden font-semibold sm:inline lg:hidden">Ideogram 4</span>
        <span className="flex-1" />
        <ModelPanel />
        <ThemeToggle />
      </header>
      <main id="main" tabIndex={-1} className="p-3 sm:p-5 focus:outline-none">
        <Routes>
          <Route path="/" element={<EditorPage />} />
          <Route path="/history/:id" element={<EditorPage />} />
          <Route path="/gallery" element={<GalleryPage />} />
          <Route path="*" element={<NotFound />} />
        </Routes>
      </main>
      {/* The editor docks the queue in its Generate bar; other pages get it in a corner. */}
      {location.pathname === '/gallery' && (
        <div className="fixed bottom-3 right-3 z-30 w-[min(24rem,calc(100vw-1.5rem))] rounded-lg border border-neutral-200 bg-white/95 px-3 shadow-lg backdrop-blur empty:hidden dark:border-neutral-800 dark:bg-neutral-950/95">
          <QueuePanel />
        </div>
      )}
      <DropRestore />
      <Toasts />
    </div>
  );
}

export default function App() {
  return (
    <AppProvider>
      <Shell />
    </AppProvider>
  );
}
