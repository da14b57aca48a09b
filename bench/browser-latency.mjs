// browser-latency.mjs — capture-to-playout latency of the listener page in headless Chromium, against the
// real tolk-server on a free loopback port with tone sources. Presses Listen like a user, lets the
// player settle for 5 s, then samples every 250 ms: the page's own figure (tolk.player.stats().latencyMs)
// and an independent estimate built in the page from the frames' arrival (a WebSocket hook installed
// before the page's scripts run) and the audio queued ahead of the speaker. Prints median / p95 / max,
// underruns and concealments over the window, the decoder/output path, and one JSON line.
// Runs in one Node process; installArrivalHook and sampleInPage run in the page, on its main thread.
// Stops the server and the browser itself (hard deadline: S + 90 s).
//
// Usage: node bench/browser-latency.mjs [--seconds S] [--path secure|insecure] [--frame-ms 20]
//                                       [--channel en] [--json-only] [--samples-out FILE] TOLK-SERVER
// --samples-out writes one JSON line per sample (time, latency, check, buffer, target, counts).

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import {
  REPO, Server, TONES, freePort, launch, loadPlaywright, pickChannel, sleep, waitForChannels, waitForTone,
} from '../tests/browser/harness.mjs';

const WARMUP_MS = 5000;
const SAMPLE_MS = 250;

function usage(message) {
  if (message) console.error(`browser-latency: ${message}`);
  console.error('usage: node bench/browser-latency.mjs [--seconds S] [--path secure|insecure] ' +
    '[--frame-ms 10|20] [--channel ID] [--json-only] [--samples-out FILE] TOLK-SERVER');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { seconds: 60, path: 'secure', frameMs: 20, channel: 'en', jsonOnly: false, samplesOut: null, binary: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => (i + 1 < argv.length ? argv[++i] : usage(`${arg} needs a value`));
    if (arg === '--seconds') opts.seconds = Number(value());
    else if (arg === '--path') opts.path = value();
    else if (arg === '--frame-ms') opts.frameMs = Number(value());
    else if (arg === '--channel') opts.channel = value();
    else if (arg === '--json-only') opts.jsonOnly = true;
    else if (arg === '--samples-out') opts.samplesOut = resolve(value());
    else if (arg === '-h' || arg === '--help') usage();
    else if (arg.startsWith('-')) usage(`unknown option ${arg}`);
    else if (!opts.binary) opts.binary = resolve(arg);
    else usage(`unexpected argument ${arg}`);
  }
  if (!opts.binary) usage('no tolk-server given');
  if (!(opts.seconds > 0 && opts.seconds <= 7200)) usage('--seconds must be in 1..7200');
  if (opts.path !== 'secure' && opts.path !== 'insecure') usage('--path is secure or insecure');
  if (opts.frameMs !== 10 && opts.frameMs !== 20) usage('--frame-ms is 10 or 20');
  if (!(opts.channel in TONES)) usage(`--channel is one of ${Object.keys(TONES).join(', ')}`);
  return opts;
}


// Runs in the page before its own scripts: notes, for every binary WebSocket message, when it arrived
// (performance time) and the capture time of the end of its last frame (header + packets × frame_ms).
function installArrivalHook(frameMs) {
  const Native = window.WebSocket;
  const probe = { frameMs, edgeUs: NaN, arrivedMs: NaN, messages: 0, transits: [] };
  window.__latbench = probe;
  class Hooked extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (event) => {
        const data = event.data;
        if (!(data instanceof ArrayBuffer) || data.byteLength < 18) return;
        const now = performance.now();
        const view = new DataView(data);
        const captureUs = view.getUint32(8) * 4294967296 + view.getUint32(12);
        let packets = 0;
        for (let at = 16; at + 2 <= data.byteLength; at += 2 + view.getUint16(at)) packets += 1;
        probe.edgeUs = captureUs + packets * probe.frameMs * 1000;
        probe.arrivedMs = now;
        probe.messages += 1;
        // Transit of the newest sample: arrival (Unix ms) − capture of its end.
        probe.transits.push(performance.timeOrigin + now - probe.edgeUs / 1000);
        if (probe.transits.length > 4096) probe.transits.splice(0, 2048);
      });
    }
  }
  window.WebSocket = Hooked;
}

// One sample, taken in the page. `page` is the page's own figure; `check` is built independently:
//   heard sample's capture = live edge (capture of the end of the newest frame that arrived)
//                            − audio queued between the live edge and the speaker,
//   queued = jitter buffer (frames + pads) + frames at the decoder + output queue + output latency,
// with the output latency from getOutputTimestamp (render position − position at the speaker).
function sampleInPage(frameMs) {
  const player = window.tolk?.player;
  const probe = window.__latbench;
  if (!player || !player.ctx || !player.output || !player.jitter || !probe) return null;
  const stats = player.stats();
  const ctx = player.ctx;
  const nowPerf = performance.now();
  const ts = ctx.getOutputTimestamp ? ctx.getOutputTimestamp() : null;
  const renderTime = ctx.currentTime;
  // How far behind the render clock the speaker is, and how old the output timestamp is.
  const tsLagMs = ts && ts.contextTime > 0 ? (renderTime - ts.contextTime) * 1000 : NaN;
  const tsAgeMs = ts && ts.performanceTime > 0 ? nowPerf - ts.performanceTime : NaN;
  const jitter = player.jitter;
  const jitterMs = jitter.queuedMs + jitter.pads * frameMs;
  const inflightMs = player.inflight * frameMs;
  const outputMs = player.output.queuedMs();
  // At "now": the speaker plays render position − (lag − age) (the timestamp is age ms old).
  const speakerBehindMs = Number.isFinite(tsLagMs) ? tsLagMs - tsAgeMs : NaN;
  const edgeAgeMs = performance.timeOrigin + nowPerf - probe.edgeUs / 1000;
  const checkMs = edgeAgeMs + jitterMs + inflightMs + outputMs + speakerBehindMs;
  // The page's mapping again, by hand, and the same with currentTime + outputLatency + baseLatency
  // (the page's fallback when getOutputTimestamp is missing).
  let pageAgainMs = NaN;
  if (ts && ts.contextTime > 0) {
    const captureUs = player.output.captureAt(ts.contextTime);
    pageAgainMs = performance.timeOrigin + ts.performanceTime - captureUs / 1000;
  }
  const fallbackCaptureUs = player.output.captureAt(renderTime);
  const fallbackMs = performance.timeOrigin + nowPerf +
    ((ctx.baseLatency || 0) + (ctx.outputLatency || 0)) * 1000 - fallbackCaptureUs / 1000;
  const transits = probe.transits.splice(0);
  return {
    stats,
    pageAgainMs,
    fallbackMs,
    checkMs,
    parts: { edgeAgeMs, jitterMs, inflightMs, outputMs, speakerBehindMs, tsLagMs, tsAgeMs },
    transits,
    spreadMs: jitter.spreadMs,
    lowMs: player.output.lowMs,
    baseMs: jitter.baseMs,
    baseLatencyMs: (ctx.baseLatency || 0) * 1000,
    outputLatencyMs: (ctx.outputLatency || 0) * 1000,
    sampleRate: ctx.sampleRate,
    state: ctx.state,
    messages: probe.messages,
  };
}

function quantile(values, q) {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  return v[Math.min(v.length - 1, Math.floor(q * v.length))];
}

function summary(values) {
  const v = values.filter(Number.isFinite);
  return {
    n: v.length,
    median: round(quantile(v, 0.5)),
    p95: round(quantile(v, 0.95)),
    max: round(v.length ? Math.max(...v) : NaN),
    min: round(v.length ? Math.min(...v) : NaN),
  };
}

function round(x, digits = 1) {
  if (!Number.isFinite(x)) return null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function machine() {
  let git = { commit: null, webStatus: null };
  try {
    git.commit = execFileSync('git', ['-C', REPO, 'log', '-1', '--format=%h'], { encoding: 'utf8' }).trim();
    git.webStatus = execFileSync('git', ['-C', REPO, 'status', '--short', 'client/web'], { encoding: 'utf8' })
      .trim().split('\n').filter(Boolean);
  } catch (error) { /* not a git checkout */ }
  // Which page was measured, even when its files are not committed: a hash of client/web/js/*.js.
  const js = resolve(REPO, 'client/web/js');
  const hash = createHash('sha256');
  for (const name of readdirSync(js).filter((n) => n.endsWith('.js')).sort()) hash.update(readFileSync(resolve(js, name)));
  git.webJsSha = hash.digest('hex').slice(0, 12);
  return { cpus: cpus().length, loadavg: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number), git };
}

const active = { server: null }; // for the deadline: the server must not outlive this process

async function measure(opts, log) {
  const playwright = await loadPlaywright();
  const port = await freePort();
  const server = new Server(opts.binary, port, { frameMs: opts.frameMs }); // the browser tests' tones
  active.server = server;
  const secure = opts.path === 'secure';
  const host = secure ? '127.0.0.1' : 'tolk.test';
  const args = secure ? [] : ['--host-resolver-rules=MAP tolk.test 127.0.0.1'];
  const before = machine();
  let browser;
  const errors = [];
  try {
    await server.start();
    browser = await launch(playwright, args);
    const context = await browser.newContext({ locale: 'en-US' });
    await context.addInitScript(installArrivalHook, opts.frameMs);
    const page = await context.newPage();
    page.on('pageerror', (error) => errors.push(String(error)));
    page.on('console', (msg) => { if (msg.type() === 'error') errors.push(msg.text()); });
    await page.goto(`http://${host}:${port}/`);
    await waitForChannels(page);
    await pickChannel(page, opts.channel);
    await page.locator('#listen').click();
    await waitForTone(page, TONES[opts.channel]);
    log(`playing ${opts.channel} (${TONES[opts.channel]} Hz) on ${opts.path} path; warming up ${WARMUP_MS / 1000} s`);
    await sleep(WARMUP_MS);
    const first = await page.evaluate(sampleInPage, opts.frameMs);
    if (!first) throw new Error('the page has no player (window.tolk.player) after Listen');
    const samples = [];
    const transits = [];
    const start = Date.now();
    let next = start;
    let lastReport = start;
    while (Date.now() - start < opts.seconds * 1000) {
      next += SAMPLE_MS;
      const s = await page.evaluate(sampleInPage, opts.frameMs);
      if (s) {
        transits.push(...s.transits);
        s.transits = undefined;
        s.t = (Date.now() - start) / 1000;
        samples.push(s);
      }
      if (Date.now() - lastReport >= 60_000) {
        lastReport = Date.now();
        const lat = summary(samples.map((x) => x.stats.latencyMs));
        log(`${Math.round((lastReport - start) / 1000)} s: latency median ${lat.median} ms, ` +
          `underruns ${s?.stats.underruns - first.stats.underruns}, concealed ${s?.stats.concealed - first.stats.concealed}`);
      }
      await sleep(Math.max(0, next - Date.now()));
    }
    const last = samples[samples.length - 1] ?? first;
    if (opts.samplesOut) {
      writeFileSync(opts.samplesOut, samples.map((x) => JSON.stringify({
        t: round(x.t, 2), latency: x.stats.latencyMs, check: round(x.checkMs), buffer: x.stats.bufferMs,
        target: x.stats.targetMs, underruns: x.stats.underruns, concealed: x.stats.concealed, ratio: x.stats.ratio,
        output: round(x.parts.outputMs), speaker: round(x.parts.speakerBehindMs), edge: round(x.parts.edgeAgeMs),
      })).join('\n') + '\n');
    }
    const pick = (f) => samples.map(f);
    const result = {
      bench: 'browser-latency',
      path: opts.path,
      frame_ms: opts.frameMs,
      seconds: opts.seconds,
      samples: samples.length,
      decoder: last.stats.decoder,
      output: last.stats.output,
      route: last.stats.route,
      secure_context: await page.evaluate(() => window.isSecureContext),
      latency_ms: summary(pick((x) => x.stats.latencyMs)),
      latency_again_ms: summary(pick((x) => x.pageAgainMs)),
      latency_fallback_ms: summary(pick((x) => x.fallbackMs)),
      check_ms: summary(pick((x) => x.checkMs)),
      check_minus_page_ms: summary(pick((x) => x.checkMs - x.pageAgainMs)),
      buffer_ms: summary(pick((x) => x.stats.bufferMs)),
      target_ms: summary(pick((x) => x.stats.targetMs)),
      parts_median_ms: {
        edge_age: round(quantile(pick((x) => x.parts.edgeAgeMs), 0.5)),
        jitter_queue: round(quantile(pick((x) => x.parts.jitterMs), 0.5)),
        at_decoder: round(quantile(pick((x) => x.parts.inflightMs), 0.5)),
        output_queue: round(quantile(pick((x) => x.parts.outputMs), 0.5)),
        speaker_behind_render: round(quantile(pick((x) => x.parts.speakerBehindMs), 0.5)),
        ts_lag: round(quantile(pick((x) => x.parts.tsLagMs), 0.5)),
        ts_age: round(quantile(pick((x) => x.parts.tsAgeMs), 0.5)),
      },
      transit_ms: summary(transits),
      spread_ms: summary(pick((x) => x.spreadMs)),
      low_ms: last.lowMs,
      base_ms: last.baseMs,
      base_latency_ms: round(last.baseLatencyMs),
      output_latency_ms: round(last.outputLatencyMs),
      underruns: last.stats.underruns - first.stats.underruns,
      concealed: last.stats.concealed - first.stats.concealed,
      late: last.stats.late - first.stats.late,
      resyncs: last.stats.resyncs - first.stats.resyncs,
      underruns_total: last.stats.underruns,
      concealed_total: last.stats.concealed,
      not_playing_samples: samples.filter((x) => !x.stats.playing).length,
      page_errors: errors.length,
      context_rate: last.sampleRate,
      machine_before: before,
      machine_after: machine(),
      date: new Date().toISOString(),
    };
    return result;
  } finally {
    await browser?.close().catch(() => {});
    await server.dispose();
  }
}

function print(r) {
  const l = r.latency_ms;
  const c = r.check_ms;
  console.log(`path ${r.path}: decoder ${r.decoder}, output ${r.output} (route ${r.route}), ` +
    `${r.frame_ms} ms frames, ${r.samples} samples over ${r.seconds} s`);
  console.log(`latency (page, stats().latencyMs): median ${l.median} ms, p95 ${l.p95}, max ${l.max}`);
  console.log(`latency (check, arrivals + queues):  median ${c.median} ms, p95 ${c.p95}, max ${c.max}; ` +
    `check − page median ${r.check_minus_page_ms.median} ms`);
  console.log(`latency (fallback mapping, currentTime + base/outputLatency): median ${r.latency_fallback_ms.median} ms`);
  console.log(`buffer ${r.buffer_ms.median} ms (target ${r.target_ms.median}, base ${r.base_ms}, ` +
    `spread ${r.spread_ms.median}); transit capture→arrival median ${r.transit_ms.median} p95 ${r.transit_ms.p95} ` +
    `max ${r.transit_ms.max} ms`);
  const p = r.parts_median_ms;
  console.log(`parts (medians): edge age ${p.edge_age}, jitter queue ${p.jitter_queue}, at decoder ${p.at_decoder}, ` +
    `output queue ${p.output_queue}, speaker behind render ${p.speaker_behind_render} ms; ` +
    `baseLatency ${r.base_latency_ms}, outputLatency ${r.output_latency_ms} ms`);
  console.log(`underruns ${r.underruns}, concealed ${r.concealed}, late ${r.late}, resyncs ${r.resyncs} in the window; ` +
    `load ${r.machine_before.loadavg.join(' ')} → ${r.machine_after.loadavg.join(' ')}`);
}

const opts = parseArgs(process.argv.slice(2));
const stamp = () => new Date().toISOString().slice(11, 23);
const log = opts.jsonOnly ? () => {} : (...a) => console.log(`[${stamp()}]`, ...a);
const deadline = setTimeout(() => {
  console.error(`browser-latency: took longer than ${opts.seconds + 90} s, giving up`);
  active.server?.child?.kill('SIGKILL'); // Playwright closes the browser it launched on exit
  process.exit(1);
}, (opts.seconds + 90) * 1000);
deadline.unref();
measure(opts, log).then((result) => {
  if (!opts.jsonOnly) print(result);
  console.log(JSON.stringify(result));
  process.exit(0);
}, (error) => {
  console.error(`browser-latency: ${error?.stack ?? error}`);
  process.exit(1);
});
