// harness.mjs — shared pieces of the browser tests: the real tolk-server on a free loopback port with
// tone sources (floor 440 Hz, en 660 Hz, fr 880 Hz, es none → floor), headless Chromium through
// playwright-core, and measurements taken from the page's own output (tolk.player.analyser).
// Runs in Node (one test process); exits 77 (skip) when Chromium or playwright-core is missing.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SKIP = 77;
export const CHROMIUM = '/usr/bin/chromium';
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const ARTIFACTS = join(REPO, 'tests/artifacts');
export const TONES = { floor: 440, en: 660, fr: 880, es: 440 }; // es has no source: it carries the floor
const BASE_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
];

export function log(...args) {
  console.log(`[${new Date().toISOString().slice(11, 23)}]`, ...args);
}

export function fail(message) {
  throw new Error(message);
}

export function check(condition, message) {
  if (!condition) fail(message);
}

export const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

// Runs `main` as the whole test: prints PASS/FAIL/SKIP and exits with 0, 1 or 77.
export function runTest(name, main) {
  const deadline = setTimeout(() => { console.error(`FAIL ${name}: took longer than 110 s`); process.exit(1); }, 110_000);
  deadline.unref();
  main().then(
    () => { console.log(`PASS ${name}`); process.exit(0); },
    (error) => {
      // tools/test.sh sets TOLK_REQUIRE_BROWSER: there a missing browser is a failure, not a skip.
      if (error?.skip && !process.env.TOLK_REQUIRE_BROWSER) {
        console.log(`SKIP ${name}: ${error.message}`);
        process.exit(SKIP);
      }
      console.error(`FAIL ${name}: ${error?.stack ?? error}`);
      process.exit(1);
    });
}

function skip(message) {
  return Object.assign(new Error(message), { skip: true });
}

// playwright-core from the repo's node_modules (npm ci), or a skip.
export async function loadPlaywright() {
  if (!existsSync(CHROMIUM)) throw skip(`${CHROMIUM} is missing (apt-get install chromium)`);
  if (!existsSync(join(REPO, 'node_modules/playwright-core'))) {
    throw skip('node_modules/playwright-core is missing (run npm ci at the repo root)');
  }
  return import('playwright-core');
}

export async function freePort() {
  return new Promise((done, failed) => {
    const server = createServer();
    server.on('error', failed);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

function configText(port, frameMs, serverLines = []) {
  return `; written by tests/browser/harness.mjs
[server]
listen = 127.0.0.1:${port}
web_root = ${process.env.TOLK_TEST_WEB_ROOT || join(REPO, 'client/web')}
threads = 1
${serverLines.map((line) => `${line}\n`).join('')}
[audio]
frame_ms = ${frameMs}

[channel floor]
name = Floor
source = tone:${TONES.floor}

[channel en]
name = English
lang = en
source = tone:${TONES.en}

[channel fr]
name = Français
lang = fr
source = tone:${TONES.fr}

[channel es]
name = Español
lang = es
source = none
fallback = floor

[channel ar]
name = العربية
lang = ar
source = none
fallback = en
`;
}

// The real tolk-server binary on a loopback port; start() waits until it serves the page.
// serverLines: extra `key = value` lines for [server] (e.g. tls_cert); probe: an async function
// that says whether the server answers (default: GET http://127.0.0.1:PORT/api/health).
export class Server {
  constructor(binary, port, { frameMs = 20, serverLines = [], probe = null } = {}) {
    this.binary = binary;
    this.port = port;
    this.dir = mkdtempSync(join(tmpdir(), 'tolk-browser-'));
    this.config = join(this.dir, 'tolk.conf');
    this.probe = probe ?? (async () => (await fetch(`http://127.0.0.1:${port}/api/health`)).ok);
    writeFileSync(this.config, configText(port, frameMs, serverLines));
    this.child = null;
    this.output = '';
  }

  async start() {
    check(existsSync(this.binary), `no tolk-server at ${this.binary}`);
    const child = spawn(this.binary, ['-c', this.config], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.exited = new Promise((done) => child.on('exit', (code, signal) => done({ code, signal })));
    for (const stream of [child.stdout, child.stderr]) stream.on('data', (data) => { this.output += data; });
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      if (child.exitCode !== null) fail(`tolk-server exited (${child.exitCode}):\n${this.output}`);
      try {
        if (await this.probe()) return;
      } catch (error) { /* not listening yet */ }
      await sleep(100);
    }
    fail(`tolk-server did not answer on port ${this.port} within 10 s:\n${this.output}`);
  }

  async stop() {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGCONT'); // in case a test froze it
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    const result = await this.exited;
    clearTimeout(timer);
    this.child = null;
    return result;
  }

  // Freezes the process (SIGSTOP): its sockets stay open but go silent, like a stalled network.
  freeze() {
    this.child?.kill('SIGSTOP');
  }

  thaw() {
    this.child?.kill('SIGCONT');
  }

  async dispose() {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// options: more playwright launch options (e.g. env: a HOME with its own NSS database).
export async function launch(playwright, extraArgs = [], options = {}) {
  return playwright.chromium.launch({
    ...options,
    executablePath: CHROMIUM,
    headless: true,
    args: [...BASE_ARGS, ...extraArgs],
  });
}

// Collects what a page does that a test should see: WebSocket opens, frames sent, console errors,
// failed requests and requests to any other host.
export function watchPage(page, origin) {
  const seen = { sockets: [], sent: [], errors: [], failed: [], foreign: [], loaded: new Set() };
  page.on('websocket', (ws) => {
    const entry = { url: ws.url(), binaryIn: 0, closed: false };
    seen.sockets.push(entry);
    ws.on('framereceived', (frame) => { if (typeof frame.payload !== 'string') entry.binaryIn += 1; });
    ws.on('framesent', (frame) => { if (typeof frame.payload === 'string') seen.sent.push(frame.payload); });
    ws.on('close', () => { entry.closed = true; });
  });
  page.on('console', (msg) => { if (msg.type() === 'error') seen.errors.push(msg.text()); });
  page.on('pageerror', (error) => seen.errors.push(String(error)));
  page.on('requestfailed', (request) => seen.failed.push(`${request.url()} ${request.failure()?.errorText}`));
  page.on('response', (response) => {
    if (response.status() >= 400) seen.failed.push(`${response.url()} HTTP ${response.status()}`);
    else if (response.url().startsWith('http')) seen.loaded.add(response.url());
  });
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(origin) && !url.startsWith(origin.replace(/^http/, 'ws')) && !url.startsWith('data:')
        && !url.startsWith('blob:')) {
      seen.foreign.push(url);
    }
  });
  return seen;
}

// Waits for the channel list that hello fills in.
export async function waitForChannels(page) {
  await page.locator('#channels input[type=radio]').first().waitFor({ timeout: 10_000 });
}

export async function pickChannel(page, id) {
  await page.locator(`#channels input[value="${id}"]`).check();
}

// Dominant frequency and its level of what the page plays, read from its own AnalyserNode.
export async function measure(page) {
  return page.evaluate(() => {
    const analyser = window.tolk?.player?.analyser;
    if (!analyser) return { hz: 0, db: -Infinity, reason: 'no tolk.player.analyser' };
    const bins = new Float32Array(analyser.frequencyBinCount);
    analyser.getFloatFrequencyData(bins);
    let best = 0;
    for (let i = 1; i < bins.length; i += 1) if (bins[i] > bins[best]) best = i;
    return { hz: (best * analyser.context.sampleRate) / analyser.fftSize, db: bins[best],
      binHz: analyser.context.sampleRate / analyser.fftSize };
  });
}

// Resolves once the page plays `hz` (within one FFT bin, and louder than -60 dBFS) in 3 readings in
// a row; fails after `timeoutMs` with the last readings.
export async function waitForTone(page, hz, timeoutMs = 10_000) {
  const until = Date.now() + timeoutMs;
  const recent = [];
  let streak = 0;
  while (Date.now() < until) {
    const m = await measure(page);
    recent.push(m);
    if (recent.length > 5) recent.shift();
    const tolerance = Math.max(m.binHz ?? 0, 12) * 1.5;
    streak = Math.abs(m.hz - hz) <= tolerance && m.db > -60 ? streak + 1 : 0;
    if (streak >= 3) return m;
    await sleep(200);
  }
  fail(`no ${hz} Hz tone within ${timeoutMs} ms; last readings ${JSON.stringify(recent)}`);
}

export async function playerStats(page) {
  return page.evaluate(() => window.tolk?.player?.stats() ?? null);
}

export function ensureArtifacts() {
  mkdirSync(ARTIFACTS, { recursive: true });
  return ARTIFACTS;
}

// Bytes of everything the page loaded, each file gzip-compressed (as a server would send it).
export async function compressedSize(urls, origin) {
  let total = 0;
  for (const url of urls) {
    const local = new URL(url);
    const response = await fetch(new URL(local.pathname + local.search, origin));
    total += gzipSync(Buffer.from(await response.arrayBuffer()), { level: 9 }).length;
  }
  return total;
}
