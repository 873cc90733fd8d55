import { describe, expect, it } from 'vitest';
import { progressView } from '../src/components/QueuePanel';
import { mergePage } from '../src/pages/GalleryPage';

describe('progress overlay numbers', () => {
  it('uses the additive status fields when present', () => {
    const v = progressView(
      { state: 'running', status: 'running', msg: 'Generating', image: null, progress: 50, percent: 50, step: 6, total_steps: 12, phase: 'sampling', elapsed_seconds: 3, eta_seconds: 3 },
      { phase: 'running', startedAt: 0 },
    );
    expect(v).toMatchObject({ percent: 50, step: 6, total: 12, phaseLabel: 'Sampling', elapsed: 3, eta: 3 });
  });
  it('falls back to progress/msg and estimates the ETA for older servers', () => {
    const v = progressView({ state: 'running', msg: 'Generating (512x512, 3/12 steps)...', image: null, progress: 25, total_steps: 12 }, { phase: 'running', startedAt: 1000 }, 5000);
    expect(v).toMatchObject({ percent: 25, step: 3, phase: 'sampling', elapsed: 4, eta: 12 });
    const q = progressView({ state: 'running', msg: 'Queued...', image: null, progress: 0, total_steps: 0 }, { phase: 'running', startedAt: 0 }, 0);
    expect(q.phase).toBe('queued');
    expect(q.eta).toBeNull();
  });
  it('a finished task shows 100%', () => {
    const v = progressView({ state: 'done', msg: 'Done in 2.0s', image: { id: 1, hld: '', prompt_id: 1 }, progress: 99, total_steps: 12 }, { phase: 'done', startedAt: 0 });
    expect(v).toMatchObject({ percent: 100, step: 12, phase: 'done' });
  });
});

describe('gallery paging', () => {
  it('mergePage appends only new ids (servers that ignore `before` repeat rows)', () => {
    const a = [{ id: 3, hld: '', prompt_id: null }, { id: 2, hld: '', prompt_id: null }];
    expect(mergePage(a, [{ id: 2, hld: '', prompt_id: null }, { id: 1, hld: '', prompt_id: null }])).toMatchObject({ added: 1 });
    expect(mergePage(a, a).added).toBe(0);
  });
});
