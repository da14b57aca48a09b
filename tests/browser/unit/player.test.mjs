// Tests of the listener's Player (client/web/js/player.js) in node, without a browser: its context
// and output are stubs, its decoder a stub made by the player's decoderFactory, performance.now()
// a simulated clock. What is tested is the player's own logic: output clock pauses counted apart
// from underruns (and the excess they leave dropped), a new frame length taken on the fly, the
// stats report within the server's 512-byte limit, the crossfade of a dropped frame.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Player, splice } from '../../../client/web/js/player.js';
import { JitterBuffer } from '../../../client/web/js/jitter.js';

const EPOCH_US = 1764979200000000;
let nowMs = 1000;
performance.now = () => nowMs;

// A started player on stubs. The output holds what was written minus what its clock played; the
// context's output timestamp maps context time to performance time, `lagMs` behind (a pause of
// the audio thread adds to it). It starts at 10 ms frames and is told 20 (or `frameMs`), the way
// a hello after a server restart does.
async function stubPlayer(frameMs = 20) {
  const made = [];
  const decoderFactory = async ({ frameMs: ms, onFrame }) => {
    const decoder = {
      kind: 'stub', frameMs: ms, decoded: 0, closed: false,
      emit(meta, v) { queueMicrotask(() => onFrame(new Float32Array(48 * ms).fill(v), meta)); },
      decode(data, meta) { this.decoded += 1; this.emit(meta, 0.5); },
      conceal(meta) { this.emit(meta, 0); },
      silence(meta) { this.emit(meta, 0); },
      reset: async () => {},
      close() { this.closed = true; },
    };
    made.push(decoder);
    return decoder;
  };
  const player = new Player({ frameMs: 10, decoderFactory });
  const clock = { lagMs: 0, pausedUntil: 0 };
  const out = {
    kind: 'worklet', lowMs: 20, underruns: 0, queued: 0, writes: [],
    queuedMs() { return this.queued; },
    setRatio() {}, end() {}, flush() { this.queued = 0; },
    write(pcm, captureUs) { this.writes.push({ length: pcm.length, captureUs }); this.queued += pcm.length / 48; },
    // The sample at context time t: the end of the last write, less what is queued and what
    // the context renders before t comes.
    captureAt(t) {
      const last = this.writes.at(-1);
      if (!last) return NaN;
      const renderMs = player.ctx.currentTime * 1000;
      return last.captureUs + (last.length / 48 - this.queued - (renderMs - t * 1000)) * 1000;
    },
  };
  player.ctx = {
    state: 'running', sampleRate: 48000, baseLatency: 0.003, outputLatency: 0.008,
    get currentTime() { return (nowMs - clock.lagMs) / 1000; },
    getOutputTimestamp() { return { contextTime: (nowMs - clock.lagMs - 10) / 1000, performanceTime: nowMs - 2 }; },
  };
  player.output = out;
  player.decoder = await decoderFactory({ frameMs: 10, onFrame: () => assert.fail('the 10-ms decoder is not used') });
  player.jitter = new JitterBuffer({ frameMs: 10, lowMs: out.lowMs });
  player.started = true;
  player.setFrameMs(frameMs);
  await new Promise((done) => setTimeout(done, 0));
  return { player, clock, out, made, state: { seq: 1 }, frameMs };
}

// `ms` of simulated time in 1-ms steps: a frame every frameMs; the output plays in real time
// except while clock.pausedUntil is ahead (its clock then stands still and loses that time).
async function run(env, ms) {
  const { player, clock, out, state, frameMs } = env;
  for (let t = 0; t < ms; t++) {
    nowMs += 1;
    if (clock.pausedUntil > nowMs) clock.lagMs += 1;
    else out.queued = Math.max(0, out.queued - 1);
    if (nowMs % frameMs === 0) {
      player.push({ flags: 0, seq: state.seq, captureUs: EPOCH_US + state.seq * frameMs * 1000,
                    packets: [new Uint8Array([1])] });
      state.seq += 1;
    }
    await Promise.resolve(); // decoded frames come back (microtasks)
  }
}

test('a new frame length: new decoder and jitter buffer, frames of that length, no restart', async () => {
  const env = await stubPlayer(20);
  assert.equal(env.player.frameMs, 20);
  assert.equal(env.player.jitter.frameMs, 20);
  assert.equal(env.made.length, 2);
  assert.ok(env.made[0].closed, 'the 10-ms decoder is closed');
  assert.equal(env.made[1].frameMs, 20);
  await run(env, 3000);
  assert.ok(env.made[1].decoded > 100, `decoded ${env.made[1].decoded}`);
  assert.ok(env.out.writes.every((w) => w.length === 960), 'every write is a 20-ms frame');
  const stats = env.player.stats();
  assert.equal(stats.frameMs, 20);
  assert.equal(stats.underruns, 0);
});

test('output clock pauses are counted apart from underruns, and the excess is dropped', async () => {
  const env = await stubPlayer(20);
  await run(env, 5000);
  const before = env.player.stats();
  assert.equal(before.pauses, 0, 'a steady clock has no pause');
  const bufferBefore = env.player.jitter.bufferMs;
  env.clock.pausedUntil = nowMs + 30; // the audio thread stands still for 30 ms
  await run(env, 1000);
  let stats = env.player.stats();
  assert.equal(stats.pauses, 1);
  assert.ok(Math.abs(stats.pausedMs - 30) <= 2, `paused ${stats.pausedMs} ms`);
  assert.equal(stats.underruns, before.underruns, 'a pause is not an underrun');
  assert.equal(stats.dropped, 1, 'the excess was taken back with a dropped frame');
  assert.ok(env.player.jitter.bufferMs < bufferBefore + 15, `buffer ${env.player.jitter.bufferMs} ms after the pause`);
  // Two steps 10 ms apart (the way Chromium's clock was seen to lose time) are one pause.
  env.clock.lagMs += 6;
  await run(env, 10);
  env.clock.lagMs += 23;
  await run(env, 2000);
  stats = env.player.stats();
  assert.equal(stats.pauses, 2);
  assert.ok(Math.abs(stats.pausedMs - 59) <= 2, `paused ${stats.pausedMs} ms`);
  // A blip under 5 ms that comes back is no pause.
  env.clock.lagMs += 2;
  await run(env, 10);
  env.clock.lagMs -= 2;
  await run(env, 1000);
  assert.equal(env.player.stats().pauses, 2);
  assert.equal(env.player.stats().underruns, 0);
});

test('latencyParts: network + buffer + output, from the stubs', async () => {
  const env = await stubPlayer(20);
  await run(env, 3000);
  const parts = env.player.latencyParts();
  for (const key of ['totalMs', 'networkMs', 'bufferMs', 'outputMs', 'jitterQueueMs', 'decoderMs',
                     'outputQueueMs', 'targetMs', 'jitterMs', 'outputReportedMs']) {
    assert.equal(typeof parts[key], 'number', `${key} is a number`);
  }
  assert.ok(Math.abs(parts.outputMs - 8) < 0.01, `output ${parts.outputMs}: 10 ms behind, timestamp 2 ms old`);
  assert.ok(Math.abs(parts.outputReportedMs - 11) < 0.01);
  assert.ok(Math.abs(parts.bufferMs - (parts.jitterQueueMs + parts.decoderMs + parts.outputQueueMs)) < 1e-9);
  // The newest frame (seq n) was captured at n*20 ms and is complete 20 ms later.
  const edge = performance.timeOrigin + nowMs - (EPOCH_US / 1000 + env.state.seq * 20);
  assert.ok(Math.abs(parts.networkMs - edge) < 1e-3, `network ${parts.networkMs} vs ${edge}`);
  const sum = parts.networkMs + parts.bufferMs + parts.outputMs;
  assert.ok(Math.abs(parts.totalMs - sum) < 1, `total ${parts.totalMs} vs the parts' sum ${sum}`);
  assert.equal(new Player().latencyParts(), null, 'null before start');
});

test('the stats report stays under the server limit of 512 bytes, new fields included', async () => {
  const env = await stubPlayer(20);
  const counts = env.player.jitter.counts;
  for (const key of Object.keys(counts)) counts[key] = 9999999;
  env.out.underruns = 9999999;
  env.player.clock.pauses = 9999999;
  env.player.clock.pausedMs = 99999999;
  env.player.latencyMs = 99999;
  const stats = env.player.stats();
  for (const key of ['bufferMs', 'targetMs', 'jitterMs', 'underruns', 'outputUnderruns', 'pauses',
                     'pausedMs', 'concealed', 'dropped', 'decoder', 'latencyMs', 'ratio', 'frameMs']) {
    assert.ok(key in stats, `stats has ${key}`);
  }
  const report = JSON.stringify({ type: 'stats', ...stats });
  assert.ok(report.length < 512, `${report.length} bytes: ${report}`);
});

test('splice crossfades from the dropped frame into the next: no step at the seam', () => {
  const rate = 48000;
  const tone = (phase) => Float32Array.from({ length: 960 }, (_, i) => Math.sin(2 * Math.PI * 660 * i / rate + phase));
  const previous = tone(0);
  const dropped = tone(2 * Math.PI * 660 * 960 / rate); // continues `previous`
  const next = tone(2 * Math.PI * 660 * 1920 / rate + 1.3); // 1.3 rad off (what was cut)
  const into = next.slice();
  splice(dropped, into);
  const joined = [...previous, ...into];
  const maxStep = 2 * Math.sin(Math.PI * 660 / rate) * 1.05; // a full-scale 660 Hz tone's largest step
  for (let i = 1; i < joined.length; i++) {
    assert.ok(Math.abs(joined[i] - joined[i - 1]) <= maxStep, `step ${Math.abs(joined[i] - joined[i - 1])} at ${i}`);
  }
  assert.deepEqual(into.slice(240), next.slice(240), 'after 5 ms it is the next frame');
  const unspliced = [...previous, ...next];
  assert.ok(Math.abs(unspliced[960] - unspliced[959]) > maxStep, 'without it the seam steps');
});
