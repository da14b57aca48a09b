// Tests of the listener's jitter buffer and frame parser, in node (`node --test tests/browser/unit`).
// The jitter buffer runs against a simulated server (frames every frame_ms on its own clock, sent
// in order like TCP, with chosen delays) and a simulated output that consumes audio in real time
// at the steered rate and is fed the way player.js feeds it: every ready frame at once (up to
// capMs), a concealment when nothing is ready and it is down to its low-water mark.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JitterBuffer, seqDiff } from '../../../client/web/js/jitter.js';
import { parseFrame, FLAG_DISCONTINUITY, FLAG_FALLBACK } from '../../../client/web/js/protocol.js';

const LOW_MS = 20;
const EPOCH_US = 1764979200000000;

// Runs `ms` of simulated time, 1 ms steps. delayMs(k) = network delay of frame k; drift = how much
// faster the server clock runs than the output's; pauseAt(t) = ms for which the output clock
// stands still from t on (reported to the jitter buffer, as the player does). A dropped frame is
// decoded but not played: it adds nothing to the output. Returns per-run observations.
function simulate(jb, { ms, frameMs = 20, delayMs = () => 1, drift = 0, firstSeq = 100, skip = () => false,
                        pauseAt = () => 0, lowMs = LOW_MS, state = null }) {
  const s = state ?? { k: 0, lastArrival: 0, queued: 0, now: 0, slots: [], pausedUntil: 0 };
  const obs = { maxBuffer: 0, levels: [], errors: [], kinds: { frame: 0, conceal: 0, pad: 0 }, nulls: 0,
                maxSteer: 0 };
  const end = s.now + ms;
  for (; s.now < end; s.now += 1) {
    // server: frame k is complete at (k+1)*frameMs on its clock, leaves then, arrives after delay
    for (;;) {
      const sentAt = ((s.k + 1) * frameMs) / (1 + drift);
      const arrival = Math.max(s.lastArrival, sentAt + delayMs(s.k));
      if (arrival > s.now) break;
      s.lastArrival = arrival;
      if (!skip(s.k)) {
        jb.push({ seq: (firstSeq + s.k) >>> 0, captureUs: EPOCH_US + s.k * frameMs * 1000 / (1 + drift),
                  data: new Uint8Array([s.k & 255]), discontinuity: false }, s.now);
      }
      s.k += 1;
    }
    // output: consumes at the steered rate, unless its clock is paused
    const pause = pauseAt(s.now);
    if (pause > 0) {
      s.pausedUntil = s.now + pause;
      jb.outputPaused(pause, s.now);
    }
    if (s.now >= s.pausedUntil) s.queued = Math.max(0, s.queued - jb.ratio);
    while (s.queued < (jb.ready() ? jb.capMs : lowMs)) {
      const slot = jb.pop(s.queued, s.now);
      if (!slot) { if (s.slots.length > 0) obs.nulls += 1; break; }
      obs.kinds[slot.kind] += 1;
      s.slots.push(slot);
      if (!slot.drop) s.queued += frameMs;
    }
    jb.observe(s.queued, s.now);
    obs.maxSteer = Math.max(obs.maxSteer, Math.abs(jb.ratio - 1));
    if (s.now % 1000 === 0) {
      obs.levels.push(jb.bufferMs);
      obs.errors.push(jb.bufferMs - jb.targetMs);
    }
    obs.maxBuffer = Math.max(obs.maxBuffer, s.queued + jb.queuedMs);
  }
  obs.state = s;
  return obs;
}

// A reproducible uniform random sequence in [0, 1).
function lcg(seed = 1) {
  return () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
}

const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;

test('seqDiff wraps around 2^32', () => {
  assert.equal(seqDiff(5, 3), 2);
  assert.equal(seqDiff(0, 0xffffffff), 1);
  assert.equal(seqDiff(0xffffffff, 2), -3);
});

test('starts at the live edge with about 60 ms at 20 ms frames, padding what is missing', () => {
  const jb = new JitterBuffer({ frameMs: 20, lowMs: LOW_MS });
  assert.equal(jb.targetMs, 60);
  assert.equal(jb.pop(0, 0), null, 'nothing to play before the first frame');
  for (let i = 0; i < 10; i++) jb.push({ seq: 50 + i, captureUs: EPOCH_US + i * 20000, data: new Uint8Array(1) }, i * 20);
  const first = jb.pop(0, 200);
  assert.equal(first.kind, 'frame');
  assert.equal(first.seq, 57, 'old frames dropped: 3 frames (60 ms) kept');
  assert.equal(jb.queuedMs, 40);

  const jb2 = new JitterBuffer({ frameMs: 20, lowMs: LOW_MS });
  jb2.push({ seq: 7, captureUs: EPOCH_US, data: new Uint8Array(1) }, 0);
  jb2.push({ seq: 8, captureUs: EPOCH_US + 20000, data: new Uint8Array(1) }, 0);
  assert.equal(jb2.pop(0, 0).kind, 'pad', 'the 40 ms pre-roll is padded to the 60 ms target');
  assert.equal(jb2.pop(20, 0).seq, 7);
});

test('10 ms frames scale the start and the floor', () => {
  const jb = new JitterBuffer({ frameMs: 10, lowMs: 20 });
  assert.equal(jb.targetMs, 35, 'half a frame above the low-water mark + a frame');
  assert.equal(jb.floorMs, 30, 'the low-water mark + a frame');
  const slow = new JitterBuffer({ frameMs: 20, lowMs: 40 });
  assert.equal(slow.targetMs, 70, 'an output that needs 40 ms starts at 70');
  assert.equal(slow.floorMs, 60);
});

test('steady stream: no concealment, the target comes down to its floor, the buffer sits on it', () => {
  const jb = new JitterBuffer({ frameMs: 20, lowMs: LOW_MS });
  const obs = simulate(jb, { ms: 90000 });
  assert.equal(jb.counts.underruns, 0);
  assert.equal(jb.counts.concealed, 0);
  assert.equal(jb.counts.dropped, 0, 'nothing to drop');
  assert.equal(obs.nulls, 0);
  assert.ok(jb.jitterMs <= 1, `measured jitter ${jb.jitterMs} ms`);
  assert.ok(jb.targetMs < jb.floorMs + 1, `target ${jb.targetMs} ms came down to the floor ${jb.floorMs}`);
  const tail = obs.errors.slice(-30);
  for (const e of tail) assert.ok(Math.abs(e) < 1.5, `buffer ${e.toFixed(2)} ms off target`);
  assert.ok(Math.abs(jb.ratio - 1) < 2e-4, `ratio ${jb.ratio} at rest`);
  const seqs = obs.state.slots.filter((s) => s.kind === 'frame').map((s) => s.seq);
  for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1, 'frames play in order, none lost');
});

test('the target follows the measured jitter: up at once, held, down slowly', () => {
  const jb = new JitterBuffer({ frameMs: 20, lowMs: LOW_MS });
  const random = lcg(7);
  let jitter = 0;
  const delays = [];
  const delayMs = (k) => (delays[k] ??= 1 + random() * jitter);
  const state = simulate(jb, { ms: 60000, delayMs }).state;
  const quiet = jb.targetMs;
  assert.ok(quiet < jb.floorMs + 1, `quiet target ${quiet} ms`);

  jitter = 30; // from now on, delays uniform in 1..31 ms
  simulate(jb, { ms: 3000, delayMs, state });
  assert.ok(jb.jitterMs >= 25 && jb.jitterMs <= 31, `jitter measured ${jb.jitterMs} ms`);
  assert.ok(jb.targetMs >= jb.baseMs + 25, `target ${jb.targetMs} ms within 3 s of the jitter`);
  const before = { ...jb.counts };
  const obs = simulate(jb, { ms: 30000, delayMs, state });
  assert.ok(jb.counts.concealed - before.concealed <= 2, `concealed ${jb.counts.concealed - before.concealed} at 30 ms jitter`);
  assert.equal(obs.nulls, 0, 'never stalls');
  const noisy = jb.targetMs;

  jitter = 0;
  simulate(jb, { ms: 10000, delayMs, state });
  assert.ok(jb.targetMs > noisy - 12, `target ${jb.targetMs} ms: not down at once (was ${noisy})`);
  simulate(jb, { ms: 90000, delayMs, state });
  assert.ok(jb.targetMs < jb.floorMs + 2, `target ${jb.targetMs} ms back near the floor after the jitter went`);
});

test('50 ms of jitter: the target covers it and playout goes on without concealment', () => {
  const jb = new JitterBuffer({ frameMs: 20, lowMs: LOW_MS });
  const random = lcg(1);
  const delays = Array.from({ length: 10000 }, () => random() * 50);
  const delayMs = (k) => delays[k % delays.length];
  const state = simulate(jb, { ms: 20000, delayMs }).state;
  assert.ok(jb.targetMs > 80, `target ${jb.targetMs} ms adapts to 50 ms of jitter`);
  assert.ok(jb.targetMs <= 300);
  const before = jb.counts.concealed;
  const obs = simulate(jb, { ms: 60000, delayMs, state });
  assert.ok(jb.counts.concealed - before <= 3, `concealed ${jb.counts.concealed - before} after adapting`);
  assert.equal(obs.nulls, 0, 'never stalls');
});

test('a stall counts once, however many frames it held up; stalls that recur raise the target', () => {
  const jb = new JitterBuffer({ frameMs: 20, lowMs: LOW_MS });
  let stallEvery = 0;
  // Frame k is held up 150 ms (every stallEvery frames); TCP brings the 7 behind it at once.
  const delayMs = (k) => (stallEvery && k % stallEvery === 0 ? 150 : 1);
  const state = simulate(jb, { ms: 20000, delayMs }).state;
  const stallAt = state.k + 50;
  simulate(jb, { ms: 5000, delayMs: (k) => (k === stallAt ? 150 : 1), state });
  assert.ok(jb.jitterMs <= 2, `one stall: jitter ${jb.jitterMs} ms`);
  assert.equal(jb.counts.underruns, 1, 'the stall is an underrun');
  // A busy page takes the held-up frames in slowly, one every 12 ms: still one sample.
  const slowAt = state.k + 50;
  simulate(jb, { ms: 5000, delayMs: (k) => (k >= slowAt && k < slowAt + 30 ? Math.max(1, 200 - 8 * (k - slowAt)) : 1), state });
  assert.ok(jb.jitterMs <= 2, `one stall taken in slowly: jitter ${jb.jitterMs} ms`);
  assert.equal(jb.counts.underruns, 2);
  stallEvery = 50; // a stall every second
  simulate(jb, { ms: 10000, delayMs, state });
  assert.ok(jb.jitterMs >= 140, `a stall every second: jitter ${jb.jitterMs} ms`);
  assert.ok(jb.targetMs >= jb.baseMs + 140, `target ${jb.targetMs} ms`);
});

test('an underrun raises the target by a frame and holds it', () => {
  const jb = new JitterBuffer({ frameMs: 20, lowMs: LOW_MS });
  const stallAt = 1500; // frame 1500 (t = 30 s) is held up 80 ms, the ones behind it queue (TCP)
  const state = simulate(jb, { ms: 30000, delayMs: (k) => (k === stallAt ? 80 : 1) }).state;
  const floor = jb.targetMs;
  simulate(jb, { ms: 1000, delayMs: (k) => (k === stallAt ? 80 : 1), state });
  assert.equal(jb.counts.underruns, 1);
  assert.ok(jb.targetMs >= floor + 19, `target ${jb.targetMs} ms after the underrun (was ${floor})`);
  simulate(jb, { ms: 3000, state });
  assert.ok(jb.targetMs >= floor + 19, `target ${jb.targetMs} ms still held 4 s later`);
  simulate(jb, { ms: 90000, state });
  assert.ok(jb.targetMs < floor + 2, `target ${jb.targetMs} ms released after 90 s`);
});

test('a late frame is concealed without stalling, then plays; the buffer comes back down', () => {
  const jb = new JitterBuffer({ frameMs: 20, lowMs: LOW_MS });
  const stallAt = 200; // frame 200 (t = 4 s) is held up 150 ms, the ones behind it queue (TCP)
  const obs = simulate(jb, { ms: 90000, delayMs: (k) => (k === stallAt ? 150 : 1) });
  assert.equal(jb.counts.underruns, 1);
  assert.ok(jb.counts.concealed >= 3 && jb.counts.concealed <= 8, `concealed ${jb.counts.concealed}`);
  assert.equal(jb.counts.late, 0, 'the late frame still plays');
  assert.equal(obs.nulls, 0, 'never stalls');
  const frames = obs.state.slots.filter((s) => s.kind === 'frame');
  assert.ok(frames.some((s) => s.seq === 100 + stallAt));
  assert.ok(Math.abs(obs.levels.at(-1) - jb.targetMs) < 15,
    `buffer ${obs.levels.at(-1)} ms back near target ${jb.targetMs} ms`);
});

test('a missing frame is concealed in its slot and the stream goes on', () => {
  const jb = new JitterBuffer({ frameMs: 20, lowMs: LOW_MS });
  const obs = simulate(jb, { ms: 10000, skip: (k) => k === 100 });
  const slots = obs.state.slots.filter((s) => s.kind !== 'pad');
  const at = slots.findIndex((s) => s.seq === 200);
  // Frame 201 is not there yet when 200's slot comes: one stretch, then 200 is known lost.
  let next = at;
  while (slots[next].seq === 200) assert.equal(slots[next++].kind, 'conceal');
  assert.equal(slots[next].seq, 201);
  assert.equal(slots[next].kind, 'frame');
  assert.ok(jb.counts.concealed >= 1 && jb.counts.concealed <= 2, `concealed ${jb.counts.concealed}`);
  assert.equal(obs.nulls, 0);
});

test('clocks 0.1 % apart for an hour: the integral learns it, the buffer sits on the target, no drift', () => {
  for (const drift of [0.001, -0.001]) {
    const jb = new JitterBuffer({ frameMs: 20, lowMs: LOW_MS });
    const obs = simulate(jb, { ms: 3600 * 1000, drift });
    assert.equal(jb.counts.underruns, 0, `drift ${drift}`);
    assert.equal(jb.counts.skipped, 0, `drift ${drift}: no skips, steering is enough`);
    assert.equal(jb.counts.dropped, 0, `drift ${drift}: no drops either`);
    assert.ok(obs.maxSteer <= 0.005 + 1e-12, `drift ${drift}: rate moved by ${obs.maxSteer}`);
    assert.ok(Math.abs(jb.trim - drift) < 0.0002, `drift ${drift}: the integral holds ${jb.trim}`);
    // A proportional-only steering would sit 5 ms off here (0.1 % / its gain).
    const tail = obs.errors.slice(-3000); // the last 50 minutes
    for (const e of tail) assert.ok(Math.abs(e) < 2, `drift ${drift}: buffer ${e.toFixed(2)} ms off target`);
    const early = mean(obs.errors.slice(600, 1200));
    const late = mean(obs.errors.slice(-600));
    assert.ok(Math.abs(early) < 0.5 && Math.abs(late) < 0.5,
      `drift ${drift}: mean error ${early.toFixed(2)} ms in minutes 10-20, ${late.toFixed(2)} ms in the last 10`);
    assert.ok(obs.maxBuffer < jb.targetMs + 40, `drift ${drift}: max buffer ${obs.maxBuffer} ms`);
  }
});

test('a 0.3 % clock difference from the start: the integral converges, little overshoot', () => {
  // The server's clock runs 0.3 % fast: unsteered, the buffer would grow by 3 ms per second.
  const jb = new JitterBuffer({ frameMs: 20, lowMs: LOW_MS });
  const obs = simulate(jb, { ms: 180000, drift: 0.003 });
  const errors = obs.errors.slice(2);
  assert.ok(Math.max(...errors) < 16, `peak error ${Math.max(...errors).toFixed(1)} ms`);
  assert.ok(Math.min(...errors) > -5, `undershoot ${Math.min(...errors).toFixed(1)} ms`);
  for (const e of errors.slice(90)) assert.ok(Math.abs(e) < 1.5, `after 1.5 minutes: ${e.toFixed(2)} ms off target`);
  assert.equal(jb.counts.dropped, 0, 'steered, not dropped');
  assert.ok(Math.abs(jb.trim - 0.003) < 0.0003, `integral ${jb.trim}`);
});

test('recovering from underruns and a target coming down does not wind the integral up', () => {
  const jb = new JitterBuffer({ frameMs: 20, lowMs: LOW_MS });
  const state = simulate(jb, { ms: 60000 }).state; // at rest on the floor, no clock difference
  const stalls = new Set([state.k + 50, state.k + 800, state.k + 1600]); // three 120-ms stalls, 15 s apart
  const obs = simulate(jb, { ms: 120000, delayMs: (k) => (stalls.has(k) ? 120 : 1), state });
  assert.equal(jb.counts.underruns, 3);
  assert.ok(Math.abs(jb.trim) < 1e-4, `the integral learnt ${jb.trim} from steps that are no clock difference`);
  // Leaving out the seconds of the stalls themselves, the level never goes under the target.
  const stallSeconds = [...stalls].map((k) => Math.floor(((k + 1) * 20 - state.now + 120000) / 1000));
  const recovering = obs.errors.filter((_, i) => !stallSeconds.some((at) => i === at || i === at + 1));
  const worst = Math.min(...recovering);
  assert.ok(worst > -3, `the level went ${worst.toFixed(1)} ms under the target while recovering`);
  for (const e of obs.errors.slice(-10)) assert.ok(Math.abs(e) < 1.5, `settled: ${e.toFixed(2)} ms`);
});

test('an output clock pause is taken back by a dropped frame at once, not over seconds', () => {
  const jb = new JitterBuffer({ frameMs: 20, lowMs: LOW_MS });
  const state = simulate(jb, { ms: 30000 }).state;
  const pauses = new Set([31000, 38000, 45000, 52000]);
  const obs = simulate(jb, { ms: 120000, pauseAt: (t) => (pauses.has(t) ? 30 : 0), state });
  assert.equal(jb.counts.underruns, 0);
  assert.equal(jb.counts.concealed, 0);
  assert.equal(jb.counts.dropped, pauses.size, 'one frame dropped per 30-ms pause');
  // One second after each pause the excess is at most the 10 ms the drop did not take.
  for (const t of pauses) {
    const e = obs.errors[(t - 30000) / 1000 + 1];
    assert.ok(e < 12, `${e.toFixed(1)} ms above target 1 s after the pause at ${t} ms`);
  }
  // Regular pauses look like a clock difference: the integral learns the part the drops leave
  // (the level then sits a few ms low for a while after they stop), and unlearns it.
  for (const e of obs.errors) assert.ok(e > -8, `${e.toFixed(2)} ms below target`);
  for (const e of obs.errors.slice(-10)) assert.ok(Math.abs(e) < 1.5, `settled: ${e.toFixed(2)} ms`);
});

test('without a reported pause, an excess of over a frame and a half is dropped; a small one is steered', () => {
  const jb = new JitterBuffer({ frameMs: 20, lowMs: LOW_MS });
  const state = simulate(jb, { ms: 30000 }).state;
  state.queued += 15; // 15 ms more in the output than reported: steering only
  let obs = simulate(jb, { ms: 10000, state });
  assert.equal(jb.counts.dropped, 0);
  assert.ok(Math.abs(obs.errors.at(-1)) < 3, `steered back: ${obs.errors.at(-1)}`);
  state.queued += 60; // three frames too many (e.g. an unnoticed pause)
  obs = simulate(jb, { ms: 3000, state });
  assert.ok(jb.counts.dropped >= 2, `dropped ${jb.counts.dropped}`);
  assert.ok(obs.errors.at(-1) < 20, `within a frame of the target after 3 s: ${obs.errors.at(-1)}`);
  assert.equal(jb.counts.underruns, 0);
});

test('discontinuity or a big jump resyncs to the live edge', () => {
  const jb = new JitterBuffer({ frameMs: 20, lowMs: LOW_MS });
  const s = simulate(jb, { ms: 2000 }).state;
  jb.push({ seq: 5000, captureUs: EPOCH_US, data: new Uint8Array(1), discontinuity: true }, s.now);
  jb.push({ seq: 5001, captureUs: EPOCH_US + 20000, data: new Uint8Array(1) }, s.now);
  assert.equal(jb.counts.resyncs, 1);
  let slot = jb.pop(20, s.now);
  while (slot.kind === 'pad') slot = jb.pop(20, s.now);
  assert.equal(slot.seq, 5000);
  jb.push({ seq: 9000, captureUs: EPOCH_US, data: new Uint8Array(1) }, s.now);
  assert.equal(jb.counts.resyncs, 2, 'a jump of more than a second without the flag resyncs too');
  assert.equal(jb.pop(0, s.now).seq, 9000);
});

test('an outage ends playout after a short concealment; the stream restarts at the live edge', () => {
  const jb = new JitterBuffer({ frameMs: 20, lowMs: LOW_MS });
  const s = simulate(jb, { ms: 1000 }).state;
  let conceals = 0;
  for (let slot = jb.pop(0, s.now); slot; slot = jb.pop(0, s.now)) conceals += slot.kind === 'conceal';
  assert.ok(conceals >= 5 && conceals <= 12, `concealed ${conceals} frames before giving up`);
  assert.equal(jb.state, 'idle');
  for (let i = 0; i < 30; i++) jb.push({ seq: 300 + i, captureUs: EPOCH_US + i * 20000, data: new Uint8Array(1) }, s.now);
  const first = jb.pop(0, s.now);
  assert.equal(first.kind, 'frame');
  assert.ok(first.seq >= 325, `the backlog is skipped, playing from ${first.seq}`);
});

test('parseFrame reads the worked example of docs/protocol.md', () => {
  const bytes = Uint8Array.from([0x01, 0x01, 0x00, 0x02, 0x00, 0x00, 0x04, 0xd2,
    0x00, 0x06, 0x45, 0x3d, 0x3e, 0x42, 0x62, 0x40,
    0x00, 0x04, 0x78, 0x0b, 0xe4, 0x42, 0x00, 0x04, 0x78, 0x0b, 0xe4, 0x43]);
  const frame = parseFrame(bytes.buffer);
  assert.equal(frame.flags, FLAG_FALLBACK);
  assert.equal(frame.flags & FLAG_DISCONTINUITY, 0);
  assert.equal(frame.channel, 2);
  assert.equal(frame.seq, 1234);
  assert.equal(frame.captureUs, 1764979200123456);
  assert.deepEqual(frame.packets.map((p) => [...p]), [[0x78, 0x0b, 0xe4, 0x42], [0x78, 0x0b, 0xe4, 0x43]]);
});

test('parseFrame rejects malformed messages', () => {
  const ok = [1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xaa];
  assert.doesNotThrow(() => parseFrame(Uint8Array.from(ok).buffer));
  assert.throws(() => parseFrame(new Uint8Array(10).buffer), /short/);
  assert.throws(() => parseFrame(Uint8Array.from([2, ...ok.slice(1)]).buffer), /version/);
  assert.throws(() => parseFrame(Uint8Array.from([...ok.slice(0, 17), 5, 0xaa]).buffer), /length/);
  assert.throws(() => parseFrame(Uint8Array.from([...ok, 0]).buffer), /truncated/);
});
