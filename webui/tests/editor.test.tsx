import { act, fireEvent, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CaptionEditor } from '../src/components/CaptionEditor';
import { SettingsCard } from '../src/components/SettingsCard';
import { mockApi, renderApp } from './helpers';

afterEach(() => vi.unstubAllGlobals());

const jsonBox = () => screen.getByLabelText('Caption JSON') as HTMLTextAreaElement;

describe('caption editor (form <-> JSON)', () => {
  it('form edits appear in the JSON tab and JSON edits update the form', async () => {
    mockApi();
    await renderApp(<CaptionEditor />);
    fireEvent.change(screen.getByLabelText(/High-level description/), { target: { value: 'A red kite over dunes' } });
    fireEvent.change(screen.getByLabelText(/^Background/), { target: { value: 'Golden sand dunes' } });
    fireEvent.click(screen.getByRole('tab', { name: /JSON/ }));
    const caption = JSON.parse(jsonBox().value);
    expect(caption.high_level_description).toBe('A red kite over dunes');
    expect(caption.compositional_deconstruction.background).toBe('Golden sand dunes');

    const edited = { ...caption, high_level_description: 'Changed in JSON' };
    fireEvent.change(jsonBox(), { target: { value: JSON.stringify(edited) } });
    fireEvent.click(screen.getByRole('tab', { name: 'Form' }));
    expect((screen.getByLabelText(/High-level description/) as HTMLTextAreaElement).value).toBe('Changed in JSON');
  });

  it('invalid JSON is kept, marked at its line, and does not touch the form', async () => {
    mockApi();
    await renderApp(<CaptionEditor />);
    fireEvent.change(screen.getByLabelText(/High-level description/), { target: { value: 'keep me' } });
    fireEvent.click(screen.getByRole('tab', { name: /JSON/ }));
    const bad = '{\n  "high_level_description": "oops",\n  "x": [1,,2]\n}';
    fireEvent.change(jsonBox(), { target: { value: bad } });
    expect(jsonBox().value).toBe(bad);
    expect(screen.getByTestId('json-error').textContent).toMatch(/line 3, column 11/);
    expect(screen.getByTestId('json-error-line').textContent).toContain('3');
    fireEvent.click(screen.getByRole('tab', { name: 'Form' }));
    expect((screen.getByLabelText(/High-level description/) as HTMLTextAreaElement).value).toBe('keep me');
    // Back in the JSON tab, the invalid text is still there.
    fireEvent.click(screen.getByRole('tab', { name: /JSON/ }));
    expect(jsonBox().value).toBe(bad);
  });

  it('tabs are keyboard navigable with arrow keys', async () => {
    mockApi();
    await renderApp(<CaptionEditor />);
    const form = screen.getByRole('tab', { name: 'Form' });
    expect(form.getAttribute('aria-selected')).toBe('true');
    form.focus();
    fireEvent.keyDown(form, { key: 'ArrowRight' });
    const json = screen.getByRole('tab', { name: /JSON/ });
    expect(json.getAttribute('aria-selected')).toBe('true');
    expect(document.activeElement).toBe(json);
    fireEvent.keyDown(json, { key: 'Home' });
    expect(screen.getByRole('tab', { name: 'Quick Prompt' }).getAttribute('aria-selected')).toBe('true');
  });

  it('server verifier warnings are shown next to the fields they concern', async () => {
    mockApi({
      '/api/verify': () => ({ valid: false, warnings: ["compositional_deconstruction: 'background' must exist", 'elements[0].bbox: ymin (900) > ymax (100)'] }),
    });
    await renderApp(<CaptionEditor />);
    fireEvent.change(screen.getByLabelText('Description'), { target: { value: 'a cat' } });
    await waitFor(() => expect(document.getElementById('i-bg')?.textContent).toMatch(/'background' must exist/), { timeout: 3000 });
    const el0 = screen.getByTestId('element-0');
    expect(el0.textContent).toMatch(/ymin \(900\) > ymax \(100\)/);
    expect(screen.getByTestId('verify-summary').textContent).toMatch(/2 verifier warnings/);
  });

  it('the bbox canvas is keyboard operable and writes the box back to the element', async () => {
    mockApi();
    await renderApp(<CaptionEditor />);
    fireEvent.change(screen.getByLabelText('Description'), { target: { value: 'a cat' } });
    const canvas = screen.getByTestId('bbox-canvas');
    fireEvent.keyDown(canvas, { key: 'Enter' });
    expect((screen.getByLabelText('Top') as HTMLInputElement).value).toBe('290');
    fireEvent.keyDown(canvas, { key: 'ArrowRight', shiftKey: true });
    expect((screen.getByLabelText('Left') as HTMLInputElement).value).toBe('340');
    fireEvent.click(screen.getByRole('tab', { name: /JSON/ }));
    expect(JSON.parse(jsonBox().value).compositional_deconstruction.elements[0].bbox).toEqual([290, 340, 710, 760]);
  });

  it('Quick Prompt explains when the LLM is not configured and shows server errors', async () => {
    mockApi({
      '/api/magic-prompt/status': () => ({ configured: true, provider: 'llama_cpp', model: 'tiny' }),
      '/api/magic-prompt': () => new Response(JSON.stringify({ error: 'LLM returned invalid JSON' }), { status: 500 }),
    });
    await renderApp(<CaptionEditor />);
    fireEvent.click(screen.getByRole('tab', { name: 'Quick Prompt' }));
    await waitFor(() => expect(screen.getByTestId('magic-status').textContent).toMatch(/Configured: llama_cpp \/ tiny/));
    fireEvent.change(screen.getByLabelText('Describe your image'), { target: { value: 'a fox' } });
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Expand to caption' })));
    await waitFor(() => expect(screen.getByTestId('magic-error').textContent).toBe('Failed to expand prompt: LLM returned invalid JSON'));
  });

  it('Quick Prompt success fills every caption field', async () => {
    const caption = {
      high_level_description: 'A lighthouse', style_description: { aesthetics: 'moody', lighting: 'storm', photo: '24mm', medium: 'photograph' },
      compositional_deconstruction: { background: 'sea', elements: [{ type: 'obj', desc: 'lighthouse' }] },
    };
    const calls: unknown[] = [];
    mockApi({
      '/api/magic-prompt/status': () => ({ configured: true, provider: 'x', model: 'm' }),
      '/api/magic-prompt': (_u, init) => { calls.push(JSON.parse(String(init?.body))); return { caption, model: 'm' }; },
    });
    await renderApp(<CaptionEditor />);
    fireEvent.click(screen.getByRole('tab', { name: 'Quick Prompt' }));
    await waitFor(() => expect(screen.getByTestId('magic-status').textContent).toMatch(/Configured/));
    fireEvent.change(screen.getByLabelText('Describe your image'), { target: { value: 'lighthouse in a storm' } });
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Expand to caption' })));
    await waitFor(() => expect(calls).toHaveLength(1));
    expect(calls[0]).toMatchObject({ prompt: 'lighthouse in a storm', width: 1024, height: 1024, images_b64: null });
    fireEvent.click(screen.getByRole('tab', { name: 'Form' }));
    await waitFor(() => expect((screen.getByLabelText(/High-level description/) as HTMLTextAreaElement).value).toBe('A lighthouse'));
    expect((screen.getByLabelText('Lighting') as HTMLInputElement).value).toBe('storm');
    expect((screen.getByLabelText('Camera (photo)') as HTMLInputElement).value).toBe('24mm');
    expect((screen.getByLabelText('Description') as HTMLTextAreaElement).value).toBe('lighthouse');
  });
});

describe('generation settings', () => {
  it('width/height snap to multiples of 16 on blur; ratio presets set the size', async () => {
    mockApi();
    await renderApp(<SettingsCard />);
    const w = screen.getByLabelText('Width') as HTMLInputElement;
    fireEvent.change(w, { target: { value: '1000' } });
    expect(w.value).toBe('1000');
    fireEvent.blur(w);
    expect(w.value).toBe('1008');
    const h = screen.getByLabelText('Height') as HTMLInputElement;
    fireEvent.change(h, { target: { value: '99999' } });
    fireEvent.keyDown(h, { key: 'Enter' });
    expect(h.value).toBe('2048');
    fireEvent.click(screen.getByRole('button', { name: /Social/ }));
    expect(w.value).toBe('1584');
    expect(h.value).toBe('384');
    expect(screen.getByRole('button', { name: /Social/ }).getAttribute('aria-pressed')).toBe('true');
  });
  it('seed: typing locks it, the shuffle button fills a random integer', async () => {
    mockApi();
    await renderApp(<SettingsCard />);
    const seed = screen.getByLabelText('Seed') as HTMLInputElement;
    expect(screen.getByTestId('seed-lock').getAttribute('aria-pressed')).toBe('false');
    fireEvent.change(seed, { target: { value: '42x' } });
    expect(seed.value).toBe('42');
    expect(screen.getByTestId('seed-lock').getAttribute('aria-pressed')).toBe('true');
    fireEvent.click(screen.getByRole('button', { name: 'Random seed' }));
    expect(Number(seed.value)).toBeGreaterThanOrEqual(0);
    expect(seed.value).not.toBe('42');
  });
});
