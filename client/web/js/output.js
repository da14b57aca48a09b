// output.js: plays decoded 48 kHz mono frames into a node of the player's graph, two ways with one
// interface: an AudioWorklet fed through its port (WorkletOutput), or AudioBufferSourceNodes
// scheduled back to back on the context clock (BufferOutput) where audioWorklet is missing (plain
// http). Both apply the jitter buffer's rate steering and fade on a flush. Main thread only.
//
// Interface: kind, lowMs (below this much queued audio a missing frame must be concealed now: it
// covers the main thread's reaction time), async init(), write(pcm, captureUs),
// queuedMs(), setRatio(r), flush(), end(), captureAt(contextTime) → µs or NaN, underruns, close().

const SOURCE_RATE = 48000;

export class WorkletOutput {
  constructor(ctx, destination, frameMs) {
    this.kind = 'worklet';
    this.ctx = ctx;
    this.destination = destination;
    this.lowMs = 20;
    this.written = 0; // samples posted to the processor
    this.flushedAt = 0; // the processor skips to here on the last flush
    this.ratio = 1;
    this.status = null; // the processor's latest {read, time, captureUs, underruns}
    this.underruns = 0;
    this.onStatus = null; // set by the player: the processor has played on, maybe top it up
    this.ended = true; // no audio since the last end(): the processor knows
  }

  async init() {
    await this.ctx.audioWorklet.addModule(new URL('./worklet.js', import.meta.url).href);
    this.node = new AudioWorkletNode(this.ctx, 'tolk-output', {
      numberOfInputs: 0,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      processorOptions: { capacity: SOURCE_RATE * 2 },
    });
    this.node.port.onmessage = (event) => {
      const msg = event.data;
      if (msg.t !== 'status') return;
      this.status = msg;
      this.underruns = msg.underruns;
      this.onStatus?.();
    };
    this.node.connect(this.destination);
  }

  write(pcm, captureUs) {
    this.ended = false;
    this.written += pcm.length; // before the transfer empties pcm
    this.node.port.postMessage({ t: 'pcm', pcm, captureUs }, [pcm.buffer]);
  }

  // Estimated from the last status, advanced by the context time since.
  queuedMs() {
    const st = this.status;
    let read = 0;
    if (st) {
      const since = Math.max(0, this.ctx.currentTime - st.time);
      read = st.read + since * SOURCE_RATE * this.ratio;
    }
    return Math.max(0, this.written - Math.max(read, this.flushedAt)) / (SOURCE_RATE / 1000);
  }

  // Quantized to 0.01 %, so the processor gets a message only when the rate really moves.
  setRatio(ratio) {
    ratio = 1 + Math.round((ratio - 1) * 1e4) / 1e4;
    if (ratio === this.ratio) return;
    this.ratio = ratio;
    this.node.port.postMessage({ t: 'rate', ratio });
  }

  flush() {
    this.flushedAt = this.written;
    this.node.port.postMessage({ t: 'flush' });
  }

  end() {
    if (this.ended) return;
    this.ended = true;
    this.node.port.postMessage({ t: 'end' });
  }

  captureAt(contextTime) {
    const st = this.status;
    if (!st || !Number.isFinite(st.captureUs)) return NaN;
    return st.captureUs + (contextTime - st.time) * 1e6 * this.ratio;
  }

  close() {
    if (!this.node) return;
    this.node.port.onmessage = null;
    this.node.disconnect();
  }
}

const START_AHEAD_S = 0.01; // where a (re)start is scheduled, past the next render quanta
const MIN_AHEAD_S = 0.003; // later than this is a gap: restart
const FADE_S = 0.008;

export class BufferOutput {
  constructor(ctx, destination, frameMs) {
    this.kind = 'buffers';
    this.ctx = ctx;
    // Scheduled from main-thread timers and socket events, ahead of the render quanta.
    this.lowMs = 40;
    this.fade = ctx.createGain();
    this.fade.connect(destination);
    this.ratio = 1;
    this.nextTime = 0; // context time where the next frame starts
    this.chunks = []; // {start, end, captureUs, ratio, source}, in time order
    this.fed = false; // a gap while fed is an underrun
    this.rampIn = true;
    this.underruns = 0;
    this.onStatus = null;
  }

  async init() {}

  write(pcm, captureUs) {
    const ctx = this.ctx;
    const now = ctx.currentTime;
    if (this.nextTime < now + MIN_AHEAD_S) {
      if (this.fed) this.underruns += 1;
      this.nextTime = now + START_AHEAD_S;
      this.rampIn = true;
    }
    if (this.rampIn) this.#rampIn(this.nextTime);
    const buffer = ctx.createBuffer(1, pcm.length, SOURCE_RATE);
    buffer.copyToChannel(pcm, 0);
    const source = ctx.createBufferSource();
    source.buffer = buffer;
    source.playbackRate.value = this.ratio;
    source.connect(this.fade);
    source.start(this.nextTime);
    const duration = pcm.length / SOURCE_RATE / this.ratio;
    this.chunks.push({ start: this.nextTime, end: this.nextTime + duration, captureUs, ratio: this.ratio, source });
    this.nextTime += duration;
    this.fed = true;
    this.#prune(now);
  }

  queuedMs() {
    return Math.max(0, this.nextTime - this.ctx.currentTime) * 1000;
  }

  setRatio(ratio) {
    this.ratio = ratio; // applies from the next frame: frames are short
  }

  // Fades out what is scheduled and stops it; the next write starts fresh with a fade-in.
  flush() {
    const now = this.ctx.currentTime;
    const gain = this.fade.gain;
    gain.cancelScheduledValues(now);
    gain.setValueAtTime(gain.value, now);
    gain.linearRampToValueAtTime(0, now + FADE_S);
    for (const chunk of this.chunks) {
      try { chunk.source.stop(now + FADE_S); } catch (error) { /* already stopped */ }
    }
    this.chunks = [];
    this.nextTime = now + FADE_S + 0.002;
    this.fed = false;
    this.rampIn = true;
  }

  end() {
    this.fed = false;
  }

  captureAt(contextTime) {
    for (const chunk of this.chunks) {
      if (contextTime >= chunk.start && contextTime < chunk.end) {
        if (!Number.isFinite(chunk.captureUs)) return NaN;
        return chunk.captureUs + (contextTime - chunk.start) * 1e6 * chunk.ratio;
      }
    }
    return NaN;
  }

  close() {
    for (const chunk of this.chunks) {
      try { chunk.source.stop(); } catch (error) { /* already stopped */ }
    }
    this.chunks = [];
    this.fade.disconnect();
  }

  #rampIn(at) {
    const gain = this.fade.gain;
    gain.cancelScheduledValues(at);
    gain.setValueAtTime(0, at);
    gain.linearRampToValueAtTime(1, at + FADE_S);
    this.rampIn = false;
  }

  // Keeps the chunks that may still be playing (latency lookups look a little into the past).
  #prune(now) {
    let drop = 0;
    while (drop < this.chunks.length && this.chunks[drop].end < now - 0.5) drop += 1;
    if (drop > 0) this.chunks.splice(0, drop);
  }
}
