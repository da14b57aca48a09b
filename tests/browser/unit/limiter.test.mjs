// Tests of the booth console's hearing-protection chain (client/web/js/booth/limiter.js) in Node:
// signals 20 dB above the ceilings, fed in frames of several sizes, never give a sample above the
// peak ceiling; the one-second RMS settles at or under the average ceiling; quiet signals come out
// bit for bit (delayed by the look-ahead); no NaN; bass and treble move the right band.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  RelayChain, Shelf, SAMPLE_RATE, BASS_HZ, TREBLE_HZ, dbToGain, gainToDb,
} from '../../../client/web/js/booth/limiter.js';

const SR = SAMPLE_RATE;

// Deterministic noise (xorshift32), uniform in [-1, 1).
function noise(seed = 1) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 2147483648 - 1;
  };
}

function sine(hz, peak, seconds, phase = 0) {
  const out = new Float32Array(Math.round(seconds * SR));
  for (let i = 0; i < out.length; i++) out[i] = peak * Math.sin((2 * Math.PI * hz * i) / SR + phase);
  return out;
}

// Runs `input` through `chain` in frames of `frame` samples (the last one shorter); returns a copy.
function run(chain, input, frame = 960) {
  const out = Float32Array.from(input);
  for (let at = 0; at < out.length; at += frame) chain.process(out.subarray(at, Math.min(out.length, at + frame)));
  return out;
}

function maxAbs(x, from = 0, to = x.length) {
  let m = 0;
  for (let i = from; i < to; i++) m = Math.max(m, Math.abs(x[i]));
  return m;
}

function rmsDb(x, from = 0, to = x.length) {
  let sum = 0;
  for (let i = from; i < to; i++) sum += x[i] * x[i];
  return 10 * Math.log10(sum / (to - from));
}

function assertFinite(x, what) {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) assert.fail(`${what}: sample ${i} is ${x[i]}`);
}

// Hot test signals, each `hot` (linear peak) loud: a tone, noise, speech-like bursts (noise under a
// 4 Hz syllable envelope), a square wave, lone full-scale clicks after silence, a sweep.
function hotSignals(hot, seconds) {
  const n = Math.round(seconds * SR);
  const rnd = noise(7);
  const signals = {
    tone: sine(440, hot, seconds),
    noise: Float32Array.from({ length: n }, () => hot * rnd()),
    bursts: Float32Array.from({ length: n }, (_, i) => hot * rnd() * Math.max(0, Math.sin((2 * Math.PI * 4 * i) / SR)) ** 2),
    square: Float32Array.from({ length: n }, (_, i) => ((Math.floor((i * 2 * 150) / SR) & 1) ? hot : -hot)),
    clicks: Float32Array.from({ length: n }, (_, i) => (i % 12000 === 5000 ? hot : i % 12000 === 5001 ? -hot : 0)),
    sweep: Float32Array.from({ length: n }, (_, i) => hot * Math.sin(2 * Math.PI * (30 * i / SR + (8000 * i * i) / (2 * n * SR)))),
  };
  return signals;
}

test('a signal 20 dB above the peak ceiling never gives a sample above it', () => {
  for (const peakDbfs of [-6, -26, -32]) {
    const ceiling = dbToGain(peakDbfs);
    const hot = dbToGain(peakDbfs + 20);
    for (const [name, signal] of Object.entries(hotSignals(hot, 2))) {
      for (const frame of [960, 480, 128, 1, 1237]) {
        const chain = new RelayChain({ peakDbfs, averageDbfs: 0 });
        const out = run(chain, signal, frame);
        assertFinite(out, name);
        const peak = maxAbs(out);
        assert.ok(peak <= ceiling, `${name} at ${peakDbfs} dBFS in frames of ${frame}: peak ${gainToDb(peak).toFixed(4)} dBFS`);
        // The smooth gain reduction did it: the final clamp only ever cut rounding (no clipping).
        assert.equal(chain.clamped, 0, `${name} at ${peakDbfs} dBFS in frames of ${frame}: ${chain.clamped} samples clipped`);
        // Limited, not muted: the sound is still there right under the ceiling.
        assert.ok(peak > ceiling * dbToGain(-1), `${name}: peak ${gainToDb(peak).toFixed(2)} dBFS, far under the ceiling`);
      }
    }
  }
});

test('the peak ceiling also holds with the average stage, EQ boost and full volume', () => {
  const peakDbfs = -26;
  const ceiling = dbToGain(peakDbfs);
  for (const [name, signal] of Object.entries(hotSignals(dbToGain(peakDbfs + 20), 3))) {
    const chain = new RelayChain({ peakDbfs, averageDbfs: -29 });
    chain.setVolume(4);
    chain.setBass(12);
    chain.setTreble(12);
    const out = run(chain, signal, 960);
    assertFinite(out, name);
    assert.ok(maxAbs(out) <= ceiling, `${name}: peak ${gainToDb(maxAbs(out)).toFixed(4)} dBFS`);
    assert.equal(chain.clamped, 0, `${name}: ${chain.clamped} samples clipped`);
  }
});

test('a tone 20 dB above the average ceiling settles at or under it, and not far under', () => {
  // Peak ceiling -26 dBFS, average -29 dBFS; the tone peaks at -6 dBFS (RMS -9 dBFS): 20 dB above both.
  const chain = new RelayChain({ peakDbfs: -26, averageDbfs: -29, averageMs: 1000 });
  const out = run(chain, sine(440, dbToGain(-6), 6), 960);
  assert.ok(maxAbs(out) <= dbToGain(-26));
  for (let t = 2; t + 1 <= 6; t += 0.25) {
    const level = rmsDb(out, Math.round(t * SR), Math.round((t + 1) * SR));
    assert.ok(level <= -29, `RMS over ${t}..${t + 1} s is ${level.toFixed(3)} dBFS, above -29`);
    assert.ok(level >= -31, `RMS over ${t}..${t + 1} s is ${level.toFixed(3)} dBFS: the stage over-corrects`);
  }
  assert.ok(chain.averageLevelDb > -15, 'the detector measures the input side');
  assert.ok(chain.reductionDb < -19, `reduction ${chain.reductionDb} dB`);
});

test('noise and speech-like bursts settle under the average ceiling (defaults -6/-20 dBFS, 20 dB hot)', () => {
  const hot = hotSignals(dbToGain(-6 + 20), 8);
  for (const name of ['noise', 'bursts', 'sweep']) {
    const chain = new RelayChain({ peakDbfs: -6, averageDbfs: -20, averageMs: 1000 });
    const out = run(chain, hot[name], 960);
    assertFinite(out, name);
    assert.ok(maxAbs(out) <= dbToGain(-6), `${name}: peak ${gainToDb(maxAbs(out))}`);
    for (let t = 3; t + 1 <= 8; t += 0.5) {
      const level = rmsDb(out, Math.round(t * SR), Math.round((t + 1) * SR));
      assert.ok(level <= -20, `${name}: RMS over ${t}..${t + 1} s is ${level.toFixed(3)} dBFS`);
    }
  }
});

test('after the hot part, a normal level comes back up (slow release), still under both ceilings', () => {
  const chain = new RelayChain({ peakDbfs: -6, averageDbfs: -20 });
  run(chain, sine(440, dbToGain(14), 2));
  const out = run(chain, sine(440, dbToGain(-30), 8));
  assert.ok(maxAbs(out) <= dbToGain(-6));
  const tail = maxAbs(out, 6 * SR, 8 * SR);
  assert.ok(Math.abs(gainToDb(tail) + 30) < 0.1, `the quiet tone came back to ${gainToDb(tail)} dBFS, not -30`);
});

test('quiet signals pass unchanged, delayed by the look-ahead', () => {
  const chain = new RelayChain({ peakDbfs: -6, averageDbfs: -20 });
  assert.ok(chain.latency > 0 && chain.latency < 0.005 * SR, `latency ${chain.latency} samples`);
  const rnd = noise(3);
  // A tone at -30 dBFS peak and noise under -26 dBFS RMS, 3 s: under both ceilings all along.
  const input = Float32Array.from({ length: 3 * SR }, (_, i) => 0.0316 * Math.sin((2 * Math.PI * 523 * i) / SR) + 0.05 * rnd() * 0.3);
  assert.ok(rmsDb(input) < -20 && maxAbs(input) < dbToGain(-6));
  const out = run(chain, input, 960);
  const d = chain.latency;
  for (let i = 0; i < d; i++) assert.equal(out[i], 0);
  for (let i = d; i < out.length; i++) {
    if (out[i] !== input[i - d]) assert.fail(`sample ${i}: ${out[i]} != ${input[i - d]}`);
  }
  assert.equal(chain.reductionDb, 0);
});

test('NaN and infinities in the input give silence there and nothing worse after', () => {
  const chain = new RelayChain({ peakDbfs: -6, averageDbfs: -20 });
  chain.setBass(6);
  chain.setTreble(-6);
  const input = sine(440, 0.05, 1);
  input[1000] = NaN;
  input[2000] = Infinity;
  input[3000] = -Infinity;
  input.fill(NaN, 10000, 10960);
  const out = run(chain, input, 480);
  assertFinite(out, 'output');
  assert.ok(maxAbs(out) <= dbToGain(-6));
  const tail = maxAbs(out, SR / 2, SR);
  assert.ok(tail > 0.04, `the tone is back after the bad samples (${tail})`);
  const silent = run(new RelayChain(), new Float32Array(4800));
  assert.equal(maxAbs(silent), 0);
});

test('volume scales before the limiter', () => {
  const chain = new RelayChain({ peakDbfs: -6, averageDbfs: -20 });
  chain.setVolume(0.5);
  const out = run(chain, sine(440, 0.02, 1));
  assert.ok(Math.abs(gainToDb(maxAbs(out, SR / 2)) - gainToDb(0.01)) < 0.05);
  chain.setVolume(0);
  const muted = run(chain, sine(440, 0.02, 0.5));
  assert.ok(maxAbs(muted, SR / 4) < 1e-6);
});

// RMS gain of the chain for a quiet tone at hz, dB.
function toneGainDb(chain, hz) {
  const input = sine(hz, 0.01, 1.5);
  const out = run(chain, input);
  return rmsDb(out, SR / 2, SR + SR / 2 - 1) - rmsDb(input, SR / 2, SR + SR / 2 - 1);
}

test('bass boosts and cuts the low band only, treble the high band only', () => {
  const cases = [
    { bass: 12, treble: 0, low: 12, high: 0 },
    { bass: -12, treble: 0, low: -12, high: 0 },
    { bass: 0, treble: 12, low: 0, high: 12 },
    { bass: 0, treble: -12, low: 0, high: -12 },
    { bass: 6, treble: -6, low: 6, high: -6 },
  ];
  for (const c of cases) {
    const fresh = () => {
      const chain = new RelayChain({ peakDbfs: 0, averageDbfs: 0 });
      chain.setBass(c.bass);
      chain.setTreble(c.treble);
      return chain;
    };
    const low = toneGainDb(fresh(), 40);
    const mid = toneGainDb(fresh(), 1000);
    const high = toneGainDb(fresh(), 16000);
    const tag = `bass ${c.bass} treble ${c.treble}`;
    assert.ok(Math.abs(low - c.low) < 0.6, `${tag}: 40 Hz ${low.toFixed(2)} dB, want ${c.low}`);
    assert.ok(Math.abs(high - c.high) < 0.6, `${tag}: 16 kHz ${high.toFixed(2)} dB, want ${c.high}`);
    assert.ok(Math.abs(mid) < 1.5, `${tag}: 1 kHz ${mid.toFixed(2)} dB, should stay near 0`);
  }
});

test('the shelves are half way at their corner frequencies and clamp to ±12 dB', () => {
  const bass = new Shelf('low', BASS_HZ);
  bass.setGain(12);
  assert.ok(Math.abs(bass.responseDb(BASS_HZ) - 6) < 0.1, `bass at ${BASS_HZ} Hz: ${bass.responseDb(BASS_HZ)}`);
  const treble = new Shelf('high', TREBLE_HZ);
  treble.setGain(-12);
  assert.ok(Math.abs(treble.responseDb(TREBLE_HZ) + 6) < 0.1, `treble at ${TREBLE_HZ} Hz: ${treble.responseDb(TREBLE_HZ)}`);
  treble.setGain(40);
  assert.equal(treble.db, 12);
  treble.setGain('x');
  assert.equal(treble.db, 0);
  assert.equal(treble.responseDb(10000), 0);
});

test('a lower ceiling from the server applies at once', () => {
  const chain = new RelayChain({ peakDbfs: -6, averageDbfs: -20 });
  const signal = sine(440, dbToGain(-3), 2);
  run(chain, signal.subarray(0, SR));
  chain.configure({ peakDbfs: -30, averageDbfs: -40, averageMs: 500 });
  const out = run(chain, signal.subarray(SR));
  assert.ok(maxAbs(out) <= dbToGain(-30), `peak ${gainToDb(maxAbs(out))} after the change`);
  assert.ok(rmsDb(out, SR / 2) <= -40, `RMS ${rmsDb(out, SR / 2)} after the change`);
});
