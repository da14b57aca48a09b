// worklet.js: the AudioWorkletProcessor of the listener's output. Plays 48 kHz mono PCM from a
// ring the main thread fills (port messages), resampled by linear interpolation at the rate the
// jitter buffer asks for (±0.5 % steering, times 48 kHz / context rate). Fades out on a flush,
// fades in after silence, decays instead of clicking when the ring runs dry. Runs on the audio
// rendering thread; process() allocates nothing except one small status message every
// STATUS_EVERY calls.

const SOURCE_RATE = 48000;
const STATUS_EVERY = 8; // render quanta between status messages (~21 ms at 48 kHz)
const FADE_SAMPLES = 240; // 5 ms
const META_SLOTS = 512; // chunk starts and capture times still in the ring
const DRY_DECAY = 0.995;

class TolkOutputProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const capacity = options.processorOptions?.capacity ?? SOURCE_RATE * 2;
    // All fields below: audio thread only (messages are handled on the same thread).
    this.ring = new Float32Array(capacity);
    this.capacity = capacity;
    this.written = 0; // samples ever written (ring index = written % capacity)
    this.read = 0; // fractional read position, same count
    this.baseStep = SOURCE_RATE / sampleRate;
    this.step = this.baseStep;
    this.metaStart = new Float64Array(META_SLOTS);
    this.metaCapture = new Float64Array(META_SLOTS);
    this.metaHead = 0; // next slot to write
    this.metaTail = 0; // slot of the chunk being read
    this.fadeIn = 0; // samples of fade-in left
    this.fadeOut = 0; // samples of fade-out left, then skip to flushTo
    this.flushTo = -1;
    this.held = 0; // last output sample, decays while dry
    this.dry = false;
    this.fed = false; // the main thread is feeding: a dry ring is an underrun
    this.underruns = 0;
    this.calls = 0;
    this.port.onmessage = (event) => this.onMessage(event.data);
  }

  onMessage(msg) {
    if (msg.t === 'pcm') this.append(msg.pcm, msg.captureUs);
    else if (msg.t === 'rate') this.step = this.baseStep * msg.ratio;
    else if (msg.t === 'flush') {
      this.flushTo = this.written;
      this.fadeOut = FADE_SAMPLES;
      this.fed = false;
    } else if (msg.t === 'end') this.fed = false;
  }

  append(pcm, captureUs) {
    const free = this.capacity - 2 - (this.written - Math.floor(this.read));
    const n = Math.min(pcm.length, free);
    if (n <= 0) return;
    if (this.metaHead - this.metaTail < META_SLOTS) {
      const slot = this.metaHead % META_SLOTS;
      this.metaStart[slot] = this.written;
      this.metaCapture[slot] = captureUs;
      this.metaHead += 1;
    }
    let at = this.written % this.capacity;
    for (let i = 0; i < n; i++) {
      this.ring[at] = pcm[i];
      at = at + 1 === this.capacity ? 0 : at + 1;
    }
    this.written += n;
    this.fed = true;
  }

  // Gain of the next sample: fades for flushes and for resuming after silence.
  gain() {
    if (this.fadeOut > 0) {
      this.fadeOut -= 1;
      if (this.fadeOut === 0) this.finishFlush();
      return this.fadeOut / FADE_SAMPLES;
    }
    if (this.fadeIn > 0) {
      this.fadeIn -= 1;
      return 1 - this.fadeIn / FADE_SAMPLES;
    }
    return 1;
  }

  finishFlush() {
    if (this.flushTo > this.read) this.read = this.flushTo;
    this.flushTo = -1;
    this.fadeIn = FADE_SAMPLES;
  }

  process(inputs, outputs) {
    const out = outputs[0][0];
    const ring = this.ring;
    const cap = this.capacity;
    for (let i = 0; i < out.length; i++) {
      const base = Math.floor(this.read);
      if (base + 1 >= this.written) {
        if (!this.dry && this.fed) this.underruns += 1;
        this.dry = true;
        if (this.fadeOut > 0) {
          this.fadeOut = 0;
          this.finishFlush();
        }
        this.held *= DRY_DECAY;
        out[i] = this.held;
        continue;
      }
      if (this.dry) {
        this.dry = false;
        this.fadeIn = FADE_SAMPLES;
      }
      const frac = this.read - base;
      const a = ring[base % cap];
      const b = ring[(base + 1) % cap];
      const sample = (a + (b - a) * frac) * this.gain();
      this.held = sample;
      out[i] = sample;
      this.read += this.step;
    }
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(out);
    this.calls += 1;
    if (this.calls % STATUS_EVERY === 0) this.report(out.length);
    return true;
  }

  // Where playout is: read position, capture time of the sample there, and the context time at
  // which it plays (end of this quantum).
  report(quantum) {
    while (this.metaHead - this.metaTail > 1 &&
           this.metaStart[(this.metaTail + 1) % META_SLOTS] <= this.read) this.metaTail += 1;
    let captureUs = NaN;
    if (this.metaHead > this.metaTail && !this.dry) {
      const slot = this.metaTail % META_SLOTS;
      captureUs = this.metaCapture[slot] + ((this.read - this.metaStart[slot]) * 1e6) / SOURCE_RATE;
    }
    this.port.postMessage({
      t: 'status',
      read: this.read,
      time: currentTime + quantum / sampleRate,
      captureUs,
      underruns: this.underruns,
    });
  }
}

registerProcessor('tolk-output', TolkOutputProcessor);
