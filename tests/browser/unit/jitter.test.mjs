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
// faster the server clock runs than the output's. Returns per-run observations.
function simulate(jb, { ms, frameMs = 20, delayMs = () => 1, drift = 0, firstSeq = 100, skip = () => false,
                        state = null }) {
  const s = state ?? { k: 0, lastArrival: 0, queued: 0, now: 0, slots: [], nulls: 0 };
  const obs = { maxBuffer: 0, levels: [], kinds: { frame: 0, conceal: 0, pad: 0 }, nulls: 0 };
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
    // output: consumes at the steered rate
    s.queued = Math.max(0, s.queued - jb.ratio);
    while (s.queued < (jb.ready() ? jb.capMs : LOW_MS)) {
      const slot = jb.pop(s.queued, s.now);
      if (!slot) { if (s.slots.length > 0) obs.nulls += 1; break; }
      obs.kinds[slot.kind] += 1;
      s.slots.push(slot);
      s.queued += frameMs;
    }
    jb.observe(s.queued, s.now);
    if (s.now % 1000 === 0) obs.levels.push(jb.bufferMs);
    obs.maxBuffer = Math.max(obs.maxBuffer, s.queued + jb.queuedMs);
  }
  obs.state = s;
  return obs;
}

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

test('10 ms frames scale the target and keep the floor', () => {
  const jb = new JitterBuffer({ frameMs: 10, lowMs: 20 });
  assert.equal(jb.targetMs, 40);
});

test('steady stream: no concealment, the buffer stays at its target', () => {
  const jb = new JitterBuffer({ frameMs: 20, lowMs: LOW_MS });
  const obs = simulate(jb, { ms: 60000 });
  assert.equal(jb.counts.underruns, 0);
  assert.equal(jb.counts.concealed, 0);
  assert.equal(obs.nulls, 0);
  const last = obs.levels.at(-1);
  assert.ok(Math.abs(last - jb.targetMs) < 10, `buffer ${last} ms vs target ${jb.targetMs} ms`);
  assert.ok(jb.targetMs < 70, `target ${jb.targetMs} ms`);
  const seqs = obs.state.slots.filter((s) => s.kind === 'frame').map((s) => s.seq);
  for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1, 'frames play in order, none lost');
});

test('jittery arrivals raise the target and then play without concealment', () => {
  const jb = new JitterBuffer({ frameMs: 20, lowMs: LOW_MS });
  let seed = 1;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const delays = Array.from({ length: 10000 }, () => random() * 50);
  simulate(jb, { ms: 20000, delayMs: (k) => delays[k % delays.length] });
  assert.ok(jb.targetMs > 90, `target ${jb.targetMs} ms adapts to 50 ms of jitter`);
  assert.ok(jb.targetMs <= 300);
  const before = jb.counts.concealed;
  const obs = simulate(jb, { ms: 60000, delayMs: (k) => delays[k % delays.length], state: null });
  assert.ok(jb.counts.concealed - before <= 3, `concealed ${jb.counts.concealed - before} after adapting`);
  assert.equal(obs.nulls, 0, 'never stalls');
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

test('a clock 0.1 % apart for an hour: steering bounds the latency', () => {
  for (const drift of [0.001, -0.001]) {
    const jb = new JitterBuffer({ frameMs: 20, lowMs: LOW_MS });
    const obs = simulate(jb, { ms: 3600 * 1000, drift });
    assert.equal(jb.counts.underruns, 0, `drift ${drift}`);
    assert.equal(jb.counts.skipped, 0, `drift ${drift}: no skips, steering is enough`);
    assert.ok(obs.maxBuffer < jb.targetMs + 40, `drift ${drift}: max buffer ${obs.maxBuffer} ms`);
    const tail = obs.levels.slice(-600);
    for (const level of tail) assert.ok(Math.abs(level - jb.targetMs) < 12, `drift ${drift}: level ${level}`);
  }
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
