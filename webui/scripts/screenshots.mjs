// `npm run screenshots`: the README's screenshots of the web UI. Starts `ideogram4 serve --demo`
// on a free loopback port with a fresh temp output folder and DB (as `npm run e2e` does), drives
// Debian's Chromium with playwright-core (the same launch options), loads the demo model, composes
// a caption and generates one image, then captures the editor at 1440×900, 1366×768 and 390×844,
// light and dark, into docs/screenshots/webui-<width>x<height>-<theme>.png.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const outDir = resolve(root, process.env.SCREENSHOT_DIR || '../docs/screenshots');
const bin = resolve(root, process.env.I4_BIN || '../build/ideogram4');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
export const VIEWPORTS = [[1440, 900], [1366, 768], [390, 844]];

const freePort = () => new Promise((res, rej) => {
  const s = createServer();
  s.once('error', rej);
  s.listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => res(port));
  });
});

async function waitHealth(base, proc, ms = 20000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (proc.exitCode !== null) throw new Error(`server exited early with code ${proc.exitCode}`);
    try {
      if ((await fetch(`${base}/api/health`)).ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('server did not answer /api/health');
}

async function main() {
  if (!existsSync(join(dist, 'index.html'))) throw new Error('webui/dist missing: run npm run build first');
  if (!existsSync(bin)) throw new Error(`server binary not found: ${bin} (build it with make, or set I4_BIN)`);
  mkdirSync(outDir, { recursive: true });
  const tmp = mkdtempSync(join(tmpdir(), 'i4-shots-'));
  mkdirSync(join(tmp, 'db'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = spawn(bin, ['serve', '--demo', '--output', join(tmp, 'out'), '--port', String(port)], {
    cwd: tmp,
    env: { ...process.env, IDEOGRAM4_LOG_DIR: join(tmp, 'logs'), IDEOGRAM4_WEBUI_DIR: dist, IDEOGRAM4_DB_PATH: join(tmp, 'db', 'ideogram4.db'), IDEOGRAM4_LORA_DIR: join(tmp, 'loras') },
    stdio: 'ignore',
  });
  let context;
  try {
    await waitHealth(base, server);
    context = await chromium.launchPersistentContext(mkdtempSync(join(tmp, 'chromium-')), {
      executablePath: chromiumPath,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--hide-scrollbars'],
      viewport: { width: 1440, height: 900 },
    });
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(30000);
    await page.goto(base + '/');
    await page.getByRole('button', { name: 'Load', exact: true }).click();
    await page.getByTestId('model-state').filter({ hasText: /^Loaded$/ }).waitFor();
    await page.getByRole('tab', { name: 'Form' }).click();
    await page.getByLabel(/High-level description/).fill('A red kite flying over golden dunes at sunset');
    await page.getByLabel('Aesthetics').fill('warm, minimal, cinematic');
    await page.getByLabel('Lighting').fill('low golden sun, long shadows');
    await page.getByLabel('Medium').selectOption('illustration');
    await page.getByLabel('Art style preset').selectOption({ label: 'Watercolor' });
    const cp = page.locator('#f-cp');
    await cp.fill('#E4572E, #F2A541, #1B2A49');
    await cp.blur();
    await page.getByLabel(/^Background/).fill('Rolling sand dunes under an orange sky');
    await page.getByLabel('Description', { exact: true }).fill('A red diamond-shaped kite with a long ribbon tail');
    const canvas = page.getByTestId('bbox-canvas');
    await canvas.focus();
    await page.keyboard.press('Enter');
    await page.getByLabel('Width', { exact: true }).fill('512');
    await page.getByLabel('Width', { exact: true }).press('Enter');
    await page.getByLabel('Height', { exact: true }).fill('512');
    await page.getByLabel('Height', { exact: true }).press('Enter');
    await page.getByLabel('Quality').selectOption('V4_TURBO_12');
    await page.getByTestId('generate').click();
    await page.getByTestId('result-image').waitFor({ timeout: 60000 });
    await page.locator('[data-testid="job"][data-phase="done"]').first().waitFor({ timeout: 60000 });
    const url = page.url();
    const shots = [];
    for (const theme of ['light', 'dark']) {
      await page.evaluate((t) => localStorage.setItem('ideogram4_theme', t), theme);
      for (const [w, h] of VIEWPORTS) {
        await page.setViewportSize({ width: w, height: h });
        await page.goto(url);
        await page.getByTestId('result-image').waitFor();
        await page.getByTestId('result-image').evaluate((el) => (el.complete ? null : new Promise((r) => { el.onload = r; })));
        await page.getByTestId('model-state').filter({ hasText: /^Loaded$/ }).waitFor();
        await page.waitForTimeout(300);
        const file = join(outDir, `webui-${w}x${h}-${theme}.png`);
        await page.screenshot({ path: file });
        shots.push(file);
      }
    }
    console.log(`wrote ${shots.length} screenshots:\n  ${shots.join('\n  ')}`);
  } finally {
    await context?.close().catch(() => {});
    server.kill('SIGTERM');
    await new Promise((r) => (server.exitCode !== null ? r() : server.once('exit', r)));
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
