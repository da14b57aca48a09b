// player.js: the listener's audio engine. Frames from the socket go into the jitter buffer; each
// time the output runs low, the next slot is decoded (or concealed) and written to the output,
// which plays through volume → analyser → MediaStream → a playing <audio> element (so iOS keeps
// it on with the screen locked and through the mute switch). Main thread only.

import { FLAG_DISCONTINUITY } from './protocol.js';
import { JitterBuffer } from './jitter.js';
import { createDecoder } from './decoder.js';
import { WorkletOutput, BufferOutput } from './output.js';

const SAMPLE_RATE = 48000;
const PUMP_INTERVAL_MS = 10;
const STATS_INTERVAL_MS = 1000;
const MAX_FRAMES_PER_PUMP = 16;
const PLAY_WAIT_MS = 2000; // an <audio> element that neither plays nor refuses by then: go on

export class Player {
  // prefer: optional {decoder: 'wasm', output: 'buffers'} to force the fallback paths.
  // latencyHint: the AudioContext's; 0 asks for the smallest output buffer the device allows
  // (Chromium on Linux: 11 ms of output latency instead of 41 ms with 'interactive'; phones clamp
  // to their own minimum). 'playback' saves battery at the cost of latency.
  // process: optional function(pcm) that modifies each decoded or concealed frame in place just
  // before it is written to the output (the booth console's hearing-protection limiter).
  constructor({ frameMs = 20, onStats = null, prefer = {}, latencyHint = 0, process = null } = {}) {
    this.process = process;
    this.latencyHint = latencyHint;
    this.frameMs = frameMs;
    this.onStats = onStats;
    this.prefer = prefer;
    this.ctx = null;
    this.jitter = null;
    this.decoder = null;
    this.output = null;
    this.started = false;
    this.decoderBusy = false; // a decoder reset is under way: frames wait in the jitter buffer
    this.inflight = 0; // frames handed to the decoder, not yet written to the output
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
    this.output.flush();
    this.inflight = 0;
    this.decoderBusy = true;
    const done = () => {
      this.decoderBusy = false;
      this.#pump();
    };
    this.decoder.reset().then(done, done);
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

  stats() {
    const jitter = this.jitter;
    if (this.started) this.#measureLatency();
    return {
      bufferMs: jitter ? Math.round(jitter.bufferMs) : 0,
      targetMs: jitter ? Math.round(jitter.targetMs) : 0,
      underruns: jitter ? jitter.counts.underruns + this.output.underruns : 0,
      concealed: jitter ? jitter.counts.concealed : 0,
      decoder: this.decoder?.kind ?? null,
      output: this.output?.kind ?? null,
      latencyMs: Number.isFinite(this.latencyMs) ? Math.round(this.latencyMs) : null,
      playing: Boolean(this.started && this.ctx?.state === 'running' && jitter?.state === 'playing'),
      late: jitter ? jitter.counts.late : 0,
      skipped: jitter ? jitter.counts.skipped : 0,
      resyncs: jitter ? jitter.counts.resyncs : 0,
      ratio: jitter ? Number(jitter.ratio.toFixed(4)) : 1,
      route: this.route ?? null,
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
    this.decoder = await createDecoder({
      frameMs,
      onFrame: (pcm, meta) => this.#onPcm(pcm, meta),
      prefer: this.prefer.decoder,
    });
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

  #dropPaths() {
    this.decoder?.close();
    this.output?.close();
    this.jitter = null;
    this.decoder = null;
    this.output = null;
  }

  // Hands the output every frame that is ready (up to the jitter buffer's cap); asks for a
  // concealment only when nothing is ready and the output is down to its low-water mark.
  #pump() {
    if (!this.started || this.decoderBusy) return;
    const { jitter, output, decoder } = this;
    let queuedMs = 0;
    for (let n = 0; n < MAX_FRAMES_PER_PUMP; n++) {
      queuedMs = output.queuedMs() + this.inflight * this.frameMs;
      if (queuedMs >= (jitter.ready() ? jitter.capMs : output.lowMs)) break;
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
    jitter.observe(output.queuedMs() + this.inflight * this.frameMs, performance.now());
    output.setRatio(jitter.ratio);
  }

  #onPcm(pcm, meta) {
    if (this.inflight > 0) this.inflight -= 1;
    if (!this.started) return;
    this.process?.(pcm);
    this.output.write(pcm, meta.captureUs);
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
