// chart.js: the listeners-per-channel chart of the last hour, drawn on a canvas. The geometry
// (chartGeometry, niceMax) is pure and tested in Node; drawChart paints it. Newest point at the
// right edge, one line per channel. Main thread only.

import { HISTORY_SPAN_S } from './model.js';

export const PALETTE = ['#e6edf3', '#58a6ff', '#3fb950', '#d29922', '#f778ba', '#a371f7', '#39c5cf', '#ff7b72', '#ffa657', '#7ee787'];

// The smallest of 1, 2, 5 × 10^k that is at least v (and at least 10: a quiet hall is still a
// chart, and half of it a whole number).
export function niceMax(v) {
  const target = Math.max(10, v);
  const power = 10 ** Math.floor(Math.log10(target));
  for (const step of [1, 2, 5, 10]) if (step * power >= target) return step * power;
  return 10 * power;
}

// series: Map id → counts (oldest first, one per intervalS). Returns the plot box, the y maximum,
// its grid lines and one polyline per channel: {id, color, points: [[x, y], ...]}.
export function chartGeometry(series, { width, height, intervalS = 10, spanS = HISTORY_SPAN_S, left = 36, right = 8, top = 8, bottom = 18, colors = PALETTE, order = null } = {}) {
  const box = { x0: left, x1: width - right, y0: top, y1: height - bottom };
  const ids = order ?? [...series.keys()];
  let peak = 0;
  for (const id of ids) for (const v of series.get(id) ?? []) peak = Math.max(peak, v);
  const max = niceMax(peak);
  const w = box.x1 - box.x0;
  const h = box.y1 - box.y0;
  const lines = ids.map((id, k) => {
    const counts = series.get(id) ?? [];
    const n = counts.length;
    const points = [];
    for (let i = 0; i < n; i += 1) {
      const age = (n - 1 - i) * intervalS;
      if (age > spanS) continue;
      points.push([box.x1 - (age / spanS) * w, box.y1 - (counts[i] / max) * h]);
    }
    return { id, color: colors[k % colors.length], points };
  });
  const grid = [0, 0.5, 1].map((f) => ({ value: Math.round(max * f), y: box.y1 - f * h }));
  const ticks = [60, 45, 30, 15, 0].map((minutes) => ({ label: minutes ? `−${minutes} min` : 'now', x: box.x1 - ((minutes * 60) / spanS) * w }));
  return { box, max, grid, ticks, lines };
}

export function drawChart(canvas, series, opts = {}) {
  const ratio = globalThis.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  if (!width || !height) return null;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const g = chartGeometry(series, { ...opts, width, height });
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillStyle = '#9da7b3';
  ctx.strokeStyle = '#30363d';
  ctx.lineWidth = 1;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (const line of g.grid) {
    ctx.beginPath();
    ctx.moveTo(g.box.x0, Math.round(line.y) + 0.5);
    ctx.lineTo(g.box.x1, Math.round(line.y) + 0.5);
    ctx.stroke();
    ctx.fillText(String(line.value), g.box.x0 - 4, line.y);
  }
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (const tick of g.ticks) ctx.fillText(tick.label, Math.min(Math.max(tick.x, g.box.x0 + 16), g.box.x1 - 12), g.box.y1 + 4);
  ctx.lineWidth = 2;
  ctx.lineJoin = 'round';
  for (const line of g.lines) {
    if (line.points.length === 0) continue;
    ctx.strokeStyle = line.color;
    ctx.beginPath();
    line.points.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    if (line.points.length === 1) ctx.lineTo(line.points[0][0] - 2, line.points[0][1]);
    ctx.stroke();
  }
  return g;
}
