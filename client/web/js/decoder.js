// decoder.js: Opus packets → 48 kHz mono PCM, behind one interface for both paths: WebCodecs
// AudioDecoder (secure contexts that support Opus) or the WASM libopus of npm opus-decoder
// (served from /vendor/opus-decoder/). Frames come out in the order they went in, concealed ones
// included. Main thread only.
//
// createDecoder({frameMs, onFrame, prefer}) → {kind, decode(packet, meta), conceal(meta),
// silence(meta), reset(), close()}; onFrame(pcm Float32Array of frameMs, meta) for each call, in
// call order.

const SAMPLE_RATE = 48000;
const CONFIG = { codec: 'opus', sampleRate: SAMPLE_RATE, numberOfChannels: 1 };
const WASM_URL = new URL('../vendor/opus-decoder/opus-decoder.min.js', import.meta.url);
const MAX_PENDING = 64; // a WebCodecs decoder that sits on this many packets is treated as broken

export async function webCodecsSupported() {
  if (!globalThis.isSecureContext || typeof globalThis.AudioDecoder !== 'function') return false;
  try {
    const support = await AudioDecoder.isConfigSupported(CONFIG);
    return Boolean(support.supported);
  } catch (error) {
    return false;
  }
}

export async function createDecoder({ frameMs, onFrame, prefer }) {
  const samples = Math.round((SAMPLE_RATE * frameMs) / 1000);
  if (prefer !== 'wasm' && await webCodecsSupported()) {
    return new WebCodecsOpus(samples, onFrame);
  }
  const wasm = new WasmOpus(samples, onFrame);
  await wasm.ready;
  return wasm;
}

// Concealment where the decoder has none: the last frame played backwards (so the waveform is
// continuous at the seam) fading to silence, then silence.
function concealFrom(last, samples, run) {
  const out = new Float32Array(samples);
  if (!last || run > 1) return out;
  for (let i = 0; i < samples; i++) out[i] = last[samples - 1 - i] * (1 - i / samples);
  return out;
}

class WebCodecsOpus {
  constructor(samples, onFrame) {
    this.kind = 'webcodecs';
    this.samples = samples;
    this.onFrame = onFrame;
    this.pending = []; // {meta, pcm, conceal}: what went in, in order, until it comes out
    this.last = null;
    this.concealRun = 0;
    this.timestamp = 0;
    this.#open();
  }

  #open() {
    this.codec = new AudioDecoder({
      output: (data) => this.#output(data),
      error: () => this.#failed(),
    });
    this.codec.configure(CONFIG);
  }

  decode(packet, meta) {
    if (this.codec.state !== 'configured') this.#failed();
    this.pending.push({ meta, pcm: null, conceal: false });
    this.codec.decode(new EncodedAudioChunk({ type: 'key', timestamp: this.timestamp, data: packet }));
    this.timestamp += Math.round((this.samples * 1e6) / SAMPLE_RATE);
    if (this.pending.length > MAX_PENDING) this.#failed();
  }

  conceal(meta) {
    this.pending.push({ meta, pcm: null, conceal: true });
    this.#deliver();
  }

  silence(meta) {
    this.pending.push({ meta, pcm: new Float32Array(this.samples), conceal: false });
    this.#deliver();
  }

  reset() {
    this.#dropPending();
    try {
      this.codec.reset();
      this.codec.configure(CONFIG);
    } catch (error) {
      this.#open();
    }
    this.last = null;
    return Promise.resolve();
  }

  close() {
    this.pending = [];
    try { this.codec.close(); } catch (error) { /* already closed */ }
  }

  #output(data) {
    const entry = this.pending.find((p) => !p.conceal && !p.pcm);
    const pcm = new Float32Array(this.samples);
    const frames = Math.min(data.numberOfFrames, this.samples);
    try {
      data.copyTo(pcm.subarray(0, frames), { planeIndex: 0, format: 'f32-planar', frameCount: frames });
    } finally {
      data.close();
    }
    if (!entry) return;
    entry.pcm = pcm;
    this.#deliver();
  }

  // Hands out, in order, everything that is ready; concealments wait for the frames before them.
  #deliver() {
    while (this.pending.length > 0) {
      const head = this.pending[0];
      if (head.conceal) {
        this.concealRun += 1;
        head.pcm = concealFrom(this.last, this.samples, this.concealRun);
      } else if (!head.pcm) return;
      else this.concealRun = 0;
      this.pending.shift();
      if (!head.conceal) this.last = head.pcm;
      this.onFrame(head.pcm, head.meta);
    }
  }

  // A corrupt packet closes a WebCodecs decoder: conceal what was in flight, open a new one.
  #failed() {
    for (const entry of this.pending) if (!entry.pcm) entry.conceal = true;
    this.#deliver();
    try { this.codec.close(); } catch (error) { /* already closed */ }
    this.#open();
  }

  #dropPending() {
    this.pending = [];
    this.concealRun = 0;
  }
}

let wasmModule = null;

async function loadWasm() {
  if (!wasmModule) {
    // The dist build is UMD: as a module it sets globalThis['opus-decoder'].
    wasmModule = import(WASM_URL.href).then(() => globalThis['opus-decoder']);
  }
  return wasmModule;
}

class WasmOpus {
  constructor(samples, onFrame) {
    this.kind = 'wasm';
    this.samples = samples;
    this.onFrame = onFrame;
    this.plc = null; // libopus concealment comes in one long block: handed out a frame at a time
    this.plcAt = 0;
    this.closed = false;
    this.ready = WasmOpus.#create().then((codec) => { this.codec = codec; });
  }

  static async #create() {
    const { OpusDecoder } = await loadWasm();
    const codec = new OpusDecoder({ channels: 1, sampleRate: SAMPLE_RATE });
    await codec.ready;
    return codec;
  }

  decode(packet, meta) {
    this.plc = null;
    const out = this.codec.decodeFrame(packet);
    const pcm = new Float32Array(this.samples);
    if (out.samplesDecoded > 0) pcm.set(out.channelData[0].subarray(0, this.samples));
    this.onFrame(pcm, meta);
  }

  // libopus packet-loss concealment: decoding an empty packet continues the signal.
  conceal(meta) {
    if (!this.plc || this.plcAt + this.samples > this.plc.length) {
      const out = this.codec.decodeFrame(new Uint8Array(0));
      this.plc = out.samplesDecoded >= this.samples ? out.channelData[0] : new Float32Array(this.samples);
      this.plcAt = 0;
    }
    const pcm = this.plc.slice(this.plcAt, this.plcAt + this.samples);
    this.plcAt += this.samples;
    this.onFrame(pcm, meta);
  }

  silence(meta) {
    this.onFrame(new Float32Array(this.samples), meta);
  }

  // A new stream (channel switch): a fresh decoder state. The old one decodes until the new one
  // is ready; overlapping resets each free the decoder they replace.
  async reset() {
    this.plc = null;
    const fresh = await WasmOpus.#create();
    if (this.closed) {
      fresh.free(); // closed while it was being made
      return;
    }
    const old = this.codec;
    this.codec = fresh;
    this.plc = null;
    try { old.free(); } catch (error) { /* already freed */ }
  }

  close() {
    this.closed = true;
    try { this.codec?.free(); } catch (error) { /* already freed */ }
  }
}
