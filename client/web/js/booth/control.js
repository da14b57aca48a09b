// control.js: the booth console's control socket (booth control protocol v1, docs/protocol.md):
// login, commands, the server's booth/channels/levels/error messages, and staying connected:
// a lost or silent socket is reopened with backoff and logged in again with the PIN kept in
// memory for this page's life (never stored). Main thread only (WebSocket events and timers).
//
// States: idle (no socket yet), connecting, open (socket up, not logged in), login (login sent),
// ready (welcome received), waiting (reconnect scheduled), locked (locked_out: the login is
// retried after retry_after), closed (logout).

import { backoffDelay } from '../connection.js';

export const SUBPROTOCOL = 'tolk.booth.v1';
const CONNECT_TIMEOUT_MS = 8000;
// Logged in, the server sends `levels` ten times a second: this long without a message means the
// network is gone even if TCP has not noticed.
const SILENCE_TIMEOUT_MS = 3000;
const WATCHDOG_INTERVAL_MS = 500;
const MAX_BUFFERED_BYTES = 64 * 1024;

export function boothUrl(location) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/booth`;
}

export class BoothControl {
  // handlers: onWelcome, onBooth, onChannels, onLevels, onError (refused commands), onLoginFailed
  // (error of a login: the page asks again), onStatus({state, retryMs}).
  // env (tests): WebSocket, url, now, random, setTimeout, clearTimeout, setInterval, clearInterval.
  #h;
  #env;
  #ws = null;
  #state = 'idle';
  #credentials = null; // {booth, pin}: memory only
  #accepted = false; // the credentials were welcomed once: log in again by ourselves
  #auto = false; // the login in flight was sent by us, not typed
  #attempt = 0;
  #retryTimer = 0;
  #watchdogTimer = 0;
  #openedAt = 0;
  #lastMessageAt = 0;
  welcome = null;

  constructor(handlers = {}, env = {}) {
    this.#h = handlers;
    this.#env = {
      WebSocket: env.WebSocket ?? globalThis.WebSocket,
      url: env.url ?? (() => boothUrl(globalThis.location)),
      now: env.now ?? (() => Date.now()),
      random: env.random ?? Math.random,
      setTimeout: env.setTimeout ?? globalThis.setTimeout.bind(globalThis),
      clearTimeout: env.clearTimeout ?? globalThis.clearTimeout.bind(globalThis),
      setInterval: env.setInterval ?? globalThis.setInterval.bind(globalThis),
      clearInterval: env.clearInterval ?? globalThis.clearInterval.bind(globalThis),
    };
    if (typeof globalThis.addEventListener === 'function' && !env.WebSocket) {
      globalThis.addEventListener('online', () => this.#retryNow());
      globalThis.document?.addEventListener('visibilitychange', () => {
        if (globalThis.document.visibilityState === 'visible') this.#retryNow();
      });
    }
  }

  get state() { return this.#state; }
  get ready() { return this.#state === 'ready'; }
  get booth() { return this.#credentials?.booth ?? null; }

  // Opens the socket (the login form shows whether the server is reachable).
  open() {
    if (this.#ws || this.#state === 'waiting') return;
    this.#connect();
  }

  login(booth, pin) {
    this.#credentials = { booth: String(booth), pin: String(pin) };
    this.#accepted = false;
    this.#auto = false;
    this.#env.clearTimeout(this.#retryTimer);
    if (this.#state === 'open') {
      this.#sendLogin();
      return;
    }
    this.#discard(); // logged in elsewhere, locked, waiting or stalled: a fresh socket
    this.#connect(); // the login goes out on open
  }

  // Forgets the PIN and the login: a fresh socket waits for the next one.
  logout() {
    this.#credentials = null;
    this.#accepted = false;
    this.welcome = null;
    this.#env.clearTimeout(this.#retryTimer);
    this.#discard();
    this.#connect();
  }

  close() {
    this.#credentials = null;
    this.#env.clearTimeout(this.#retryTimer);
    this.#discard();
    this.#setState('closed');
  }

  // A command; false (nothing sent) unless logged in. Commands are never queued: a mic switch
  // that went out late, after a reconnection, would be a surprise on air.
  send(msg) {
    const ws = this.#ws;
    if (this.#state !== 'ready' || !ws || ws.readyState !== 1 || ws.bufferedAmount > MAX_BUFFERED_BYTES) return false;
    ws.send(JSON.stringify(msg));
    return true;
  }

  #connect() {
    this.#setState('connecting');
    this.#openedAt = this.#env.now();
    let ws;
    try {
      ws = new this.#env.WebSocket(this.#env.url(), SUBPROTOCOL);
    } catch (error) {
      this.#scheduleRetry();
      return;
    }
    ws.onopen = () => this.#onOpen();
    ws.onmessage = (event) => this.#onMessage(event.data);
    ws.onclose = () => { if (this.#ws === ws) this.#onLost(); };
    ws.onerror = () => {}; // a close event follows
    this.#ws = ws;
    this.#env.clearInterval(this.#watchdogTimer);
    this.#watchdogTimer = this.#env.setInterval(() => this.#watchdog(), WATCHDOG_INTERVAL_MS);
  }

  #onOpen() {
    this.#lastMessageAt = this.#env.now();
    this.#setState('open');
    if (this.#credentials) {
      this.#auto = this.#accepted;
      this.#sendLogin();
    } else {
      this.#attempt = 0;
    }
  }

  #sendLogin() {
    const ws = this.#ws;
    if (!ws || ws.readyState !== 1) return;
    ws.send(JSON.stringify({ type: 'login', booth: this.#credentials.booth, pin: this.#credentials.pin }));
    this.#setState('login');
  }

  #onMessage(data) {
    this.#lastMessageAt = this.#env.now();
    if (typeof data !== 'string') return;
    let msg;
    try {
      msg = JSON.parse(data);
    } catch (error) {
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    switch (msg.type) {
      case 'welcome':
        this.welcome = msg;
        this.#accepted = true;
        this.#attempt = 0;
        this.#setState('ready');
        this.#h.onWelcome?.(msg);
        break;
      case 'booth': this.#h.onBooth?.(msg); break;
      case 'channels': this.#h.onChannels?.(msg); break;
      case 'levels': this.#h.onLevels?.(msg); break;
      case 'error': this.#onError(msg); break;
      default: break;
    }
  }

  #onError(msg) {
    const isLogin = msg.request === 'login' || (this.#state === 'login' && msg.request == null);
    if (!isLogin || this.#state !== 'login') {
      this.#h.onError?.(msg);
      return;
    }
    const auto = this.#auto;
    if (msg.code === 'locked_out' && auto) {
      // Our own re-login after a reconnection: try again when the lock is over.
      const retryMs = Math.max(1, Number(msg.retry_after) || 60) * 1000;
      this.#setState('locked', retryMs);
      this.#env.clearTimeout(this.#retryTimer);
      this.#retryTimer = this.#env.setTimeout(() => { if (this.#state === 'locked') this.#sendLogin(); }, retryMs);
    } else {
      this.#credentials = null; // a PIN that was refused is not kept
      this.#accepted = false;
      this.#setState('open');
    }
    this.#h.onLoginFailed?.({ ...msg, auto });
  }

  #onLost() {
    this.#ws = null;
    this.#env.clearInterval(this.#watchdogTimer);
    if (this.#state === 'closed') return;
    this.#scheduleRetry();
  }

  #watchdog() {
    const now = this.#env.now();
    const state = this.#state;
    const stalled = (state === 'connecting' && now - this.#openedAt > CONNECT_TIMEOUT_MS)
      || (state === 'login' && now - this.#lastMessageAt > CONNECT_TIMEOUT_MS)
      || (state === 'ready' && now - this.#lastMessageAt > SILENCE_TIMEOUT_MS);
    if (!stalled) return;
    this.#discard();
    this.#scheduleRetry();
  }

  #scheduleRetry() {
    this.#env.clearTimeout(this.#retryTimer);
    const delay = backoffDelay(this.#attempt, this.#env.random);
    this.#attempt += 1;
    this.#retryTimer = this.#env.setTimeout(() => this.#connect(), delay);
    this.#setState('waiting', delay);
  }

  #retryNow() {
    if (this.#state !== 'waiting') return;
    this.#env.clearTimeout(this.#retryTimer);
    this.#connect();
  }

  // Drops the socket without waiting for a closing handshake a dead network never completes.
  #discard() {
    const ws = this.#ws;
    this.#ws = null;
    this.#env.clearInterval(this.#watchdogTimer);
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try { ws.close(); } catch (error) { /* already closed */ }
  }

  #setState(state, retryMs = 0) {
    this.#state = state;
    this.#h.onStatus?.({ state, retryMs, booth: this.booth });
  }
}
