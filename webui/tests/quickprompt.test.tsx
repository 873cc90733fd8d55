import { act, fireEvent, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CaptionEditor } from '../src/components/CaptionEditor';
import { mockApi, renderApp } from './helpers';

afterEach(() => vi.unstubAllGlobals());

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
const hld = () => (screen.getByLabelText(/High-level description/) as HTMLTextAreaElement).value;
const expandButton = () => screen.getByRole('button', { name: 'Expand to caption' });

describe('Quick Prompt', () => {
  it('says clearly that the LLM is not configured and keeps Expand disabled', async () => {
    const fetchMock = mockApi({
      '/api/magic-prompt/status': () => ({ configured: false, missing_env: [], llm_reachable: false, llm_error: 'http://127.0.0.1:18082/health: Could not connect to server' }),
    });
    await renderApp(<CaptionEditor />);
    fireEvent.click(screen.getByRole('tab', { name: 'Quick Prompt' }));
    await waitFor(() => expect(screen.getByTestId('magic-status').textContent).toMatch(/^LLM unreachable: http:\/\/127\.0\.0\.1:18082\/health: Could not connect/));
    expect(expandButton().hasAttribute('disabled')).toBe(true);
    expect(screen.getByText('Unavailable until the LLM is configured.')).toBeTruthy();
    expect(fetchMock.mock.calls.some(([u]) => String(u) === '/api/magic-prompt')).toBe(false);
  });

  it('a malformed server setting is named in the banner', async () => {
    mockApi({
      '/api/magic-prompt/status': () => ({ configured: false, config_error: 'IDEOGRAM4_MAGIC_PROMPT_TIMEOUT: not a number (abc)', missing_env: [], llm_reachable: false, llm_error: 'IDEOGRAM4_MAGIC_PROMPT_TIMEOUT: not a number (abc)' }),
    });
    await renderApp(<CaptionEditor />);
    fireEvent.click(screen.getByRole('tab', { name: 'Quick Prompt' }));
    await waitFor(() => expect(screen.getByTestId('magic-status').textContent).toMatch(/^Not configured: IDEOGRAM4_MAGIC_PROMPT_TIMEOUT: not a number \(abc\)/));
    expect(expandButton().hasAttribute('disabled')).toBe(true);
  });

  it('a 503 not_configured reply is shown as "not configured" with the server reason; the form is left as it was', async () => {
    const posted: unknown[] = [];
    mockApi({
      '/api/magic-prompt/status': () => ({ configured: true, provider: 'openai_compatible', model: 'fake-model', missing_env: [], llm_reachable: true, llm_error: null }),
      '/api/magic-prompt': (_u, init) => {
        posted.push(JSON.parse(String(init?.body)));
        return json(503, { error: 'IDEOGRAM4_MAGIC_PROMPT_BASE_URL is empty', kind: 'not_configured' });
      },
    });
    await renderApp(<CaptionEditor />);
    fireEvent.change(screen.getByLabelText(/High-level description/), { target: { value: 'keep this description' } });
    fireEvent.click(screen.getByRole('tab', { name: 'Quick Prompt' }));
    await waitFor(() => expect(screen.getByTestId('magic-status').textContent).toMatch(/^Configured: openai_compatible \/ fake-model/));
    fireEvent.change(screen.getByLabelText('Describe your image'), { target: { value: 'a fox in the snow' } });
    await act(async () => fireEvent.click(expandButton()));
    await waitFor(() => expect(screen.getByTestId('magic-error').textContent)
      .toBe('Quick Prompt is not configured on the server: IDEOGRAM4_MAGIC_PROMPT_BASE_URL is empty'));
    expect(posted).toEqual([{ prompt: 'a fox in the snow', width: 1024, height: 1024, images_b64: null }]);
    expect(screen.getByTestId('magic-status').textContent).toMatch(/^Not configured: IDEOGRAM4_MAGIC_PROMPT_BASE_URL is empty/);
    expect(expandButton().hasAttribute('disabled')).toBe(true);
    expect((screen.getByLabelText('Describe your image') as HTMLTextAreaElement).value).toBe('a fox in the snow');
    fireEvent.click(screen.getByRole('tab', { name: 'Form' }));
    expect(hld()).toBe('keep this description');
  });

  it('a successful expansion fills the form from the returned caption', async () => {
    mockApi({
      '/api/magic-prompt/status': () => ({ configured: true, provider: 'openai_compatible', model: 'fake-model', missing_env: [], llm_reachable: true, llm_error: null }),
      '/api/magic-prompt': () => ({
        model: 'fake-model',
        caption: {
          high_level_description: 'A lighthouse on a cliff at dusk',
          style_description: { aesthetics: 'calm', lighting: 'golden hour', medium: 'photograph' },
          compositional_deconstruction: { background: 'a dark sea', elements: [{ type: 'obj', desc: 'a white lighthouse' }] },
        },
      }),
    });
    await renderApp(<CaptionEditor />);
    fireEvent.click(screen.getByRole('tab', { name: 'Quick Prompt' }));
    await waitFor(() => expect(expandButton().hasAttribute('disabled')).toBe(false));
    fireEvent.change(screen.getByLabelText('Describe your image'), { target: { value: 'a lighthouse' } });
    await act(async () => fireEvent.click(expandButton()));
    expect(screen.queryByTestId('magic-error')).toBeNull();
    fireEvent.click(screen.getByRole('tab', { name: 'Form' }));
    await waitFor(() => expect(hld()).toBe('A lighthouse on a cliff at dusk'));
    expect((screen.getByLabelText(/^Background/) as HTMLTextAreaElement).value).toBe('a dark sea');
  });
});
