// meter.js: one level meter on a canvas: RMS (solid) and peak (lighter) bars in dBFS on a -60..0
// scale, a peak-hold marker (held 2 s, then falling) and a clip state that latches until
// cleared. It writes what it draws onto its host element as data attributes (data-peak-dbfs,
// data-rms-dbfs, data-hold-dbfs, data-clip, data-updates) so tests and screen readers can read
// the same reading the eye does. Main thread only.

import { ClipLatch, PeakHold, SCALE_MARKS, SCALE_MIN_DB, dbValue, formatDb, meterBars, meterFraction } from './levels.js';

const BG = '#0a0d12';
const TRACK = '#161b22';
const COLORS = { ok: '#2ea043', hot: '#d29922', over: '#f85149' };
const PEAK_ALPHA = 0.45;

function attr(db) {
  return Number.isFinite(db) ? db.toFixed(1) : '-inf';
}

export class Meter {
  // orientation: 'vertical' (channel strips) or 'horizontal' (inputs, desks).
  // host: the element that gets the data attributes and the aria values.
  constructor(canvas, { orientation = 'vertical', host = canvas, scale = false } = {}) {
    this.canvas = canvas;
    this.orientation = orientation;
    this.host = host;
    this.scale = scale;
    this.hold = new PeakHold();
    this.clip = new ClipLatch();
    this.peak = -Infinity;
    this.rms = -Infinity;
    this.updates = 0;
    this.drawn = null;
  }

  // One `meters` reading (dBFS as sent: numbers, -120 or null for silence).
  set(peakDbfs, rmsDbfs, clipped, now) {
    this.peak = dbValue(peakDbfs);
    this.rms = dbValue(rmsDbfs);
    this.hold.update(this.peak, now);
    this.clip.update(Boolean(clipped), now);
    this.updates += 1;
    const d = this.host.dataset;
    d.peakDbfs = attr(this.peak);
    d.rmsDbfs = attr(this.rms);
    d.clip = String(this.clip.lit);
    d.updates = String(this.updates);
    this.host.setAttribute('aria-valuenow', String(Math.round(Math.max(SCALE_MIN_DB, Number.isFinite(this.peak) ? this.peak : SCALE_MIN_DB))));
    this.host.setAttribute('aria-valuetext', `peak ${formatDb(this.peak)} dBFS, RMS ${formatDb(this.rms)} dBFS`);
  }

  clearClip() {
    this.clip.clear();
    this.host.dataset.clip = 'false';
  }

  reset() {
    this.hold.reset();
    this.clip.clear();
    this.peak = this.rms = -Infinity;
  }

  draw(now) {
    const canvas = this.canvas;
    const ratio = globalThis.devicePixelRatio || 1;
    const cssW = canvas.clientWidth;
    const cssH = canvas.clientHeight;
    if (!cssW || !cssH) return;
    const w = Math.round(cssW * ratio);
    const h = Math.round(cssH * ratio);
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w;
      canvas.height = h;
    }
    const ctx = canvas.getContext('2d');
    const vertical = this.orientation === 'vertical';
    const length = vertical ? h : w;
    const across = vertical ? w : h;
    const hold = this.hold.value(now);
    const bars = meterBars({ peak: this.peak, rms: this.rms, hold }, length);
    this.host.dataset.holdDbfs = attr(hold);
    ctx.fillStyle = BG;
    ctx.fillRect(0, 0, w, h);
    const scaleW = this.scale && vertical ? Math.round(22 * ratio) : 0;
    const barAcross = across - scaleW;
    // rect(from, to) along the length, (a0, a1) across it; the length grows up or to the right.
    const rect = (from, to, a0, a1) => {
      if (to <= from) return;
      if (vertical) ctx.fillRect(scaleW + a0, h - to, a1 - a0, to - from);
      else ctx.fillRect(from, a0, to - from, a1 - a0);
    };
    ctx.fillStyle = TRACK;
    rect(0, length, 0, barAcross);
    const zone = (db) => Math.round(meterFraction(db) * length);
    const paint = (upto, a0, a1, alpha) => {
      ctx.globalAlpha = alpha;
      ctx.fillStyle = COLORS.ok;
      rect(0, Math.min(upto, zone(-18)), a0, a1);
      ctx.fillStyle = COLORS.hot;
      rect(zone(-18), Math.min(upto, zone(-6)), a0, a1);
      ctx.fillStyle = COLORS.over;
      rect(zone(-6), upto, a0, a1);
      ctx.globalAlpha = 1;
    };
    paint(bars.peak, 0, barAcross, PEAK_ALPHA);
    const inset = Math.round(barAcross * 0.2);
    paint(bars.rms, inset, barAcross - inset, 1);
    if (bars.hold !== null) {
      ctx.fillStyle = hold >= -1 ? COLORS.over : '#f0f6fc';
      const t = Math.max(1, Math.round(2 * ratio));
      rect(Math.max(0, bars.hold - t + 1), bars.hold + 1, 0, barAcross);
    }
    if (scaleW) this.#drawScale(ctx, scaleW, h, ratio);
    this.drawn = bars;
  }

  #drawScale(ctx, scaleW, h, ratio) {
    ctx.fillStyle = '#9da7b3';
    ctx.font = `${Math.round(10 * ratio)}px system-ui, sans-serif`;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (const mark of SCALE_MARKS) {
      const y = h - meterFraction(mark) * h;
      const yy = Math.min(h - 5 * ratio, Math.max(5 * ratio, y));
      ctx.fillText(String(mark), scaleW - 4 * ratio, yy);
      ctx.fillRect(scaleW - 3 * ratio, Math.round(y) - (mark === SCALE_MIN_DB ? ratio : 0), 3 * ratio, ratio);
    }
  }
}
