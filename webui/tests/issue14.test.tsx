// Box fields that refuse out-of-range numbers, undo/redo of form and canvas edits, reattaching to
// queued jobs after a reload, and Quick Prompt's "Use my text as the description" fallback.
import { act, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { useState } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BBoxFields, bboxFieldError } from '../src/components/BBoxCanvas';
import { CaptionEditor } from '../src/components/CaptionEditor';
import { QueuePanel } from '../src/components/QueuePanel';
import { EditorPage } from '../src/pages/EditorPage';
import { mockApi, renderApp } from './helpers';

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

const value = (label: string | RegExp) => (screen.getAllByLabelText(label)[0] as HTMLInputElement | HTMLTextAreaElement).value;

describe('bbox fields refuse what is not a box', () => {
  it('bboxFieldError: out of range, not a number, crossed edges', () => {
    expect(bboxFieldError('Top', '1500', [1500, 0, 720, 1000])).toBe('Top must be from 0 to 1000 (the box scale), not 1500.');
    expect(bboxFieldError('Left', '-1', [0, -1, 10, 10])).toMatch(/^Left must be from 0 to 1000/);
    expect(bboxFieldError('Top', '', [0, 0, 10, 10])).toBe('Top must be a number from 0 to 1000.');
    expect(bboxFieldError('Top', 'abc', [0, 0, 10, 10])).toBe('Top must be a number from 0 to 1000.');
    expect(bboxFieldError('Top', '800', [800, 0, 720, 1000])).toBe('Top must be less than Bottom.');
    expect(bboxFieldError('Right', '100', [0, 200, 500, 100])).toBe('Left must be less than Right.');
    expect(bboxFieldError('Top', '300', [300, 290, 720, 710])).toBeNull();
  });

  it('a refused number is shown with its error and leaves the box alone; blur puts the box value back', () => {
    const changes: string[] = [];
    function Harness() {
      const [v, setV] = useState('300,290,720,710');
      return <BBoxFields idPrefix="t" value={v} onChange={(n) => { changes.push(n); setV(n); }} />;
    }
    render(<Harness />);
    const top = screen.getByLabelText('Top') as HTMLInputElement;
    fireEvent.change(top, { target: { value: '1500' } });
    expect(top.value).toBe('1500');
    expect(top.getAttribute('aria-invalid')).toBe('true');
    const err = screen.getByTestId('bbox-field-error');
    expect(err.getAttribute('role')).toBe('alert');
    expect(err.textContent).toBe('Top must be from 0 to 1000 (the box scale), not 1500. The box was not changed.');
    expect(top.getAttribute('aria-describedby')).toBe(err.id);
    expect(changes).toEqual([]);
    fireEvent.blur(top);
    expect(top.value).toBe('300');
    expect(screen.queryByTestId('bbox-field-error')).toBeNull();
    fireEvent.change(screen.getByLabelText('Bottom'), { target: { value: '250' } });
    expect(screen.getByTestId('bbox-field-error').textContent).toMatch(/^Top must be less than Bottom\./);
    fireEvent.change(screen.getByLabelText('Bottom'), { target: { value: '800' } });
    expect(screen.queryByTestId('bbox-field-error')).toBeNull();
    expect(changes).toEqual(['300,290,800,710']);
  });
});

describe('undo / redo', () => {
  it('typing, drawing a box and moving it are separate steps even within the coalescing window', async () => {
    mockApi();
    await renderApp(<EditorPage />);
    fireEvent.change(screen.getByLabelText('Description'), { target: { value: 'a cat' } });
    const canvas = screen.getByTestId('bbox-canvas');
    fireEvent.keyDown(canvas, { key: 'Enter' });
    fireEvent.keyDown(canvas, { key: 'ArrowDown' });
    fireEvent.keyDown(canvas, { key: 'ArrowDown' }); // arrow presses in a row are one step
    expect(value('Top')).toBe('310');
    fireEvent.keyDown(canvas, { key: 'z', ctrlKey: true });
    expect(value('Top')).toBe('290');
    expect(value('Description')).toBe('a cat');
    fireEvent.keyDown(canvas, { key: 'z', ctrlKey: true });
    expect(value('Top')).toBe('');
    expect(value('Description')).toBe('a cat');
    fireEvent.keyDown(canvas, { key: 'z', ctrlKey: true });
    expect(value('Description')).toBe('');
    // Redo: Ctrl+Shift+Z and Ctrl+Y.
    fireEvent.keyDown(canvas, { key: 'Z', ctrlKey: true, shiftKey: true });
    expect(value('Description')).toBe('a cat');
    fireEvent.keyDown(canvas, { key: 'y', ctrlKey: true });
    expect(value('Top')).toBe('290');
    fireEvent.click(screen.getByRole('button', { name: 'Redo' }));
    expect(value('Top')).toBe('310');
    expect((screen.getByRole('button', { name: 'Redo' }) as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(screen.getByRole('button', { name: 'Undo' }));
    expect(value('Top')).toBe('290');
  });

  it('a new edit after an undo drops the redo steps; the Quick Prompt text keeps the browser undo', async () => {
    mockApi();
    await renderApp(<EditorPage />);
    const hld = screen.getByLabelText(/High-level description/);
    fireEvent.change(hld, { target: { value: 'first' } });
    fireEvent.change(screen.getByLabelText(/^Background/), { target: { value: 'bg' } });
    fireEvent.keyDown(document.body, { key: 'z', ctrlKey: true });
    expect(value(/^Background/)).toBe('');
    fireEvent.change(screen.getByLabelText('Description'), { target: { value: 'x' } });
    expect((screen.getByRole('button', { name: 'Redo' }) as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(screen.getByRole('tab', { name: 'Quick Prompt' }));
    const idea = screen.getByLabelText('Describe your image');
    fireEvent.keyDown(idea, { key: 'z', ctrlKey: true });
    fireEvent.click(screen.getByRole('tab', { name: 'Form' }));
    expect(value('Description')).toBe('x'); // not undone: the keystroke belonged to the idea box
  });
});

describe('reattach after a reload', () => {
  it('running and queued jobs of GET /api/queue appear in the job panel with their phase; Cancel on a queued one', async () => {
    const cancelled: string[] = [];
    mockApi({
      '/api/queue': () => ({
        running: 'aaaa', queued: ['bbbb'], queue_size: 16,
        jobs: [
          { id: 'aaaa', kind: 'generate', status: 'running', position: 0, n: 1, width: 1024, height: 1024, preset: 'V4_QUALITY_48' },
          { id: 'bbbb', kind: 'generate', status: 'queued', position: 1, n: 2, width: 512, height: 768, preset: 'V4_TURBO_12' },
          { id: 'cccc', kind: 'lora_apply', status: 'queued', position: 2 },
        ],
      }),
      '/api/status/aaaa': () => ({ state: 'running', status: 'running', msg: 'Generating', image: null, progress: 40, percent: 40, step: 19, total_steps: 48, phase: 'sampling' }),
      '/api/status/bbbb': () => (cancelled.includes('bbbb')
        ? { state: 'done', status: 'cancelled', msg: 'Cancelled.', image: null, progress: 0, total_steps: 12, cancelled: true }
        : { state: 'running', status: 'queued', msg: 'Queued (position 1)...', image: null, progress: 0, total_steps: 12, queue_position: 1 }),
      '/api/tasks': (url) => {
        const id = /\/api\/tasks\/([^/]+)\/cancel/.exec(url)?.[1];
        if (id) cancelled.push(id);
        return { ok: true };
      },
    });
    await renderApp(<QueuePanel />);
    await waitFor(() => expect(document.querySelectorAll('[data-testid="job"]').length).toBe(2));
    const running = document.querySelector('[data-testid="job"][data-task="aaaa"]')!;
    const queued = document.querySelector('[data-testid="job"][data-task="bbbb"]') as HTMLElement;
    expect(running.getAttribute('data-phase')).toBe('running');
    expect(queued.getAttribute('data-phase')).toBe('queued');
    expect(queued.textContent).toMatch(/512×768 ×2/);
    expect(queued.textContent).toMatch(/Queued/);
    expect(document.querySelector('[data-task="cccc"]')).toBeNull();
    const cancel = Array.from(queued.querySelectorAll('button')).find((b) => b.textContent === 'Cancel')!;
    await act(async () => fireEvent.click(cancel));
    await waitFor(() => expect(cancelled).toEqual(['bbbb']));
    await waitFor(() => expect(document.querySelector('[data-testid="job"][data-task="bbbb"]')?.getAttribute('data-phase')).toBe('cancelled'), { timeout: 4000 });
  });
});

describe('Quick Prompt without an LLM', () => {
  it('"Use my text as the description" puts the idea into the high-level description and opens the Form', async () => {
    const posted: string[] = [];
    mockApi({
      '/api/magic-prompt/status': () => ({ configured: false, missing_env: ['IDEOGRAM4_MAGIC_PROMPT_BASE_URL'], llm_reachable: false, llm_error: 'no base URL' }),
      '/api/magic-prompt': () => {
        posted.push('magic');
        return {};
      },
    });
    await renderApp(<CaptionEditor />);
    fireEvent.click(screen.getByRole('tab', { name: 'Quick Prompt' }));
    const use = await screen.findByRole('button', { name: 'Use my text as the description' });
    expect((use as HTMLButtonElement).disabled).toBe(true);
    fireEvent.change(screen.getByLabelText('Describe your image'), { target: { value: '  a fox reading under a mushroom  ' } });
    expect((use as HTMLButtonElement).disabled).toBe(false);
    expect(use.className).toMatch(/btn-primary/); // the main action when the LLM is not configured
    await act(async () => fireEvent.click(use));
    await waitFor(() => expect(screen.getByRole('tab', { name: 'Form' }).getAttribute('aria-selected')).toBe('true'));
    expect(value(/High-level description/)).toBe('a fox reading under a mushroom');
    expect(posted).toEqual([]);
  });
});
