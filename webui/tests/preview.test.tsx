import { act, fireEvent, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EditorPage } from '../src/pages/EditorPage';
import { mockApi, renderApp } from './helpers';

afterEach(() => vi.unstubAllGlobals());

const PREVIEW = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC';

describe('live preview', () => {
  it('shows the status preview in the job card while sampling, the image once done', async () => {
    let polls = 0;
    mockApi({
      '/api/prompts': (_u, init) => (init?.method === 'POST' ? { id: 3 } : []),
      '/api/generate': () => ({ task_id: 'pv' }),
      '/api/status/pv': () => {
        polls += 1;
        if (polls === 1) return { state: 'running', status: 'running', msg: 'Generating', image: null, progress: 50, percent: 50, step: 6, total_steps: 12, phase: 'sampling', preview: PREVIEW, preview_step: 6 };
        return { state: 'done', status: 'done', msg: 'Done in 2.0s', progress: 100, percent: 100, step: 12, total_steps: 12, phase: 'done', preview: null, preview_step: null,
          image: { id: 11, url: '/api/images/11/file', hld: 'x', prompt_id: 3, width: 1024, height: 1024, seed: 5, preset: 'V4_TURBO_12', format: 'png', generation_seconds: 2 } };
      },
    });
    await renderApp(<EditorPage />);
    await act(async () => fireEvent.click(screen.getByTestId('generate')));
    await waitFor(() => expect(screen.getByAltText('Live preview').getAttribute('src')).toBe(PREVIEW), { timeout: 4000 });
    await waitFor(() => expect(screen.getByTestId('job-percent').textContent).toBe('100%'), { timeout: 4000 });
    expect(screen.queryByAltText('Live preview')).toBeNull();
    expect(screen.getByAltText('Latest image of this job').getAttribute('src')).toBe('/api/images/11/file');
  });
});
