// connection.js — the listener page's WebSocket to tolk-server (listener protocol v1, docs/protocol.md):
// hello/selected/state/error, channel switches without reconnecting, audio frames of the selected channel
// to the player, reconnection with exponential backoff and jitter, and a stats report every 5 s while
// playing. A hello with another frame_ms (the server restarted with a new config) retunes the attached
// player. Runs on the page's main thread (WebSocket events and timers).

import { parseFrame } from './protocol.js';

const SUBPROTOCOL = 'tolk.listen.v1';
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 8000;
const STATS_INTERVAL_MS = 5000;
// A selected channel sends 50 (or 100) frames a second: this long without one means the network
// is gone even if the socket has not noticed (Wi-Fi drops rarely close TCP quickly).
const SILENCE_TIMEOUT_MS = 4000;
// A socket that has not said hello by then is given up (a stalled network or server).
const CONNECT_TIMEOUT_MS = 8000;
const WATCHDOG_INTERVAL_MS = 1000;
const MAX_BUFFERED_BYTES = 64 * 1024;

// ws: or wss: to /listen on the page's own host, with ?channel= when a channel is wanted.
export function listenUrl(location, channel) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const query = channel ? `?channel=${encodeURIComponent(channel)}` : '';
  return `${scheme}//${location.host}/listen${query}`;
}

// Delay before reconnection attempt `attempt` (0-based): doubles from 0.5 s up to 8 s, and is
// spread over the upper half of that so that 300 phones do not come back in the same millisecond.
export function backoffDelay(attempt, random = Math.random) {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(attempt, 10));
  return Math.round(base / 2 + (random() * base) / 2);
}

export class Connection {
  // handlers: onHello(hello), onSelected(id), onState(msg), onError(msg), onStatus({state, retryMs}).
  #handlers;
  #ws = null;
  #state = 'idle'; // idle | connecting | open | waiting | closed
  #hello = null;
  #wanted = null; // channel id the user chose (sent as select, used as ?channel= on reconnect)
  #selected = null; // channel id the server confirmed
  #selectedIndex = -1;
  #urlChannel = null; // the ?channel= of the current socket
  #player = null;
  #pushedSinceReset = 0;
  #attempt = 0;
  #retryTimer = 0;
  #retryAt = 0;
  #statsTimer = 0;
  #watchdogTimer = 0;
  #lastAudioAt = 0;
  #connectStartedAt = 0;
  #counts = { opens: 0, frames: 0, dropped: 0, invalid: 0 };

  constructor(handlers = {}) {
    this.#handlers = handlers;
    addEventListener('online', () => this.#retryNowIfWaiting());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') this.#retryNowIfWaiting();
    });
  }

  get state() { return this.#state; }
  get hello() { return this.#hello; }
  get channel() { return this.#selected; }
  get wanted() { return this.#wanted; }
  get retryAt() { return this.#retryAt; }
  get counts() { return { ...this.#counts }; }

  open() {
    if (this.#ws) return;
    clearTimeout(this.#retryTimer);
    this.#connect();
  }

  close() {
    this.#setState('closed');
    clearTimeout(this.#retryTimer);
    this.detach();
    this.#discardSocket();
  }

  // Asks for channel `id`; the server answers `selected`, then that channel's audio follows.
  select(id) {
    this.#wanted = id;
    if (this.#ws && this.#ws.readyState === WebSocket.OPEN) {
      this.#send({ type: 'select', channel: id });
    } else if (this.#state === 'waiting' || this.#state === 'idle') {
      this.#retryNowIfWaiting(true);
    }
  }

  // Stops the audio stream (e.g. after Stop): the socket is reopened without a channel, so the
  // server no longer sends audio nor counts this listener on a channel.
  unselect() {
    this.#wanted = null;
    if (!this.#selected || !this.#ws) return;
    this.#discardSocket();
    this.#connect();
  }

  // From now on frames of the selected channel go to `player`, and its stats to the server.
  attach(player) {
    this.#player = player;
    this.#pushedSinceReset = 0;
    if (this.#hello?.frame_ms) player.setFrameMs(this.#hello.frame_ms);
    clearInterval(this.#statsTimer);
    this.#statsTimer = setInterval(() => this.#sendStats(), STATS_INTERVAL_MS);
  }

  detach() {
    this.#player = null;
    clearInterval(this.#statsTimer);
    this.#statsTimer = 0;
  }

  #connect() {
    this.#setState('connecting');
    this.#connectStartedAt = performance.now();
    this.#selected = null;
    this.#selectedIndex = -1;
    let ws;
    try {
      ws = new WebSocket(listenUrl(location, this.#wanted), SUBPROTOCOL);
      this.#urlChannel = this.#wanted;
    } catch (error) {
      this.#scheduleRetry();
      return;
    }
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => { this.#counts.opens += 1; this.#lastAudioAt = performance.now(); };
    ws.onmessage = (event) => this.#onMessage(event.data);
    ws.onclose = () => { if (this.#ws === ws) this.#onLost(); };
    ws.onerror = () => {}; // a close event always follows
    this.#ws = ws;
    clearInterval(this.#watchdogTimer);
    this.#watchdogTimer = setInterval(() => this.#watchdog(), WATCHDOG_INTERVAL_MS);
  }

  #onMessage(data) {
    if (typeof data === 'string') {
      this.#onText(data);
      return;
    }
    this.#lastAudioAt = performance.now();
    if (!this.#player) return;
    let frame;
    try {
      frame = parseFrame(data);
    } catch (error) {
      this.#counts.invalid += 1;
      return;
    }
    if (frame.channel !== this.#selectedIndex) {
      this.#counts.dropped += 1; // audio of the previous channel, still on its way after a switch
      return;
    }
    this.#counts.frames += 1;
    this.#pushedSinceReset += 1;
    this.#player.push(frame);
  }

  #onText(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch (error) {
      return;
    }
    if (msg.type === 'hello') this.#onHello(msg);
    else if (msg.type === 'selected') this.#onSelected(msg.channel);
    else if (msg.type === 'state') this.#handlers.onState?.(msg);
    else if (msg.type === 'error') this.#handlers.onError?.(msg);
  }

  #onHello(hello) {
    this.#hello = hello;
    this.#attempt = 0;
    // Before any audio of this socket: its frames may be of another length than the last server's.
    if (this.#player && hello.frame_ms) this.#player.setFrameMs(hello.frame_ms);
    this.#setState('open');
    this.#handlers.onHello?.(hello);
    // A channel chosen while the socket was opening was not in its URL.
    if (this.#wanted && this.#wanted !== this.#urlChannel) this.#send({ type: 'select', channel: this.#wanted });
  }

  // Channel switch or reconnection: whatever the player holds is of the old stream, so it restarts
  // at the live edge of what follows.
  #onSelected(id) {
    const channel = this.#hello?.channels?.find((c) => c.id === id);
    this.#selected = id;
    this.#selectedIndex = channel ? channel.index : -1;
    this.#lastAudioAt = performance.now();
    if (this.#player && this.#pushedSinceReset > 0) this.#player.reset();
    this.#pushedSinceReset = 0;
    this.#handlers.onSelected?.(id);
  }

  #onLost() {
    this.#ws = null;
    if (this.#state === 'closed') return;
    this.#scheduleRetry();
  }

  #watchdog() {
    const now = performance.now();
    const stalled = this.#state === 'connecting'
      ? now - this.#connectStartedAt > CONNECT_TIMEOUT_MS
      : this.#state === 'open' && this.#selected && now - this.#lastAudioAt > SILENCE_TIMEOUT_MS;
    if (!stalled) return;
    this.#discardSocket();
    this.#scheduleRetry();
  }

  #scheduleRetry() {
    clearTimeout(this.#retryTimer);
    clearInterval(this.#watchdogTimer);
    const delay = backoffDelay(this.#attempt);
    this.#attempt += 1;
    this.#retryAt = Date.now() + delay;
    this.#retryTimer = setTimeout(() => this.#connect(), delay);
    this.#setState('waiting', delay);
  }

  #retryNowIfWaiting(evenIfIdle = false) {
    if (this.#state !== 'waiting' && !(evenIfIdle && this.#state === 'idle')) return;
    clearTimeout(this.#retryTimer);
    this.#connect();
  }

  // Forgets the current socket without waiting for its closing handshake (which a dead network
  // never completes).
  #discardSocket() {
    const ws = this.#ws;
    this.#ws = null;
    clearInterval(this.#watchdogTimer);
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try { ws.close(); } catch (error) { /* already closed */ }
  }

  // Sent from Listen to Stop, underruns and all: the technicians want to see a listener in trouble.
  #sendStats() {
    if (!this.#player) return;
    this.#send({ type: 'stats', ...this.#player.stats() });
  }

  #send(msg) {
    const ws = this.#ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || ws.bufferedAmount > MAX_BUFFERED_BYTES) return;
    ws.send(JSON.stringify(msg));
  }

  #setState(state, retryMs = 0) {
    this.#state = state;
    this.#handlers.onStatus?.({ state, retryMs });
  }
}
