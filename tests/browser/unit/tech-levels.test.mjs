// Tests of the technician dashboard's meter arithmetic (client/web/tech/js/levels.js) and chart
// geometry (chart.js) in Node: dBFS values, scale positions, the 2 s peak hold and its fall, the
// latching clip light, and where the listeners chart puts its points.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ClipLatch, HOLD_MS, PeakHold, SCALE_MIN_DB, dbValue, formatDb, meterBars, meterFraction,
} from '../../../client/web/tech/js/levels.js';
import { chartGeometry, niceMax } from '../../../client/web/tech/js/chart.js';

test('dbValue: silence, null and junk read as -Infinity', () => {
  assert.equal(dbValue(-12.5), -12.5);
  assert.equal(dbValue(0), 0);
  assert.equal(dbValue(-120), -Infinity);
  assert.equal(dbValue(-200), -Infinity);
  assert.equal(dbValue(null), -Infinity);
  assert.equal(dbValue(undefined), -Infinity);
  assert.equal(dbValue('-3'), -Infinity);
  assert.equal(dbValue(NaN), -Infinity);
});

test('meterFraction is linear in dB from the bottom of the scale to 0 dBFS', () => {
  assert.equal(meterFraction(-Infinity), 0);
  assert.equal(meterFraction(SCALE_MIN_DB - 5), 0);
  assert.equal(meterFraction(SCALE_MIN_DB), 0);
  assert.equal(meterFraction(-30), 0.5);
  assert.equal(meterFraction(-12), 0.8);
  assert.equal(meterFraction(0), 1);
  assert.equal(meterFraction(3), 1);
});

test('formatDb', () => {
  assert.equal(formatDb(-Infinity), '−∞');
  assert.equal(formatDb(-12.04), '−12.0');
  assert.equal(formatDb(0.5), '0.5');
});

test('meterBars: pixel lengths along the meter', () => {
  assert.deepEqual(meterBars({ peak: -12, rms: -15, hold: -12 }, 200), { peak: 160, rms: 150, hold: 160 });
  assert.deepEqual(meterBars({ peak: -Infinity, rms: -Infinity, hold: -Infinity }, 200), { peak: 0, rms: 0, hold: null });
  assert.equal(meterBars({ peak: 0, rms: 0, hold: 0 }, 200).hold, 199, 'the hold marker stays inside the canvas');
});

test('PeakHold keeps the highest peak for 2 s, then falls to the signal', () => {
  const hold = new PeakHold(HOLD_MS, 20);
  hold.update(-6, 0);
  hold.update(-20, 100);
  assert.equal(hold.value(100), -6);
  assert.equal(hold.value(2000), -6);
  hold.update(-20, 2000);
  assert.equal(hold.value(2500), -6 - 20 * 0.5, 'falls at 20 dB/s after the hold time');
  assert.equal(hold.value(10_000), -20, 'never below the signal');
  hold.update(-10, 10_000);
  assert.equal(hold.value(10_500), -10, 'a new peak above the falling hold is held again');
  hold.update(-3, 10_600);
  assert.equal(hold.value(12_000), -3, 'a higher peak replaces the hold at once');
});

test('ClipLatch stays lit until cleared and counts separate clips', () => {
  const clip = new ClipLatch();
  clip.update(false, 0);
  assert.equal(clip.lit, false);
  clip.update(true, 10);
  clip.update(true, 20);
  clip.update(false, 30);
  assert.equal(clip.lit, true);
  assert.equal(clip.count, 1, 'one clip held over two readings is one');
  clip.update(true, 40);
  assert.equal(clip.count, 2);
  assert.equal(clip.since, 10);
  clip.clear();
  assert.equal(clip.lit, false);
  assert.equal(clip.count, 0);
  clip.update(false, 50);
  assert.equal(clip.lit, false);
  clip.update(true, 60);
  assert.equal(clip.lit, true, 'a source that still clips lights it again');
  assert.equal(clip.since, 60);
});

test('niceMax rounds up to 1, 2, 5 × 10^k, at least 10', () => {
  assert.equal(niceMax(0), 10);
  assert.equal(niceMax(5), 10);
  assert.equal(niceMax(10), 10);
  assert.equal(niceMax(11), 20);
  assert.equal(niceMax(180), 200);
  assert.equal(niceMax(201), 500);
  assert.equal(niceMax(4999), 5000);
});

test('chartGeometry: newest point at the right edge, an hour across, counts up the y axis', () => {
  const series = new Map([['floor', [0, 10, 20]], ['fr', new Array(400).fill(40)]]);
  const g = chartGeometry(series, { width: 436, height: 126, intervalS: 10, left: 36, right: 0, top: 0, bottom: 26 });
  assert.equal(g.max, 50);
  const floor = g.lines.find((l) => l.id === 'floor');
  assert.equal(floor.points.length, 3);
  assert.deepEqual(floor.points[2], [436, 100 - (20 / 50) * 100]);
  assert.deepEqual(floor.points[0], [436 - (20 / 3600) * 400, 100]);
  const fr = g.lines.find((l) => l.id === 'fr');
  assert.equal(fr.points.length, 361, 'points older than an hour are left out');
  assert.equal(fr.points[0][0], 36);
  assert.notEqual(floor.color, fr.color);
  assert.deepEqual(g.grid.map((x) => x.value), [0, 25, 50]);
});
