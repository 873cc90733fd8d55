// `npm run e2e`: start `ideogram4 serve --demo` on a free loopback port with a
// fresh temp output folder and DB, drive Debian's Chromium through the UI with
// playwright-core, stop the server, print "N passed, N failed".
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { tests } from '../e2e/tests.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const results = join(root, 'test-results');
const bin = resolve(root, process.env.I4_BIN || '../build/ideogram4');
const repo = join(root, '..');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const TEST_TIMEOUT_MS = Number(process.env.E2E_TEST_TIMEOUT_MS || 60000);
const TOTAL_TIMEOUT_MS = Number(process.env.E2E_TOTAL_TIMEOUT_MS || 300000);

function log(...a) {
  console.log('[e2e]', ...a);
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/** Start tests/cli/fake_llm.mjs (an OpenAI-compatible stand-in); resolves with its port once it says "port N". */
function startFakeLlm(requestLog, ms = 10000) {
  const proc = spawn(process.execPath, [join(repo, 'tests/cli/fake_llm.mjs'), requestLog], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((res, rej) => {
    let out = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      rej(new Error(`fake LLM did not print its port within ${ms} ms: ${out}`));
    }, ms);
    const onData = (d) => {
      out += String(d);
      const m = /^port (\d+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        proc.stdout.off('data', onData);
        res({ proc, port: Number(m[1]) });
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', (d) => { out += String(d); });
    proc.once('error', (e) => { clearTimeout(timer); rej(e); });
    proc.once('exit', (code) => { clearTimeout(timer); rej(new Error(`fake LLM exited with code ${code}: ${out}`)); });
  });
}

async function stopProcess(proc, ms = 5000) {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill('SIGTERM');
  await new Promise((r) => {
    const k = setTimeout(() => { proc.kill('SIGKILL'); r(); }, ms);
    proc.once('exit', () => { clearTimeout(k); r(); });
  });
}

async function waitHealth(base, proc, ms = 20000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (proc.exitCode !== null) throw new Error(`server exited early with code ${proc.exitCode}`);
    try {
      const r = await fetch(`${base}/api/health`);
      if (r.ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('server did not answer /api/health');
}

/** Start `ideogram4 serve` with `args` on a free loopback port in `tmp`; resolves with {proc, base, output}. */
async function spawnServer(args, env = {}) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  log(`server: ${bin} serve ${args.join(' ')} --port ${port} (tmp ${tmp})`);
  const output = [];
  const proc = spawn(bin, ['serve', ...args, '--port', String(port)], {
    cwd: tmp,
    env: { ...process.env, IDEOGRAM4_LOG_DIR: join(tmp, 'logs'), IDEOGRAM4_WEBUI_DIR: dist, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  servers.push(proc);
  proc.stdout.on('data', (d) => output.push(String(d)));
  proc.stderr.on('data', (d) => output.push(String(d)));
  await waitHealth(base, proc);
  return { proc, base, output };
}

let passed = 0;
let failed = 0;
let llm = null;
let context = null;
let tmp = null;
/** Every server started (the primary one and those a test starts), stopped at the end. */
const servers = [];

async function main() {
  if (!existsSync(join(dist, 'index.html'))) {
    log('webui/dist missing: building it first');
    const b = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
    if (b.status !== 0) throw new Error('npm run build failed');
  }
  if (!existsSync(bin)) throw new Error(`server binary not found: ${bin} (build it with make, or set I4_BIN)`);
  if (!existsSync(chromiumPath)) throw new Error(`Chromium not found at ${chromiumPath} (apt-get install chromium, or set CHROMIUM)`);
  rmSync(results, { recursive: true, force: true });
  mkdirSync(results, { recursive: true });

  tmp = mkdtempSync(join(tmpdir(), 'i4-e2e-'));
  mkdirSync(join(tmp, 'db'), { recursive: true });
  mkdirSync(join(tmp, 'logs'), { recursive: true });
  // A LoRA folder with one file (the PEFT test vector of the tiny model).
  const loraDir = join(tmp, 'loras');
  mkdirSync(loraDir, { recursive: true });
  copyFileSync(join(repo, 'tests/vectors/lora/peft.safetensors'), join(loraDir, 'style.safetensors'));
  // The Quick Prompt LLM: the fake OpenAI-compatible server, logging each request body as one JSON line.
  const llmLog = join(tmp, 'llm-requests.jsonl');
  const fake = await startFakeLlm(llmLog);
  llm = fake.proc;
  log(`fake LLM on port ${fake.port} (requests in ${llmLog})`);
  // --queue 0: the reference's single generation slot, so the UI's 409 path is exercised (the queue is on by default).
  const primary = await spawnServer(['--demo', '--queue', '0', '--output', join(tmp, 'out')], {
    IDEOGRAM4_DB_PATH: join(tmp, 'db', 'ideogram4.db'),
    IDEOGRAM4_LORA_DIR: loraDir,
    IDEOGRAM4_MAGIC_PROMPT_BASE_URL: `http://127.0.0.1:${fake.port}/v1`,
    IDEOGRAM4_MAGIC_PROMPT_MODEL: 'fake-model',
  });
  const { base, output: serverLog } = primary;
  try {
    const profile = mkdtempSync(join(tmp, 'chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 800 },
    });
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(15000);
    const consoleErrors = [];
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    const ctx = {
      page,
      base,
      shared: {},
      tmp,
      bin,
      spawnServer,
      consoleErrors,
      llmLog,
      async api(path, init) {
        const r = await fetch(base + path, init && init.body !== undefined
          ? { method: init.method || 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(init.body) }
          : init);
        const text = await r.text();
        let body = null;
        try {
          body = text ? JSON.parse(text) : null;
        } catch {
          body = text;
        }
        return { status: r.status, body };
      },
      async screenshot(name) {
        await page.screenshot({ path: join(results, `${name}.png`) });
      },
    };
    const only = process.env.E2E_ONLY ? new RegExp(process.env.E2E_ONLY) : null;
    for (const t of tests) {
      if (only && !only.test(t.name)) continue;
      const t0 = Date.now();
      let timer;
      try {
        await Promise.race([
          t.fn(ctx),
          new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`timed out after ${TEST_TIMEOUT_MS} ms`)), TEST_TIMEOUT_MS); }),
        ]);
        passed++;
        log(`ok   ${t.name} (${Date.now() - t0} ms)`);
      } catch (e) {
        failed++;
        log(`FAIL ${t.name} (${Date.now() - t0} ms)\n     ${String(e && e.stack || e).split('\n').slice(0, 6).join('\n     ')}`);
        try {
          await ctx.screenshot(`FAIL-${t.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}`);
        } catch {
          /* ignore */
        }
      } finally {
        clearTimeout(timer);
      }
    }
    if (consoleErrors.length) log(`page errors:\n  ${consoleErrors.join('\n  ')}`);
  } finally {
    writeFileSync(join(results, 'server.log'), serverLog.join(''));
    await context?.close().catch(() => {});
    for (const p of servers) await stopProcess(p);
    await stopProcess(llm);
    if (tmp && !process.env.E2E_KEEP_TMP) rmSync(tmp, { recursive: true, force: true });
  }
}

/** Last-resort cleanup: SIGKILL every child still running (after a timeout, or a setup failure before the try/finally). */
function killChildren() {
  for (const p of [...servers, llm]) if (p && p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
}

const guard = setTimeout(() => {
  log(`whole run exceeded ${TOTAL_TIMEOUT_MS} ms`);
  failed++;
  killChildren();
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(1);
}, TOTAL_TIMEOUT_MS);

main()
  .catch((e) => {
    log(`setup failed: ${e && e.stack || e}`);
    failed++;
  })
  .finally(() => {
    clearTimeout(guard);
    killChildren();
    if (passed + failed === 0) failed = 1;
    console.log(`${passed} passed, ${failed} failed`);
    process.exit(failed ? 1 : 0);
  });
