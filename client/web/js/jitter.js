// jitter.js: the listener's jitter buffer, pure logic (no Web Audio, runs in node tests too).
// Holds the Opus packets of one channel keyed by sequence number and decides what the output
// plays next: the frame, a concealed frame, or leading silence. The player hands frames on as
// soon as they are in order (up to capMs queued in the output) and asks for a concealment only
// when nothing is ready and the output is about to run dry (its low-water mark, lowMs). It starts
// at the live edge, adapts its target to the measured arrival jitter and steers the playout rate
// a little so the whole buffer (here + the output) stays near the target. Main thread only.

const MAX_STEER = 0.005; // ±0.5 % playout rate at most: inaudible on speech
const STEER_FULL_MS = 30; // buffer error at which steering is at its maximum
const STEER_DEADBAND_MS = 3; // below this error the rate is exactly 1 (no resampling at all)
const AVERAGE_TAU_MS = 1000; // smoothing of the measured buffer level
// After a (re)start, arrivals say little of the network: the server's pre-roll comes at once and
// the page is busy starting. They are not measured for this long.
const SETTLE_MS = 1000;
const SPREAD_QUANTILE = 0.98;

// Signed distance a - b of two u32 sequence numbers (wraps).
export function seqDiff(a, b) {
  return (a - b) | 0;
}

function clamp(value, low, high) {
  return Math.min(high, Math.max(low, value));
}

export class JitterBuffer {
  // frameMs: frame length; lowMs: the output's low-water mark, below which a missing frame is
  // concealed (it needs that much time to act); floorMs/ceilingMs bound the target.
  constructor({ frameMs = 20, lowMs = 15, floorMs = 40, ceilingMs = 300, windowMs = 10000,
                releaseMs = 15000, maxConcealMs = 200, maxAheadMs = 1000 } = {}) {
    this.frameMs = frameMs;
    this.frameUs = frameMs * 1000;
    this.floorMs = floorMs;
    this.ceilingMs = ceilingMs;
    this.lowMs = lowMs;
    // Starts at about three frames; with little jitter it may come down to what a frame period
    // above the low-water mark needs.
    this.startMs = clamp(Math.max(3 * frameMs, lowMs + 1.5 * frameMs), floorMs, ceilingMs);
    this.baseMs = clamp(lowMs + frameMs + 5, floorMs, ceilingMs);
    this.releaseMs = releaseMs;
    this.maxConcealFrames = Math.max(1, Math.round(maxConcealMs / frameMs));
    this.maxAheadFrames = Math.max(4, Math.round(maxAheadMs / frameMs));
    this.maxQueue = Math.ceil((2 * ceilingMs + maxAheadMs) / frameMs);
    this.windowSize = Math.max(16, Math.round(windowMs / frameMs));
    this.transits = new Float64Array(this.windowSize);
    this.scratch = new Float64Array(this.windowSize);
    this.transitCount = 0;
    this.transitNext = 0;
    this.targetMs = this.startMs;
    this.spreadMs = 0;
    this.lastTargetAt = NaN;
    this.counts = { underruns: 0, concealed: 0, late: 0, skipped: 0, resyncs: 0, overflow: 0 };
    this.queue = new Map();
    this.#restart();
  }

  // A frame has arrived: {seq, captureUs, data, discontinuity}; nowMs on a steady clock.
  push(frame, nowMs) {
    const { seq } = frame;
    if (frame.discontinuity) this.#resync();
    else if (this.state === 'playing') {
      const ahead = seqDiff(seq, this.playSeq);
      if (ahead >= this.maxAheadFrames || ahead <= -this.maxAheadFrames) this.#resync();
      else if (ahead < 0) {
        this.counts.late += 1; // its slot has been played or concealed already
        return;
      }
    }
    this.queue.set(seq >>> 0, frame);
    while (this.queue.size > this.maxQueue) {
      this.queue.delete(this.#oldest());
      this.counts.overflow += 1;
    }
    if (this.state === 'playing') this.#observeArrival(frame.captureUs, nowMs);
  }

  // Whether pop() has something better than a stretch to give.
  ready() {
    return this.pads > 0 || this.queue.size > 0;
  }

  // How much the output may hold before frames wait here (where an excess can be skipped).
  get capMs() {
    return Math.max(2 * this.targetMs, this.targetMs + 120);
  }

  // The output needs the next frame; outputQueuedMs is what it still holds. Returns null (nothing
  // to play: not started or the stream stopped), or {kind:'frame'|'conceal'|'pad', seq,
  // captureUs, data}. captureUs is NaN for audio that has no capture time (pads, stretches).
  pop(outputQueuedMs, nowMs) {
    if (this.state === 'idle' && !this.#start(outputQueuedMs)) return null;
    if (this.pads > 0) {
      this.pads -= 1;
      return { kind: 'pad', seq: this.playSeq, captureUs: NaN, data: null };
    }
    this.#skipExcess(outputQueuedMs);
    const frame = this.queue.get(this.playSeq);
    if (frame) return this.#take(frame);
    if (this.queue.size > 0) return this.#concealLost();
    return this.#stretch();
  }

  // Playout rate for the output: >1 plays faster (the buffer is above target), <1 slower.
  get ratio() {
    if (this.state !== 'playing') return 1;
    const error = this.levelMs - this.targetMs;
    if (Math.abs(error) < STEER_DEADBAND_MS) return 1;
    return 1 + clamp((error / STEER_FULL_MS) * MAX_STEER, -MAX_STEER, MAX_STEER);
  }

  get bufferMs() {
    return this.state === 'playing' ? this.levelMs : 0;
  }

  get queuedMs() {
    return this.queue.size * this.frameMs;
  }

  // Channel switch or reconnection: forget the stream, keep what was learnt about the network.
  reset() {
    this.#restart();
  }

  #restart() {
    this.queue.clear();
    this.state = 'idle';
    this.playSeq = 0;
    this.pads = 0;
    this.emptyRun = 0;
    this.lastCaptureUs = NaN;
    this.levelMs = 0;
    this.lastLevelAt = NaN;
    this.settleUntil = NaN; // set by the first arrival
  }

  #resync() {
    if (this.state === 'playing' || this.queue.size > 0) this.counts.resyncs += 1;
    this.#restart();
  }

  #oldest() {
    let oldest = null;
    for (const seq of this.queue.keys()) {
      if (oldest === null || seqDiff(seq, oldest) < 0) oldest = seq;
    }
    return oldest;
  }

  // Starts at the live edge: keeps the newest frames that fit the target, pads the rest.
  #start(outputQueuedMs) {
    if (this.queue.size === 0) return false;
    while (this.queue.size > 1 &&
           outputQueuedMs + (this.queue.size - 1) * this.frameMs >= this.targetMs) {
      this.queue.delete(this.#oldest());
      this.counts.skipped += 1;
    }
    const totalMs = outputQueuedMs + this.queue.size * this.frameMs;
    this.pads = Math.max(0, Math.round((this.targetMs - totalMs) / this.frameMs));
    this.playSeq = this.#oldest();
    this.state = 'playing';
    this.emptyRun = 0;
    this.levelMs = totalMs + this.pads * this.frameMs;
    this.lastLevelAt = NaN;
    return true;
  }

  // Far above target (after a long stall the late frames all arrived): jump to the live edge
  // rather than steer for minutes.
  #skipExcess(outputQueuedMs) {
    if (outputQueuedMs + this.queuedMs <= this.capMs) return;
    while (this.queue.size > 1 &&
           outputQueuedMs + (this.queue.size - 1) * this.frameMs >= this.targetMs) {
      this.queue.delete(this.#oldest());
      this.counts.skipped += 1;
    }
    this.playSeq = this.#oldest();
    this.levelMs = outputQueuedMs + this.queuedMs;
  }

  #take(frame) {
    this.queue.delete(this.playSeq);
    this.playSeq = (this.playSeq + 1) >>> 0;
    this.emptyRun = 0;
    this.lastCaptureUs = frame.captureUs;
    return { kind: 'frame', seq: frame.seq, captureUs: frame.captureUs, data: frame.data };
  }

  // The frame never came but later ones did: conceal its slot and move on.
  #concealLost() {
    const seq = this.playSeq;
    this.playSeq = (seq + 1) >>> 0;
    this.counts.concealed += 1;
    this.lastCaptureUs += this.frameUs;
    return { kind: 'conceal', seq, captureUs: this.lastCaptureUs, data: null };
  }

  // Nothing to play (the frame is late): conceal without consuming its slot, so the late frame
  // still plays when it comes; the buffer grows by what was concealed, steering takes it back.
  #stretch() {
    if (this.emptyRun === 0) {
      this.counts.underruns += 1;
      this.targetMs = Math.min(this.ceilingMs, this.targetMs + this.frameMs);
    }
    this.emptyRun += 1;
    if (this.emptyRun > this.maxConcealFrames) {
      this.#restart(); // the stream stopped: start again at the live edge when it comes back
      return null;
    }
    this.counts.concealed += 1;
    return { kind: 'conceal', seq: this.playSeq, captureUs: NaN, data: null };
  }

  // The buffer level (here + the output), smoothed: what the steering holds at the target. Call
  // it often (every few ms); it is averaged over time, not over calls.
  observe(outputQueuedMs, nowMs) {
    if (this.state !== 'playing') return;
    const levelMs = outputQueuedMs + this.queuedMs + this.pads * this.frameMs;
    if (Number.isNaN(this.lastLevelAt)) this.levelMs = levelMs;
    else {
      const a = 1 - Math.exp(-Math.max(0, nowMs - this.lastLevelAt) / AVERAGE_TAU_MS);
      this.levelMs += a * (levelMs - this.levelMs);
    }
    this.lastLevelAt = nowMs;
  }

  // Arrival jitter: the transit time (arrival minus capture, on two clocks, so only its spread
  // matters) over a window; the target covers a high quantile of its excess over the minimum.
  // Only while playing: a backlog arriving while stopped says how long the outage was, not how
  // jittery the network is.
  #observeArrival(captureUs, nowMs) {
    if (Number.isNaN(this.settleUntil)) this.settleUntil = nowMs + SETTLE_MS;
    if (nowMs < this.settleUntil) return;
    this.transits[this.transitNext] = nowMs - captureUs / 1000;
    this.transitNext = (this.transitNext + 1) % this.windowSize;
    this.transitCount = Math.min(this.windowSize, this.transitCount + 1);
    const n = this.transitCount;
    const sorted = this.scratch.subarray(0, n);
    sorted.set(this.transits.subarray(0, n));
    sorted.sort();
    this.spreadMs = sorted[Math.min(n - 1, Math.floor(SPREAD_QUANTILE * n))] - sorted[0];
    this.#adaptTarget(nowMs);
  }

  // Rises at once to cover the jitter seen, comes down slowly.
  #adaptTarget(nowMs) {
    const wantMs = clamp(this.baseMs + this.spreadMs, this.floorMs, this.ceilingMs);
    const dt = Number.isNaN(this.lastTargetAt) ? 0 : Math.max(0, nowMs - this.lastTargetAt);
    this.lastTargetAt = nowMs;
    if (wantMs >= this.targetMs) this.targetMs = wantMs;
    else this.targetMs -= (this.targetMs - wantMs) * Math.min(1, dt / this.releaseMs);
  }
}
