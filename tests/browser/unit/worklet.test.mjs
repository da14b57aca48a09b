// Tests of the listener's AudioWorkletProcessor (client/web/js/worklet.js) in node: the worklet
// globals are stubbed, the processor is fed through its port and run quantum by quantum.
import { test } from 'node:test';
import assert from 'node:assert/strict';

const registered = {};
globalThis.sampleRate = 48000;
globalThis.currentTime = 0;
globalThis.AudioWorkletProcessor = class {
  constructor() {
    this.port = { posted: [], onmessage: null, postMessage(msg) { this.posted.push(msg); } };
  }
};
globalThis.registerProcessor = (name, cls) => { registered[name] = cls; };
await import('../../../client/web/js/worklet.js');

const QUANTUM = 128;

function make() {
  const Processor = registered['tolk-output'];
  assert.ok(Processor, 'registered as tolk-output');
  const p = new Processor({ processorOptions: { capacity: 48000 } });
  const send = (data) => p.port.onmessage({ data });
  const run = (quanta) => {
    const out = [];
    for (let q = 0; q < quanta; q++) {
      const block = new Float32Array(QUANTUM);
      assert.equal(p.process([], [[block]]), true);
      out.push(...block);
      globalThis.currentTime += QUANTUM / 48000;
    }
    return out;
  };
  return { p, send, run };
}

const ramp = (n, from = 0) => Float32Array.from({ length: n }, (_, i) => ((from + i) % 1000) / 1000);

test('plays what it is fed, in order, at rate 1', () => {
  const { send, run } = make();
  send({ t: 'pcm', pcm: ramp(960), captureUs: 1e15 });
  send({ t: 'pcm', pcm: ramp(960, 960), captureUs: 1e15 + 20000 });
  const out = run(14); // 1792 samples
  for (let i = 0; i < out.length; i++) assert.ok(Math.abs(out[i] - (i % 1000) / 1000) < 1e-6, `sample ${i}`);
});

test('steering consumes 0.5 % faster and interpolates', () => {
  const { p, send, run } = make();
  send({ t: 'pcm', pcm: ramp(4800), captureUs: 1e15 });
  send({ t: 'rate', ratio: 1.005 });
  const out = run(20);
  assert.ok(Math.abs(p.read - 20 * QUANTUM * 1.005) < 1e-6);
  assert.ok(Math.abs(out[200] - (200 * 1.005) / 1000) < 1e-4, 'linear interpolation between samples');
});

test('a dry ring is one underrun per episode, decays instead of clicking, none after end', () => {
  const { p, send, run } = make();
  send({ t: 'pcm', pcm: new Float32Array(300).fill(0.5), captureUs: 1e15 });
  const out = run(4);
  assert.equal(p.underruns, 1);
  assert.ok(out[310] > 0 && out[310] < 0.5, 'held value decays');
  assert.ok(Math.abs(out[511]) < Math.abs(out[310]));
  send({ t: 'pcm', pcm: new Float32Array(300).fill(0.5), captureUs: 1e15 });
  const resumed = run(1);
  assert.ok(resumed[0] < 0.1, 'fades back in');
  run(4);
  assert.equal(p.underruns, 2);
  send({ t: 'pcm', pcm: new Float32Array(100), captureUs: 1e15 });
  send({ t: 'end' });
  run(4);
  assert.equal(p.underruns, 2, 'the stream ended: running dry is no underrun');
});

test('flush fades out within 5 ms and skips what was queued before it', () => {
  const { send, run } = make();
  send({ t: 'pcm', pcm: new Float32Array(4800).fill(0.8), captureUs: 1e15 });
  run(2);
  send({ t: 'flush' });
  send({ t: 'pcm', pcm: new Float32Array(4800).fill(-0.3), captureUs: 2e15 });
  const out = run(6);
  assert.ok(out[0] < 0.8 && out[0] > 0.7, 'fading');
  assert.ok(out.slice(0, 240).every((v, i) => i === 0 || v <= out[i - 1] + 1e-9), 'monotonic fade-out');
  assert.ok(out.slice(240).every((v) => v <= 0), 'old audio skipped after the fade');
  assert.ok(Math.abs(out.at(-1) + 0.3) < 1e-6, 'new audio at full level after the fade-in');
});

test('reports playout position and the capture time there', () => {
  const { p, send, run } = make();
  send({ t: 'pcm', pcm: new Float32Array(960), captureUs: 1e15 });
  send({ t: 'pcm', pcm: new Float32Array(960), captureUs: 1e15 + 20000 });
  run(8);
  const status = p.port.posted.find((m) => m.t === 'status');
  assert.ok(status, 'a status message after 8 quanta');
  assert.equal(status.read, 1024);
  assert.ok(Math.abs(status.captureUs - (1e15 + 20000 + ((1024 - 960) * 1e6) / 48000)) < 1);
  assert.ok(Math.abs(status.time - globalThis.currentTime) < 1e-9, 'plays at the end of that quantum');
});
