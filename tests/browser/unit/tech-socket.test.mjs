// Tests of the technician dashboard's socket and controls in Node (no browser): TechSocket
// (client/web/tech/js/socket.js) against a scripted fake WebSocket and fake timers — subprotocol,
// messages, reconnection with backoff, a silent socket dropped, commands never queued, and a
// socket refused before it opened: 'auth' (no retry) when /api/status says 401, a retry when the
// server is just down; and HoldToConfirm (confirm.js): only a hold of the full time acts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SUBPROTOCOL, TechSocket, backoffDelay, pageToken, techUrl, withToken } from '../../../client/web/tech/js/socket.js';
import { HoldToConfirm } from '../../../client/web/tech/js/confirm.js';

function fakeEnv({ verdict = 'ok' } = {}) {
  const env = { t: 0, timers: [], sockets: [], checks: 0, verdict };
  let nextId = 1;
  const add = (fn, ms, every) => {
    const id = nextId++;
    env.timers.push({ id, at: env.t + ms, fn, every });
    return id;
  };
  const remove = (id) => { env.timers = env.timers.filter((x) => x.id !== id); };
  env.advance = (ms) => {
    const end = env.t + ms;
    for (;;) {
      env.timers.sort((a, b) => a.at - b.at);
      const next = env.timers[0];
      if (!next || next.at > end) break;
      env.t = next.at;
      if (next.every) next.at += next.every;
      else remove(next.id);
      next.fn();
    }
    env.t = end;
  };
  class FakeSocket {
    constructor(url, protocol) {
      Object.assign(this, { url, protocol, readyState: 0, sent: [], closed: false, bufferedAmount: 0 });
      env.sockets.push(this);
    }
    send(data) { this.sent.push(JSON.parse(data)); }
    close() { this.closed = true; this.readyState = 3; }
    serverOpen() { this.readyState = 1; this.onopen?.(); }
    serverSend(msg) { this.onmessage?.({ data: JSON.stringify(msg) }); }
    serverClose() { this.readyState = 3; this.onclose?.({ code: 1006 }); }
  }
  env.options = {
    WebSocket: FakeSocket,
    url: () => 'ws://127.0.0.1:1/tech',
    checkToken: async () => { env.checks += 1; return env.verdict; },
    now: () => env.t,
    random: () => 0.5,
    setTimeout: (fn, ms) => add(fn, ms),
    clearTimeout: remove,
    setInterval: (fn, ms) => add(fn, ms, ms),
    clearInterval: remove,
  };
  return env;
}

const settle = () => new Promise((done) => setImmediate(done));

function open(env, handlers = {}) {
  const states = [];
  const messages = [];
  const socket = new TechSocket({
    onMessage: (m) => { messages.push(m); handlers.onMessage?.(m); },
    onStatus: (s) => states.push(s),
  }, env.options);
  socket.open();
  return { socket, states, messages };
}

test('connects with the tech subprotocol, is ready on hello and passes messages on', () => {
  const env = fakeEnv();
  const { socket, states, messages } = open(env);
  const ws = env.sockets[0];
  assert.equal(ws.protocol, SUBPROTOCOL);
  assert.equal(ws.url, 'ws://127.0.0.1:1/tech');
  ws.serverOpen();
  assert.equal(socket.state, 'open');
  assert.equal(socket.send({ type: 'mute', channel: 'fr', on: true }), false, 'no commands before hello');
  ws.serverSend({ type: 'hello', protocol: 1, channels: [] });
  ws.serverSend({ type: 'meters', channels: [] });
  ws.onmessage({ data: 'not json' });
  assert.equal(socket.state, 'ready');
  assert.deepEqual(messages.map((m) => m.type), ['hello', 'meters']);
  assert.deepEqual(states.map((s) => s.state), ['connecting', 'open', 'ready']);
  assert.equal(socket.send({ type: 'mute', channel: 'fr', on: true }), true);
  assert.deepEqual(ws.sent, [{ type: 'mute', channel: 'fr', on: true }]);
});

test('a lost socket is reopened with growing backoff; commands are not queued meanwhile', () => {
  const env = fakeEnv();
  const { socket, states } = open(env);
  env.sockets[0].serverOpen();
  env.sockets[0].serverSend({ type: 'hello' });
  env.sockets[0].serverClose();
  assert.equal(socket.state, 'waiting');
  assert.equal(states.at(-1).retryMs, backoffDelay(0, () => 0.5));
  assert.equal(socket.send({ type: 'chat', booth: 'fr', text: 'x' }), false);
  env.advance(states.at(-1).retryMs);
  assert.equal(env.sockets.length, 2);
  assert.equal(env.checks, 1 - 1, 'a socket that had opened is not a token problem');
  env.sockets[1].serverOpen();
  env.sockets[1].serverSend({ type: 'hello' });
  assert.equal(socket.state, 'ready');
  assert.deepEqual(env.sockets[1].sent, [], 'nothing sent while away went out later');
});

test('a silent socket is dropped after 3 s and reopened', () => {
  const env = fakeEnv();
  const { socket } = open(env);
  env.sockets[0].serverOpen();
  env.sockets[0].serverSend({ type: 'hello' });
  for (let i = 0; i < 20; i += 1) {
    env.advance(40);
    env.sockets[0].serverSend({ type: 'meters' });
  }
  assert.equal(socket.state, 'ready');
  env.advance(2000);
  assert.equal(socket.state, 'ready', 'quiet for 2 s is still alive');
  env.advance(1300);
  assert.equal(env.sockets[0].closed, true);
  assert.equal(socket.state, 'waiting');
  env.advance(1000);
  assert.equal(env.sockets.length, 2);
});

test('refused before opening with a bad token: auth, and no more retries', async () => {
  const env = fakeEnv({ verdict: 'refused' });
  const { socket, states } = open(env);
  env.sockets[0].serverClose();
  assert.equal(socket.state, 'checking');
  await settle();
  assert.equal(env.checks, 1);
  assert.equal(socket.state, 'auth');
  assert.equal(states.at(-1).state, 'auth');
  env.advance(60_000);
  assert.equal(env.sockets.length, 1, 'no retry with a refused token');
});

test('refused before opening by a server that is down: retried with backoff', async () => {
  const env = fakeEnv({ verdict: 'unreachable' });
  const { socket } = open(env);
  env.sockets[0].serverClose();
  await settle();
  assert.equal(socket.state, 'waiting');
  env.advance(1000);
  assert.equal(env.sockets.length, 2);
  env.verdict = 'ok';
  env.sockets[1].serverOpen();
  env.sockets[1].serverSend({ type: 'hello' });
  assert.equal(socket.state, 'ready');
});

test('backoff grows to a ceiling; token helpers', () => {
  const mid = () => 0.5;
  assert.ok(backoffDelay(0, mid) < backoffDelay(3, mid));
  assert.equal(backoffDelay(30, mid), backoffDelay(40, mid));
  assert.ok(backoffDelay(30, () => 1) <= 10_000);
  assert.equal(pageToken({ search: '?token=a%20b&x=1' }), 'a b');
  assert.equal(pageToken({ search: '' }), null);
  assert.equal(withToken('/api/qr.svg', null), '/api/qr.svg');
  assert.equal(withToken('/api/qr.svg?channel=fr', 's&t'), '/api/qr.svg?channel=fr&token=s%26t');
  assert.equal(techUrl({ protocol: 'https:', host: 'h:1', search: '' }), 'wss://h:1/tech');
  assert.equal(techUrl({ protocol: 'http:', host: 'h:1', search: '?token=t' }), 'ws://h:1/tech?token=t');
});

// ---- HoldToConfirm ----

function fakeButton() {
  const listeners = {};
  const classes = new Set();
  return {
    listeners,
    classes,
    style: { setProperty() {} },
    classList: { add: (c) => classes.add(c), remove: (c) => classes.delete(c) },
    addEventListener: (type, fn) => { (listeners[type] ??= []).push(fn); },
    fire(type, props = {}) {
      const e = { type, preventDefault() { this.prevented = true; }, ...props };
      for (const fn of listeners[type] ?? []) fn(e);
      return e;
    },
  };
}

function holdSetup(holdMs = 1000) {
  const env = fakeEnv();
  const button = fakeButton();
  const target = { addEventListener() {} };
  let confirmed = 0;
  const hold = new HoldToConfirm(button, () => { confirmed += 1; }, {
    holdMs, env: { win: target, doc: target, setTimeout: env.options.setTimeout, clearTimeout: env.options.clearTimeout },
  });
  return { env, button, hold, count: () => confirmed };
}

test('HoldToConfirm: a click or a double click does nothing; a full hold acts once', () => {
  const { env, button, count } = holdSetup();
  for (let i = 0; i < 2; i += 1) {
    button.fire('pointerdown', { button: 0 });
    env.advance(120);
    button.fire('pointerup');
    const click = button.fire('click');
    assert.equal(click.prevented, true);
  }
  env.advance(5000);
  assert.equal(count(), 0);
  button.fire('pointerdown', { button: 0 });
  assert.ok(button.classes.has('holding'));
  env.advance(999);
  assert.equal(count(), 0);
  env.advance(1);
  assert.equal(count(), 1);
  assert.ok(!button.classes.has('holding'));
  env.advance(5000);
  button.fire('pointerup');
  assert.equal(count(), 1, 'holding on does not repeat it');
});

test('HoldToConfirm: leaving the button, the right button, or a disabled control cancels', () => {
  const { env, button, hold, count } = holdSetup();
  button.fire('pointerdown', { button: 0 });
  env.advance(700);
  button.fire('pointerleave');
  env.advance(2000);
  assert.equal(count(), 0);
  button.fire('pointerdown', { button: 2 });
  env.advance(2000);
  assert.equal(count(), 0);
  button.fire('pointerdown', { button: 0 });
  hold.setEnabled(false);
  env.advance(2000);
  assert.equal(count(), 0);
  button.fire('pointerdown', { button: 0 });
  env.advance(2000);
  assert.equal(count(), 0, 'disabled: ignored');
});

test('HoldToConfirm: Enter or Space held the full time acts; key repeats do not restart it', () => {
  const { env, button, count } = holdSetup();
  button.fire('keydown', { key: 'Enter' });
  env.advance(500);
  button.fire('keydown', { key: 'Enter', repeat: true });
  env.advance(500);
  assert.equal(count(), 1);
  button.fire('keyup', { key: 'Enter' });
  button.fire('keydown', { key: ' ' });
  env.advance(300);
  button.fire('keyup', { key: ' ' });
  env.advance(2000);
  assert.equal(count(), 1);
  button.fire('keydown', { key: 'a' });
  env.advance(2000);
  assert.equal(count(), 1);
});
