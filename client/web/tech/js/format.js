// format.js: how the dashboard writes times, durations, rates and names. Pure; main thread only.

const pad = (n) => String(n).padStart(2, '0');

// ms since the epoch → local "HH:MM:SS".
export function clockTime(ms) {
  if (!Number.isFinite(ms)) return '--:--:--';
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// A duration in ms as "45 s", "3 min 05 s", "2 h 04 min".
export function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${pad(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${pad(Math.floor((s % 3600) / 60))} min`;
}

export function kbit(bps) {
  return Number.isFinite(bps) && bps > 0 ? `${Math.round(bps / 1000)} kbit/s` : '—';
}

export function ms(v) {
  return Number.isFinite(v) ? `${Math.round(v)} ms` : '—';
}

export function callText(kind) {
  return kind === 'slow_down' ? 'Slow down' : kind === 'technician' ? 'Technician' : kind;
}

export function alarmTitle(kind) {
  return {
    silence: 'Silence',
    clipping: 'Clipping',
    device_lost: 'Input device lost',
    capture_overrun: 'Capture overruns',
    encoder_late: 'Encoder late',
  }[kind] ?? kind;
}

export function where(booth, desk) {
  if (!booth) return '';
  return desk ? `${booth} · desk ${desk}` : String(booth);
}
