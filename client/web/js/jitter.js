// jitter.js: the listener's jitter buffer, pure logic (no Web Audio, runs in node tests too).
// Holds the Opus packets of one channel keyed by sequence number and decides what the output
// plays next: the frame, a concealed frame, or leading silence. The player hands frames on as
// soon as they are in order (up to capMs queued in the output) and asks for a concealment only
// when nothing is ready and the output is about to run dry (its low-water mark, lowMs).
//
// The buffer level (here + decoder + output) is held at a target that follows the measured
// arrival jitter: it starts at the live edge with about three frames, rises at once when the
// jitter or an underrun asks for more, and comes down slowly. A PI controller steers the playout
// rate by at most ±0.5 % so the level sits on the target (the integral learns the rate difference
// between the server's clock and the output's, so there is no standing error and no drift), and
// an excess the steering would need seconds for (a paused output clock, a burst after a stall)
// is cut by dropping a frame, which the player splices with a crossfade. Main thread only.

const MAX_STEER = 0.005; // ±0.5 % playout rate at most: inaudible on speech
const KP = MAX_STEER / 25; // proportional gain, per ms of error: the maximum at 25 ms
// Integral gain, per ms·s of error. With KP it makes the level's response (1000·KP = 0.2/s,
// 1000·KI = 0.012/s²) about critically damped (ζ ≈ 0.9, settling in ~40 s): slow enough that
// the sawtooth of frame arrivals and the jitter do not move it, fast enough to learn a 0.1 %
// clock difference within a minute.
const KI = 1.2e-5;
const MAX_TRIM = 0.004; // the integral term's bound: clocks further apart than 0.4 % are broken
const DEADBAND_MS = 0.5; // no proportional steering below this error (the integral still acts)
// The integral learns only in steady play: not for this long after a disturbance (a start, an
// underrun, a drop, a skip), whose step the proportional term takes back, nor while the target
// is coming down (the rate for that is fed forward), else it would learn a clock difference
// that is not there and overshoot.
const INTEGRAL_QUIET_MS = 8000;
const SLOPE_TAU_MS = 1000; // smoothing of the target's slope, for the feed-forward
const LEVEL_TAU_MS = 1000; // smoothing of the measured buffer level, for the steering
const FAST_TAU_MS = 300; // a quicker one (still over 15 frames), for drops
// After a (re)start, arrivals say little of the network: the server's pre-roll comes at once and
// the page is busy starting. They are not measured for this long.
const SETTLE_MS = 1000;
const JITTER_QUANTILE = 0.99;
// Until the window holds this many samples, the quantile is taken as if it did (the few worst
// are left out): the first seconds, with the page still busy starting, do not set the target.
const MIN_QUANTILE_SAMPLES = 250;
// Arrival delay is measured against the fastest transit of the last ~2 s (4 blocks of 500 ms),
// so a slow change of the path (or of the two clocks) is not taken for jitter.
const BASE_BLOCK_MS = 500;
const BASE_BLOCKS = 4;
const MARGIN_MS = 5; // on top of the measured jitter
// A packet whose delay is more than a quarter frame below the one before's came faster than the
// frames are made: it is catching up after a stall (or shares a message with the one before).
// Only the first, most delayed packet of such a run is counted, so that one stall is one sample
// of the jitter however many frames it held up and however slowly a busy page takes them in.
// (This also leaves out some small delays of ordinary jitter: the estimate errs high.)
const CATCH_UP_FRAMES = 0.25;
const HOLD_MS = 5000; // after the target rose, it stays up at least this long
// An excess above target of this many frames (plus a quarter of the measured jitter, which moves
// the quickly smoothed level too) is cut by a drop.
const DROP_EXCESS_FRAMES = 1.5;
const DROP_GAP_MS = 200; // at most one dropped frame per this long
const CREDIT_LIFE_MS = 2000; // a reported output pause is acted on within this long, or forgotten

// Signed distance a - b of two u32 sequence numbers (wraps).
export function seqDiff(a, b) {
  return (a - b) | 0;
}

function clamp(value, low, high) {
  return Math.min(high, Math.max(low, value));
}

export class JitterBuffer {
  // frameMs: frame length; lowMs: the output's low-water mark, below which a missing frame is
  // concealed (it needs that much time to act); floorMs/ceilingMs bound the target (floorMs
  // defaults to lowMs + one frame); releaseMs: time constant of the target coming down;
  // windowMs: how much arrival history the jitter estimate covers.
  constructor({ frameMs = 20, lowMs = 15, floorMs = NaN, ceilingMs = 300, windowMs = 15000,
                releaseMs = 15000, maxConcealMs = 200, maxAheadMs = 1000 } = {}) {
    this.frameMs = frameMs;
    this.frameUs = frameMs * 1000;
    this.lowMs = lowMs;
    this.floorMs = Number.isFinite(floorMs) ? floorMs : lowMs + frameMs;
    this.ceilingMs = ceilingMs;
    // About three frames at the start, and at least half a frame above what the output needs.
    this.startMs = clamp(Math.max(3 * frameMs, lowMs + 1.5 * frameMs), this.floorMs, ceilingMs);
    // What the target is made of besides the jitter: the output's low-water mark, half a frame
    // (the level is a sawtooth of one frame around its mean), a margin.
    this.baseMs = lowMs + frameMs / 2 + MARGIN_MS;
    this.releaseMs = releaseMs;
    this.maxConcealFrames = Math.max(1, Math.round(maxConcealMs / frameMs));
    this.maxAheadFrames = Math.max(4, Math.round(maxAheadMs / frameMs));
    this.maxQueue = Math.ceil((2 * ceilingMs + maxAheadMs) / frameMs);
    // Arrival delays over the window: a ring of 1-ms bins and their histogram.
    this.windowSize = Math.max(16, Math.round(windowMs / frameMs));
    this.delayRing = new Uint16Array(this.windowSize);
    this.histogram = new Uint32Array(Math.ceil(ceilingMs) + 1);
    this.delayCount = 0;
    this.delayNext = 0;
    this.baseBlocks = new Float64Array(BASE_BLOCKS).fill(Infinity);
    this.baseBlock = 0;
    this.baseBlockAt = NaN;
    this.jitterMs = 0; // the JITTER_QUANTILE of the arrival delay over the window
    this.lastDelayMs = -Infinity;
    this.targetMs = this.startMs;
    this.heldUntil = -Infinity;
    this.lastTargetAt = NaN;
    this.trim = 0; // the integral term of the steering (the clock rate difference it learnt)
    this.steer = 1;
    this.wantMs = this.startMs; // what the jitter asks for; the target comes down to it
    this.disturbedAt = -Infinity;
    this.slope = 0; // ms/s at which the target moves, smoothed
    this.slopeTargetMs = NaN;
    this.lastSteerAt = NaN;
    this.dropCreditMs = 0;
    this.dropCreditAt = NaN;
    this.lastDropAt = -Infinity;
    this.counts = { underruns: 0, concealed: 0, late: 0, skipped: 0, resyncs: 0, overflow: 0, dropped: 0 };
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

  // How much the output may hold before frames wait here (where an excess can be skipped). The
  // target covers the jitter, so even the burst after the longest usual delay stays under it.
  get capMs() {
    return this.targetMs + 120;
  }

  // The output needs the next frame; outputQueuedMs is what it (and the decoder) still holds.
  // Returns null (nothing to play: not started or the stream stopped), or {kind: 'frame' |
  // 'conceal' | 'pad', seq, captureUs, data, drop}. captureUs is NaN for audio that has no
  // capture time (pads, stretches). drop: decode this frame but do not play it; splice it into
  // the next one (the level is above target by more than the steering should carry).
  pop(outputQueuedMs, nowMs) {
    if (this.state === 'idle') {
      if (!this.#start(outputQueuedMs)) return null;
      this.disturbedAt = nowMs;
    }
    if (this.pads > 0) {
      this.pads -= 1;
      return { kind: 'pad', seq: this.playSeq, captureUs: NaN, data: null, drop: false };
    }
    this.#skipExcess(outputQueuedMs, nowMs);
    const frame = this.queue.get(this.playSeq);
    if (frame) return this.#take(frame, outputQueuedMs, nowMs);
    if (this.queue.size > 0) return this.#concealLost();
    return this.#stretch(nowMs);
  }

  // Playout rate for the output: >1 plays faster (the buffer is above target), <1 slower.
  get ratio() {
    return this.state === 'playing' ? this.steer : 1;
  }

  get bufferMs() {
    return this.state === 'playing' ? this.levelMs : 0;
  }

  get queuedMs() {
    return this.queue.size * this.frameMs;
  }

  // What is queued here, frames and leading pads, in ms.
  get heldMs() {
    return this.queuedMs + this.pads * this.frameMs;
  }

  // The output's clock stood still for pauseMs while frames kept coming: the level is that much
  // above where it was, so the next frames may be dropped to take it back at once.
  outputPaused(pauseMs, nowMs) {
    if (this.state !== 'playing' || !(pauseMs > 0)) return;
    this.dropCreditMs = Math.min(this.ceilingMs, this.dropCreditMs + pauseMs);
    this.dropCreditAt = nowMs;
  }

  // Channel switch or reconnection: forget the stream, keep what was learnt about the network
  // and the clocks.
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
    this.fastLevelMs = 0;
    this.lastLevelAt = NaN;
    this.lastSteerAt = NaN;
    this.dropCreditMs = 0;
    this.settleUntil = NaN; // set by the first arrival
    this.lastDelayMs = -Infinity;
    this.baseBlocks.fill(Infinity);
    this.baseBlockAt = NaN;
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
    this.fastLevelMs = this.levelMs;
    this.lastLevelAt = NaN;
    return true;
  }

  // Far above target (after a long stall the late frames all arrived): jump to the live edge
  // rather than steer for minutes.
  #skipExcess(outputQueuedMs, nowMs) {
    if (outputQueuedMs + this.queuedMs <= this.capMs) return;
    this.disturbedAt = nowMs;
    while (this.queue.size > 1 &&
           outputQueuedMs + (this.queue.size - 1) * this.frameMs >= this.targetMs) {
      this.queue.delete(this.#oldest());
      this.counts.skipped += 1;
    }
    this.playSeq = this.#oldest();
    this.levelMs = outputQueuedMs + this.queuedMs;
    this.fastLevelMs = this.levelMs;
  }

  #take(frame, outputQueuedMs, nowMs) {
    const drop = this.#shouldDrop(outputQueuedMs, nowMs);
    this.queue.delete(this.playSeq);
    this.playSeq = (this.playSeq + 1) >>> 0;
    this.emptyRun = 0;
    this.lastCaptureUs = frame.captureUs;
    return { kind: 'frame', seq: frame.seq, captureUs: frame.captureUs, data: frame.data, drop };
  }

  // Drops the frame being taken when the level stays above target after it: right after the
  // output reported a pause, or when the (quickly) smoothed level is well above target.
  #shouldDrop(outputQueuedMs, nowMs) {
    if (nowMs - this.lastDropAt < DROP_GAP_MS) return false;
    if (nowMs - this.dropCreditAt > CREDIT_LIFE_MS) this.dropCreditMs = 0;
    const afterMs = outputQueuedMs + this.heldMs - this.frameMs; // the level without this frame
    if (afterMs < this.targetMs) return false;
    const paused = this.dropCreditMs >= 0.75 * this.frameMs;
    const excess = this.fastLevelMs - this.targetMs > DROP_EXCESS_FRAMES * this.frameMs + this.jitterMs / 4;
    if (!paused && !excess) return false;
    if (paused) this.dropCreditMs = Math.max(0, this.dropCreditMs - this.frameMs);
    // The quick average had taken the excess in (a pause's is not in it yet): it gives the frame
    // back at once, so that one excess is not cut twice. The slow one follows the level.
    else this.fastLevelMs -= this.frameMs;
    this.lastDropAt = nowMs;
    this.disturbedAt = nowMs;
    this.counts.dropped += 1;
    return true;
  }

  // The frame never came but later ones did: conceal its slot and move on.
  #concealLost() {
    const seq = this.playSeq;
    this.playSeq = (seq + 1) >>> 0;
    this.counts.concealed += 1;
    this.lastCaptureUs += this.frameUs;
    return { kind: 'conceal', seq, captureUs: this.lastCaptureUs, data: null, drop: false };
  }

  // Nothing to play (the frame is late): conceal without consuming its slot, so the late frame
  // still plays when it comes; the level grows by what was concealed and the target by a frame,
  // held for a while: the next late frame finds more room.
  #stretch(nowMs) {
    this.disturbedAt = nowMs;
    if (this.emptyRun === 0) {
      this.counts.underruns += 1;
      this.targetMs = Math.min(this.ceilingMs, this.targetMs + this.frameMs);
      this.heldUntil = nowMs + HOLD_MS;
    }
    this.emptyRun += 1;
    if (this.emptyRun > this.maxConcealFrames) {
      this.#restart(); // the stream stopped: start again at the live edge when it comes back
      return null;
    }
    this.counts.concealed += 1;
    return { kind: 'conceal', seq: this.playSeq, captureUs: NaN, data: null, drop: false };
  }

  // The buffer level (here + the output), smoothed, and the steering that holds it at the
  // target. Call it often (every few ms); it is averaged over time, not over calls.
  observe(outputQueuedMs, nowMs) {
    if (this.state !== 'playing') return;
    const levelMs = outputQueuedMs + this.heldMs;
    if (Number.isNaN(this.lastLevelAt)) {
      this.levelMs = levelMs;
      this.fastLevelMs = levelMs;
    } else {
      const dt = Math.max(0, nowMs - this.lastLevelAt);
      this.levelMs += (1 - Math.exp(-dt / LEVEL_TAU_MS)) * (levelMs - this.levelMs);
      this.fastLevelMs += (1 - Math.exp(-dt / FAST_TAU_MS)) * (levelMs - this.fastLevelMs);
    }
    this.lastLevelAt = nowMs;
    this.#steer(nowMs);
  }

  // PI control of the playout rate. The integral only learns while the error is under a frame
  // (a step after an underrun or a pause is the proportional term's, or a drop's, to take back)
  // and not while the output is at its limit in the same direction (no wind-up).
  // Plus a feed-forward of the target coming down (faster by its slope), so the level follows the
  // target without lagging behind it.
  #steer(nowMs) {
    const error = this.levelMs - this.targetMs;
    const dtMs = Number.isNaN(this.lastSteerAt) ? 0 : Math.min(100, Math.max(0, nowMs - this.lastSteerAt));
    this.lastSteerAt = nowMs;
    if (dtMs > 0 && !Number.isNaN(this.slopeTargetMs)) {
      const slope = ((this.targetMs - this.slopeTargetMs) * 1000) / dtMs;
      this.slope += (1 - Math.exp(-dtMs / SLOPE_TAU_MS)) * (slope - this.slope);
    }
    this.slopeTargetMs = this.targetMs;
    const feed = Math.max(0, -this.slope) / 1000;
    const p = Math.abs(error) < DEADBAND_MS ? 0 : KP * error;
    const u = p + this.trim + feed;
    const saturated = Math.abs(u) >= MAX_STEER && Math.sign(error) === Math.sign(u);
    const steady = nowMs - this.disturbedAt > INTEGRAL_QUIET_MS && this.targetMs - this.wantMs < 1;
    if (steady && Math.abs(error) < this.frameMs && !saturated) {
      this.trim = clamp(this.trim + (KI * error * dtMs) / 1000, -MAX_TRIM, MAX_TRIM);
    }
    this.steer = 1 + clamp(u, -MAX_STEER, MAX_STEER);
  }

  // Arrival delay: the transit time (arrival minus capture, on two clocks, so only its changes
  // matter) above the fastest of the last ~2 s; the target covers a high quantile of it over the
  // window. Only while playing: a backlog arriving while stopped says how long the outage was,
  // not how jittery the network is.
  #observeArrival(captureUs, nowMs) {
    if (Number.isNaN(this.settleUntil)) this.settleUntil = nowMs + SETTLE_MS;
    if (nowMs < this.settleUntil) return;
    const transit = nowMs - captureUs / 1000;
    const delayMs = transit - this.#baseTransit(transit, nowMs);
    const catchingUp = delayMs < this.lastDelayMs - CATCH_UP_FRAMES * this.frameMs;
    this.lastDelayMs = delayMs;
    if (catchingUp) return;
    this.#addDelay(delayMs);
    this.jitterMs = this.#delayQuantile(JITTER_QUANTILE);
    this.#adaptTarget(nowMs);
  }

  // The smallest transit of the last BASE_BLOCKS blocks, this one included.
  #baseTransit(transit, nowMs) {
    const blocks = this.baseBlocks;
    if (Number.isNaN(this.baseBlockAt) || nowMs - this.baseBlockAt >= BASE_BLOCKS * BASE_BLOCK_MS) {
      blocks.fill(Infinity);
      this.baseBlockAt = nowMs;
    }
    while (nowMs - this.baseBlockAt >= BASE_BLOCK_MS) {
      this.baseBlock = (this.baseBlock + 1) % BASE_BLOCKS;
      blocks[this.baseBlock] = Infinity;
      this.baseBlockAt += BASE_BLOCK_MS;
    }
    if (transit < blocks[this.baseBlock]) blocks[this.baseBlock] = transit;
    let base = Infinity;
    for (let i = 0; i < BASE_BLOCKS; i++) base = Math.min(base, blocks[i]);
    return base;
  }

  #addDelay(delayMs) {
    const bin = clamp(Math.ceil(delayMs), 0, this.histogram.length - 1);
    if (this.delayCount === this.windowSize) this.histogram[this.delayRing[this.delayNext]] -= 1;
    else this.delayCount += 1;
    this.delayRing[this.delayNext] = bin;
    this.histogram[bin] += 1;
    this.delayNext = (this.delayNext + 1) % this.windowSize;
  }

  // Smallest delay (ms, 1-ms bins) that at least q of the window is at or below; the single
  // worst one is always left out (a lone stall is the underrun's business, not the target's).
  #delayQuantile(q) {
    const n = Math.max(this.delayCount, MIN_QUANTILE_SAMPLES);
    const above = Math.max(1, Math.floor((1 - q) * n)); // samples allowed above the answer
    let seen = 0;
    for (let bin = this.histogram.length - 1; bin > 0; bin--) {
      seen += this.histogram[bin];
      if (seen > above) return bin;
    }
    return 0;
  }

  // Rises at once to cover the jitter seen, holds, then comes down slowly.
  #adaptTarget(nowMs) {
    const wantMs = clamp(this.baseMs + this.jitterMs, this.floorMs, this.ceilingMs);
    this.wantMs = wantMs;
    const dt = Number.isNaN(this.lastTargetAt) ? 0 : Math.max(0, nowMs - this.lastTargetAt);
    this.lastTargetAt = nowMs;
    if (wantMs > this.targetMs) {
      this.targetMs = wantMs;
      this.heldUntil = nowMs + HOLD_MS;
    } else if (nowMs >= this.heldUntil) {
      this.targetMs -= (this.targetMs - wantMs) * Math.min(1, dt / this.releaseMs);
    }
  }
}
