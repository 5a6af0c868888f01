// Drives the page of `magicanimate serve` in headless Chromium, like a user:
// enters the API key when asked, picks the sample image and motion video
// (previews appear), submits, watches the progress bar and ETA, and waits for
// the result video to play. Saves a screenshot. Exit status 0 = pass.
//
//   node page.test.mjs <magicanimate binary> <screenshot dir>
// Environment: CHROMIUM (default /usr/bin/chromium).
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, rmSync, existsSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const [binary, outDir] = process.argv.slice(2);
if (!binary || !outDir) {
  console.error('usage: node page.test.mjs <magicanimate binary> <screenshot dir>');
  process.exit(2);
}
const SOURCE = path.join(repo, 'samples', 'monalisa.png');
const MOTION = path.join(repo, 'samples', 'running.mp4');
const API_KEY = 'browser-test-key';
const LIMIT_MS = 8 * 60 * 1000;  // safety net against hangs, not a timing check

function fail(message) {
  throw new Error(message);
}

const MODELS = path.join(repo, 'tests', 'data', 'models');
// Tiny models, small output, few windows: the sample video's 42 frames in two 24-frame windows.
const SERVER_ARGS = ['--api-key', API_KEY, '--size', '64', '--steps', '2', '--context', '24', '--overlap', '0'];

// Starts the server on a free port; resolves with {process, url} once it listens.
function startServer(dataDir, models = MODELS, more = SERVER_ARGS) {
  const args = ['serve', '--models', models, '--port', '0', '--data', dataDir, ...more];
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk) => {
      log += chunk;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(log);
      if (m) resolve({ child, url: m[1], log: () => log });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (e) => reject(new Error(`cannot start ${binary}: ${e.message}`)));
    child.on('exit', (code) => reject(new Error(`server exited (${code}) before listening:\n${log}`)));
  });
}

async function main() {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ma-browser-'));
  const server = await startServer(dataDir);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'],
  });
  const pageErrors = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 1300 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    // Nothing may come from outside the server: the page is self-contained.
    const foreign = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(server.url) && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) foreign.push(r.url());
    });
    await page.goto(server.url);

    // The API needs a key: the page asks for it.
    await page.waitForSelector('#key-dialog[open]', { timeout: 30000 });
    await page.fill('#api-key', API_KEY);
    await page.click('#key-dialog button[type=submit]');
    await page.waitForSelector('#key-dialog:not([open])', { state: 'attached' });
    await page.waitForSelector('#jobs-empty:not([hidden])');

    // Pick the files: both previews show.
    await page.setInputFiles('#source-input', SOURCE);
    await page.setInputFiles('#motion-input', MOTION);
    await page.waitForFunction(() => {
      const img = document.getElementById('source-preview');
      return !img.hidden && img.complete && img.naturalWidth > 0;
    }, null, { timeout: 30000 });
    await page.waitForFunction(() => document.getElementById('motion-preview').readyState >= 1, null, { timeout: 30000 });

    // The form shows the server's defaults; set a seed and submit.
    const steps = await page.inputValue('#steps');
    if (steps !== '2') fail(`steps field shows ${steps}, not the server default 2`);
    await page.fill('#seed', '3');
    await page.click('#submit');

    // Watch: the progress bar moves and an ETA appears while it runs.
    const seen = { maxProgress: 0, eta: '', statuses: new Set() };
    const deadline = Date.now() + LIMIT_MS;
    for (;;) {
      const s = await page.evaluate(() => ({
        progress: document.getElementById('progress').value,
        eta: document.getElementById('eta').textContent,
        status: document.getElementById('status').textContent,
        error: document.getElementById('job-error').textContent + document.getElementById('form-error').textContent,
        ready: document.getElementById('result-video').readyState,
        duration: document.getElementById('result-video').duration,
      }));
      if (s.status) seen.statuses.add(s.status);
      if (s.status === 'running' && s.progress < 1) seen.maxProgress = Math.max(seen.maxProgress, s.progress);
      if (s.eta) seen.eta = s.eta;
      if (s.status === 'failed' || s.status === 'cancelled') fail(`job ${s.status}: ${s.error}`);
      if (s.ready >= 2 && s.duration > 0) break;
      if (Date.now() > deadline) fail(`no playable result; last state ${JSON.stringify(s)}`);
      await page.waitForTimeout(100);
    }
    if (!seen.statuses.has('running')) fail('never showed the job running');
    if (!(seen.maxProgress > 0)) fail('the progress bar never moved while running');
    if (!/left/.test(seen.eta)) fail(`no ETA shown (saw "${seen.eta}")`);

    // The result plays in the page and can be downloaded.
    const video = await page.evaluate(() => {
      const v = document.getElementById('result-video');
      return { width: v.videoWidth, height: v.videoHeight, duration: v.duration };
    });
    if (video.width !== 64 || video.height !== 64) fail(`result is ${video.width}x${video.height}, not 64x64`);
    const link = await page.evaluate(() => {
      const a = document.getElementById('download-link');
      return { href: a.href, download: a.download, visible: a.offsetParent !== null };
    });
    if (!link.href.startsWith('blob:') || !link.download.endsWith('result.mp4') || !link.visible)
      fail(`bad download link ${JSON.stringify(link)}`);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-link')]);
    const downloaded = statSync(await download.path()).size;
    if (!(downloaded > 1000)) fail(`the downloaded result has ${downloaded} bytes`);

    // The job is listed as done.
    await page.waitForFunction(() => [...document.querySelectorAll('#jobs tbody tr')].some(
      (tr) => tr.textContent.includes('done')), null, { timeout: 30000 });

    await page.evaluate(() => document.getElementById('result-video').pause());
    const shot = path.join(outDir, 'serve-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    if (!existsSync(shot)) fail('no screenshot written');
    if (foreign.length) fail(`the page fetched from elsewhere: ${foreign.join(', ')}`);
    if (pageErrors.length) fail(`script errors: ${pageErrors.join('; ')}`);
    console.log(`browser test passed: result ${video.width}x${video.height}, ${video.duration.toFixed(2)} s; ` +
      `progress reached ${(seen.maxProgress * 100).toFixed(0)}% while running; "${seen.eta}"; screenshot ${shot}`);
  } finally {
    await browser.close();
    server.child.kill('SIGTERM');
    await new Promise((r) => server.child.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// Served models that record a native size (magicanimate.json, written by
// `train`): the page pre-fills its size field with it. The fixture parts are
// linked into a temp folder; the server gets no --size (its default would be 512).
async function checkNativeSize() {
  const dir = mkdtempSync(path.join(tmpdir(), 'ma-browser-native-'));
  const models = path.join(dir, 'models');
  mkdirSync(models);
  for (const part of readdirSync(MODELS)) symlinkSync(path.join(MODELS, part), path.join(models, part));
  writeFileSync(path.join(models, 'magicanimate.json'), JSON.stringify({ native_width: 128, native_height: 128 }));
  const server = await startServer(path.join(dir, 'data'), models, []);
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    await page.goto(server.url);
    await page.waitForFunction(() => document.getElementById('size').value !== '', null, { timeout: 30000 });
    const size = await page.inputValue('#size');
    if (size !== '128') fail(`size field shows ${size}, not the models' native size 128`);
    console.log('browser test passed: the size field shows the models\' native size 128');
  } finally {
    await browser.close();
    server.child.kill('SIGTERM');
    await new Promise((r) => server.child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(checkNativeSize).catch((e) => {
  console.error('browser test FAILED: ' + e.message);
  process.exit(1);
});
