// socket.js: the dashboard's WebSocket to /tech (subprotocol tolk.tech.v1): opens it, hands each
// server message to onMessage, and stays connected: a lost or silent socket is reopened with
// backoff. A socket refused before it opened is either a server that is down (retry) or a token
// that is missing or no longer valid: /api/status then answers 401, and the socket stops and
// reports 'auth' so the page can ask for the token. Main thread only (socket events and timers).
//
// States: connecting, open (socket up, no hello yet), ready (hello received), waiting (reconnect
// scheduled; retryMs says when), auth (token refused: no more retries), closed.

export const SUBPROTOCOL = 'tolk.tech.v1';
const CONNECT_TIMEOUT_MS = 8000;
// `meters` come 25 times a second: this long without any message means the network is gone
// even if TCP has not noticed.
const SILENCE_TIMEOUT_MS = 3000;
const WATCHDOG_INTERVAL_MS = 500;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 10000;
const MAX_BUFFERED_BYTES = 64 * 1024;

export function backoffDelay(attempt, random = Math.random) {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(attempt, 10));
  return Math.round(base / 2 + (random() * base) / 2);
}

// The token in the page's own URL, if it still carries one (the server normally turns it into a
// cookie and redirects it away).
export function pageToken(location) {
  try {
    return new URLSearchParams(location?.search ?? '').get('token') || null;
  } catch (error) {
    return null;
  }
}

// path (with or without a query) plus the page's token when the page has one in its URL.
export function withToken(path, token) {
  if (!token) return path;
  return `${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
}

export function techUrl(location) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return withToken(`${scheme}//${location.host}/tech`, pageToken(location));
}

// 'refused' (401/403), 'ok', or 'unreachable'.
export async function checkToken(fetchFn = globalThis.fetch, location = globalThis.location) {
  try {
    const response = await fetchFn(withToken('/api/status', pageToken(location)), { credentials: 'same-origin', cache: 'no-store' });
    if (response.status === 401 || response.status === 403) return 'refused';
    return 'ok';
  } catch (error) {
    return 'unreachable';
  }
}

export class TechSocket {
  // handlers: onMessage(msg), onStatus({state, retryMs}).
  // env (tests): WebSocket, url(), checkToken() → Promise, now, random, setTimeout, clearTimeout,
  // setInterval, clearInterval.
  #h;
  #env;
  #ws = null;
  #state = 'idle';
  #attempt = 0;
  #retryTimer = 0;
  #watchdogTimer = 0;
  #openedAt = 0;
  #lastMessageAt = 0;
  #generation = 0; // bumped per socket: late events of a discarded socket are ignored

  constructor(handlers = {}, env = {}) {
    this.#h = handlers;
    const g = globalThis;
    this.#env = {
      WebSocket: env.WebSocket ?? g.WebSocket,
      url: env.url ?? (() => techUrl(g.location)),
      checkToken: env.checkToken ?? (() => checkToken()),
      now: env.now ?? (() => Date.now()),
      random: env.random ?? Math.random,
      setTimeout: env.setTimeout ?? g.setTimeout.bind(g),
      clearTimeout: env.clearTimeout ?? g.clearTimeout.bind(g),
      setInterval: env.setInterval ?? g.setInterval.bind(g),
      clearInterval: env.clearInterval ?? g.clearInterval.bind(g),
    };
    if (typeof g.addEventListener === 'function' && !env.WebSocket) {
      g.addEventListener('online', () => this.retryNow());
    }
  }

  get state() { return this.#state; }
  get ready() { return this.#state === 'ready'; }

  open() {
    if (this.#ws || this.#state === 'waiting') return;
    this.#attempt = 0;
    this.#connect();
  }

  close() {
    this.#env.clearTimeout(this.#retryTimer);
    this.#discard();
    this.#setState('closed');
  }

  retryNow() {
    if (this.#state !== 'waiting') return;
    this.#env.clearTimeout(this.#retryTimer);
    this.#connect();
  }

  // A command; false (nothing sent) unless connected. Commands are never queued: a mute that
  // went out late, after a reconnection, would be a surprise.
  send(msg) {
    const ws = this.#ws;
    if (this.#state !== 'ready' || !ws || ws.readyState !== 1 || ws.bufferedAmount > MAX_BUFFERED_BYTES) return false;
    ws.send(JSON.stringify(msg));
    return true;
  }

  #connect() {
    this.#setState('connecting');
    const generation = ++this.#generation;
    this.#openedAt = this.#env.now();
    this.#lastMessageAt = this.#openedAt;
    let ws;
    try {
      ws = new this.#env.WebSocket(this.#env.url(), SUBPROTOCOL);
    } catch (error) {
      this.#scheduleRetry();
      return;
    }
    this.#ws = ws;
    let opened = false;
    ws.onopen = () => {
      if (generation !== this.#generation) return;
      opened = true;
      this.#attempt = 0;
      this.#lastMessageAt = this.#env.now();
      this.#setState('open');
    };
    ws.onmessage = (event) => {
      if (generation !== this.#generation) return;
      this.#onMessage(event.data);
    };
    ws.onerror = () => {};
    ws.onclose = () => {
      if (generation !== this.#generation) return;
      this.#lost(opened);
    };
    this.#startWatchdog();
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
    if (msg?.type === 'hello' && this.#state !== 'ready') this.#setState('ready');
    this.#h.onMessage?.(msg);
  }

  #lost(opened) {
    this.#discard();
    if (opened) {
      this.#scheduleRetry();
      return;
    }
    // Refused before it opened: the browser does not tell why. Ask the HTTP side.
    this.#setState('checking');
    const generation = this.#generation;
    this.#env.checkToken().then((verdict) => {
      if (generation !== this.#generation || this.#state !== 'checking') return;
      if (verdict === 'refused') this.#setState('auth');
      else this.#scheduleRetry();
    });
  }

  #startWatchdog() {
    this.#env.clearInterval(this.#watchdogTimer);
    this.#watchdogTimer = this.#env.setInterval(() => {
      const now = this.#env.now();
      const opening = this.#state === 'connecting' && now - this.#openedAt > CONNECT_TIMEOUT_MS;
      const silent = (this.#state === 'open' || this.#state === 'ready') && now - this.#lastMessageAt > SILENCE_TIMEOUT_MS;
      if (opening || silent) this.#lost(true);
    }, WATCHDOG_INTERVAL_MS);
  }

  #discard() {
    this.#generation += 1;
    this.#env.clearInterval(this.#watchdogTimer);
    this.#watchdogTimer = 0;
    const ws = this.#ws;
    this.#ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try { ws.close(); } catch (error) { /* already closing */ }
    }
  }

  #scheduleRetry() {
    const delay = backoffDelay(this.#attempt, this.#env.random);
    this.#attempt += 1;
    this.#env.clearTimeout(this.#retryTimer);
    this.#retryTimer = this.#env.setTimeout(() => this.#connect(), delay);
    this.#setState('waiting', delay);
  }

  #setState(state, retryMs = 0) {
    this.#state = state;
    this.#h.onStatus?.({ state, retryMs });
  }
}
