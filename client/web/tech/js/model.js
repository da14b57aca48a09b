// model.js: what the dashboard knows, built from the tech protocol's messages (docs/protocol.md,
// "tech protocol, version 1"): apply() takes one server message and says what changed, the page
// redraws only that. Pure (no DOM, no socket); main thread only.

export const EVENT_KINDS = ['mic', 'cough', 'output', 'relay', 'handover', 'call', 'chat', 'login', 'alarm', 'control'];
export const MAX_EVENTS = 500;
export const HISTORY_SPAN_S = 3600;

function list(x) {
  return Array.isArray(x) ? x : [];
}

export class TechModel {
  constructor() {
    this.reset();
  }

  reset() {
    this.hello = null;
    this.channels = []; // from hello: {id, name, lang, url}
    this.booths = new Map(); // id → {id, name, a, b, deskCount, desks: [], chat: []}
    this.meters = null; // the last `meters` message
    this.status = null; // the last `status` message
    this.history = { intervalS: 10, series: new Map() }; // id → counts, oldest first
    this.events = []; // newest first, unique seq
    this.alarms = [];
    this.newAlarms = []; // alarms of the last `alarms` message that were not active before
  }

  // Returns the name of what changed ('hello', 'meters', ...), or null for a message it ignores.
  apply(msg) {
    switch (msg?.type) {
      case 'hello': this.#hello(msg); return 'hello';
      case 'meters': this.meters = msg; return 'meters';
      case 'status': this.status = msg; return 'status';
      case 'history': this.#history(msg); return 'history';
      case 'events': this.#events(list(msg.events)); return 'events';
      case 'alarms': this.#alarms(list(msg.alarms)); return 'alarms';
      case 'booths': this.#booths(list(msg.booths)); return 'booths';
      // The server as built sends one booth per message: {type: 'booth', booth: id, desks, chat}.
      case 'booth': this.#booths([{ id: msg.booth, desks: msg.desks, chat: msg.chat }]); return 'booths';
      case 'error': return 'error';
      default: return null;
    }
  }

  channelIndex(id) {
    return this.channels.findIndex((c) => c.id === id);
  }

  channelName(id) {
    return this.channels.find((c) => c.id === id)?.name ?? id;
  }

  // The meters entry of channel i, or null before the first `meters`.
  channelMeter(i) {
    return this.meters?.channels?.[i] ?? null;
  }

  deskMeter(booth, desk) {
    return list(this.meters?.desks).find((d) => d.booth === booth && d.desk === desk) ?? null;
  }

  // A new server (or a restarted one) starts again from its hello: sequence numbers restart.
  #hello(msg) {
    this.reset();
    this.hello = msg;
    this.channels = list(msg.channels).map((c) => ({ id: String(c.id), name: c.name ?? c.id, lang: c.lang ?? '', url: c.url ?? '' }));
    for (const b of list(msg.booths)) {
      this.booths.set(b.id, { id: b.id, name: b.name ?? b.id, a: b.a ?? null, b: b.b ?? null, deskCount: b.desks ?? 0, desks: [], chat: [] });
    }
  }

  // Three shapes: protocol.md's {channels: {id: [counts]}} (whole, or append: true with the
  // newest point), and the server's {channel: id, points: [counts]} (one channel's whole
  // history) and {append: true, points: {id: count}}.
  #history(msg) {
    const intervalS = msg.interval_s > 0 ? msg.interval_s : this.history.intervalS;
    if (intervalS !== this.history.intervalS) this.history = { intervalS, series: new Map() };
    if (typeof msg.channel === 'string' && Array.isArray(msg.points)) {
      this.#historyPut(msg.channel, msg.points, false);
      return;
    }
    const perChannel = msg.channels ?? msg.points ?? {};
    if (!msg.append) this.history.series = new Map();
    for (const [id, counts] of Object.entries(perChannel)) this.#historyPut(id, Array.isArray(counts) ? counts : [counts], msg.append);
  }

  #historyPut(id, counts, append) {
    const keep = Math.max(1, Math.round(HISTORY_SPAN_S / this.history.intervalS));
    const old = append ? this.history.series.get(id) ?? [] : [];
    const joined = old.concat(counts.map((n) => (Number.isFinite(n) ? n : 0)));
    this.history.series.set(id, joined.length > keep ? joined.slice(joined.length - keep) : joined);
  }

  #events(incoming) {
    const seen = new Set(this.events.map((e) => e.seq));
    const fresh = incoming.filter((e) => Number.isFinite(e?.seq) && !seen.has(e.seq));
    if (fresh.length === 0) return;
    this.events = fresh.concat(this.events).sort((a, b) => b.seq - a.seq).slice(0, MAX_EVENTS);
  }

  #alarms(alarms) {
    const before = new Set(this.alarms.map((a) => a.id));
    this.alarms = alarms;
    this.newAlarms = alarms.filter((a) => !before.has(a.id));
  }

  #booths(updates) {
    for (const u of updates) {
      const booth = this.booths.get(u.id) ?? { id: u.id, name: u.id, a: null, b: null, deskCount: 0, desks: [], chat: [] };
      booth.desks = list(u.desks);
      booth.chat = list(u.chat);
      if (!booth.deskCount) booth.deskCount = booth.desks.length;
      this.booths.set(u.id, booth);
    }
  }
}

// The events a filter shows: `kind` '' shows all.
export function filterEvents(events, kind) {
  return kind ? events.filter((e) => e.kind === kind) : events;
}

// What a channel strip says about its routing, from its `meters` entry.
// state: live | fallback | forced | muted | unknown; text: the line under the name.
export function channelState(m, nameOf = (id) => id) {
  if (!m) return { state: 'unknown', text: 'waiting for data' };
  const where = m.booth ? `booth ${m.booth}${m.desk ? ` · desk ${m.desk}` : ''}` : '';
  const carried = m.carrying ? `→ ${nameOf(m.carrying)}` : '→ silence';
  if (m.muted) return { state: 'muted', text: 'MUTED by technician' };
  if (m.forced) return { state: 'forced', text: `FORCED fallback ${carried}` };
  if (m.live) return { state: 'live', text: where ? `LIVE · ${where}` : 'LIVE · own source' };
  return { state: 'fallback', text: `fallback ${carried}` };
}

// Desks of a booth that are on air, as [{desk, channel}] (channel: the id its output goes to).
export function desksOnAir(booth) {
  return list(booth?.desks).filter((d) => d.mic).map((d) => ({
    desk: d.desk,
    channel: d.output === 'b' ? booth.b : booth.a,
    cough: Boolean(d.cough),
  }));
}

// The raised calls of a booth, as [{desk, kind}].
export function raisedCalls(booth) {
  const calls = [];
  for (const d of list(booth?.desks)) {
    if (d.slow_down) calls.push({ desk: d.desk, kind: 'slow_down' });
    if (d.technician) calls.push({ desk: d.desk, kind: 'technician' });
  }
  return calls;
}

// The receivers' reports of all channels summed: reporting listeners, underruns, decoders.
export function aggregateReports(reports) {
  const total = { reporting: 0, underruns: 0, decoders: {} };
  for (const r of list(reports)) {
    total.reporting += r.reporting ?? 0;
    total.underruns += r.underruns ?? 0;
    for (const [name, n] of Object.entries(r.decoders ?? {})) total.decoders[name] = (total.decoders[name] ?? 0) + n;
  }
  return total;
}

export function decodersText(decoders) {
  const parts = Object.entries(decoders ?? {}).sort((a, b) => b[1] - a[1]).map(([name, n]) => `${name} ${n}`);
  return parts.length ? parts.join(' · ') : '—';
}
