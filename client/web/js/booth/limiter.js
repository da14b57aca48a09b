// limiter.js: the hearing-protection chain of the booth console's relay feed, on 48 kHz mono
// Float32Array frames processed in place: volume → bass and treble shelving biquads → a slow
// average-level stage (short-term RMS held at or below a ceiling) → a look-ahead peak limiter
// whose output never exceeds the peak ceiling (smooth gain reduction, then a hard clamp as the
// last line). Pure JS, no Web Audio: it runs wherever the Player hands it frames (the page's main
// thread) and in Node for the unit tests.

export const SAMPLE_RATE = 48000;
export const EQ_RANGE_DB = 12; // bass and treble: ±12 dB
export const BASS_HZ = 200;
export const TREBLE_HZ = 4000;
export const MAX_VOLUME = 4; // +12 dB: quiet relays need it, and the limiter follows the volume

const LOOKAHEAD_MS = 1.5;
const PEAK_RELEASE_MS = 80;
const AVERAGE_ATTACK_MS = 40; // how fast the average stage turns down
const AVERAGE_RELEASE_MS = 1500; // and back up: slow, so speech does not pump
const AVERAGE_MARGIN_DB = 0.5; // the average stage aims this far under its ceiling
const FAST_ABOVE_DB = 6; // the fast detector lets the short-term level this far above the ceiling
const FAST_MS = 50; // time constant of the fast level detector
const BLOCK_MS = 5; // resolution of the sliding average window
const VOLUME_MS = 20; // volume changes glide over about this long

export function dbToGain(db) {
  return 10 ** (db / 20);
}

export function gainToDb(gain) {
  return gain > 0 ? 20 * Math.log10(gain) : -Infinity;
}

// The largest float32 at or below x: a double ceiling rounded into a Float32Array could land a
// hair above it.
function float32AtOrBelow(x) {
  let f = Math.fround(x);
  if (f > x) f = Math.fround(x - Math.abs(x) * 2 ** -23);
  return f;
}

function coef(ms, sampleRate) {
  return 1 - Math.exp(-1000 / (ms * sampleRate));
}

// One second-order section, direct form I in doubles; shelving coefficients after the RBJ audio
// EQ cookbook formulas with shelf slope 1. Bypassed (exactly transparent) at 0 dB.
export class Shelf {
  constructor(kind, hz, sampleRate = SAMPLE_RATE) {
    this.kind = kind; // 'low' or 'high'
    this.hz = hz;
    this.sampleRate = sampleRate;
    this.x1 = this.x2 = this.y1 = this.y2 = 0;
    this.setGain(0);
  }

  setGain(db) {
    db = Math.max(-EQ_RANGE_DB, Math.min(EQ_RANGE_DB, Number(db) || 0));
    this.db = db;
    this.bypass = db === 0;
    if (this.bypass) return;
    const A = 10 ** (db / 40);
    const w = (2 * Math.PI * this.hz) / this.sampleRate;
    const cos = Math.cos(w);
    const alpha = (Math.sin(w) / 2) * Math.SQRT2; // slope 1: sqrt((A + 1/A)(1/S - 1) + 2) = sqrt(2)
    const ra = 2 * Math.sqrt(A) * alpha;
    const sign = this.kind === 'low' ? 1 : -1; // the high shelf mirrors the low one's cos terms
    const b0 = A * ((A + 1) - sign * (A - 1) * cos + ra);
    const b1 = sign * 2 * A * ((A - 1) - sign * (A + 1) * cos);
    const b2 = A * ((A + 1) - sign * (A - 1) * cos - ra);
    const a0 = (A + 1) + sign * (A - 1) * cos + ra;
    const a1 = -sign * 2 * ((A - 1) + sign * (A + 1) * cos);
    const a2 = (A + 1) + sign * (A - 1) * cos - ra;
    this.b0 = b0 / a0;
    this.b1 = b1 / a0;
    this.b2 = b2 / a0;
    this.a1 = a1 / a0;
    this.a2 = a2 / a0;
  }

  // Magnitude response in dB at hz (for tests and a display).
  responseDb(hz) {
    if (this.bypass) return 0;
    const w = (2 * Math.PI * hz) / this.sampleRate;
    const [c1, s1, c2, s2] = [Math.cos(w), Math.sin(w), Math.cos(2 * w), Math.sin(2 * w)];
    const nr = this.b0 + this.b1 * c1 + this.b2 * c2;
    const ni = -(this.b1 * s1 + this.b2 * s2);
    const dr = 1 + this.a1 * c1 + this.a2 * c2;
    const di = -(this.a1 * s1 + this.a2 * s2);
    return 10 * Math.log10((nr * nr + ni * ni) / (dr * dr + di * di));
  }

  step(x) {
    if (this.bypass) return x;
    let y = this.b0 * x + this.b1 * this.x1 + this.b2 * this.x2 - this.a1 * this.y1 - this.a2 * this.y2;
    if (!Number.isFinite(y) || Math.abs(y) < 1e-25) y = 0; // no NaN state, no denormals
    this.x2 = this.x1;
    this.x1 = x;
    this.y2 = this.y1;
    this.y1 = y;
    return y;
  }

  clear() {
    this.x1 = this.x2 = this.y1 = this.y2 = 0;
  }
}

// Look-ahead peak limiter. For every input sample the gain it needs is P/|x| (or 1); the gain
// applied is the minimum of those over the next L samples (a sliding minimum: a monotonic deque),
// released slowly, then averaged over L samples (a box filter) so that it glides down and reaches
// the needed value exactly when the peak leaves the delay line, L - 1 samples later. The hard clamp
// after it only catches rounding.
class PeakLimiter {
  constructor(ceiling, sampleRate) {
    const L = Math.max(2, Math.round((LOOKAHEAD_MS * sampleRate) / 1000));
    this.L = L;
    this.latency = L - 1;
    this.release = coef(PEAK_RELEASE_MS, sampleRate);
    this.delay = new Float64Array(L); // the last L inputs; the oldest comes out
    this.box = new Float64Array(L); // the last L released gains
    this.boxSum = L;
    this.box.fill(1);
    this.dqIndex = new Float64Array(L); // sliding minimum: sample numbers ...
    this.dqValue = new Float64Array(L); // ... and their needed gains, increasing from the head
    this.dqHead = 0;
    this.dqLength = 0;
    this.n = 0; // samples seen
    this.held = 1; // released minimum
    this.gain = 1; // applied to the latest output
    this.setCeiling(ceiling);
  }

  setCeiling(ceiling) {
    this.clamp = float32AtOrBelow(ceiling);
    this.ceiling = this.clamp; // aims at what the Float32Array can hold
  }

  #pushMin(need) {
    const { L, dqIndex, dqValue } = this;
    const n = this.n;
    while (this.dqLength > 0 && n - dqIndex[this.dqHead] >= L) {
      this.dqHead = (this.dqHead + 1) % L;
      this.dqLength -= 1;
    }
    while (this.dqLength > 0 && dqValue[(this.dqHead + this.dqLength - 1) % L] >= need) this.dqLength -= 1;
    const at = (this.dqHead + this.dqLength) % L;
    dqIndex[at] = n;
    dqValue[at] = need;
    this.dqLength += 1;
    return dqValue[this.dqHead];
  }

  // Takes x_n, returns x_(n-L+1) times the gain that brings it under the ceiling (in this.gain).
  // The box average at n covers the released minima of steps n-L+1 .. n, each of which saw
  // x_(n-L+1) in its window: so every term, and the average, is at most ceiling / |x_(n-L+1)|.
  step(x) {
    const a = Math.abs(x);
    const need = a > this.ceiling ? this.ceiling / a : 1;
    const min = this.#pushMin(need);
    this.held = Math.min(min, this.held + (1 - this.held) * this.release);
    const L = this.L;
    const slot = this.n % L;
    this.boxSum += this.held - this.box[slot];
    this.box[slot] = this.held;
    this.delay[slot] = x;
    const out = this.delay[(slot + 1) % L];
    this.n += 1;
    if (slot === L - 1) { // keeps the running sum from drifting
      let sum = 0;
      for (let i = 0; i < L; i++) sum += this.box[i];
      this.boxSum = sum;
    }
    this.gain = Math.min(1, this.boxSum / L);
    return out;
  }
}

export class RelayChain {
  // peakDbfs: no output sample exceeds it; averageDbfs (null: off): the RMS over averageMs is
  // brought to or under it.
  constructor({ sampleRate = SAMPLE_RATE, peakDbfs = -6, averageDbfs = -20, averageMs = 1000 } = {}) {
    this.sampleRate = sampleRate;
    this.bass = new Shelf('low', BASS_HZ, sampleRate);
    this.treble = new Shelf('high', TREBLE_HZ, sampleRate);
    this.volume = 1; // wanted
    this.vol = 1; // applied, gliding towards volume
    this.volCoef = coef(VOLUME_MS, sampleRate);
    this.fastCoef = coef(FAST_MS, sampleRate);
    this.attack = coef(AVERAGE_ATTACK_MS, sampleRate);
    this.releaseCoef = coef(AVERAGE_RELEASE_MS, sampleRate);
    this.blockLength = Math.round((BLOCK_MS * sampleRate) / 1000);
    this.avgGain = 1; // applied average-stage gain
    this.avgTarget = 1;
    this.fast = 0; // mean square, fast detector
    this.blockSum = 0;
    this.blockFill = 0;
    this.peak = null;
    this.clamped = 0; // samples the final clamp had to cut: rounding only, unless something is wrong
    this.configure({ peakDbfs, averageDbfs, averageMs });
  }

  // New ceilings (the server's welcome); keeps the filters' and detectors' state.
  configure({ peakDbfs = -6, averageDbfs = -20, averageMs = 1000 } = {}) {
    const peak = Math.min(0, Number.isFinite(peakDbfs) ? peakDbfs : -6);
    this.peakDbfs = peak;
    if (this.peak) this.peak.setCeiling(dbToGain(peak));
    else this.peak = new PeakLimiter(dbToGain(peak), this.sampleRate);
    this.latency = this.peak.latency; // samples
    this.averageDbfs = Number.isFinite(averageDbfs) ? averageDbfs : null;
    const ms = Math.max(BLOCK_MS, Number.isFinite(averageMs) ? averageMs : 1000);
    const blocks = Math.max(1, Math.round(ms / BLOCK_MS));
    if (!this.window || this.window.length !== blocks) {
      this.window = new Float64Array(blocks); // sums of squares of the last blocks
      this.windowAt = 0;
      this.windowSum = 0;
    }
    if (this.averageDbfs !== null) {
      const target = dbToGain(this.averageDbfs - AVERAGE_MARGIN_DB);
      this.targetSquare = target * target;
      this.fastSquare = this.targetSquare * dbToGain(2 * FAST_ABOVE_DB);
    }
  }

  setVolume(v) {
    this.volume = Math.max(0, Math.min(MAX_VOLUME, Number(v) || 0));
  }

  setBass(db) { this.bass.setGain(db); }

  setTreble(db) { this.treble.setGain(db); }

  // Gain reduction of the two limiting stages now, dB (≤ 0), for the console's display.
  get reductionDb() {
    return gainToDb(this.avgGain * this.peak.gain);
  }

  // The RMS the average stage measures over its window, dBFS.
  get averageLevelDb() {
    const square = this.windowSum / (this.window.length * this.blockLength);
    return 10 * Math.log10(Math.max(square, 1e-12));
  }

  // Processes one frame in place.
  process(frame) {
    const n = frame.length;
    for (let i = 0; i < n; i++) {
      let x = frame[i];
      if (!Number.isFinite(x)) x = 0;
      this.vol += (this.volume - this.vol) * this.volCoef;
      if (Math.abs(this.vol - this.volume) < 1e-7) this.vol = this.volume;
      x = this.treble.step(this.bass.step(x * this.vol));
      x = this.#average(x);
      let y = this.peak.step(x) * this.peak.gain;
      const c = this.peak.clamp;
      if (y > c || y < -c) {
        if (Math.abs(y) > c * (1 + 1e-9)) this.clamped += 1; // more than rounding
        y = y > c ? c : -c;
      }
      frame[i] = y;
    }
    return frame;
  }

  // The slow stage: two detectors of the level after the EQ (the sliding mean square over the
  // window, and a fast one allowed FAST_ABOVE_DB more), the gain either asks for, gliding there.
  #average(x) {
    if (this.averageDbfs === null) return x;
    const sq = x * x;
    this.fast += (sq - this.fast) * this.fastCoef;
    this.blockSum += sq;
    this.blockFill += 1;
    if (this.blockFill === this.blockLength) this.#closeBlock();
    const g = this.avgGain;
    const target = this.avgTarget;
    if (target < g) this.avgGain = g + (target - g) * this.attack;
    else if (target > g) {
      this.avgGain = g + (target - g) * this.releaseCoef;
      if (target - this.avgGain < 1e-6) this.avgGain = target;
    }
    return x * this.avgGain;
  }

  #closeBlock() {
    const w = this.window;
    this.windowSum += this.blockSum - w[this.windowAt];
    w[this.windowAt] = this.blockSum;
    this.windowAt = (this.windowAt + 1) % w.length;
    if (this.windowAt === 0) this.windowSum = w.reduce((a, b) => a + b, 0);
    this.blockSum = 0;
    this.blockFill = 0;
    const square = Math.max(0, this.windowSum) / (w.length * this.blockLength);
    let target = 1;
    if (square > this.targetSquare) target = Math.sqrt(this.targetSquare / square);
    if (this.fast > this.fastSquare) target = Math.min(target, Math.sqrt(this.fastSquare / this.fast));
    this.avgTarget = target;
  }
}
