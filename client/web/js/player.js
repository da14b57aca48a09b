// player.js: the listener's audio engine. Frames from the socket go into the jitter buffer; each
// time the output runs low, the next slot is decoded (or concealed) and written to the output,
// which plays through volume → analyser → MediaStream → a playing <audio> element (so iOS keeps
// it on with the screen locked and through the mute switch). It also watches the output clock
// for pauses (the audio thread stood still), splices frames the jitter buffer drops, follows a
// new frame length after a server restart, and measures the latency and its parts. Main thread
// only.
//
// Stable interface (the page, the tests and the bench use only this): start(), stop(), push(),
// reset(), setFrameMs(ms), setVolume(v), stats(), latencyParts(), analyser, element, frameMs.

import { FLAG_DISCONTINUITY } from './protocol.js';
import { JitterBuffer } from './jitter.js';
import { createDecoder } from './decoder.js';
import { WorkletOutput, BufferOutput } from './output.js';

const SAMPLE_RATE = 48000;
const PUMP_INTERVAL_MS = 10;
const STATS_INTERVAL_MS = 1000;
const MAX_FRAMES_PER_PUMP = 16;
const PLAY_WAIT_MS = 2000; // an <audio> element that neither plays nor refuses by then: go on
// The output clock (context time against performance time, from getOutputTimestamp) losing more
// than this at once is a pause; losses within PAUSE_MERGE_MS of each other are one pause.
const PAUSE_MIN_MS = 5;
const PAUSE_MERGE_MS = 100;
const CLOCK_TRACK_MS = 5000; // the two clocks' slow drift is followed with this time constant
const CLOCK_CHECK_MS = 5;
const SPLICE_SAMPLES = 240; // 5 ms crossfade where a dropped frame is cut out

export class Player {
  // prefer: optional {decoder: 'wasm', output: 'buffers'} to force the fallback paths.
  // latencyHint: the AudioContext's; 0 asks for the smallest output buffer the device allows
  // (Chromium on Linux: 11 ms of output latency instead of 41 ms with 'interactive'; phones clamp
  // to their own minimum). 'playback' saves battery at the cost of latency.
  // decoderFactory: createDecoder of decoder.js unless a test brings its own.
  // process: optional function(pcm) that modifies each decoded or concealed frame in place just
  // before it is written to the output (the booth console's hearing-protection limiter).
  constructor({ frameMs = 20, onStats = null, prefer = {}, latencyHint = 0, decoderFactory = createDecoder,
                process = null } = {}) {
    this.process = process;
    this.latencyHint = latencyHint;
    this.decoderFactory = decoderFactory;
    this.frameMs = frameMs;
    this.onStats = onStats;
    this.prefer = prefer;
    this.ctx = null;
    this.jitter = null;
    this.decoder = null;
    this.output = null;
    this.started = false;
    this.decoderBusy = false; // a decoder reset is under way: frames wait in the jitter buffer
    this.decoderJobs = Promise.resolve(); // decoder resets and replacements, one after the other
    this.decoderGen = 0;
    this.inflight = 0; // frames handed to the decoder, not yet written to the output
    this.spliceFrom = null; // PCM of a dropped frame, crossfaded into the next one
    this.yielding = false; // a pump that may conceal is queued behind the tasks waiting now
    this.edgeUs = NaN; // capture time of the end of the newest audio received
    this.clock = { base: NaN, checkedAt: -Infinity, lastPauseAt: -Infinity, pauses: 0, pausedMs: 0 };
    this.volume = 1;
    this.latencyMs = NaN;
    this.timers = [];
  }

  // Call inside the Listen tap: everything before the first await runs within the gesture.
  async start() {
    if (this.ctx) throw new Error('player already started');
    const ctx = this.#createContext();
    this.ctx = ctx;
    const resumed = ctx.resume();
    this.gain = ctx.createGain();
    this.gain.gain.value = this.volume;
    this.analyserNode = ctx.createAnalyser();
    this.analyserNode.fftSize = 8192;
    this.streamOut = ctx.createMediaStreamDestination();
    this.gain.connect(this.analyserNode);
    this.analyserNode.connect(this.streamOut);
    this.audio = this.#createAudioElement(this.streamOut.stream);
    const playing = Promise.race([
      this.audio.play().then(() => true, () => false),
      new Promise((resolve) => { setTimeout(resolve, PLAY_WAIT_MS, true); }),
    ]);
    try {
      await resumed;
      // A browser that will not play the stream in an element still plays the context itself.
      this.route = (await playing) ? 'element' : 'context';
      if (this.route === 'context') this.analyserNode.connect(ctx.destination);
      await this.#createPaths();
      if (this.ctx !== ctx) throw new Error('player stopped while starting');
    } catch (error) {
      if (this.ctx === ctx) await this.stop();
      else this.#dropPaths(); // stop() ran meanwhile; these came after it
      throw error;
    }
    this.started = true;
    if (this.jitter.frameMs !== this.frameMs) this.#rebuild(); // a new hello while starting
    // iOS suspends or interrupts the context (a call, Siri): take it back when allowed again.
    ctx.onstatechange = () => {
      if (this.started && this.ctx === ctx && ctx.state !== 'running' && ctx.state !== 'closed') {
        ctx.resume().catch(() => {});
      }
    };
    this.timers.push(setInterval(() => this.#pump(), PUMP_INTERVAL_MS));
    if (this.onStats) this.timers.push(setInterval(() => this.onStats(this.stats()), STATS_INTERVAL_MS));
  }

  push(frame) {
    if (!this.jitter) return;
    const now = performance.now();
    this.edgeUs = frame.captureUs + frame.packets.length * this.frameMs * 1000;
    frame.packets.forEach((data, i) => {
      this.jitter.push({
        seq: (frame.seq + i) >>> 0,
        captureUs: frame.captureUs + i * this.frameMs * 1000,
        data,
        discontinuity: i === 0 && (frame.flags & FLAG_DISCONTINUITY) !== 0,
      }, now);
    });
    this.#pump();
  }

  // Channel switch: fade out what is queued, start the new stream at its live edge.
  reset() {
    if (!this.started) return;
    this.jitter.reset();
    this.#flushOutput();
    this.#decoderJob(() => this.decoder.reset());
  }

  // The server's frame length changed (a restart with another frame_ms): a new decoder and jitter
  // buffer for it (what was learnt of the clocks and the counters carry over), the same output.
  setFrameMs(frameMs) {
    if (!(frameMs > 0) || frameMs === this.frameMs) return;
    this.frameMs = frameMs;
    if (this.started) this.#rebuild();
  }

  setVolume(v) {
    this.volume = Math.min(1, Math.max(0, Number(v) || 0));
    if (this.gain) this.gain.gain.setTargetAtTime(this.volume, this.ctx.currentTime, 0.03);
  }

  async stop() {
    this.started = false;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    this.#dropPaths();
    if (this.audio) {
      this.audio.pause();
      this.audio.srcObject = null;
      this.audio.remove();
    }
    const ctx = this.ctx;
    this.ctx = null;
    this.audio = null;
    if (ctx && ctx.state !== 'closed') await ctx.close();
  }

  // Also the body of the `stats` report to the server (kept under its 512-byte limit).
  // underruns = frames not there in time (concealed) + times the output ran dry; pauses = times
  // the output clock stood still (pausedMs in all), counted apart: no frame was missing.
  stats() {
    const jitter = this.jitter;
    if (this.started) this.#measureLatency();
    const counts = jitter?.counts;
    return {
      bufferMs: jitter ? Math.round(jitter.bufferMs) : 0,
      targetMs: jitter ? Math.round(jitter.targetMs) : 0,
      jitterMs: jitter ? jitter.jitterMs : 0,
      underruns: counts ? counts.underruns + this.output.underruns : 0,
      outputUnderruns: this.output?.underruns ?? 0,
      pauses: this.clock.pauses,
      pausedMs: Math.round(this.clock.pausedMs),
      concealed: counts ? counts.concealed : 0,
      dropped: counts ? counts.dropped : 0,
      decoder: this.decoder?.kind ?? null,
      output: this.output?.kind ?? null,
      latencyMs: Number.isFinite(this.latencyMs) ? Math.round(this.latencyMs) : null,
      playing: Boolean(this.started && this.ctx?.state === 'running' && jitter?.state === 'playing'),
      late: counts ? counts.late : 0,
      skipped: counts ? counts.skipped : 0,
      resyncs: counts ? counts.resyncs : 0,
      ratio: jitter ? Number(jitter.ratio.toFixed(4)) : 1,
      frameMs: this.frameMs,
      route: this.route ?? null,
    };
  }

  // Where the latency is, now, in ms (null before the player plays): network = capture of the
  // newest sample received → now (frame filling on the server, sending, transit, this page's
  // event queue); buffer = audio queued in the page (jitter buffer + decoder + output queue);
  // output = the browser's render position → the speaker (from getOutputTimestamp, else
  // baseLatency + outputLatency). network + buffer + output ≈ totalMs, the latency of the sample
  // at the speaker (stats().latencyMs unrounded). outputReportedMs: what the context claims.
  latencyParts() {
    const { ctx, jitter, output } = this;
    if (!this.started || !ctx || !jitter || !output) return null;
    const nowMs = performance.now();
    const ts = ctx.getOutputTimestamp ? ctx.getOutputTimestamp() : null;
    const reportedMs = ((ctx.baseLatency || 0) + (ctx.outputLatency || 0)) * 1000;
    const outputMs = ts && ts.contextTime > 0 && ts.performanceTime > 0
      ? (ctx.currentTime - ts.contextTime) * 1000 - (nowMs - ts.performanceTime)
      : reportedMs;
    const jitterQueueMs = jitter.heldMs;
    const decoderMs = this.inflight * this.frameMs;
    const outputQueueMs = output.queuedMs();
    const bufferMs = jitterQueueMs + decoderMs + outputQueueMs;
    const networkMs = Number.isFinite(this.edgeUs) ? performance.timeOrigin + nowMs - this.edgeUs / 1000 : NaN;
    this.#measureLatency();
    return {
      totalMs: this.latencyMs,
      networkMs,
      bufferMs,
      outputMs,
      jitterQueueMs,
      decoderMs,
      outputQueueMs,
      targetMs: jitter.targetMs,
      smoothedBufferMs: jitter.bufferMs,
      jitterMs: jitter.jitterMs,
      lowMs: output.lowMs,
      ratio: jitter.ratio,
      outputReportedMs: reportedMs,
      contextRate: ctx.sampleRate,
      contextState: ctx.state,
    };
  }

  get analyser() {
    return this.analyserNode ?? null;
  }

  // The <audio> element that carries the output (for Media Session wiring), or null.
  get element() {
    return this.audio ?? null;
  }

  #createContext() {
    const Context = globalThis.AudioContext || globalThis.webkitAudioContext;
    try {
      return new Context({ sampleRate: SAMPLE_RATE, latencyHint: this.latencyHint });
    } catch (error) {
      return new Context(); // a browser that cannot open 48 kHz: the outputs resample
    }
  }

  #createAudioElement(stream) {
    const audio = document.createElement('audio');
    audio.srcObject = stream;
    audio.autoplay = true;
    audio.setAttribute('playsinline', '');
    audio.hidden = true;
    document.body.append(audio);
    return audio;
  }

  async #createPaths() {
    const frameMs = this.frameMs;
    this.decoder = await this.#openDecoder(frameMs);
    this.output = null;
    if (this.ctx.audioWorklet && this.prefer.output !== 'buffers') {
      const worklet = new WorkletOutput(this.ctx, this.gain, frameMs);
      try {
        await worklet.init();
        this.output = worklet;
      } catch (error) {
        worklet.close();
      }
    }
    if (!this.output) {
      this.output = new BufferOutput(this.ctx, this.gain, frameMs);
      await this.output.init();
    }
    this.output.onStatus = () => this.#pump();
    this.jitter = new JitterBuffer({ frameMs, lowMs: this.output.lowMs });
  }

  async #openDecoder(frameMs) {
    let decoder = null;
    decoder = await this.decoderFactory({
      frameMs,
      // A replaced decoder may still deliver: only the current one feeds the output.
      onFrame: (pcm, meta) => { if (decoder === this.decoder) this.#onPcm(pcm, meta); },
      prefer: this.prefer.decoder,
    });
    return decoder;
  }

  #dropPaths() {
    this.decoderGen += 1;
    this.decoder?.close();
    this.output?.close();
    this.jitter = null;
    this.decoder = null;
    this.output = null;
  }

  // What the output holds is of the old stream: faded out; frames at the decoder are forgotten.
  #flushOutput() {
    this.output.flush();
    this.inflight = 0;
    this.spliceFrom = null;
  }

  // Decoder work (a reset, a replacement) runs one job at a time; frames wait in the jitter buffer
  // until the last one asked for is done.
  #decoderJob(job) {
    const gen = ++this.decoderGen;
    this.decoderBusy = true;
    const run = this.decoderJobs.then(job).catch(() => {});
    this.decoderJobs = run;
    run.then(() => {
      if (gen !== this.decoderGen || !this.started) return;
      this.decoderBusy = false;
      this.#pump();
    });
  }

  // A new frame length: new jitter buffer and decoder.
  #rebuild() {
    const frameMs = this.frameMs;
    const old = this.jitter;
    this.jitter = new JitterBuffer({ frameMs, lowMs: this.output.lowMs });
    for (const key of Object.keys(old.counts)) this.jitter.counts[key] += old.counts[key];
    this.jitter.trim = old.trim;
    this.edgeUs = NaN;
    this.#flushOutput();
    this.#decoderJob(async () => {
      if (!this.started || this.frameMs !== frameMs) return;
      const fresh = await this.#openDecoder(frameMs);
      if (!this.started || this.frameMs !== frameMs) {
        fresh.close();
        return;
      }
      const stale = this.decoder;
      this.decoder = fresh;
      stale?.close();
      this.inflight = 0;
    });
  }

  // Hands the output every frame that is ready (up to the jitter buffer's cap); asks for a
  // concealment only when nothing is ready and the output is down to its low-water mark, and
  // only after yielding once: when this thread was held up (a GC, a busy page), the frames that
  // came meanwhile wait in the task queue behind the timer that runs this, and the output still
  // has its low-water mark to play (a zero timeout runs after them).
  #pump(yielded = false) {
    if (!this.started || this.decoderBusy) return;
    const { jitter, output, decoder } = this;
    let queuedMs = 0;
    for (let n = 0; n < MAX_FRAMES_PER_PUMP; n++) {
      queuedMs = output.queuedMs() + this.inflight * this.frameMs;
      if (queuedMs >= (jitter.ready() ? jitter.capMs : output.lowMs)) break;
      if (!yielded && !jitter.ready() && jitter.state === 'playing') {
        if (!this.yielding) {
          this.yielding = true;
          setTimeout(() => {
            this.yielding = false;
            this.#pump(true);
          }, 0);
        }
        break;
      }
      const slot = jitter.pop(queuedMs, performance.now());
      if (!slot) {
        output.end();
        break;
      }
      this.inflight += 1;
      if (slot.kind === 'frame') decoder.decode(slot.data, slot);
      else if (slot.kind === 'conceal') decoder.conceal(slot);
      else decoder.silence(slot);
    }
    const now = performance.now();
    this.#watchClock(now);
    jitter.observe(output.queuedMs() + this.inflight * this.frameMs, now);
    output.setRatio(jitter.ratio);
  }

  #onPcm(pcm, meta) {
    if (this.inflight > 0) this.inflight -= 1;
    if (!this.started) return;
    if (meta.drop) {
      this.spliceFrom = pcm; // decoded (the decoder's state goes on) but not played
      return;
    }
    if (this.spliceFrom) {
      splice(this.spliceFrom, pcm);
      this.spliceFrom = null;
    }
    this.process?.(pcm);
    this.output.write(pcm, meta.captureUs);
  }

  // Output clock pauses: performanceTime − contextTime steps up when the audio thread stood still
  // (the context lost that much time while frames kept coming); the jitter buffer is told, so
  // it can take the excess back. A suspended context is not a pause (the offset is re-anchored).
  #watchClock(nowMs) {
    const clock = this.clock;
    if (nowMs - clock.checkedAt < CLOCK_CHECK_MS) return;
    const dt = nowMs - clock.checkedAt;
    clock.checkedAt = nowMs;
    const ctx = this.ctx;
    const ts = ctx.getOutputTimestamp ? ctx.getOutputTimestamp() : null;
    if (ctx.state !== 'running' || !ts || !(ts.contextTime > 0) || !(ts.performanceTime > 0)) {
      clock.base = NaN;
      return;
    }
    const offset = ts.performanceTime - ts.contextTime * 1000;
    const jump = offset - clock.base;
    if (Number.isNaN(clock.base) || jump < -PAUSE_MIN_MS) clock.base = offset;
    else if (jump > PAUSE_MIN_MS) {
      if (nowMs - clock.lastPauseAt > PAUSE_MERGE_MS) clock.pauses += 1;
      clock.lastPauseAt = nowMs;
      clock.pausedMs += jump;
      clock.base = offset;
      this.jitter.outputPaused(jump, nowMs);
    } else clock.base += jump * Math.min(1, dt / CLOCK_TRACK_MS);
  }

  // Capture-to-playout of the sample at the speaker now: the output timestamp maps context time
  // to performance time; the frame headers give capture time on the server's Unix clock.
  #measureLatency() {
    const ctx = this.ctx;
    let contextTime;
    let wallMs;
    const ts = ctx.getOutputTimestamp ? ctx.getOutputTimestamp() : null;
    if (ts && ts.contextTime > 0 && ts.performanceTime > 0) {
      contextTime = ts.contextTime;
      wallMs = performance.timeOrigin + ts.performanceTime;
    } else {
      contextTime = ctx.currentTime;
      wallMs = performance.timeOrigin + performance.now() +
        ((ctx.baseLatency || 0) + (ctx.outputLatency || 0)) * 1000;
    }
    const captureUs = this.output.captureAt(contextTime);
    if (Number.isFinite(captureUs)) this.latencyMs = wallMs - captureUs / 1000;
  }
}

// Cuts a dropped frame out: the start of `into` becomes a crossfade from the start of `from` (the
// audio that followed the previous frame), so the seam has no step.
export function splice(from, into) {
  const n = Math.min(SPLICE_SAMPLES, from.length, into.length);
  for (let i = 0; i < n; i++) {
    const w = (i + 0.5) / n;
    into[i] = from[i] * (1 - w) + into[i] * w;
  }
}
