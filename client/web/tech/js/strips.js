// strips.js: one strip per channel: name and id, routing (live from which booth/desk, fallback,
// forced or muted), peak/RMS meter with hold and a latching clip light, listeners, bitrate, and
// the controls (force fallback and mute, each held to confirm; the channel's QR code). The strip
// element carries data-channel and data-state; its meter canvas carries the readings (meter.js).
// Main thread only.

import { HoldToConfirm } from './confirm.js';
import { alarmTitle, kbit } from './format.js';
import { formatDb } from './levels.js';
import { Meter } from './meter.js';
import { channelState } from './model.js';

export class Strips {
  // send(msg) → bool, onQr(channel), onRefused(text): hooks into the page.
  constructor(container, template, { send, onQr, onRefused }) {
    this.container = container;
    this.template = template;
    this.send = send;
    this.onQr = onQr;
    this.onRefused = onRefused;
    this.strips = [];
  }

  build(model) {
    this.container.replaceChildren();
    this.strips = model.channels.map((channel) => this.#strip(channel, model.hello?.bitrate));
  }

  #strip(channel, bitrate) {
    const el = this.template.content.firstElementChild.cloneNode(true);
    const q = (sel) => el.querySelector(sel);
    el.dataset.channel = channel.id;
    const name = q('.name');
    name.textContent = channel.name;
    if (channel.lang) name.lang = channel.lang;
    q('.id').textContent = channel.id;
    q('.bitrate').textContent = kbit(bitrate);
    const canvas = q('canvas.meter');
    canvas.setAttribute('aria-label', `${channel.id} level`);
    const meter = new Meter(canvas, { orientation: 'vertical', scale: true });
    const strip = { channel, el, meter, forced: false, muted: false, q };
    const clip = q('.clip');
    clip.addEventListener('click', () => {
      meter.clearClip();
      clip.dataset.lit = 'false';
    });
    strip.force = new HoldToConfirm(q('.force'), () => this.#command(strip, 'force_fallback', !strip.forced));
    strip.mute = new HoldToConfirm(q('.mute'), () => this.#command(strip, 'mute', !strip.muted));
    q('.qr-button').addEventListener('click', () => this.onQr(channel));
    this.container.append(el);
    return strip;
  }

  #command(strip, type, on) {
    if (!this.send({ type, channel: strip.channel.id, on })) this.onRefused('Not connected: nothing was sent.');
  }

  setEnabled(enabled) {
    for (const s of this.strips) {
      s.force.setEnabled(enabled);
      s.mute.setEnabled(enabled);
      s.q('.force').disabled = !enabled;
      s.q('.mute').disabled = !enabled;
    }
  }

  update(model, now) {
    const nameOf = (id) => model.channelName(id);
    this.strips.forEach((s, i) => {
      const m = model.channelMeter(i);
      if (!m) return;
      s.meter.set(m.peak_dbfs, m.rms_dbfs, m.clipped, now);
      const { state, text } = channelState(m, nameOf);
      if (s.el.dataset.state !== state) s.el.dataset.state = state;
      setText(s.q('.state'), text);
      setText(s.q('.listeners'), String(m.listeners ?? '–'));
      setText(s.q('.pk'), `pk ${formatDb(s.meter.peak)}`);
      setText(s.q('.rms'), `rms ${formatDb(s.meter.rms)}`);
      s.q('.clip').dataset.lit = String(s.meter.clip.lit);
      this.#controls(s, Boolean(m.forced), Boolean(m.muted));
    });
  }

  #controls(s, forced, muted) {
    if (s.forced !== forced) {
      s.forced = forced;
      const b = s.q('.force');
      b.textContent = forced ? 'Release fallback' : 'Force fallback';
      b.setAttribute('aria-pressed', String(forced));
      b.title = forced ? 'Hold to put the interpreter back on air' : 'Hold to force this channel to its fallback';
    }
    if (s.muted !== muted) {
      s.muted = muted;
      const b = s.q('.mute');
      b.textContent = muted ? 'Unmute' : 'Mute';
      b.setAttribute('aria-pressed', String(muted));
      b.title = muted ? 'Hold to unmute this channel' : 'Hold to mute this channel';
    }
  }

  // Active alarms of each channel on its strip: a red frame and their names.
  markAlarms(alarms) {
    for (const s of this.strips) {
      const kinds = alarms.filter((a) => a.channel === s.channel.id).map((a) => alarmTitle(a.kind));
      setText(s.q('.strip-alarm'), kinds.length ? `⚠ ${kinds.join(', ')}` : '');
      if (kinds.length) s.el.dataset.alarm = kinds.join(',');
      else delete s.el.dataset.alarm;
    }
  }

  draw(now) {
    for (const s of this.strips) s.meter.draw(now);
  }
}

export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}
