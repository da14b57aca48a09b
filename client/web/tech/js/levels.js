// levels.js: the meters' arithmetic, shared by every meter of the dashboard: dBFS values as the
// server sends them (-120 or null for silence), their position on the scale, a peak hold that
// keeps the highest peak for two seconds then falls, and a clip indicator that stays lit until
// the technician clears it. Pure (no DOM); main thread only.

export const SCALE_MIN_DB = -60; // bottom of every meter
export const SILENCE_DB = -120; // what the server reports for digital silence
export const HOLD_MS = 2000;
export const FALL_DB_PER_S = 20; // how fast a released hold sinks back to the signal
export const SCALE_MARKS = [0, -6, -12, -18, -24, -36, -48, -60];

// A number in dBFS, or -Infinity for silence and anything that is not a finite number.
export function dbValue(x) {
  if (typeof x !== 'number' || !Number.isFinite(x) || x <= SILENCE_DB) return -Infinity;
  return x;
}

// 0 at the bottom of the scale, 1 at 0 dBFS and above; linear in dB.
export function meterFraction(db, min = SCALE_MIN_DB) {
  if (!(db > min)) return 0;
  if (db >= 0) return 1;
  return (db - min) / -min;
}

export function formatDb(db) {
  if (!Number.isFinite(db)) return '−∞';
  const text = db.toFixed(1);
  return text.startsWith('-') ? `−${text.slice(1)}` : text;
}

// The highest recent peak: held HOLD_MS after it was reached, then falling at FALL_DB_PER_S
// until it meets the signal again. Times in ms from any monotonic clock.
export class PeakHold {
  constructor(holdMs = HOLD_MS, fallDbPerS = FALL_DB_PER_S) {
    this.holdMs = holdMs;
    this.fall = fallDbPerS;
    this.held = -Infinity;
    this.heldAt = 0;
    this.current = -Infinity;
  }

  update(db, now) {
    this.current = db;
    if (db >= this.value(now)) {
      this.held = db;
      this.heldAt = now;
    }
  }

  value(now) {
    const age = now - this.heldAt;
    if (age <= this.holdMs) return this.held;
    const fallen = this.held - (this.fall * (age - this.holdMs)) / 1000;
    return Math.max(this.current, fallen);
  }

  reset() {
    this.held = -Infinity;
    this.current = -Infinity;
    this.heldAt = 0;
  }
}

// Lit by any clipped report, dark again only when cleared by hand: a clip between two glances
// must still be seen. The server's `clipped` means "clipped in the last second", so a source
// that still clips lights it again right after a clear. `count` counts separate clips (rising
// edges) since the last clear.
export class ClipLatch {
  constructor() {
    this.lit = false;
    this.count = 0;
    this.since = 0;
    this.was = false;
  }

  update(clipped, now) {
    if (clipped) {
      if (!this.lit) this.since = now;
      this.lit = true;
      if (!this.was) this.count += 1;
    }
    this.was = Boolean(clipped);
  }

  clear() {
    this.lit = false;
    this.count = 0;
    this.since = 0;
  }
}

// Lengths in pixels of what a meter draws along its length: the RMS bar, the peak bar and the
// hold marker (null when there is nothing to hold).
export function meterBars({ peak, rms, hold }, length) {
  const px = (db) => Math.round(meterFraction(db) * length);
  return {
    rms: px(rms),
    peak: px(peak),
    hold: Number.isFinite(hold) && hold > SCALE_MIN_DB ? Math.min(length - 1, px(hold)) : null,
  };
}
