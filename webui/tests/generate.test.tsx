import { act, fireEvent, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EditorPage } from '../src/pages/EditorPage';
import { mockApi, renderApp } from './helpers';

afterEach(() => vi.unstubAllGlobals());

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

describe('generate flow', () => {
  it('saves the prompt first, then generates with its id; a 409 ends in the error state with Dismiss and drops that prompt', async () => {
    const order: string[] = [];
    const bodies: Record<string, unknown> = {};
    mockApi({
      '/api/prompts': (_u, init) => {
        if (init?.method === 'POST') {
          order.push('prompt');
          bodies.prompt = JSON.parse(String(init.body));
          return { id: 7 };
        }
        return [];
      },
      '/api/prompts/7': (_u, init) => {
        order.push(`${init?.method} prompt 7`);
        return { ok: true };
      },
      '/api/generate': (_u, init) => {
        order.push('generate');
        bodies.generate = JSON.parse(String(init?.body));
        return json(409, { error: 'A generation is already running. Wait for it to finish before starting another.' });
      },
    });
    await renderApp(<EditorPage />);
    fireEvent.change(screen.getByLabelText(/High-level description/), { target: { value: 'a lighthouse' } });
    fireEvent.change(screen.getByLabelText('Seed'), { target: { value: '0' } });
    await act(async () => fireEvent.click(screen.getByTestId('generate')));
    await waitFor(() => expect(screen.getByTestId('job-error').textContent).toMatch(/already running/));
    // The refused job's prompt row is removed again.
    await waitFor(() => expect(order).toEqual(['prompt', 'generate', 'DELETE prompt 7']));
    const prompt = bodies.prompt as { hld: string; form_json: string };
    expect(prompt.hld).toBe('a lighthouse');
    expect(JSON.parse(prompt.form_json)).toMatchObject({ hld: 'a lighthouse', seed: '0' });
    expect(bodies.generate).toMatchObject({ prompt_id: 7, seed: 0, width: 1024, height: 1024, preset: 'V4_TURBO_12', format: 'webp' });
    expect((bodies.generate as { caption: { high_level_description: string } }).caption.high_level_description).toBe('a lighthouse');
    // The form stays editable while the error is shown; Dismiss removes the job.
    expect((screen.getByLabelText(/High-level description/) as HTMLTextAreaElement).disabled).toBe(false);
    fireEvent.click(screen.getByRole('button', { name: 'Dismiss' }));
    expect(screen.queryByTestId('job')).toBeNull();
  });

  it('polls the task: shows step progress, then the result image; a task error is shown, not polled forever', async () => {
    let polls = 0;
    mockApi({
      '/api/prompts': (_u, init) => (init?.method === 'POST' ? { id: 3 } : []),
      '/api/generate': () => ({ task_id: 'abc' }),
      '/api/status/abc': () => {
        polls += 1;
        if (polls === 1) return { state: 'running', status: 'running', msg: 'Generating (1024x1024, 6/12 steps)...', image: null, progress: 50, percent: 50, step: 6, total_steps: 12, phase: 'sampling', elapsed_seconds: 1, eta_seconds: 1 };
        return { state: 'done', status: 'done', msg: 'Done in 2.0s', progress: 100, percent: 100, step: 12, total_steps: 12, phase: 'done', elapsed_seconds: 2, eta_seconds: 0,
          image: { id: 11, url: '/api/images/11/file', hld: 'x', prompt_id: 3, width: 1024, height: 1024, seed: 5, preset: 'V4_TURBO_12', format: 'png', generation_seconds: 2 } };
      },
    });
    await renderApp(<EditorPage />);
    await act(async () => fireEvent.click(screen.getByTestId('generate')));
    await waitFor(() => expect(screen.getByTestId('job-step').textContent).toBe('step 6 / 12'), { timeout: 4000 });
    expect(screen.getByTestId('job-percent').textContent).toBe('50%');
    expect(screen.getByRole('progressbar', { name: /Generation progress/ }).getAttribute('aria-valuenow')).toBe('50');
    // the title is set by an effect after the commit that shows the step: wait for it
    await waitFor(() => expect(document.title).toBe('50% · Ideogram 4'));
    await waitFor(() => expect(screen.getByTestId('job-percent').textContent).toBe('100%'), { timeout: 4000 });
    await waitFor(() => expect(screen.getByTestId('result-image').getAttribute('src')).toBe('/api/images/11/file'));
    expect(screen.getByTestId('result-seed').textContent).toBe('5');
    expect(polls).toBe(2);
  });

  it('a finished task without an image ends in the error state with the server message', async () => {
    let polls = 0;
    mockApi({
      '/api/prompts': (_u, init) => (init?.method === 'POST' ? { id: 4 } : []),
      '/api/generate': () => ({ task_id: 'e1' }),
      '/api/status/e1': () => {
        polls += 1;
        return { state: 'done', status: 'error', msg: 'Error: Model not loaded.', error: 'Model not loaded.', image: null, progress: 0, total_steps: 12 };
      },
    });
    await renderApp(<EditorPage />);
    await act(async () => fireEvent.click(screen.getByTestId('generate')));
    await waitFor(() => expect(screen.getByTestId('job-error').textContent).toBe('Model not loaded.'), { timeout: 4000 });
    await act(async () => new Promise((r) => setTimeout(r, 1500)));
    expect(polls).toBe(1);
  });
});
