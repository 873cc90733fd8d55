import { act, fireEvent, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LoraSelector } from '../src/components/LoraSelector';
import { mockApi, renderApp } from './helpers';

afterEach(() => vi.unstubAllGlobals());

describe('LoRA selector', () => {
  it('lists LoRA files, applies a stack with per-file strengths, polls the operation and shows the applied state', async () => {
    let applied: { name: string; strength: number; format: string }[] = [];
    const posted: unknown[] = [];
    let polls = 0;
    mockApi({
      '/api/lora/status': () => ({
        applied: applied.length ? applied.map((a) => a.name).join(' + ') : null,
        strength: 0.6,
        default_strength: 0.6,
        applied_loras: applied,
        available: [{ name: 'Realism_Engine_V1.safetensors', format: 'standard', size_mb: 300 }, { name: 'ink.safetensors', format: 'lokr', size_mb: 2048 }],
      }),
      '/api/lora/apply': (_u, init) => {
        posted.push(JSON.parse(String(init?.body)));
        return { ok: true, task_id: 'op1', msg: 'LoRA apply started.' };
      },
      '/api/lora/operation/op1': () => {
        polls += 1;
        if (polls === 1) return { state: 'running', msg: 'Merging…', phase: 'merge', progress: 50 };
        applied = [{ name: 'Realism_Engine_V1.safetensors', strength: 0.6, format: 'standard' }, { name: 'ink.safetensors', strength: 0.35, format: 'lokr' }];
        return { state: 'done', msg: 'done', phase: 'done', progress: 100, result: { ok: true, msg: 'LoRA stack applied: Realism_Engine_V1.safetensors + ink.safetensors' } };
      },
    });
    await renderApp(<LoraSelector />);
    await waitFor(() => expect(screen.getByLabelText(/Realism Engine V1/)).toBeTruthy());
    expect(screen.getByTestId('lora-applied').textContent).toBe('Applied: none');
    expect(screen.getByText(/2\.0G/)).toBeTruthy();
    fireEvent.click(screen.getByLabelText(/Realism Engine V1/));
    fireEvent.click(screen.getByLabelText(/^ink/));
    const sliders = screen.getAllByLabelText('Strength');
    expect(sliders).toHaveLength(2);
    fireEvent.change(sliders[1], { target: { value: '0.35' } });
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Apply stack (2)' })));
    expect(posted).toEqual([{ loras: [{ name: 'Realism_Engine_V1.safetensors', strength: 0.6 }, { name: 'ink.safetensors', strength: 0.35 }] }]);
    await waitFor(() => expect(screen.getByText(/Merging/)).toBeTruthy(), { timeout: 3000 });
    await waitFor(() => expect(screen.getByTestId('lora-applied').textContent).toBe('Applied: Realism Engine V1 (0.6) + ink (0.35)'), { timeout: 4000 });
    expect(screen.getByRole('button', { name: 'Remove' }).hasAttribute('disabled')).toBe(false);
  });

  it('says so when no LoRA file exists (no Apply button)', async () => {
    mockApi();
    await renderApp(<LoraSelector />);
    await waitFor(() => expect(screen.getByTestId('lora-empty').textContent).toMatch(/^No LoRA files in the LoRA folder\./));
    expect(screen.queryByRole('button', { name: /Apply/ })).toBeNull();
  });

  it('Apply stays disabled while the model is not loaded', async () => {
    mockApi({
      '/api/model/status': () => ({ state: 'idle', msg: '' }),
      '/api/lora/status': () => ({ applied: null, strength: 0.6, applied_loras: [], available: [{ name: 'a.safetensors', format: 'standard' }] }),
    });
    await renderApp(<LoraSelector />);
    await waitFor(() => expect(screen.getByLabelText(/^a/)).toBeTruthy());
    fireEvent.click(screen.getByLabelText(/^a/));
    expect(screen.getByRole('button', { name: 'Apply' }).hasAttribute('disabled')).toBe(true);
    expect(screen.getByText('Load the model first.')).toBeTruthy();
  });
});
