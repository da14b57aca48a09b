// browser-latency.mjs — capture-to-playout latency of the listener page in headless Chromium, against the
// real tolk-server on a loopback port with tone sources. Presses Listen like a user, lets the player
// settle for 5 s, then samples every 250 ms the page's stable interface only: tolk.player.stats() (its
// own figure, latencyMs, and its counters) and tolk.player.latencyParts() (network / buffer / output),
// plus an independent estimate of the network part from the frames' arrival (a WebSocket hook installed
// before the page's scripts run). Prints median / p95 / max, underruns, output clock pauses, drops and
// concealments over the window, the decoder/output path, per-minute medians, and one JSON line.
// Runs in one Node process; installArrivalHook and sampleInPage run in the page, on its main thread.
// Stops the server and the browser itself (hard deadline: S + 90 s).
//
// Usage: node bench/browser-latency.mjs [--seconds S] [--path secure|insecure] [--frame-ms 20]
//                                       [--channel en] [--port P] [--json-only] [--samples-out FILE]
//                                       TOLK-SERVER
// --port: the loopback port for tolk-server (default: a free one). --samples-out writes one JSON line
// per sample (time, latency, check, parts, buffer, target, counters).

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
    '[--frame-ms 10|20] [--channel ID] [--port P] [--json-only] [--samples-out FILE] TOLK-SERVER');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { seconds: 60, path: 'secure', frameMs: 20, channel: 'en', port: 0, jsonOnly: false, samplesOut: null,
    binary: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => (i + 1 < argv.length ? argv[++i] : usage(`${arg} needs a value`));
    if (arg === '--seconds') opts.seconds = Number(value());
    else if (arg === '--path') opts.path = value();
    else if (arg === '--frame-ms') opts.frameMs = Number(value());
    else if (arg === '--channel') opts.channel = value();
    else if (arg === '--port') opts.port = Number(value());
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
  if (!(Number.isInteger(opts.port) && opts.port >= 0 && opts.port < 65536)) usage('--port must be a port number');
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

// One sample, taken in the page, through the player's stable interface only. `check` is the page's
// latency rebuilt with an independent network part:
//   check = (now − capture of the end of the newest frame that arrived, from the WebSocket hook)
//           + latencyParts().bufferMs (jitter buffer + decoder + output queue) + latencyParts().outputMs.
function sampleInPage() {
  const player = window.tolk?.player;
  const probe = window.__latbench;
  if (!player || typeof player.latencyParts !== 'function' || !probe) return null;
  const parts = player.latencyParts();
  if (!parts) return null;
  const stats = player.stats();
  const edgeAgeMs = performance.timeOrigin + performance.now() - probe.edgeUs / 1000;
  return {
    stats,
    parts,
    edgeAgeMs,
    checkMs: edgeAgeMs + parts.bufferMs + parts.outputMs,
    transits: probe.transits.splice(0),
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
  const port = opts.port || await freePort();
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
    const first = await page.evaluate(sampleInPage);
    if (!first) throw new Error('the page has no player (window.tolk.player) after Listen');
    const samples = [];
    const transits = [];
    const start = Date.now();
    let next = start;
    let lastReport = start;
    while (Date.now() - start < opts.seconds * 1000) {
      next += SAMPLE_MS;
      const s = await page.evaluate(sampleInPage);
      if (s) {
        transits.push(...s.transits);
        s.transits = undefined;
        s.t = (Date.now() - start) / 1000;
        samples.push(s);
      }
      if (Date.now() - lastReport >= 60_000) {
        lastReport = Date.now();
        const lat = summary(samples.map((x) => x.stats.latencyMs));
        const at = s ?? samples.at(-1) ?? first;
        log(`${Math.round((lastReport - start) / 1000)} s: latency median ${lat.median} ms, ` +
          `underruns ${at.stats.underruns - first.stats.underruns}, pauses ${at.stats.pauses - first.stats.pauses}, ` +
          `dropped ${at.stats.dropped - first.stats.dropped}`);
      }
      await sleep(Math.max(0, next - Date.now()));
    }
    const last = samples[samples.length - 1] ?? first;
    if (opts.samplesOut) {
      writeFileSync(opts.samplesOut, samples.map((x) => JSON.stringify({
        t: round(x.t, 2), latency: round(x.parts.totalMs), check: round(x.checkMs), network: round(x.parts.networkMs),
        edge: round(x.edgeAgeMs), buffer: round(x.parts.bufferMs), output_queue: round(x.parts.outputQueueMs),
        output: round(x.parts.outputMs), smoothed: round(x.parts.smoothedBufferMs), target: round(x.parts.targetMs),
        jitter: x.parts.jitterMs, ratio: x.stats.ratio, underruns: x.stats.underruns, pauses: x.stats.pauses,
        paused: x.stats.pausedMs, dropped: x.stats.dropped, concealed: x.stats.concealed,
      })).join('\n') + '\n');
    }
    const pick = (f) => samples.map(f);
    const delta = (key) => last.stats[key] - first.stats[key];
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
      latency_ms: summary(pick((x) => x.parts.totalMs)),
      check_ms: summary(pick((x) => x.checkMs)),
      check_minus_page_ms: summary(pick((x) => x.checkMs - x.parts.totalMs)),
      // The same latency with the context's own claim (baseLatency + outputLatency) for the output
      // part: what a browser without getOutputTimestamp would show.
      latency_reported_output_ms: summary(pick((x) => x.parts.totalMs - x.parts.outputMs + x.parts.outputReportedMs)),
      buffer_ms: summary(pick((x) => x.parts.smoothedBufferMs)),
      target_ms: summary(pick((x) => x.parts.targetMs)),
      buffer_minus_target_ms: summary(pick((x) => x.parts.smoothedBufferMs - x.parts.targetMs)),
      jitter_ms: summary(pick((x) => x.parts.jitterMs)),
      parts_median_ms: {
        network: round(quantile(pick((x) => x.parts.networkMs), 0.5)),
        network_hook: round(quantile(pick((x) => x.edgeAgeMs), 0.5)),
        buffer: round(quantile(pick((x) => x.parts.bufferMs), 0.5)),
        jitter_queue: round(quantile(pick((x) => x.parts.jitterQueueMs), 0.5)),
        decoder: round(quantile(pick((x) => x.parts.decoderMs), 0.5)),
        output_queue: round(quantile(pick((x) => x.parts.outputQueueMs), 0.5)),
        output: round(quantile(pick((x) => x.parts.outputMs), 0.5)),
      },
      per_minute: perMinute(samples),
      transit_ms: summary(transits),
      low_ms: last.parts.lowMs,
      output_reported_ms: round(last.parts.outputReportedMs),
      ratio: summary(pick((x) => (x.stats.ratio - 1) * 1e4)), // in 0.01 %
      underruns: delta('underruns'),
      output_underruns: delta('outputUnderruns'),
      pauses: delta('pauses'),
      paused_ms: delta('pausedMs'),
      dropped: delta('dropped'),
      concealed: delta('concealed'),
      late: delta('late'),
      skipped: delta('skipped'),
      resyncs: delta('resyncs'),
      warmup: { underruns: first.stats.underruns, pauses: first.stats.pauses, dropped: first.stats.dropped,
                concealed: first.stats.concealed },
      not_playing_samples: samples.filter((x) => !x.stats.playing).length,
      page_errors: errors.length,
      context_rate: last.parts.contextRate,
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

// Medians of each minute of the window: latency, buffer, target; the mean ratio; counters.
function perMinute(samples) {
  const minutes = [];
  for (let m = 0; m * 60 < (samples.at(-1)?.t ?? 0); m++) {
    const inside = samples.filter((x) => x.t > m * 60 && x.t <= (m + 1) * 60);
    if (inside.length === 0) continue;
    const at = (f) => round(quantile(inside.map(f), 0.5));
    minutes.push({
      minute: m + 1,
      latency: at((x) => x.parts.totalMs),
      p95: round(quantile(inside.map((x) => x.parts.totalMs), 0.95)),
      buffer: at((x) => x.parts.smoothedBufferMs),
      target: at((x) => x.parts.targetMs),
      ratio: round(inside.reduce((a, x) => a + x.stats.ratio, 0) / inside.length, 5),
      underruns: inside.at(-1).stats.underruns,
      pauses: inside.at(-1).stats.pauses,
      dropped: inside.at(-1).stats.dropped,
    });
  }
  return minutes;
}

function print(r) {
  const l = r.latency_ms;
  const c = r.check_ms;
  console.log(`path ${r.path}: decoder ${r.decoder}, output ${r.output} (route ${r.route}), ` +
    `${r.frame_ms} ms frames, ${r.samples} samples over ${r.seconds} s`);
  console.log(`latency (page, latencyParts().totalMs): median ${l.median} ms, p95 ${l.p95}, max ${l.max}`);
  console.log(`latency (check, hook network + buffer + output): median ${c.median} ms, p95 ${c.p95}, max ${c.max}; ` +
    `check − page median ${r.check_minus_page_ms.median} ms`);
  console.log(`latency with the context's reported output latency: median ${r.latency_reported_output_ms.median} ms`);
  console.log(`buffer ${r.buffer_ms.median} ms (target ${r.target_ms.median}, buffer − target median ` +
    `${r.buffer_minus_target_ms.median}, p95 ${r.buffer_minus_target_ms.p95}; jitter ${r.jitter_ms.median}); ` +
    `transit capture→arrival median ${r.transit_ms.median} p95 ${r.transit_ms.p95} max ${r.transit_ms.max} ms`);
  const p = r.parts_median_ms;
  console.log(`parts (medians): network ${p.network} (hook ${p.network_hook}), buffer ${p.buffer} ` +
    `(jitter queue ${p.jitter_queue}, decoder ${p.decoder}, output queue ${p.output_queue}), output ${p.output} ms; ` +
    `context reports ${r.output_reported_ms} ms`);
  console.log(`in the window: underruns ${r.underruns} (output ran dry ${r.output_underruns}), output clock pauses ` +
    `${r.pauses} (${r.paused_ms} ms), dropped ${r.dropped}, concealed ${r.concealed}, late ${r.late}, ` +
    `skipped ${r.skipped}, resyncs ${r.resyncs}; ratio median ${r.ratio.median} (0.01 %)`);
  for (const m of r.per_minute) {
    console.log(`  minute ${m.minute}: latency ${m.latency} (p95 ${m.p95}), buffer ${m.buffer} / target ${m.target}, ` +
      `ratio ${m.ratio}; totals: underruns ${m.underruns}, pauses ${m.pauses}, dropped ${m.dropped}`);
  }
  console.log(`load ${r.machine_before.loadavg.join(' ')} → ${r.machine_after.loadavg.join(' ')}`);
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
