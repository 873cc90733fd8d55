// Browser tests, run in order by scripts/e2e.mjs against a fresh `serve --demo`.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(fn, { timeout = 15000, interval = 100, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(interval);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

async function waitTask(ctx, id, timeout = 60000) {
  return waitFor(async () => {
    const r = await ctx.api(`/api/status/${id}`);
    return r.body.state === 'done' ? r.body : null;
  }, { timeout, interval: 200, what: `task ${id}` });
}

async function setSize(page, w, h) {
  await page.getByLabel('Width', { exact: true }).fill(String(w));
  await page.getByLabel('Width', { exact: true }).press('Enter');
  await page.getByLabel('Height', { exact: true }).fill(String(h));
  await page.getByLabel('Height', { exact: true }).press('Enter');
}

/** The request bodies the fake LLM received, one parsed JSON per line of its log. */
function llmRequests(llmLog) {
  if (!existsSync(llmLog)) return [];
  return readFileSync(llmLog, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
}

/** Every content part of every message of one chat request ({type, text} / {type, image_url}). */
function contentParts(req) {
  return (req.messages ?? []).flatMap((m) => (Array.isArray(m.content) ? m.content : [{ type: 'text', text: String(m.content) }]));
}

async function openQuickPrompt(page) {
  await page.getByRole('tab', { name: 'Quick Prompt' }).click();
  await page.getByTestId('magic-status').filter({ hasText: 'Configured: openai_compatible / fake-model' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Expand to caption' }).isDisabled(), false);
}

/**
 * Start tests/cli/fake_hub.mjs (a local stand-in for the Hugging Face Hub) serving the repositories under
 * `root`; resolves with {proc, url, log} once it prints its port. The caller stops proc.
 */
function startFakeHub(repo, root, log, ms = 10000) {
  const proc = spawn(process.execPath, [join(repo, 'tests/cli/fake_hub.mjs'), root, log], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((res, rej) => {
    let out = '';
    const timer = setTimeout(() => { proc.kill('SIGKILL'); rej(new Error(`fake hub did not print its port: ${out}`)); }, ms);
    proc.stdout.on('data', (d) => {
      out += String(d);
      const m = /^port (\d+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        res({ proc, url: `http://127.0.0.1:${m[1]}`, log });
      }
    });
    proc.stderr.on('data', (d) => { out += String(d); });
    proc.once('exit', (code) => { clearTimeout(timer); rej(new Error(`fake hub exited with code ${code}: ${out}`)); });
  });
}

/** Load the model through the API unless it is loaded (tests that generate can also run on their own). */
async function ensureLoaded(api) {
  if ((await api('/api/model/status')).body.state === 'loaded') return;
  await api('/api/model/load', { method: 'POST' });
  await waitFor(async () => (await api('/api/model/status')).body.state === 'loaded', { timeout: 30000, what: 'the model loaded' });
}

/** Go to `/` on `base` with a fresh editor ("Create new image") on the Form tab once the model panel answered. */
async function freshEditor(page, base) {
  await page.goto(`${base}/`);
  await page.getByTestId('model-state').filter({ hasText: /^(Loaded|Not loaded)$/ }).waitFor();
  await page.getByRole('button', { name: /Create new image/ }).click();
  await page.getByRole('tab', { name: 'Form' }).click();
  await waitFor(async () => (await page.getByLabel(/High-level description/).inputValue()) === '', { what: 'an empty form' });
}

/** Press Generate and wait for the new history page and its image row; resolves with {promptId, image}. */
async function generateHere(page, api) {
  const before = page.url();
  await page.getByTestId('generate').click();
  const promptId = await waitFor(() => {
    const m = /\/history\/(\d+)$/.exec(page.url());
    return m && page.url() !== before ? Number(m[1]) : null;
  }, { what: 'navigation to the new prompt' });
  const image = await waitFor(async () => (await api(`/api/images?prompt_id=${promptId}`)).body[0], { timeout: 45000, interval: 200, what: 'the image row' });
  await page.getByTestId('result-image').waitFor();
  return { promptId, image };
}

/** In the page: the document's scroll width, the viewport width and the elements that reach furthest right. */
function pageOverflow() {
  // An element's box, or the content overflowing it visibly (a long unbroken word sticks out of its box).
  const reach = (el, r) => (getComputedStyle(el).overflowX === 'visible' ? Math.max(r.right, r.left + el.scrollWidth) : r.right);
  const all = [...document.body.querySelectorAll('*')].map((el) => {
    const r = el.getBoundingClientRect();
    return { el, r: { right: reach(el, r) } };
  })
    .filter(({ r }) => r.right > window.innerWidth + 1)
    .sort((a, b) => b.r.right - a.r.right)
    .slice(0, 6)
    .map(({ el, r }) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.dataset.testid ? `[${el.dataset.testid}]` : ''}.${String(el.className).slice(0, 60)} right=${Math.round(r.right)}`);
  return { sw: document.documentElement.scrollWidth, iw: window.innerWidth, widest: all };
}

/** Switch the UI theme through its stored choice (the theme toggle's key) and reload. */
async function setTheme(page, theme) {
  await page.evaluate((t) => localStorage.setItem('ideogram4_theme', t), theme);
  await page.reload();
  await waitFor(async () => (await page.evaluate(() => document.documentElement.classList.contains('dark'))) === (theme === 'dark'), { what: `the ${theme} theme` });
}

/**
 * In the page: the WCAG contrast ratio of every visible piece of text (elements with their own text) against
 * its effective background (the ancestors' background colours composited, opacity applied to the text), and
 * of each empty field's placeholder. Colours are resolved by the browser (oklch included) through a canvas.
 */
function contrastProbe() {
  const cv = document.createElement('canvas');
  cv.width = cv.height = 1;
  const cx = cv.getContext('2d', { willReadFrequently: true });
  cx.globalCompositeOperation = 'copy';
  const rgba = (c) => {
    cx.fillStyle = '#000';
    cx.fillStyle = c;
    cx.fillRect(0, 0, 1, 1);
    const d = cx.getImageData(0, 0, 1, 1).data;
    return [d[0], d[1], d[2], d[3] / 255];
  };
  const over = (top, a, base) => [0, 1, 2].map((i) => top[i] * a + base[i] * (1 - a));
  const background = (el) => {
    const layers = [];
    for (let n = el; n; n = n.parentElement) {
      const bg = rgba(getComputedStyle(n).backgroundColor);
      if (bg[3] > 0) layers.push(bg);
      if (bg[3] >= 1) break;
    }
    let base = [255, 255, 255];
    for (const l of layers.reverse()) base = over(l, l[3], base);
    return base;
  };
  const opacity = (el) => {
    let o = 1;
    for (let n = el; n; n = n.parentElement) o *= Number(getComputedStyle(n).opacity);
    return o;
  };
  const lum = (c) => {
    const [r, g, b] = c.map((v) => {
      const s = v / 255;
      return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a, b) => {
    const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  };
  const textOn = (color, el, bg) => {
    const c = rgba(color);
    return over(c, c[3] * opacity(el), bg);
  };
  const name = (el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.dataset.testid ? `[${el.dataset.testid}]` : ''} "${(el.textContent || el.placeholder || '').trim().slice(0, 40)}"`;
  const texts = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (['SCRIPT', 'STYLE', 'OPTION', 'SELECT', 'svg'].includes(el.tagName) || el.closest('svg')) continue;
    if (![...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
    const r = el.getBoundingClientRect();
    const cs = getComputedStyle(el);
    if (r.width <= 1 || r.height <= 1 || cs.visibility !== 'visible' || !el.checkVisibility({ opacityProperty: true })) continue;
    if (el.closest(':disabled, [aria-disabled="true"]')) continue; // inactive controls are exempt (WCAG 1.4.3)
    const bg = background(el);
    const size = parseFloat(cs.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(cs.fontWeight) >= 700);
    texts.push({ what: name(el), ratio: ratio(textOn(cs.color, el, bg), bg), need: large ? 3 : 4.5 });
  }
  const placeholders = [];
  for (const el of document.body.querySelectorAll('input[placeholder], textarea[placeholder]')) {
    if (el.value !== '' || !el.checkVisibility() || el.disabled) continue;
    const bg = background(el);
    const ph = getComputedStyle(el, '::placeholder');
    const cs = getComputedStyle(el);
    placeholders.push({ what: name(el), ratio: ratio(textOn(ph.color, el, bg), bg), valueRatio: ratio(textOn(cs.color, el, bg), bg),
      italic: ph.fontStyle === 'italic' });
  }
  return { texts, placeholders };
}

async function rawJson(page) {
  await page.getByRole('tab', { name: /JSON/ }).click();
  const text = await page.getByLabel('Caption JSON').inputValue();
  return text;
}

export const tests = [
  {
    name: 'app loads; model panel shows the idle demo model; Load turns it loaded',
    async fn({ page, base, screenshot }) {
      await page.goto(base + '/');
      await page.getByTestId('model-state').filter({ hasText: /^Not loaded$/ }).waitFor();
      assert.equal(await page.getByTestId('demo-badge').isVisible(), true);
      // First visit: a getting-started panel (load, demo mode, the weights command) and no error on the untouched form.
      await page.getByTestId('first-run').waitFor();
      assert.equal((await page.getByTestId('weights-command').textContent()).trim(), 'hf download ideogram-ai/ideogram-4-fp8');
      assert.match(await page.getByTestId('demo-explainer').textContent(), /Demo mode/);
      await page.getByRole('tab', { name: 'Form' }).click();
      await page.waitForTimeout(900); // past the verifier's debounce
      assert.equal(await page.locator('.input-invalid, .field-issue, .field-error').count(), 0, 'no errors before a field is touched');
      assert.doesNotMatch(await page.getByTestId('verify-summary').textContent(), /warning|not valid/i);
      await page.getByRole('button', { name: 'Caption guide' }).click();
      const guide = page.getByRole('dialog', { name: 'Caption guide' });
      await guide.waitFor();
      assert.match(await guide.textContent(), /0–1000/);
      await guide.getByRole('button', { name: 'Close' }).click();
      assert.match(await page.getByTestId('model-weights').textContent(), /Demo model/);
      assert.equal(await page.getByTestId('generate').isDisabled(), true, 'Generate is disabled until the model is loaded');
      await page.getByRole('button', { name: 'Load', exact: true }).click();
      await page.getByTestId('model-state').filter({ hasText: /^Loaded$/ }).waitFor({ timeout: 30000 });
      assert.match(await page.getByTestId('model-memory').textContent(), /MB|GB/);
      assert.equal(await page.getByTestId('generate').isDisabled(), false);
    },
  },
  {
    name: 'compose a caption in the form (style, palette, elements, drawn bbox) and check the JSON tab',
    async fn({ page, screenshot, shared }) {
      await page.getByRole('tab', { name: 'Form' }).click();
      await page.getByLabel(/High-level description/).fill('A red kite flying over golden dunes at sunset');
      await page.getByLabel('Aesthetics').fill('warm, minimal, cinematic');
      await page.getByLabel('Lighting').fill('low golden sun, long shadows');
      await page.getByLabel('Medium').selectOption('illustration');
      await page.getByLabel('Art style preset').selectOption({ label: 'Watercolor' });
      assert.equal(await page.getByLabel('Art style', { exact: true }).inputValue(), 'watercolor, soft edges, painterly');
      const cp = page.locator('#f-cp');
      await cp.fill('#e4572e, f2a541, #E4572E');
      await cp.blur();
      assert.equal(await cp.inputValue(), '#E4572E, #F2A541', 'palette normalised and de-duplicated on blur');
      await page.getByLabel(/^Background/).fill('Rolling sand dunes under an orange sky');
      await page.getByLabel('Description', { exact: true }).fill('A red diamond-shaped kite with a long ribbon tail');
      // Draw the kite's box by dragging on the layout canvas.
      const canvas = page.getByTestId('bbox-canvas');
      const box = await canvas.boundingBox();
      await page.mouse.move(box.x + box.width * 0.2, box.y + box.height * 0.1);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width * 0.4, box.y + box.height * 0.3, { steps: 4 });
      await page.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.5, { steps: 4 });
      await page.mouse.up();
      await page.getByTestId('bbox-0').waitFor();
      const top = Number(await page.getByLabel('Top').first().inputValue());
      const left = Number(await page.getByLabel('Left').first().inputValue());
      const bottom = Number(await page.getByLabel('Bottom').first().inputValue());
      const right = Number(await page.getByLabel('Right').first().inputValue());
      assert.ok(Math.abs(top - 100) <= 15 && Math.abs(left - 200) <= 15, `drawn box starts near (100,200): ${top},${left}`);
      assert.ok(Math.abs(bottom - 500) <= 15 && Math.abs(right - 600) <= 15, `drawn box ends near (500,600): ${bottom},${right}`);
      // Move it by dragging its body, then resize from the south-east handle.
      const b0 = await page.getByTestId('bbox-0').boundingBox();
      await page.mouse.move(b0.x + b0.width / 2, b0.y + b0.height / 2);
      await page.mouse.down();
      await page.mouse.move(b0.x + b0.width / 2 + box.width * 0.1, b0.y + b0.height / 2, { steps: 4 });
      await page.mouse.up();
      const left2 = Number(await page.getByLabel('Left').first().inputValue());
      assert.ok(Math.abs(left2 - (left + 100)) <= 15, `moved right by ~100: ${left} -> ${left2}`);
      const h = await page.getByTestId('handle-se').boundingBox();
      await page.mouse.move(h.x + h.width / 2, h.y + h.height / 2);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width * 0.9, box.y + box.height * 0.8, { steps: 4 });
      await page.mouse.up();
      const bottom3 = Number(await page.getByLabel('Bottom').first().inputValue());
      const right3 = Number(await page.getByLabel('Right').first().inputValue());
      assert.ok(Math.abs(bottom3 - 800) <= 15 && Math.abs(right3 - 900) <= 15, `resized to ~(800,900): ${bottom3},${right3}`);
      // A text element.
      await page.getByRole('button', { name: 'Add element' }).click();
      await page.getByLabel('Type of element 2').selectOption('text');
      await page.getByLabel('Text (rendered verbatim)').fill('FLY HIGH');
      await page.getByLabel(/Full description/).fill('Bold white brush lettering across the top');
      await page.getByTestId('verify-summary').filter({ hasText: 'passes the verifier' }).waitFor();
      await screenshot('editor-form');

      const caption = JSON.parse(await rawJson(page));
      assert.equal(caption.high_level_description, 'A red kite flying over golden dunes at sunset');
      assert.deepEqual(Object.keys(caption.style_description), ['aesthetics', 'lighting', 'medium', 'art_style', 'color_palette']);
      assert.deepEqual(caption.style_description.color_palette, ['#E4572E', '#F2A541']);
      assert.equal(caption.style_description.medium, 'illustration');
      const els = caption.compositional_deconstruction.elements;
      assert.equal(els.length, 2);
      assert.deepEqual(Object.keys(els[0]), ['type', 'bbox', 'desc']);
      assert.deepEqual(els[0].bbox, [top, left2, bottom3, right3]);
      assert.deepEqual(els[1], { type: 'text', text: 'FLY HIGH', desc: 'Bold white brush lettering across the top' });
      await screenshot('editor-json');

      // Invalid JSON is marked and kept; the form is untouched.
      const box2 = page.getByLabel('Caption JSON');
      const broken = (await box2.inputValue()).replace('"medium": "illustration",', '"medium": "illustration"');
      await box2.fill(broken);
      await page.getByTestId('json-error').waitFor();
      assert.match(await page.getByTestId('json-error').textContent(), /line \d+, column \d+/);
      assert.equal(await box2.inputValue(), broken);
      await page.getByRole('tab', { name: 'Form' }).click();
      assert.equal(await page.getByLabel('Lighting').inputValue(), 'low golden sun, long shadows');
      // A valid JSON edit updates the form.
      await page.getByRole('tab', { name: /JSON/ }).click();
      const fixed = JSON.stringify({ ...caption, high_level_description: 'A red kite over golden dunes' }, null, 2);
      await box2.fill(fixed);
      assert.equal(await page.getByTestId('json-error').count(), 0);
      await page.getByRole('tab', { name: 'Form' }).click();
      assert.equal(await page.getByLabel(/High-level description/).inputValue(), 'A red kite over golden dunes');
      shared.hld = 'A red kite over golden dunes';
    },
  },
  {
    name: 'generate: progress overlay reaches 100% and the image appears',
    async fn({ page, screenshot, shared, api }) {
      await setSize(page, 500, 512);
      assert.equal(await page.getByLabel('Width', { exact: true }).inputValue(), '496', '500 snaps to 496');
      await setSize(page, 512, 512);
      await page.getByLabel('Quality').selectOption('V4_TURBO_12');
      await page.getByLabel('Format').selectOption('png');
      await page.getByLabel('Seed', { exact: true }).fill('1234');
      assert.equal(await page.getByTestId('seed-lock').getAttribute('aria-pressed'), 'true');
      await page.getByTestId('generate').click();
      const seen = new Set();
      const steps = new Set();
      let shot = false;
      let editable = false;
      await waitFor(async () => {
        const bar = page.getByRole('progressbar', { name: /Generation progress/ });
        if (await bar.count()) {
          const p = await bar.first().getAttribute('aria-valuenow').catch(() => null);
          const s = await page.getByTestId('job-step').first().textContent().catch(() => null);
          if (p) seen.add(p);
          if (s) steps.add(s.trim());
          if (!shot && p && p !== '0' && p !== '100') {
            shot = true;
            editable = !(await page.getByLabel(/High-level description/).isDisabled());
            assert.match(await page.title(), /^\d+% · Ideogram 4$/, 'the tab title shows the progress');
            await screenshot('progress-panel');
          }
        }
        return (await page.getByTestId('result-image').count()) > 0 && (await page.locator('[data-testid="job"][data-phase="done"]').count()) > 0;
      }, { timeout: 45000, interval: 50, what: 'the result image' });
      // The job may finish between reading its bar and seeing it done: read the finished card once more.
      const finished = page.locator('[data-testid="job"][data-phase="done"]').first();
      seen.add(await finished.getByRole('progressbar').getAttribute('aria-valuenow'));
      steps.add((await finished.getByTestId('job-step').textContent()).trim());
      assert.ok(seen.has('100'), `progress reached 100 (saw ${[...seen].join(', ')})`);
      assert.ok(steps.has('step 12 / 12'), `the job showed step 12 / 12 (saw ${[...steps].join(', ')})`);
      assert.ok(!shot || editable, 'the form stays editable while generating');
      await waitFor(async () => (await page.title()) === 'Ideogram 4', { what: 'the title back to normal' });
      const m = /\/history\/(\d+)$/.exec(page.url());
      assert.ok(m, `navigated to /history/<id>: ${page.url()}`);
      shared.promptId = Number(m[1]);
      const img = page.getByTestId('result-image');
      await waitFor(() => img.evaluate((el) => el.complete && el.naturalWidth), { what: 'image decoded' });
      assert.equal(await img.evaluate((el) => el.naturalWidth), 512);
      assert.equal(await page.getByTestId('result-seed').textContent(), '1234');
      const imgs = await api(`/api/images?prompt_id=${shared.promptId}`);
      assert.equal(imgs.body.length, 1);
      assert.equal(imgs.body[0].seed, 1234);
      assert.equal(imgs.body[0].width, 512);
      shared.imageId = imgs.body[0].id;
      const dl = page.getByRole('link', { name: 'Download' });
      assert.equal(await dl.getAttribute('download'), `ideogram4-${shared.imageId}.png`);
      await page.getByTestId('history-item').first().waitFor();
      await screenshot('result');
    },
  },
  {
    name: 'open the prompt from history by URL after a reload; sidebar link works',
    async fn({ page, base, shared }) {
      await page.goto(`${base}/`);
      await page.reload();
      await page.goto(`${base}/history/${shared.promptId}`);
      await page.getByTestId('result-image').waitFor();
      assert.equal(await page.getByLabel(/High-level description/).inputValue(), shared.hld);
      assert.equal(await page.getByLabel('Width', { exact: true }).inputValue(), '512');
      assert.equal(await page.getByLabel('Seed', { exact: true }).inputValue(), '1234');
      const item = page.locator(`[data-testid="history-item"][data-prompt-id="${shared.promptId}"] a`);
      assert.equal(await item.getAttribute('aria-current'), 'page');
      // From a fresh editor, the sidebar entry restores the same prompt.
      await page.getByRole('button', { name: /Create new image/ }).click();
      await waitFor(async () => new URL(page.url()).pathname === '/', { what: 'navigation to /' });
      assert.equal(await page.getByLabel(/High-level description/).inputValue(), '');
      await item.click();
      await page.getByTestId('result-image').waitFor();
      assert.equal(new URL(page.url()).pathname, `/history/${shared.promptId}`);
      assert.equal(await page.getByLabel(/High-level description/).inputValue(), shared.hld);
      // Search filters the list.
      await page.getByLabel('Search history').fill('no such prompt zzz');
      assert.equal(await page.getByTestId('history-item').count(), 0);
      await page.getByLabel('Search history').fill('kite');
      assert.equal(await page.getByTestId('history-item').count(), 1);
      await page.getByLabel('Search history').fill('');
    },
  },
  {
    name: 'drop a generated PNG on the page: its caption and settings are restored',
    async fn({ page, base, api, shared }) {
      const r = await fetch(`${base}/api/images/${shared.imageId}/file`);
      const bytes = [...new Uint8Array(await r.arrayBuffer())];
      await page.goto(`${base}/`);
      await page.getByRole('button', { name: /Create new image/ }).click();
      await page.getByRole('tab', { name: 'Form' }).click();
      await waitFor(async () => (await page.getByLabel(/High-level description/).inputValue()) === '', { what: 'an empty form' });
      await page.evaluate((b) => {
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(b)], 'kite.png', { type: 'image/png' }));
        document.body.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      }, bytes);
      await page.getByTestId('toast').filter({ hasText: 'Restored the caption and settings of kite.png' }).waitFor();
      assert.equal(await page.getByLabel(/High-level description/).inputValue(), shared.hld);
      assert.equal(await page.getByLabel('Width', { exact: true }).inputValue(), '512');
      assert.equal(await page.getByLabel('Seed', { exact: true }).inputValue(), '1234');
      assert.equal(await page.getByLabel('Format').inputValue(), 'png');
      assert.equal(await page.getByLabel('Quality').inputValue(), 'V4_TURBO_12');
    },
  },
  {
    name: '409: Generate while another generation runs shows the server error with Dismiss',
    async fn({ page, api, screenshot }) {
      const before = (await api('/api/prompts')).body.length;
      const busy = await api('/api/generate', { body: { caption: { high_level_description: 'busy', compositional_deconstruction: { background: 'b', elements: [] } }, width: 1024, height: 1024, preset: 'V4_QUALITY_48', format: 'png' } });
      assert.equal(busy.status, 200);
      try {
        await page.getByTestId('generate').click();
        const err = page.getByTestId('job-error');
        await err.waitFor();
        assert.match(await err.textContent(), /already running/i);
        await screenshot('error-409');
        await page.locator('[data-testid="job"][data-phase="error"]').getByRole('button', { name: 'Dismiss' }).click();
        await waitFor(async () => (await page.getByTestId('job-error').count()) === 0, { what: 'the failed job dismissed' });
        await waitFor(async () => (await api('/api/prompts')).body.length === before, { what: 'the refused prompt removed' });
      } finally {
        await api(`/api/tasks/${busy.body.task_id}/cancel`, { method: 'POST' });
        const st = await waitTask({ api }, busy.body.task_id);
        assert.equal(st.status, 'cancelled');
      }
    },
  },
  {
    name: 'cancel a running generation from the overlay',
    async fn({ page, api, shared }) {
      await setSize(page, 1024, 1024);
      await page.getByLabel('Quality').selectOption('V4_QUALITY_48');
      await page.getByTestId('generate').click();
      const job = page.locator('[data-testid="job"][data-phase="running"]');
      await waitFor(async () => {
        const p = await job.getByRole('progressbar').getAttribute('aria-valuenow').catch(() => '0');
        return p && p !== '0';
      }, { timeout: 30000, what: 'sampling progress' });
      await job.getByRole('button', { name: 'Cancel', exact: true }).click();
      await page.getByTestId('toast').filter({ hasText: 'Generation cancelled.' }).waitFor({ timeout: 20000 });
      await page.locator('[data-testid="job"][data-phase="cancelled"]').waitFor();
      const m = /\/history\/(\d+)$/.exec(page.url());
      assert.ok(m && Number(m[1]) !== shared.promptId, 'the cancelled run had its own prompt');
      const imgs = await api(`/api/images?prompt_id=${m[1]}`);
      assert.deepEqual(imgs.body, [], 'no image for the cancelled run');
      shared.cancelledPromptId = Number(m[1]);
    },
  },
  {
    name: 'gallery: grid, lightbox with keyboard navigation',
    async fn({ page, base, api, screenshot }) {
      const t = await api('/api/generate', { body: { caption: { high_level_description: 'second image', compositional_deconstruction: { background: 'b', elements: [] } }, width: 256, height: 256, preset: 'V4_TURBO_12', format: 'webp', seed: 7 } });
      assert.equal(t.status, 200);
      await waitTask({ api }, t.body.task_id);
      await page.goto(`${base}/gallery`);
      await waitFor(async () => (await page.getByTestId('gallery-item').count()) === 2, { what: 'two gallery items' });
      await screenshot('gallery');
      await page.getByTestId('gallery-item').first().click();
      await page.getByTestId('lightbox').waitFor();
      assert.equal((await page.getByTestId('lightbox-counter').textContent()).trim(), '1 / 2');
      const first = await page.getByTestId('lightbox-image').getAttribute('data-image-id');
      await page.keyboard.press('ArrowRight');
      assert.equal((await page.getByTestId('lightbox-counter').textContent()).trim(), '2 / 2');
      assert.notEqual(await page.getByTestId('lightbox-image').getAttribute('data-image-id'), first);
      await page.keyboard.press('ArrowRight');
      assert.equal((await page.getByTestId('lightbox-counter').textContent()).trim(), '1 / 2', 'wraps around');
      await page.keyboard.press('ArrowLeft');
      assert.equal((await page.getByTestId('lightbox-counter').textContent()).trim(), '2 / 2');
      await screenshot('lightbox');
      await page.keyboard.press('Escape');
      await waitFor(async () => (await page.getByTestId('lightbox').count()) === 0, { what: 'lightbox closed' });
    },
  },
  {
    name: 'delete a prompt from history with confirmation (prompt and its images go)',
    async fn({ page, base, api, shared }) {
      await page.goto(`${base}/history/${shared.promptId}`);
      await page.getByTestId('result-image').waitFor();
      const item = page.locator(`[data-testid="history-item"][data-prompt-id="${shared.promptId}"]`);
      await item.hover();
      await item.getByRole('button', { name: /Delete prompt/ }).click();
      const dialog = page.getByRole('dialog', { name: 'Delete this prompt?' });
      await dialog.waitFor();
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      assert.equal(await item.count(), 1, 'Cancel keeps the prompt');
      await item.hover();
      await item.getByRole('button', { name: /Delete prompt/ }).click();
      await page.getByRole('dialog', { name: 'Delete this prompt?' }).getByRole('button', { name: 'Delete' }).click();
      await waitFor(async () => (await item.count()) === 0, { what: 'history entry removed' });
      await waitFor(async () => new URL(page.url()).pathname === '/', { what: 'back to /' });
      const imgs = await api(`/api/images?prompt_id=${shared.promptId}`);
      assert.deepEqual(imgs.body, []);
      const file = await api(`/api/images/${shared.imageId}/file`);
      assert.notEqual(file.status, 200, 'the image file is gone');
      await page.goto(`${base}/history/${shared.promptId}`);
      await page.getByText('Prompt not found.', { exact: false }).first().waitFor();
    },
  },
  {
    name: 'auto-save: the form is saved to the server and restored after a reload',
    async fn({ page, base, api }) {
      await page.goto(`${base}/`);
      await page.getByRole('button', { name: /Create new image/ }).click();
      await page.getByLabel(/High-level description/).fill('autosave check 42');
      await waitFor(async () => {
        const r = await api('/api/form');
        return r.body.form_json && JSON.parse(r.body.form_json).hld === 'autosave check 42';
      }, { what: 'POST /api/form' });
      await page.getByTestId('autosave-state').filter({ hasText: 'Draft saved' }).waitFor();
      await page.evaluate(() => localStorage.clear());
      await page.reload();
      await waitFor(async () => (await page.getByLabel(/High-level description/).inputValue()) === 'autosave check 42', { what: 'restored form' });
    },
  },
  {
    name: 'Quick Prompt (fake LLM): an idea fills the form and the JSON tab',
    async fn({ page, base, llmLog, screenshot }) {
      await page.goto(`${base}/`);
      await page.getByRole('button', { name: /Create new image/ }).click();
      await waitFor(async () => (await page.getByLabel(/High-level description/).inputValue()) === '', { what: 'an empty form' });
      await openQuickPrompt(page);
      const before = llmRequests(llmLog).length;
      await page.getByLabel('Describe your image').fill('a lighthouse at dusk, seen from the sea');
      await page.getByRole('button', { name: 'Expand to caption' }).click();
      await page.getByTestId('toast').filter({ hasText: 'Expanded with fake-model' }).waitFor();
      assert.equal(await page.getByTestId('magic-error').count(), 0);
      await screenshot('quick-prompt');
      const reqs = llmRequests(llmLog);
      assert.equal(reqs.length, before + 1, 'one request reached the LLM');
      const last = reqs[reqs.length - 1];
      assert.equal(last.model, 'fake-model');
      assert.ok(contentParts(last).some((p) => p.type === 'text' && p.text.includes('a lighthouse at dusk, seen from the sea')), 'the idea went to the LLM');
      assert.ok(!contentParts(last).some((p) => p.type === 'image_url'), 'no image part without an attachment');
      await page.getByRole('tab', { name: 'Form' }).click();
      assert.equal(await page.getByLabel(/High-level description/).inputValue(), 'A lighthouse on a cliff at dusk');
      assert.equal(await page.getByLabel(/^Background/).inputValue(), 'a dark sea under an orange sky');
      assert.equal(await page.getByLabel('Lighting').inputValue(), 'golden hour');
      const caption = JSON.parse(await rawJson(page));
      assert.equal(caption.high_level_description, 'A lighthouse on a cliff at dusk');
      assert.equal(caption.style_description.aesthetics, 'calm');
      assert.equal(caption.compositional_deconstruction.elements[0].desc, 'a white lighthouse');
    },
  },
  {
    name: 'Quick Prompt (fake LLM): an HTTP 500 from the LLM shows the server error and leaves the form as it was',
    async fn({ page, llmLog }) {
      const jsonBefore = await rawJson(page);
      await openQuickPrompt(page);
      const before = llmRequests(llmLog).length;
      await page.getByLabel('Describe your image').fill('MODE:http500 a storm over the harbour');
      await page.getByRole('button', { name: 'Expand to caption' }).click();
      const err = page.getByTestId('magic-error');
      await err.waitFor();
      // The server's {"error": ...} body: "LLM request failed: HTTP 500 ...: {"error":{"message":"model crashed"}}".
      assert.match(await err.textContent(), /^Failed to expand prompt: LLM request failed: HTTP 500\b.*model crashed/);
      assert.equal(await err.getAttribute('role'), 'alert');
      assert.equal(llmRequests(llmLog).length, before + 1, 'the request did reach the LLM');
      assert.equal(await page.getByLabel('Describe your image').inputValue(), 'MODE:http500 a storm over the harbour', 'the idea is kept for another try');
      assert.equal(await page.getByRole('button', { name: 'Expand to caption' }).isDisabled(), false);
      assert.equal(await rawJson(page), jsonBefore, 'the caption is unchanged');
      await page.getByRole('tab', { name: 'Form' }).click();
      assert.equal(await page.getByLabel(/High-level description/).inputValue(), 'A lighthouse on a cliff at dusk');
    },
  },
  {
    name: 'Quick Prompt (fake LLM): an attached reference image is sent to the LLM as an image_url part',
    async fn({ page, llmLog }) {
      await page.getByLabel(/High-level description/).fill('placeholder to be replaced');
      // A real PNG: a 24x16 crop of the page itself.
      const png = await page.screenshot({ clip: { x: 0, y: 0, width: 24, height: 16 } });
      assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG');
      const dataUrl = `data:image/png;base64,${png.toString('base64')}`;
      await openQuickPrompt(page);
      await page.locator('input[type="file"]').setInputFiles({ name: 'reference.png', mimeType: 'image/png', buffer: png });
      const attached = page.getByRole('list', { name: 'Attached images' });
      await attached.getByRole('img', { name: 'reference.png' }).waitFor();
      assert.equal(await attached.getByRole('img', { name: 'reference.png' }).getAttribute('src'), dataUrl);
      const before = llmRequests(llmLog).length;
      await page.getByLabel('Describe your image').fill('the same mood as this picture');
      await page.getByRole('button', { name: 'Expand to caption' }).click();
      await waitFor(() => llmRequests(llmLog).length === before + 1, { what: 'the request at the fake LLM' });
      // On success the attachments are cleared and the form is filled.
      await waitFor(async () => (await attached.count()) === 0, { what: 'attachments cleared after success' });
      assert.equal(await page.getByTestId('magic-error').count(), 0);
      const parts = contentParts(llmRequests(llmLog)[before]);
      const images = parts.filter((p) => p.type === 'image_url');
      assert.equal(images.length, 1, `one image_url part (parts: ${parts.map((p) => p.type).join(', ')})`);
      assert.equal(images[0].image_url.url, dataUrl, 'the attached PNG, byte for byte, as a data URL');
      assert.ok(parts.some((p) => p.type === 'text' && p.text.includes('the same mood as this picture')), 'with the idea text');
      await page.getByRole('tab', { name: 'Form' }).click();
      assert.equal(await page.getByLabel(/High-level description/).inputValue(), 'A lighthouse on a cliff at dusk');
    },
  },
  {
    name: 'LoRA: apply style.safetensors at a chosen strength, generate with it (recorded on the image), remove it',
    async fn({ page, api, screenshot }) {
      await page.getByTestId('model-state').filter({ hasText: /^Loaded$/ }).waitFor();
      const st0 = await api('/api/lora/status');
      assert.deepEqual(st0.body.available.map((l) => l.name), ['style.safetensors']);
      assert.equal(st0.body.applied, null);
      assert.equal(await page.getByTestId('lora-applied').textContent(), 'Applied: none');
      const box = page.getByRole('checkbox', { name: /^style\b/ });
      await box.waitFor();
      assert.match(await page.locator('label[for="lora-style_safetensors"]').textContent(), /style.*peft/);
      await box.check();
      const slider = page.getByRole('slider', { name: 'Strength' });
      assert.equal(await slider.inputValue(), '0.6', 'starts at the default strength');
      await slider.focus();
      for (let i = 0; i < 4; i++) await page.keyboard.press('ArrowRight');
      assert.equal(await slider.inputValue(), '0.8');
      assert.equal((await page.locator('output[for="lora-style_safetensors-s"]').textContent()).trim(), '0.80');
      await page.getByRole('button', { name: 'Apply', exact: true }).click();
      await page.getByTestId('lora-applied').filter({ hasText: /^Applied: style \(0\.8\)$/ }).waitFor({ timeout: 30000 });
      const st1 = await api('/api/lora/status');
      assert.equal(st1.body.applied, 'style.safetensors');
      assert.ok(Math.abs(st1.body.strength - 0.8) < 1e-6, `strength 0.8 (got ${st1.body.strength})`);
      await screenshot('lora-applied');

      // Generate under the LoRA (tiny and fast) and check the stored row.
      await setSize(page, 256, 256);
      await page.getByLabel('Quality').selectOption('V4_TURBO_12');
      const before = page.url();
      await page.getByTestId('generate').click();
      const id = await waitFor(() => {
        const m = /\/history\/(\d+)$/.exec(page.url());
        return m && page.url() !== before ? Number(m[1]) : null;
      }, { what: 'navigation to the new prompt' });
      const rows = await waitFor(async () => {
        const r = await api(`/api/images?prompt_id=${id}`);
        return r.body.length ? r.body : null;
      }, { timeout: 45000, interval: 200, what: 'the image row' });
      assert.equal(rows.length, 1);
      assert.equal(rows[0].lora_name, 'style.safetensors');
      assert.ok(Math.abs(rows[0].lora_strength - 0.8) < 1e-6, `lora_strength 0.8 (got ${rows[0].lora_strength})`);
      assert.equal(rows[0].width, 256);
      await page.getByTestId('result-image').waitFor();
      await waitFor(async () => (await page.locator('[data-testid="job"][data-phase="running"], [data-testid="job"][data-phase="queued"]').count()) === 0, { what: 'no job running' });

      await page.getByRole('button', { name: 'Remove', exact: true }).click();
      await page.getByTestId('lora-applied').filter({ hasText: /^Applied: none$/ }).waitFor({ timeout: 30000 });
      const st2 = await api('/api/lora/status');
      assert.equal(st2.body.applied, null);
      assert.deepEqual(st2.body.applied_loras ?? [], []);
      assert.equal(await page.getByRole('button', { name: 'Remove', exact: true }).isDisabled(), true);
    },
  },
  {
    name: 'keyboard: skip link, tab arrows; dark theme and phone layout screenshots',
    async fn({ page, base, screenshot }) {
      await page.goto(`${base}/`);
      await page.getByTestId('model-state').filter({ hasText: /^(Loaded|Not loaded)$/ }).waitFor();
      await page.evaluate(() => (document.activeElement instanceof HTMLElement ? document.activeElement.blur() : undefined));
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement?.textContent?.trim()), 'Skip to content');
      await page.getByRole('tab', { name: 'Form' }).focus();
      await page.keyboard.press('ArrowRight');
      assert.equal(await page.getByRole('tab', { name: /JSON/ }).getAttribute('aria-selected'), 'true');
      await page.keyboard.press('ArrowLeft');
      const toggle = page.getByTestId('theme-toggle');
      for (let i = 0; i < 3 && !(await page.evaluate(() => document.documentElement.classList.contains('dark'))); i++) await toggle.click();
      assert.equal(await page.evaluate(() => document.documentElement.classList.contains('dark')), true);
      await page.waitForTimeout(150);
      await screenshot('editor-dark');
      await page.setViewportSize({ width: 390, height: 844 });
      await page.getByRole('button', { name: 'Open navigation' }).waitFor();
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `no horizontal scrolling on a phone (overflow ${overflow}px)`);
      await screenshot('phone');
      await page.getByRole('button', { name: 'Open navigation' }).click();
      await page.getByRole('button', { name: 'Close sidebar' }).waitFor();
      await screenshot('phone-menu');
      await page.keyboard.press('Escape');
      await page.setViewportSize({ width: 1280, height: 800 });
      for (let i = 0; i < 3 && (await page.evaluate(() => document.documentElement.classList.contains('dark'))); i++) await toggle.click();
    },
  },
  {
    name: 'Generate stays in reach (1366×768, phone), Ctrl+Enter generates, toasts do not cover it',
    async fn({ page, base, api }) {
      await page.setViewportSize({ width: 1366, height: 768 });
      await page.goto(`${base}/`);
      await page.getByTestId('model-state').filter({ hasText: /^Loaded$/ }).waitFor();
      const inView = async () => {
        const b = await page.getByTestId('generate').boundingBox();
        const vp = page.viewportSize();
        return b && b.y >= 0 && b.y + b.height <= vp.height && b.x >= 0 && b.x + b.width <= vp.width;
      };
      assert.ok(await inView(), 'Generate is visible without scrolling at 1366×768');
      await page.mouse.wheel(0, 3000);
      await page.waitForTimeout(200);
      assert.ok(await inView(), 'Generate is still visible after scrolling');
      await page.setViewportSize({ width: 390, height: 844 });
      await page.waitForTimeout(200);
      assert.ok(await inView(), 'Generate is in the fixed bottom bar on a phone');
      const fmt = await page.getByLabel('Format').evaluate((el) => ({ sw: el.scrollWidth, cw: el.clientWidth }));
      assert.ok(fmt.sw <= fmt.cw + 1, `the Format select is not clipped on a phone (${fmt.sw} > ${fmt.cw})`);
      await page.setViewportSize({ width: 1280, height: 800 });
      await setSize(page, 256, 256);
      await page.getByLabel('Quality').selectOption('V4_TURBO_12');
      const before = (await api('/api/images')).body.length;
      await page.getByLabel(/High-level description/).click();
      await page.keyboard.press('Control+Enter');
      await waitFor(async () => (await api('/api/images')).body.length === before + 1, { timeout: 45000, interval: 200, what: 'the image made by Ctrl+Enter' });
      const t = await page.getByTestId('toast').first().boundingBox().catch(() => null);
      const g = await page.getByTestId('generate').boundingBox();
      if (t) assert.ok(t.y + t.height <= g.y || t.y >= g.y + g.height || t.x + t.width <= g.x || t.x >= g.x + g.width, 'the toast does not cover Generate');
    },
  },
  {
    name: 'a reload during a job reattaches to it (GET /api/queue); Cancel works on the reattached job',
    async fn({ page, base, api }) {
      const t = await api('/api/generate', { body: { caption: { high_level_description: 'reattach me', compositional_deconstruction: { background: 'b', elements: [] } }, width: 1024, height: 1024, preset: 'V4_QUALITY_48', format: 'png' } });
      assert.equal(t.status, 200);
      try {
        await page.goto(`${base}/`);
        const job = page.locator(`[data-testid="job"][data-task="${t.body.task_id}"]`);
        await job.waitFor();
        await waitFor(async () => Number(await job.getByRole('progressbar').getAttribute('aria-valuenow')) > 0, { timeout: 30000, what: 'progress of the reattached job' });
        assert.match(await page.title(), /% · Ideogram 4$/);
        await job.getByRole('button', { name: 'Cancel', exact: true }).click();
        await page.locator(`[data-testid="job"][data-task="${t.body.task_id}"][data-phase="cancelled"]`).waitFor({ timeout: 20000 });
      } finally {
        await api(`/api/tasks/${t.body.task_id}/cancel`, { method: 'POST' });
        await waitTask({ api }, t.body.task_id);
      }
    },
  },
  {
    name: 'drafts survive opening a history entry; bbox click/Enter never replaces a box; out-of-range numbers are refused; undo/redo',
    async fn({ page, base }) {
      await page.goto(`${base}/`);
      await page.getByRole('button', { name: /Create new image/ }).click();
      await page.getByRole('tab', { name: 'Form' }).click();
      await page.getByLabel(/High-level description/).fill('my unsaved draft');
      await page.getByLabel('Description', { exact: true }).fill('a cat');
      const canvas = page.getByTestId('bbox-canvas');
      // Typing the description, drawing the box (Enter) and moving it (ArrowDown) follow each other within
      // the undo coalescing window: they must still be separate undo steps (grouped per element field and gesture).
      await canvas.focus();
      await page.keyboard.press('Enter');
      const top = page.getByLabel('Top').first();
      await waitFor(async () => (await top.inputValue()) === '290', { what: 'Top = 290' });
      await page.keyboard.press('ArrowDown');
      await waitFor(async () => (await top.inputValue()) === '300', { what: 'Top = 300' });
      await page.keyboard.press('Enter');
      await waitFor(async () => (await top.inputValue()) === '300', { what: 'Top = 300' });
      const box = await canvas.boundingBox();
      await page.mouse.click(box.x + 5, box.y + 5);
      await waitFor(async () => (await top.inputValue()) === '300', { what: 'Top = 300' });
      await top.fill('1500');
      await page.getByTestId('bbox-field-error').waitFor();
      assert.equal(await top.getAttribute('aria-invalid'), 'true');
      assert.equal(await page.getByLabel('Bottom').first().inputValue(), '720', 'the box is unchanged');
      await top.blur();
      await waitFor(async () => (await top.inputValue()) === '300', { what: 'Top = 300' });
      // Undo the move (Ctrl+Z): the box is back where Enter put it and the description stays; one more undo
      // removes the box; redo twice (Ctrl+Shift+Z) brings both back.
      await canvas.focus();
      await page.keyboard.press('Control+z');
      await waitFor(async () => (await top.inputValue()) === '290', { what: 'Top = 290 after undoing the move' });
      assert.equal(await page.getByLabel('Description', { exact: true }).inputValue(), 'a cat', 'undoing the move keeps the description');
      await page.keyboard.press('Control+z');
      await waitFor(async () => (await top.inputValue()) === '', { what: 'no box after undoing the draw' });
      assert.equal(await page.getByLabel('Description', { exact: true }).inputValue(), 'a cat');
      await page.keyboard.press('Control+Shift+z');
      await waitFor(async () => (await top.inputValue()) === '290', { what: 'Top = 290 after a redo' });
      await page.keyboard.press('Control+Shift+z');
      await waitFor(async () => (await top.inputValue()) === '300', { what: 'Top = 300 after a second redo' });
      // Open a history entry, then come back: the draft is still there.
      await page.getByTestId('history-item').first().locator('a').click();
      await waitFor(async () => /\/history\/\d+$/.test(page.url()), { what: 'a history page' });
      await waitFor(async () => (await page.getByLabel(/High-level description/).inputValue()) !== 'my unsaved draft', { what: 'the history form' });
      await page.getByRole('link', { name: /Ideogram 4/ }).first().click();
      await waitFor(async () => (await page.getByLabel(/High-level description/).inputValue()) === 'my unsaved draft', { what: 'the draft restored' });
      await page.reload();
      await waitFor(async () => (await page.getByLabel(/High-level description/).inputValue()) === 'my unsaved draft', { what: 'the draft after a reload' });
    },
  },
  {
    name: 'issue 14: an unlocked seed field shows "random", never the last run\'s seed (editor, history page, reload)',
    async fn({ page, base, api }) {
      await ensureLoaded(api);
      await freshEditor(page, base);
      await page.getByTestId('model-state').filter({ hasText: /^Loaded$/ }).waitFor();
      await page.getByLabel(/High-level description/).fill('unlocked seed check');
      await setSize(page, 256, 256);
      await page.getByLabel('Quality').selectOption('V4_TURBO_12');
      const seed = page.getByLabel('Seed', { exact: true });
      await seed.fill('4321');
      await page.getByRole('button', { name: /^Seed locked/ }).click(); // unlock
      await page.getByRole('button', { name: /^Seed unlocked/ }).waitFor();
      assert.equal(await seed.inputValue(), '', 'unlocking clears the typed seed');
      assert.equal(await seed.getAttribute('placeholder'), 'random');
      const { promptId, image } = await generateHere(page, api);
      assert.notEqual(image.seed, 4321, 'an unlocked seed is a fresh random one');
      assert.equal(await seed.inputValue(), '', 'the field does not show the seed just used');
      assert.match(await page.getByTestId('seed-hint').textContent(), new RegExp(`Last seed: ${image.seed}\\b`), 'the last seed is reported as such');
      assert.equal(await page.getByTestId('result-seed').textContent(), String(image.seed));
      // The history page of that run, opened afresh: still "random", not the stored seed as if chosen.
      await page.goto(`${base}/history/${promptId}`);
      await page.getByTestId('result-image').waitFor();
      await page.getByRole('button', { name: /^Seed unlocked/ }).waitFor();
      assert.equal(await seed.inputValue(), '');
      // Locking it takes the seed that image used.
      await page.getByRole('button', { name: /^Seed unlocked/ }).click();
      assert.equal(await seed.inputValue(), String(image.seed));
    },
  },
  {
    name: 'issue 14: "Create new image" keeps the size, quality and format; only the caption is reset',
    async fn({ page, base }) {
      await freshEditor(page, base);
      await page.getByRole('button', { name: /^Landscape/ }).click();
      await page.getByLabel('Quality').selectOption('V4_DEFAULT_20');
      await page.getByLabel('Format').selectOption('jpeg');
      await page.getByLabel(/High-level description/).fill('this caption goes');
      await page.getByLabel('Description', { exact: true }).fill('so does this element');
      await page.getByRole('button', { name: /Create new image/ }).click();
      await waitFor(async () => (await page.getByLabel(/High-level description/).inputValue()) === '', { what: 'the caption reset' });
      assert.equal(await page.getByLabel('Description', { exact: true }).inputValue(), '');
      assert.equal(await page.getByLabel('Width', { exact: true }).inputValue(), '1536');
      assert.equal(await page.getByLabel('Height', { exact: true }).inputValue(), '1024');
      assert.equal(await page.getByRole('button', { name: /^Landscape/ }).getAttribute('aria-pressed'), 'true');
      assert.equal(await page.getByLabel('Quality').inputValue(), 'V4_DEFAULT_20');
      assert.equal(await page.getByLabel('Format').inputValue(), 'jpeg');
    },
  },
  {
    name: 'issue 14: the JSON tab wraps long lines (no sideways scrolling) and prints each bbox on one line',
    async fn({ page, base }) {
      await freshEditor(page, base);
      await page.getByRole('tab', { name: 'Form' }).click();
      const long = `${'A very long scene description that goes on and on, '.repeat(12)}${'x'.repeat(240)}`;
      await page.getByLabel(/High-level description/).fill(long);
      await page.getByLabel('Description', { exact: true }).fill('a boxed element');
      await page.getByTestId('bbox-canvas').focus();
      await page.keyboard.press('Enter'); // a centred box
      await waitFor(async () => (await page.getByLabel('Top').first().inputValue()) !== '', { what: 'the box' });
      await page.getByRole('button', { name: 'Add element' }).click();
      await page.getByLabel('Description', { exact: true }).last().fill('a second boxed element');
      await page.getByTestId('bbox-canvas').focus();
      await page.keyboard.press('Enter');
      const text = await rawJson(page);
      const box = page.getByLabel('Caption JSON');
      const sizes = await box.evaluate((el) => ({ sw: el.scrollWidth, cw: el.clientWidth }));
      assert.ok(sizes.sw <= sizes.cw + 1, `no horizontal scrolling in the JSON box (${sizes.sw} > ${sizes.cw})`);
      const bboxLines = text.split('\n').filter((l) => l.includes('"bbox"'));
      assert.equal(bboxLines.length, 2, `one line per bbox:\n${text}`);
      for (const l of bboxLines) assert.match(l, /^\s+"bbox": \[\d+, \d+, \d+, \d+\],?$/);
      assert.ok(!text.split('\n').some((l) => /^\s*\d+,?$/.test(l)), 'no number on a line of its own');
      const caption = JSON.parse(text);
      assert.equal(caption.high_level_description, long);
      assert.equal(caption.compositional_deconstruction.elements.filter((e) => Array.isArray(e.bbox) && e.bbox.length === 4).length, 2);
    },
  },
  {
    name: 'issue 14: dark mode — text (hints, the canvas size label) has >= 4.5:1 contrast; placeholders are italic and dimmer than values',
    async fn({ page, base }) {
      await freshEditor(page, base);
      await setTheme(page, 'dark');
      try {
        const views = [];
        for (const tab of ['Form', 'Quick Prompt', 'JSON']) {
          await page.getByRole('tab', { name: tab === 'JSON' ? /JSON/ : tab }).click();
          await page.waitForTimeout(100);
          views.push({ tab, ...(await page.evaluate(contrastProbe)) });
        }
        const form = views[0];
        assert.ok(form.texts.some((t) => t.what.includes('[canvas-size]')), 'the canvas size label was measured');
        assert.ok(form.texts.some((t) => t.what.includes('#size-hint')), 'the size hint was measured');
        assert.ok(form.placeholders.some((p) => p.what.includes('#s-seed')), 'the seed placeholder was measured');
        const bad = views.flatMap((v) => v.texts.filter((t) => t.ratio < t.need).map((t) => `${v.tab}: ${t.what} ${t.ratio.toFixed(2)}:1`));
        assert.deepEqual(bad, [], `text under 4.5:1 in dark mode:\n  ${bad.join('\n  ')}`);
        for (const p of views.flatMap((v) => v.placeholders)) {
          assert.ok(p.italic, `placeholder ${p.what} is italic`);
          assert.ok(p.ratio < p.valueRatio * 0.5, `placeholder ${p.what} is dimmer than a value (${p.ratio.toFixed(2)} vs ${p.valueRatio.toFixed(2)})`);
          assert.ok(p.ratio >= 3, `placeholder ${p.what} stays readable (${p.ratio.toFixed(2)}:1)`);
        }
      } finally {
        await setTheme(page, 'light');
      }
    },
  },
  {
    name: 'issue 14: the LoRA panel names the folder it reads',
    async fn({ page, base, tmp, spawnServer }) {
      await page.goto(`${base}/`);
      const lora = page.getByRole('group', { name: 'LoRA' });
      await lora.getByRole('checkbox', { name: /^style\b/ }).waitFor();
      assert.match(await lora.textContent(), new RegExp(`Files from ${join(tmp, 'loras').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      // An empty folder is named too, with where to put LoRA files.
      const empty = join(tmp, 'loras-empty-named');
      mkdirSync(empty, { recursive: true });
      mkdirSync(join(tmp, 'db-loradir'), { recursive: true });
      const srv = await spawnServer(['--demo', '--output', join(tmp, 'out-loradir')], { IDEOGRAM4_DB_PATH: join(tmp, 'db-loradir', 'ideogram4.db'), IDEOGRAM4_LORA_DIR: empty });
      try {
        await page.goto(`${srv.base}/`);
        const group = page.getByRole('group', { name: 'LoRA' });
        await group.getByText(/^No LoRA files in/).waitFor();
        assert.match(await group.textContent(), new RegExp(`No LoRA files in ${empty.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      } finally {
        srv.proc.kill('SIGTERM');
      }
    },
  },
  {
    name: 'issue 14: the time estimate comes from steps measured on this machine (demo: no "0s", no "(reference hardware)")',
    async fn({ page, base, api }) {
      await ensureLoaded(api);
      await freshEditor(page, base);
      await page.getByTestId('model-state').filter({ hasText: /^Loaded$/ }).waitFor();
      const estimate = page.getByTestId('estimate');
      const noReference = (text) => {
        assert.doesNotMatch(text, /reference hardware/, text);
        assert.doesNotMatch(text, /(^|[^\d])0s\b/, text);
      };
      // Until an image was made since the load: no figure from elsewhere.
      if ((await api('/api/model/status')).body.timing === null) assert.equal(await estimate.textContent(), 'Estimated time: measured with the first image');
      noReference(await estimate.textContent());
      // After an image, the estimate uses that run's steps (at its size), scaled to the chosen size and preset.
      await setSize(page, 256, 256);
      await page.getByLabel('Quality').selectOption('V4_TURBO_12');
      await page.getByLabel(/High-level description/).fill('a measured run');
      await generateHere(page, api);
      const timing = (await api('/api/model/status')).body.timing;
      assert.ok(timing && timing.step_seconds > 0 && timing.width === 256, `the server reports the measured steps (${JSON.stringify(timing)})`);
      await waitFor(async () => /steps measured at 256×256 on this machine/.test(await estimate.textContent()), { what: 'the estimate from the generated image' });
      const seen = [];
      for (const [w, h, preset] of [[256, 256, 'V4_TURBO_12'], [1024, 1024, 'V4_QUALITY_48'], [2048, 2048, 'V4_QUALITY_48']]) {
        await setSize(page, w, h);
        await page.getByLabel('Quality').selectOption(preset);
        const text = await estimate.textContent();
        noReference(text);
        assert.match(text, /^Estimated time: (under 1s|(\d+m )?\d+s) \(from steps measured at 256×256 on this machine\)$/, text);
        seen.push(text);
      }
      assert.equal(new Set(seen).size, 3, `the estimate follows the size and preset: ${seen.join(' | ')}`);
    },
  },
  {
    name: 'issue 14: on a phone (390x844) the Format select lies inside the viewport and its card, unclipped',
    async fn({ page, base }) {
      await page.setViewportSize({ width: 390, height: 844 });
      try {
        await page.goto(`${base}/`);
        const fmt = page.getByLabel('Format');
        await fmt.scrollIntoViewIfNeeded();
        const b = await fmt.boundingBox();
        const card = await page.getByRole('region', { name: 'Generation settings' }).boundingBox();
        assert.ok(b.x >= 0 && b.x + b.width <= 390, `inside the viewport: ${JSON.stringify(b)}`);
        assert.ok(b.x >= card.x && b.x + b.width <= card.x + card.width, `inside its card: ${JSON.stringify(b)} in ${JSON.stringify(card)}`);
        const inner = await fmt.evaluate((el) => {
          const p = el.parentElement.getBoundingClientRect();
          const r = el.getBoundingClientRect();
          return { sw: el.scrollWidth, cw: el.clientWidth, left: r.left - p.left, right: p.right - r.right };
        });
        assert.ok(inner.sw <= inner.cw + 1 && inner.left >= -0.5 && inner.right >= -0.5, `not clipped: ${JSON.stringify(inner)}`);
        // Every choice's label fits beside the drop-down arrow (about 20 px), in the Format and the Quality select.
        for (const [select, values] of [[fmt, ['png', 'webp', 'jpeg']], [page.getByLabel('Quality'), ['V4_TURBO_12', 'V4_DEFAULT_20', 'V4_QUALITY_48']]]) {
          for (const v of values) {
            await select.selectOption(v);
            const w = await select.evaluate((el) => {
              const c = document.createElement('canvas').getContext('2d');
              const cs = getComputedStyle(el);
              c.font = cs.font;
              return { label: el.selectedOptions[0].text, text: c.measureText(el.selectedOptions[0].text).width,
                room: el.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight) };
            });
            assert.ok(w.text + 20 <= w.room, `"${w.label}" is not clipped (${w.text.toFixed(0)} px of text + the arrow in ${w.room} px)`);
          }
        }
      } finally {
        await page.setViewportSize({ width: 1280, height: 800 });
      }
    },
  },
  {
    name: 'issue 14: a phone history page with a long caption has no horizontal overflow',
    async fn({ page, base, api }) {
      await ensureLoaded(api);
      await freshEditor(page, base);
      await page.getByTestId('model-state').filter({ hasText: /^Loaded$/ }).waitFor();
      await page.getByRole('tab', { name: 'Form' }).click();
      const long = `Supercalifragilistic${'expialidocious'.repeat(12)} ${'a long caption for the history list '.repeat(8)}`;
      await page.getByLabel(/High-level description/).fill(long);
      await page.getByLabel(/^Background/).fill(`https://example.com/${'very-long-path-segment/'.repeat(10)}`);
      await page.getByLabel('Description', { exact: true }).fill('W'.repeat(200));
      await setSize(page, 256, 256);
      await page.getByLabel('Quality').selectOption('V4_TURBO_12');
      const { promptId } = await generateHere(page, api);
      await page.setViewportSize({ width: 390, height: 844 });
      try {
        for (const tab of ['Form', /JSON/, 'Quick Prompt']) {
          await page.goto(`${base}/history/${promptId}`);
          await page.getByTestId('result-image').waitFor();
          await page.getByRole('tab', { name: tab }).click();
          // The LoRA presets list open too (its names are truncated lines: they must not widen the page).
          const presets = page.getByTestId('lora-presets');
          if (!(await presets.evaluate((el) => el.open))) await presets.getByText(/^Download LoRA presets/).click();
          await page.waitForTimeout(150);
          const o = await page.evaluate(pageOverflow);
          assert.ok(o.sw <= o.iw, `no horizontal overflow on the history page (${String(tab)} tab): scrollWidth ${o.sw} > ${o.iw}; widest: ${o.widest.join('; ')}`);
        }
        await page.getByRole('button', { name: 'Open navigation' }).click();
        await page.getByRole('button', { name: 'Close sidebar' }).waitFor();
        const o = await page.evaluate(pageOverflow);
        assert.ok(o.sw <= o.iw, `no horizontal overflow with the history list open: ${o.sw} > ${o.iw}; widest: ${o.widest.join('; ')}`);
        await page.keyboard.press('Escape');
      } finally {
        await page.setViewportSize({ width: 1280, height: 800 });
      }
    },
  },
  {
    name: 'unload the model with confirmation; Generate is disabled again',
    async fn({ page, base, api }) {
      await page.goto(`${base}/`);
      await page.getByTestId('model-state').filter({ hasText: /^Loaded$/ }).waitFor();
      await page.getByRole('button', { name: 'Unload', exact: true }).click();
      const dialog = page.getByRole('dialog', { name: 'Unload model?' });
      await dialog.waitFor();
      // Rendered in a portal under <body>, not inside the header (whose backdrop-filter would clip it).
      assert.equal(await dialog.evaluate((el) => el.closest('header') === null && el.parentElement.parentElement === document.body), true);
      const db = await dialog.boundingBox();
      assert.ok(db.width >= 300 && db.y > 100, `the dialog is centred in the viewport (${JSON.stringify(db)})`);
      await dialog.getByRole('button', { name: 'Unload' }).click();
      await page.getByTestId('model-state').filter({ hasText: /^Not loaded$/ }).waitFor();
      assert.equal((await api('/api/model/status')).body.state, 'idle');
      assert.equal(await page.getByTestId('generate').isDisabled(), true);
    },
  },
  {
    name: 'a failed load (truncated VAE file) shows the error state and its reason; Load retries and succeeds once the file is whole',
    async fn({ page, tmp, bin, spawnServer, screenshot }) {
      const model = join(tmp, 'broken-model');
      const makeModel = () => {
        const r = spawnSync(bin, ['make-tiny-model', model, '--seed', '1'], { encoding: 'utf8' });
        assert.equal(r.status, 0, `make-tiny-model failed: ${r.stderr}`);
      };
      makeModel();
      truncateSync(join(model, 'vae', 'diffusion_pytorch_model.safetensors'), 1000);
      mkdirSync(join(tmp, 'db-broken'), { recursive: true });
      const broken = await spawnServer(['--model', model, '--output', join(tmp, 'out-broken')], {
        IDEOGRAM4_DB_PATH: join(tmp, 'db-broken', 'ideogram4.db'),
      });
      await page.goto(broken.base + '/');
      await page.getByTestId('model-state').filter({ hasText: /^Not loaded$/ }).waitFor();
      await page.getByRole('button', { name: 'Load', exact: true }).click();
      await page.getByTestId('model-state').filter({ hasText: /^Load failed$/ }).waitFor({ timeout: 30000 });
      assert.equal(await page.getByTestId('model-dot').getAttribute('data-state'), 'error');
      const line = page.getByTestId('model-error');
      assert.match(await line.textContent(), /VAE/);
      await line.click();
      const details = page.getByTestId('model-error-details');
      await details.waitFor();
      assert.match(await details.textContent(), /truncated file/);
      await screenshot('model-error');
      assert.equal(await page.getByTestId('generate').isDisabled(), true, 'no generation without a model');
      const load = page.getByRole('button', { name: 'Load', exact: true });
      assert.equal(await load.isDisabled(), false, 'Load stays available to retry');
      makeModel(); // the file is whole again
      await load.click();
      await page.getByTestId('model-state').filter({ hasText: /^Loaded$/ }).waitFor({ timeout: 30000 });
      assert.equal(await page.getByTestId('model-error').count(), 0, 'the error line is gone after a good load');
      assert.equal(await page.getByTestId('model-dot').getAttribute('data-state'), 'loaded');
    },
  },
  {
    name: 'the header says "Server unreachable" when the server stops, with Reconnect',
    async fn({ page, tmp, spawnServer }) {
      mkdirSync(join(tmp, 'db-gone'), { recursive: true });
      const srv = await spawnServer(['--demo', '--output', join(tmp, 'out-gone')], { IDEOGRAM4_DB_PATH: join(tmp, 'db-gone', 'ideogram4.db') });
      await page.goto(srv.base + '/');
      await page.getByTestId('model-state').filter({ hasText: /^Not loaded$/ }).waitFor();
      srv.proc.kill('SIGKILL');
      await new Promise((r) => srv.proc.once('exit', r));
      await page.evaluate(() => window.dispatchEvent(new Event('focus')));
      await page.getByTestId('model-state').filter({ hasText: /^Server unreachable$/ }).waitFor();
      await page.getByRole('button', { name: 'Reconnect' }).waitFor();
      assert.equal(await page.getByRole('button', { name: 'Unload' }).count(), 0, 'no Unload for a server that is gone');
      assert.equal(await page.getByTestId('generate').isDisabled(), true);
    },
  },
  {
    name: 'without weights (not demo): download them from the (fake) Hub with progress and Cancel, then Load; a gated repo shows its error; LoRA presets download and join the list',
    async fn({ page, tmp, bin, spawnServer, screenshot }) {
      const repo = join(bin, '..', '..');
      // The repositories the fake Hub serves: the tiny model, a gated copy of it, and the realism-v1 preset's LoRA file.
      const hubRoot = join(tmp, 'hub-repos');
      const model = join(hubRoot, 'ideogram-ai', 'ideogram-4-fp8');
      const r = spawnSync(bin, ['make-tiny-model', model], { encoding: 'utf8' });
      assert.equal(r.status, 0, `make-tiny-model failed: ${r.stderr}`);
      cpSync(model, join(hubRoot, 'gated', 'model'), { recursive: true });
      mkdirSync(join(hubRoot, 'RazzzHF', 'Realism_Engine_Ideogram_4'), { recursive: true });
      copyFileSync(join(repo, 'tests/vectors/lora/peft.safetensors'), join(hubRoot, 'RazzzHF', 'Realism_Engine_Ideogram_4', 'Realism_Engine_Ideogram4_V1.safetensors'));
      const hub = await startFakeHub(repo, hubRoot, join(tmp, 'hub.log'));
      const ctl = (mode) => fetch(`${hub.url}/_ctl/${mode}`, { method: 'POST' });
      try {
        const env = (name, extra = {}) => {
          mkdirSync(join(tmp, `db-${name}`), { recursive: true });
          mkdirSync(join(tmp, `loras-${name}`), { recursive: true });
          mkdirSync(join(tmp, `hfhome-${name}`), { recursive: true });
          return { IDEOGRAM4_DB_PATH: join(tmp, `db-${name}`, 'ideogram4.db'), IDEOGRAM4_LORA_DIR: join(tmp, `loras-${name}`),
            HF_ENDPOINT: hub.url, HF_HOME: join(tmp, `hfhome-${name}`), HF_HUB_CACHE: join(tmp, `cache-${name}`), HF_TOKEN: '',
            IDEOGRAM4_WARMUP_STEPS: '0', ...extra };
        };
        const srv = await spawnServer(['--output', join(tmp, 'out-hub')], env('hub'));
        await page.goto(srv.base + '/');
        await page.getByTestId('first-run').waitFor();
        const start = page.getByRole('button', { name: 'Download the weights' });
        await start.waitFor();
        // Slow transfers (32 KB/s) so that the progress can be seen and cancelled.
        await ctl('slow');
        await start.click();
        const bar = page.getByRole('progressbar', { name: 'Weights download' });
        await bar.waitFor();
        await waitFor(async () => /of \d/.test(await page.getByTestId('download-bytes').textContent()), { what: 'the byte counts' });
        await waitFor(async () => (await page.getByTestId('download-file').textContent()).trim().length > 0, { what: 'the current file' });
        assert.match(await page.getByTestId('download-bytes').textContent(), /MB|kB/);
        const now = Number(await bar.getAttribute('aria-valuenow'));
        assert.ok(now >= 0 && now < 100, `a partial percentage (${now})`);
        await screenshot('weights-download');
        await page.getByRole('button', { name: 'Cancel download' }).click();
        await page.getByTestId('download-cancelled').waitFor({ timeout: 20000 });
        // Again at full speed: it completes and the model loads.
        await ctl('reset');
        await page.getByRole('button', { name: 'Download again' }).click();
        await page.getByRole('button', { name: 'Load model' }).waitFor({ timeout: 45000 });
        assert.equal(await page.getByRole('progressbar', { name: 'Weights download' }).count(), 0);
        await page.getByRole('button', { name: 'Load model' }).click();
        await page.getByTestId('model-state').filter({ hasText: /^Loaded$/ }).waitFor({ timeout: 30000 });

        // LoRA presets: none installed; download realism-v1, then it is installed and in the LoRA list.
        const presets = page.getByTestId('lora-presets');
        await presets.waitFor();
        if (!(await presets.evaluate((el) => el.open))) await presets.locator('summary').click();
        const v1 = page.locator('[data-testid="lora-preset"][data-preset="realism-v1"]');
        await v1.getByRole('button', { name: /^Download/ }).click();
        await v1.getByTestId('preset-installed').waitFor({ timeout: 30000 });
        await page.getByLabel('Realism Engine V1').waitFor();
        assert.ok(existsSync(join(tmp, 'loras-hub', 'Realism_Engine_V1.safetensors')), 'the file is in the LoRA folder');

        // A gated repository without a token: the error says where to accept the licence and how to log in.
        const gated = await spawnServer(['--output', join(tmp, 'out-gated')], env('gated', { IDEOGRAM4_MODEL_REPO: 'gated/model' }));
        await page.goto(gated.base + '/');
        await page.getByRole('button', { name: 'Download the weights' }).click();
        const err = page.getByTestId('download-error');
        await err.waitFor({ timeout: 30000 });
        const text = await err.textContent();
        assert.match(text, /gated/i);
        assert.match(text, /hf auth login|HF_TOKEN/);
        assert.equal(await page.getByRole('button', { name: 'Download again' }).isDisabled(), false);
        await screenshot('weights-download-gated');
      } finally {
        await ctl('reset').catch(() => {});
        hub.proc.kill('SIGTERM');
      }
    },
  },
{
    name: 'issue 14: size limits come from GET /api/config (a server started with 256..1024, multiple of 32)',
    async fn({ page, tmp, spawnServer, screenshot }) {
      mkdirSync(join(tmp, 'db-limits'), { recursive: true });
      const srv = await spawnServer(['--demo', '--output', join(tmp, 'out-limits')], {
        IDEOGRAM4_DB_PATH: join(tmp, 'db-limits', 'ideogram4.db'),
        IDEOGRAM4_MIN_IMAGE_SIZE: '256', IDEOGRAM4_MAX_IMAGE_SIZE: '1024', IDEOGRAM4_IMAGE_SIZE_MULTIPLE: '32',
      });
      try {
        const cfg = await (await fetch(`${srv.base}/api/config`)).json();
        assert.deepEqual([cfg.min_size, cfg.max_size, cfg.size_multiple], [256, 1024, 32]);
        await page.goto(`${srv.base}/`);
        await page.getByTestId('model-state').filter({ hasText: /^Not loaded$/ }).waitFor();
        await page.getByRole('button', { name: /Create new image/ }).click();
        const width = page.getByLabel('Width', { exact: true });
        await page.getByText('256–1024, snapped to a multiple of 32.').waitFor();
        assert.equal(await width.getAttribute('max'), '1024');
        assert.equal(await width.getAttribute('min'), '256');
        assert.equal(await width.getAttribute('step'), '32');
        await setSize(page, 2000, 100);
        assert.equal(await width.inputValue(), '1024', 'clamped to the server maximum');
        assert.equal(await page.getByLabel('Height', { exact: true }).inputValue(), '256', 'clamped to the server minimum');
        await setSize(page, 500, 500);
        assert.equal(await width.inputValue(), '512', '500 snaps to a multiple of 32 (496 with 16)');
        // Ratio presets the server would refuse are not offered.
        assert.equal(await page.getByRole('button', { name: /^Landscape/ }).isDisabled(), true, 'Landscape (1536×1024) is over the limit');
        assert.equal(await page.getByRole('button', { name: /^Square/ }).isDisabled(), false);
        // The demo model is not loaded here: the estimate waits for a measurement, it quotes no reference machine.
        const est = await page.getByTestId('estimate').textContent();
        assert.doesNotMatch(est, /reference hardware|(^|[^\d])0s\b/, est);
        assert.equal(est, 'Estimated time: measured with the first image after loading');
        await screenshot('size-limits');
      } finally {
        srv.proc.kill('SIGTERM');
      }
      // A server whose maximum is under the default 1024x1024: the form is brought within it.
      mkdirSync(join(tmp, 'db-small'), { recursive: true });
      const small = await spawnServer(['--demo', '--output', join(tmp, 'out-small')], {
        IDEOGRAM4_DB_PATH: join(tmp, 'db-small', 'ideogram4.db'),
        IDEOGRAM4_MIN_IMAGE_SIZE: '128', IDEOGRAM4_MAX_IMAGE_SIZE: '768', IDEOGRAM4_IMAGE_SIZE_MULTIPLE: '16',
      });
      try {
        await page.goto(`${small.base}/`);
        await page.getByTestId('model-state').filter({ hasText: /^Not loaded$/ }).waitFor();
        await page.getByRole('button', { name: /Create new image/ }).click();
        const w = page.getByLabel('Width', { exact: true }), h = page.getByLabel('Height', { exact: true });
        await waitFor(async () => (await w.inputValue()) === '768' && (await h.inputValue()) === '768', { what: 'the form clamped to 768' });
      } finally {
        small.proc.kill('SIGTERM');
      }
    },
  },
  {
    name: 'issue 14: the first-run command fetches the repository the server is configured with (IDEOGRAM4_MODEL_REPO)',
    async fn({ page, tmp, spawnServer }) {
      const env = (name, extra) => {
        mkdirSync(join(tmp, `db-${name}`), { recursive: true });
        mkdirSync(join(tmp, `cache-${name}`), { recursive: true });
        return { IDEOGRAM4_DB_PATH: join(tmp, `db-${name}`, 'ideogram4.db'), HF_HUB_CACHE: join(tmp, `cache-${name}`), HF_HOME: join(tmp, `cache-${name}`), ...extra };
      };
      // Without weights (not demo): the download panel and the command name the configured repository and revision.
      const srv = await spawnServer(['--output', join(tmp, 'out-repo')], env('repo', { IDEOGRAM4_MODEL_REPO: 'acme/custom-weights', IDEOGRAM4_MODEL_REVISION: 'v2' }));
      try {
        await page.goto(`${srv.base}/`);
        const panel = page.getByRole('region', { name: 'Getting started' });
        await panel.getByText('hf download acme/custom-weights --revision v2', { exact: true }).waitFor();
        assert.match(await panel.textContent(), /huggingface\.co\/acme\/custom-weights/);
        assert.doesNotMatch(await panel.textContent(), /ideogram-ai\/ideogram-4-fp8/);
      } finally {
        srv.proc.kill('SIGTERM');
      }
      // Demo mode says how to get the real weights of the configured repository too.
      const demo = await spawnServer(['--demo', '--output', join(tmp, 'out-repo-demo')], env('repo-demo', { IDEOGRAM4_MODEL_REPO: 'acme/other-weights' }));
      try {
        await page.evaluate(() => localStorage.removeItem('ideogram4_intro_dismissed'));
        await page.goto(`${demo.base}/`);
        const panel = page.getByRole('region', { name: 'Getting started' });
        await panel.getByText('hf download acme/other-weights', { exact: true }).waitFor();
      } finally {
        demo.proc.kill('SIGTERM');
      }
    },
  },
];
