import { act, fireEvent, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ModelPanel, shortError } from '../src/components/ModelPanel';
import { mockApi, renderApp } from './helpers';

afterEach(() => vi.unstubAllGlobals());

const LONG = 'Cannot load the model: /models/ideogram-4-fp8/transformer/diffusion_pytorch_model-00002-of-00003.safetensors '
  + 'is truncated (expected 4294967296 bytes, found 1048576); download the snapshot again';

describe('model panel', () => {
  it('shortens a failure message to its first line', () => {
    expect(shortError('one\ntwo')).toBe('one');
    expect(shortError('x'.repeat(200), 20)).toBe(`${'x'.repeat(19)}…`);
    expect(shortError('  short  ')).toBe('short');
  });

  it('shows a failed load (state "error"): red dot, the reason visible, Load retries; polling stops on error and on loaded', async () => {
    const states: Record<string, unknown>[] = [];
    let current: Record<string, unknown> = { state: 'error', msg: LONG, demo: false, weights: '/models/ideogram-4-fp8' };
    let statusCalls = 0;
    let loads = 0;
    const fetchMock = mockApi({
      '/api/model/status': () => {
        statusCalls += 1;
        // Each call answers the next queued state, then keeps answering the last one.
        if (states.length) current = states.shift()!;
        return current;
      },
      '/api/model/load': (_u, init) => {
        expect(init?.method).toBe('POST');
        loads += 1;
        return { ok: true, msg: 'Load started.' };
      },
    });
    await renderApp(<ModelPanel />);

    await waitFor(() => expect(screen.getByTestId('model-state').textContent).toBe('Load failed'));
    expect(screen.getByTestId('model-dot').className).toContain('bg-red-500');
    expect(screen.getByTestId('model-dot').getAttribute('data-state')).toBe('error');
    // The reason is on screen (one short line), not only in a tooltip; the full text stays reachable.
    const msg = screen.getByTestId('model-error');
    expect(msg.textContent).toBe(shortError(LONG));
    expect(msg.textContent!.length).toBeLessThan(LONG.length);
    expect(msg.textContent).toMatch(/^Cannot load the model: /);
    expect(msg.getAttribute('title')).toBe(LONG);
    expect(msg.getAttribute('aria-label')).toBe(`Load failed: ${LONG}`);
    expect(screen.queryByTestId('model-weights')).toBeNull();
    expect(screen.queryByTestId('model-error-details')).toBeNull();
    fireEvent.click(msg);
    expect(msg.getAttribute('aria-expanded')).toBe('true');
    expect(screen.getByTestId('model-error-details').textContent).toContain(LONG);
    fireEvent.click(screen.getByRole('button', { name: 'Close' }));
    expect(screen.queryByTestId('model-error-details')).toBeNull();

    // No polling while the state is "error".
    const idleCalls = statusCalls;
    await act(async () => new Promise((r) => setTimeout(r, 800)));
    expect(statusCalls).toBe(idleCalls);

    // Retry: Load is enabled; the load fails again -> error shown with the new reason, polling stops.
    const load = screen.getByRole('button', { name: 'Load' });
    expect(load.hasAttribute('disabled')).toBe(false);
    expect(load.getAttribute('aria-describedby')).toBe('model-error');
    states.push(
      { state: 'loading', msg: 'Loading pipeline...', progress: 40 },
      { state: 'error', msg: 'Out of memory while loading the transformer.' },
    );
    await act(async () => fireEvent.click(load));
    expect(loads).toBe(1);
    await waitFor(() => expect(screen.getByTestId('model-state').textContent).toBe('Loading 40%'));
    expect(screen.getByTestId('model-dot').className).toContain('bg-amber-500');
    expect(screen.queryByTestId('model-error')).toBeNull();
    expect(screen.getByRole('button', { name: /Loading/ }).hasAttribute('disabled')).toBe(true);
    await waitFor(() => expect(screen.getByTestId('model-error').textContent).toBe('Out of memory while loading the transformer.'), { timeout: 3000 });
    expect(screen.getByTestId('model-state').textContent).toBe('Load failed');
    expect(screen.getByTestId('model-dot').className).toContain('bg-red-500');
    const afterError = statusCalls;
    await act(async () => new Promise((r) => setTimeout(r, 1000)));
    expect(statusCalls).toBe(afterError);

    // Second retry succeeds: "Loaded", the error is gone, polling stops too.
    states.push({ state: 'loading', msg: 'Warming up...', progress: 90 }, { state: 'loaded', msg: 'Model loaded.', rss_mb: 2048 });
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Load' })));
    expect(loads).toBe(2);
    await waitFor(() => expect(screen.getByTestId('model-state').textContent).toBe('Loaded'), { timeout: 3000 });
    expect(screen.getByTestId('model-dot').className).toContain('bg-emerald-500');
    expect(screen.queryByTestId('model-error')).toBeNull();
    expect(screen.getByRole('button', { name: 'Unload' })).toBeTruthy();
    const afterLoaded = statusCalls;
    await act(async () => new Promise((r) => setTimeout(r, 1000)));
    expect(statusCalls).toBe(afterLoaded);
    expect(fetchMock.mock.calls.filter(([u]) => String(u) === '/api/model/load')).toHaveLength(2);
  });

  it('an unreachable server is shown as such and Load waits for it', async () => {
    mockApi({ '/api/model/status': () => { throw new TypeError('Failed to fetch'); } });
    await renderApp(<ModelPanel />);
    await waitFor(() => expect(screen.getByTestId('model-state').textContent).toBe('Server unreachable'));
    expect(screen.getByTestId('model-error').textContent).toBe('Failed to fetch');
    expect(screen.getByTestId('model-dot').className).toContain('bg-red-500');
    expect(screen.getByRole('button', { name: 'Load' }).hasAttribute('disabled')).toBe(true);
  });
});
