// First-run "Download the weights" and the LoRA presets list (routes mocked; the e2e runs them
// against tests/cli/fake_hub.mjs).
import { act, fireEvent, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FirstRunPanel } from '../src/components/FirstRunPanel';
import { LoraSelector } from '../src/components/LoraSelector';
import { downloadPercent, formatBytes } from '../src/components/WeightsDownload';
import { mockApi, renderApp } from './helpers';

afterEach(() => vi.unstubAllGlobals());

const noWeights = { state: 'idle', msg: 'Model not loaded.', demo: false, weights: 'ideogram-ai/ideogram-4-fp8', weights_present: false, rss_mb: 10, download: null };
const slow = { timeout: 4000 };

describe('weights download (first-run panel)', () => {
  it('numbers: bytes and the percentage', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(84_000)).toBe('84 kB');
    expect(formatBytes(25_000_000)).toBe('25.0 MB');
    expect(formatBytes(26_300_000_000)).toBe('26.30 GB');
    expect(downloadPercent({ progress: 41.6 })).toBe(42);
    expect(downloadPercent({ bytes_done: 1, bytes_total: 4 })).toBe(25);
    expect(downloadPercent({ status: 'done', progress: 99 })).toBe(100);
  });

  it('is offered only when a non-demo server lacks the weights', async () => {
    mockApi({ '/api/model/status': () => ({ ...noWeights, weights_present: true }) });
    await renderApp(<FirstRunPanel />);
    expect(screen.getByTestId('first-run')).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Download the weights' })).toBeNull();
  });

  it('starts, shows bytes, the file and a progressbar, cancels', async () => {
    let n = 0;
    let cancelled = false;
    const calls: string[] = [];
    mockApi({
      '/api/model/status': () => noWeights,
      '/api/model/download': (url, init) => {
        calls.push(`${init?.method ?? 'GET'} ${url}`);
        if (url.endsWith('/cancel')) {
          cancelled = true;
          return { ok: true };
        }
        if (init?.method === 'POST') return { ok: true, task_id: 'dl1', msg: 'Download started.' };
        n++;
        if (cancelled) return { task_id: 'dl1', state: 'done', status: 'cancelled', msg: 'Cancelled.', progress: 30, bytes_done: 3e6, bytes_total: 1e7 };
        return { task_id: 'dl1', state: 'running', status: 'running', msg: 'Downloading file 2/5', progress: 30, bytes_done: 3e6, bytes_total: 1e7, files_done: 1, files_total: 5, file: 'text_encoder/model.safetensors' };
      },
    });
    await renderApp(<FirstRunPanel />);
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Download the weights' })));
    const bar = await screen.findByRole('progressbar', { name: 'Weights download' });
    await waitFor(() => expect(bar.getAttribute('aria-valuenow')).toBe('30'), slow);
    expect(screen.getByTestId('download-bytes').textContent).toBe('3.0 MB of 10.0 MB · file 2 of 5');
    expect(screen.getByTestId('download-file').textContent).toBe('text_encoder/model.safetensors');
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Cancel download' })));
    await screen.findByTestId('download-cancelled', {}, slow);
    expect(screen.getByRole('button', { name: 'Download again' })).toBeTruthy();
    expect(calls).toContain('POST /api/model/download/dl1/cancel');
    expect(n).toBeGreaterThan(0);
  });

  it('shows the server error of a failed download (a gated repository)', async () => {
    const gated = 'listing gated/model@main: access denied (HTTP 401). This repository is gated: accept the licence at https://huggingface.co/gated/model and log in (set HF_TOKEN or run `hf auth login`)';
    mockApi({
      '/api/model/status': () => noWeights,
      '/api/model/download': (_u, init) => (init?.method === 'POST'
        ? { ok: true, task_id: 'dl2' }
        : { task_id: 'dl2', state: 'done', status: 'error', msg: `Error: ${gated}`, error: gated, progress: 0 }),
    });
    await renderApp(<FirstRunPanel />);
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Download the weights' })));
    const err = await screen.findByTestId('download-error', {}, slow);
    expect(err.getAttribute('role')).toBe('alert');
    expect(err.textContent).toBe(gated);
  });

  it('a running download is picked up from the model status (after a reload)', async () => {
    mockApi({
      '/api/model/status': () => ({ ...noWeights, download: { task_id: 'dl3', state: 'running', status: 'running', msg: 'Downloading', progress: 55, bytes_done: 55, bytes_total: 100 } }),
      '/api/model/download': () => ({ task_id: 'dl3', state: 'running', status: 'running', msg: 'Downloading', progress: 56, bytes_done: 56, bytes_total: 100 }),
    });
    await renderApp(<FirstRunPanel />);
    const bar = await screen.findByRole('progressbar', { name: 'Weights download' });
    expect(Number(bar.getAttribute('aria-valuenow'))).toBeGreaterThanOrEqual(55);
    await waitFor(() => expect(bar.getAttribute('aria-valuenow')).toBe('56'), slow);
  });

  it('a refused start ({"ok": false}) shows the server message', async () => {
    mockApi({
      '/api/model/status': () => noWeights,
      '/api/model/download': () => ({ ok: false, msg: 'The server runs a snapshot folder (--model): there is nothing to download.' }),
    });
    await renderApp(<FirstRunPanel />);
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Download the weights' })));
    expect((await screen.findByTestId('download-error')).textContent).toMatch(/nothing to download/);
  });
});

describe('LoRA presets', () => {
  it('lists the presets, downloads one with progress and refreshes the LoRA list', async () => {
    let installed = false;
    let polls = 0;
    mockApi({
      '/api/lora/status': () => ({ applied: null, strength: 0.6, applied_loras: [], available: installed ? [{ name: 'Realism_Engine_V1.safetensors', format: 'peft', size_mb: 0.1 }] : [], dir: '/tmp/loras' }),
      '/api/lora/presets': () => ({
        presets: [
          { id: 'realism-v1', label: 'Realism V1', installed, loras: [{ name: 'Realism_Engine_V1.safetensors', repo: 'RazzzHF/Realism_Engine_Ideogram_4', revision: 'main', filename: 'Realism_Engine_Ideogram4_V1.safetensors', strength: 0.6, installed, format: installed ? 'peft' : null, size_mb: installed ? 0.1 : null }] },
          { id: 'zjourney-v1', label: 'zjourney V1', installed: false, loras: [{ name: 'zjourneyv1.safetensors', repo: 'tsolful/x', revision: 'main', filename: 'zjourneyv1.safetensors', strength: 0.5, installed: false, format: null, size_mb: null }] },
        ],
      }),
      '/api/lora/download': (_u, init) => {
        if (init?.method === 'POST') return { ok: true, task_id: 'l1', msg: 'Starting download...' };
        polls++;
        if (polls < 2) return { state: 'running', msg: 'Downloading LoRA files...', files: [], progress: 40, phase: 'downloading', preset_id: 'realism-v1' };
        installed = true;
        return { state: 'done', msg: 'Download complete.', files: [{ name: 'Realism_Engine_V1.safetensors', status: 'downloaded' }], error: null, progress: 100, preset_id: 'realism-v1' };
      },
    });
    await renderApp(<LoraSelector />);
    const list = await screen.findByTestId('lora-presets');
    expect((list as HTMLDetailsElement).open).toBe(true); // open while the folder has no LoRA
    expect(screen.getAllByTestId('lora-preset').length).toBe(2);
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Download Realism V1' })));
    const bar = await screen.findByRole('progressbar', { name: 'Realism V1 download' }, slow);
    await waitFor(() => expect(bar.getAttribute('aria-valuenow')).toBe('40'), slow);
    expect((screen.getByRole('button', { name: 'Download zjourney V1' }) as HTMLButtonElement).disabled).toBe(true);
    await screen.findByTestId('preset-installed', {}, slow);
    await screen.findByLabelText(/Realism Engine V1/, {}, slow);
    expect((screen.getByTestId('lora-presets') as HTMLDetailsElement).open).toBe(true); // a refresh does not close it
  });

  it('an older server without the presets route shows no section', async () => {
    mockApi();
    await renderApp(<LoraSelector />);
    await screen.findByTestId('lora-empty');
    expect(screen.queryByTestId('lora-presets')).toBeNull();
  });
});
