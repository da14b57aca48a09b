// view.js: what the booth console shows, worked out from the server's messages (welcome, booth,
// channels, levels, error) as plain data and text: no DOM, so Node tests it. booth.js puts it
// on the page. Main thread (and Node).

// Relay quality of what a channel carries (docs/protocol.md, `depth`).
export function depthInfo(depth) {
  if (depth === -1) return { key: 'loop', text: 'relay loop!' };
  if (depth === 0) return { key: 'floor', text: 'floor' };
  if (depth === 1) return { key: 'direct', text: 'interpretation' };
  if (depth === 2) return { key: 'relay', text: 'relay' };
  if (Number.isInteger(depth) && depth >= 3) return { key: 'relay2', text: `relay of a relay (${depth})` };
  return { key: 'unknown', text: '–' };
}

export function deskOf(booth, desk) {
  return booth?.desks?.find((d) => d.desk === desk) ?? null;
}

// The channel id a desk sends to ("a"/"b" → the booth's channel ids).
export function outputChannel(welcome, deskState) {
  if (!welcome || !deskState) return null;
  return deskState.output === 'b' ? welcome.b : welcome.a;
}

export function channelName(welcome, id) {
  return welcome?.channels?.find((c) => c.id === id)?.name || id;
}

// One channel's line in the indicator table. `state` is its entry of the latest `channels`.
export function channelRow(welcome, state, id) {
  const mine = Boolean(welcome && (id === welcome.a || id === welcome.b));
  const live = Boolean(state?.live);
  const engaged = live && state.booth != null && state.booth !== welcome?.booth;
  let onAir;
  if (!state) onAir = '–';
  else if (live && state.booth != null) onAir = `live: booth ${state.booth}${state.desk != null ? `, desk ${state.desk}` : ''}`;
  else if (live) onAir = id === 'floor' ? 'floor' : 'live (own source)';
  else onAir = 'not live';
  return {
    id,
    name: channelName(welcome, id),
    mine,
    which: mine ? (id === welcome.a ? 'A' : 'B') : '',
    live,
    engaged,
    onAir: engaged ? `ENGAGED — ${onAir}` : onAir,
    quality: depthInfo(state?.depth),
    listeners: Number.isFinite(state?.listeners) ? state.listeners : null,
  };
}

// Is the channel this desk would go on air on taken by another booth?
export function engagedBy(welcome, channels, id) {
  const state = channels?.get?.(id);
  if (!state?.live || state.booth == null || state.booth === welcome?.booth) return null;
  return { booth: state.booth, desk: state.desk };
}

// The handover button for desk `me`: accept a partner's request, cancel mine, or ask.
export function handoverAction(booth, me) {
  const desks = booth?.desks ?? [];
  const mine = deskOf(booth, me);
  if (!mine || desks.length < 2) return { action: null, text: 'Handover (one desk only)', enabled: false };
  const partners = desks.filter((d) => d.desk !== me);
  const asking = partners.find((d) => d.handover && (d.mic || mine.mic));
  if (asking) return { action: 'accept', text: `Accept handover from desk ${asking.desk}`, enabled: true, urgent: true };
  if (mine.handover) return { action: 'cancel', text: 'Cancel my handover request', enabled: true };
  if (mine.mic) return { action: 'request', text: 'Ask partner to take over', enabled: true };
  if (partners.some((d) => d.mic)) return { action: 'request', text: 'Ask to take over', enabled: true };
  return { action: null, text: 'Handover (nobody on air)', enabled: false };
}

// A partner desk's line.
export function partnerLine(welcome, d) {
  const parts = [d.mic ? `ON AIR → ${d.output.toUpperCase()} (${outputChannel(welcome, d)})` : 'mic off'];
  if (d.cough) parts.push('cough');
  parts.push(`hears ${channelName(welcome, d.relay)}`);
  if (d.handover) parts.push('asks for handover');
  if (d.slow_down) parts.push('slow down');
  if (d.technician) parts.push('technician called');
  return parts.join(' · ');
}

// Level meter: dBFS → fraction of the bar (-60 dBFS empty, 0 dBFS full).
export const METER_FLOOR_DB = -60;
export function meterFraction(db) {
  if (!Number.isFinite(db)) return 0;
  return Math.max(0, Math.min(1, (db - METER_FLOOR_DB) / -METER_FLOOR_DB));
}

export function formatDb(db) {
  if (!Number.isFinite(db) || db <= METER_FLOOR_DB) return '−∞';
  const v = Math.round(db);
  return `${v < 0 ? '−' : ''}${Math.abs(v)} dB`;
}

// The relay volume slider is in dB; its bottom end mutes.
export const VOLUME_MIN_DB = -40;
export const VOLUME_MAX_DB = 12;
export function volumeGain(db) {
  const v = Number(db);
  if (!Number.isFinite(v) || v <= VOLUME_MIN_DB) return 0;
  return 10 ** (Math.min(VOLUME_MAX_DB, v) / 20);
}

// Text of an error from the server, for the console's alert line.
export function errorText(msg, welcome) {
  switch (msg?.code) {
    case 'bad_pin': {
      const left = Number.isFinite(msg.attempts_left) ? ` (${msg.attempts_left} attempt${msg.attempts_left === 1 ? '' : 's'} left)` : '';
      return `Wrong PIN${left}.`;
    }
    case 'locked_out': return `Too many wrong PINs: locked out. Try again in ${Math.max(1, Math.ceil(Number(msg.retry_after) || 60))} s.`;
    case 'unknown_booth': return 'There is no booth with that name.';
    case 'engaged': return `ENGAGED: ${msg.message || 'that channel is live from another booth'}. Your microphone stays off.`;
    case 'nothing_to_hand_over': return 'Nothing to hand over: no desk of the booth is on air.';
    case 'bad_output': return `No such output channel${welcome && !welcome.b ? ' (this booth has no B channel)' : ''}.`;
    case 'unknown_channel': return `Unknown channel${msg.message ? `: ${msg.message}` : ''}.`;
    case 'bad_text': return 'The message must be 1 to 500 bytes long.';
    case 'bad_desk': return `This booth has no such desk${welcome ? ` (desks 1–${welcome.desks})` : ''}.`;
    case 'not_logged_in': return 'Not logged in: please log in again.';
    default: return `Refused${msg?.request ? ` (${msg.request})` : ''}: ${msg?.message || msg?.code || 'error'}`;
  }
}

// Connection line: `everReady` tells a first connection from a lost one.
export function connectionText({ state, retryMs }, everReady) {
  const s = Math.max(1, Math.round((retryMs || 0) / 1000));
  switch (state) {
    case 'ready': return { text: 'Connected', level: 'ok' };
    case 'waiting': return { text: `Reconnecting… (next try in ${s} s)`, level: 'bad' };
    case 'locked': return { text: `Reconnecting… locked out, next login in ${s} s`, level: 'bad' };
    case 'closed': return { text: 'Offline', level: 'bad' };
    case 'login': return { text: everReady ? 'Reconnecting… logging in' : 'Logging in…', level: everReady ? 'bad' : 'wait' };
    case 'open': return { text: everReady ? 'Reconnecting…' : 'Connected: log in', level: everReady ? 'bad' : 'wait' };
    default: return { text: everReady ? 'Reconnecting…' : 'Connecting…', level: everReady ? 'bad' : 'wait' };
  }
}

// Chat history: the server sends its last 20 lines each time; the console keeps what it has seen.
export function mergeChat(history, lines, max = 200) {
  const key = (l) => `${l.time}\u0000${l.from}\u0000${l.text}`;
  const seen = new Set(history.map(key));
  const merged = history.concat((lines ?? []).filter((l) => !seen.has(key(l))));
  merged.sort((x, y) => x.time - y.time);
  return merged.slice(-max);
}

export function chatTime(ms) {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return '';
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

export function utf8Length(text) {
  return new TextEncoder().encode(text).length;
}
