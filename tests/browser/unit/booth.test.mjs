// Tests of the booth console's logic in Node (no browser): the control socket client
// (client/web/js/booth/control.js) against a scripted fake WebSocket and fake timers — login,
// re-login with the remembered PIN after a lost or silent socket, backoff, refused PINs, lockout,
// no queued commands; the cough key's press-and-hold (hold.js) with stand-in DOM events; and the
// text and indicators of view.js.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BoothControl, SUBPROTOCOL } from '../../../client/web/js/booth/control.js';
import { HoldButton } from '../../../client/web/js/booth/hold.js';
import {
  channelRow, connectionText, depthInfo, engagedBy, errorText, handoverAction, mergeChat, meterFraction,
  partnerLine, utf8Length, volumeGain,
} from '../../../client/web/js/booth/view.js';

// ---- a fake clock and WebSocket ----

function fakeEnv() {
  const env = { t: 0, timers: [], sockets: [] };
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
      this.url = url;
      this.protocol = protocol;
      this.readyState = 0;
      this.bufferedAmount = 0;
      this.sent = [];
      this.closed = false;
      env.sockets.push(this);
    }
    send(text) { this.sent.push(JSON.parse(text)); }
    close() { this.closed = true; this.readyState = 3; }
    // server side
    accept() { this.readyState = 1; this.onopen?.(); }
    say(msg) { this.onmessage?.({ data: JSON.stringify(msg) }); }
    drop() { this.readyState = 3; this.onclose?.({}); }
  }
  env.options = {
    WebSocket: FakeSocket,
    url: () => 'ws://test/booth',
    now: () => env.t,
    random: () => 0.5,
    setTimeout: (fn, ms) => add(fn, ms, 0),
    clearTimeout: remove,
    setInterval: (fn, ms) => add(fn, ms, ms),
    clearInterval: remove,
  };
  env.last = () => env.sockets[env.sockets.length - 1];
  return env;
}

function recorder() {
  const seen = { statuses: [], welcomes: [], failures: [], errors: [], booths: [] };
  const handlers = {
    onStatus: (s) => seen.statuses.push(s.state),
    onWelcome: (m) => seen.welcomes.push(m),
    onLoginFailed: (m) => seen.failures.push(m),
    onError: (m) => seen.errors.push(m),
    onBooth: (m) => seen.booths.push(m),
  };
  return { seen, handlers };
}

const WELCOME = { type: 'welcome', protocol: 1, booth: 'fr', name: 'French', frame_ms: 20, a: 'fr', b: null, desks: 2 };

function loggedIn() {
  const env = fakeEnv();
  const { seen, handlers } = recorder();
  const control = new BoothControl(handlers, env.options);
  control.open();
  env.last().accept();
  control.login('fr', '1234');
  env.last().say(WELCOME);
  return { env, seen, control };
}

test('opens /booth with the booth subprotocol and logs in on submit', () => {
  const env = fakeEnv();
  const { seen, handlers } = recorder();
  const control = new BoothControl(handlers, env.options);
  control.open();
  const ws = env.last();
  assert.equal(ws.protocol, SUBPROTOCOL);
  assert.equal(control.state, 'connecting');
  ws.accept();
  assert.equal(control.state, 'open');
  assert.deepEqual(ws.sent, [], 'nothing is sent before the user logs in');
  assert.equal(control.send({ type: 'mic', desk: 1, on: true }), false, 'no command before login');
  control.login('fr', '1234');
  assert.deepEqual(ws.sent, [{ type: 'login', booth: 'fr', pin: '1234' }]);
  assert.equal(control.state, 'login');
  ws.say(WELCOME);
  assert.equal(control.state, 'ready');
  assert.equal(seen.welcomes.length, 1);
  assert.equal(control.send({ type: 'mic', desk: 1, on: true }), true);
  assert.deepEqual(ws.sent.at(-1), { type: 'mic', desk: 1, on: true });
});

test('a lost socket is reopened with backoff and logged in again with the PIN from memory', () => {
  const { env, seen, control } = loggedIn();
  const first = env.last();
  first.drop();
  assert.equal(control.state, 'waiting');
  assert.equal(env.sockets.length, 1);
  env.advance(200);
  assert.equal(env.sockets.length, 1, 'no reconnection before the backoff delay');
  env.advance(400); // 0.5 s base, spread to 375 ms with random 0.5
  assert.equal(env.sockets.length, 2);
  env.last().drop(); // the server is still away
  assert.equal(control.state, 'waiting');
  env.advance(700); // second delay: 750 ms
  assert.equal(env.sockets.length, 2);
  env.advance(100);
  assert.equal(env.sockets.length, 3);
  const ws = env.last();
  ws.accept();
  assert.deepEqual(ws.sent, [{ type: 'login', booth: 'fr', pin: '1234' }]);
  assert.equal(control.send({ type: 'mic', desk: 1, on: false }), false, 'no command while logging in again');
  ws.say(WELCOME);
  assert.equal(control.state, 'ready');
  assert.equal(seen.welcomes.length, 2);
  assert.equal(ws.sent.length, 1, 'the command refused meanwhile was not queued');
  // The backoff starts over after a good login.
  ws.drop();
  env.advance(400);
  assert.equal(env.sockets.length, 4);
});

test('a silent socket (no levels for 3 s) is given up and reopened', () => {
  const { env, control } = loggedIn();
  const ws = env.last();
  for (let i = 0; i < 20; i++) {
    env.advance(100);
    ws.say({ type: 'levels', desks: [] });
  }
  assert.equal(control.state, 'ready', 'levels keep it alive');
  env.advance(3600);
  assert.ok(ws.closed, 'the stalled socket was closed');
  assert.equal(control.state, 'waiting');
  env.advance(1000);
  assert.equal(env.sockets.length, 2);
});

test('a wrong PIN is reported and forgotten; the socket stays for the next try', () => {
  const env = fakeEnv();
  const { seen, handlers } = recorder();
  const control = new BoothControl(handlers, env.options);
  control.open();
  const ws = env.last();
  ws.accept();
  control.login('fr', '0000');
  ws.say({ type: 'error', code: 'bad_pin', message: 'wrong PIN', request: 'login', attempts_left: 4 });
  assert.equal(seen.failures.length, 1);
  assert.equal(seen.failures[0].attempts_left, 4);
  assert.equal(seen.failures[0].auto, false);
  assert.equal(control.state, 'open');
  ws.drop();
  env.advance(1000);
  env.last().accept();
  assert.deepEqual(env.last().sent, [], 'a refused PIN is not sent again by itself');
  control.login('fr', '1234');
  assert.deepEqual(env.last().sent, [{ type: 'login', booth: 'fr', pin: '1234' }]);
});

test('locked out during an automatic re-login: the login is retried after retry_after', () => {
  const { env, seen, control } = loggedIn();
  env.last().drop();
  env.advance(1000);
  const ws = env.last();
  ws.accept();
  ws.say({ type: 'error', code: 'locked_out', message: 'locked', request: 'login', retry_after: 30 });
  assert.equal(control.state, 'locked');
  assert.equal(seen.failures.at(-1).auto, true);
  env.advance(29_000);
  ws.say({ type: 'levels', desks: [] });
  assert.equal(ws.sent.length, 1);
  env.advance(1500);
  assert.equal(ws.sent.length, 2);
  assert.deepEqual(ws.sent[1], { type: 'login', booth: 'fr', pin: '1234' });
  ws.say(WELCOME);
  assert.equal(control.state, 'ready');
});

test('a changed PIN stops the automatic re-login', () => {
  const { env, seen, control } = loggedIn();
  env.last().drop();
  env.advance(1000);
  env.last().accept();
  env.last().say({ type: 'error', code: 'bad_pin', message: 'wrong PIN', request: 'login', attempts_left: 4 });
  assert.equal(seen.failures.at(-1).auto, true);
  assert.equal(control.state, 'open');
  env.last().drop();
  env.advance(1000);
  env.last().accept();
  assert.deepEqual(env.last().sent, []);
});

test('errors of commands go to onError, booth state to onBooth; logout forgets the PIN', () => {
  const { env, seen, control } = loggedIn();
  const ws = env.last();
  ws.say({ type: 'error', code: 'engaged', message: 'de is live from booth de', request: 'mic' });
  ws.say({ type: 'booth', desks: [], chat: [] });
  ws.onmessage({ data: 'not json' });
  ws.onmessage({ data: new ArrayBuffer(4) });
  assert.equal(seen.errors.length, 1);
  assert.equal(seen.booths.length, 1);
  assert.equal(control.state, 'ready');
  control.logout();
  assert.ok(ws.closed);
  env.last().accept();
  assert.deepEqual(env.last().sent, []);
  assert.equal(control.send({ type: 'mic', desk: 1, on: true }), false);
});

// ---- cough key ----

class FakeTarget extends EventTarget {
  constructor() {
    super();
    this.attrs = {};
    this.captured = null;
  }
  setAttribute(k, v) { this.attrs[k] = v; }
  setPointerCapture(id) { this.captured = id; }
}

function fakeEvent(type, props = {}) {
  const e = new Event(type, { cancelable: true });
  for (const [key, value] of Object.entries(props)) Object.defineProperty(e, key, { value, writable: true });
  return e;
}

function holdSetup() {
  const button = new FakeTarget();
  const doc = new FakeTarget();
  doc.visibilityState = 'visible';
  const win = new FakeTarget();
  const changes = [];
  const hold = new HoldButton(button, (on) => changes.push(on), { win, doc });
  return { button, doc, win, changes, hold };
}

test('cough: pressed while the pointer is down, released on pointerup or pointercancel', () => {
  const { button, changes } = holdSetup();
  const down = fakeEvent('pointerdown', { button: 0, pointerId: 7 });
  button.dispatchEvent(down);
  assert.deepEqual(changes, [true]);
  assert.equal(button.captured, 7);
  assert.ok(down.defaultPrevented);
  assert.equal(button.attrs['aria-pressed'], 'true');
  button.dispatchEvent(fakeEvent('pointerup', { pointerId: 7 }));
  assert.deepEqual(changes, [true, false]);
  button.dispatchEvent(fakeEvent('pointerdown', { button: 0, pointerId: 8 }));
  button.dispatchEvent(fakeEvent('pointercancel', { pointerId: 8 }));
  assert.deepEqual(changes, [true, false, true, false]);
  button.dispatchEvent(fakeEvent('pointerdown', { button: 2, pointerId: 9 }));
  assert.equal(changes.length, 4, 'the right button does not cough');
});

test('cough: Space held anywhere but in a text field; key repeat ignored; blur and hiding release', () => {
  const { doc, win, changes } = holdSetup();
  const keydown = fakeEvent('keydown', { key: ' ', target: { tagName: 'BUTTON' } });
  doc.dispatchEvent(keydown);
  assert.ok(keydown.defaultPrevented, 'Space must not click a focused button');
  doc.dispatchEvent(fakeEvent('keydown', { key: ' ', repeat: true }));
  assert.deepEqual(changes, [true]);
  doc.dispatchEvent(fakeEvent('keyup', { key: ' ' }));
  assert.deepEqual(changes, [true, false]);
  doc.dispatchEvent(fakeEvent('keydown', { key: ' ', target: { tagName: 'INPUT' } }));
  assert.deepEqual(changes, [true, false], 'typing a space in the chat is not a cough');
  doc.dispatchEvent(fakeEvent('keydown', { key: ' ' }));
  win.dispatchEvent(fakeEvent('blur'));
  assert.deepEqual(changes, [true, false, true, false]);
  doc.dispatchEvent(fakeEvent('keyup', { key: ' ' }));
  assert.equal(changes.length, 4, 'no second release');
  doc.dispatchEvent(fakeEvent('keydown', { key: ' ' }));
  doc.visibilityState = 'hidden';
  doc.dispatchEvent(fakeEvent('visibilitychange'));
  assert.deepEqual(changes.slice(-2), [true, false]);
});

test('cough: pointer and Space together release only when both let go; disabling releases', () => {
  const { button, doc, changes, hold } = holdSetup();
  button.dispatchEvent(fakeEvent('pointerdown', { button: 0, pointerId: 1 }));
  doc.dispatchEvent(fakeEvent('keydown', { key: ' ' }));
  button.dispatchEvent(fakeEvent('pointerup', { pointerId: 1 }));
  assert.deepEqual(changes, [true]);
  doc.dispatchEvent(fakeEvent('keyup', { key: ' ' }));
  assert.deepEqual(changes, [true, false]);
  doc.dispatchEvent(fakeEvent('keydown', { key: ' ' }));
  hold.setEnabled(false);
  assert.deepEqual(changes, [true, false, true, false]);
  doc.dispatchEvent(fakeEvent('keyup', { key: ' ' }));
  doc.dispatchEvent(fakeEvent('keydown', { key: ' ' }));
  button.dispatchEvent(fakeEvent('pointerdown', { button: 0, pointerId: 2 }));
  assert.equal(changes.length, 4, 'a disabled key does nothing');
});

// ---- view ----

const W = {
  booth: 'fr', name: 'French booth', a: 'fr', b: 'en', desks: 2,
  channels: [{ id: 'floor', name: 'Floor' }, { id: 'en', name: 'English' }, { id: 'fr', name: 'Français' }, { id: 'de', name: 'Deutsch' }],
};

test('relay quality: floor, interpretation, relay, relay of a relay, loop', () => {
  assert.equal(depthInfo(0).key, 'floor');
  assert.equal(depthInfo(1).key, 'direct');
  assert.equal(depthInfo(2).key, 'relay');
  assert.equal(depthInfo(3).key, 'relay2');
  assert.match(depthInfo(4).text, /relay of a relay \(4\)/);
  assert.equal(depthInfo(-1).key, 'loop');
  assert.equal(depthInfo(undefined).key, 'unknown');
});

test('channel rows: live from which booth and desk, engaged when another booth has it', () => {
  const mine = channelRow(W, { id: 'fr', live: true, booth: 'fr', desk: 2, depth: 1, listeners: 41 }, 'fr');
  assert.equal(mine.which, 'A');
  assert.equal(mine.engaged, false);
  assert.equal(mine.onAir, 'live: booth fr, desk 2');
  assert.equal(mine.listeners, 41);
  const taken = channelRow(W, { id: 'en', live: true, booth: 'en', desk: 1, depth: 2, listeners: 3 }, 'en');
  assert.equal(taken.which, 'B');
  assert.equal(taken.engaged, true);
  assert.match(taken.onAir, /^ENGAGED — live: booth en, desk 1$/);
  assert.equal(taken.quality.key, 'relay');
  assert.equal(channelRow(W, { id: 'de', live: false, booth: null, desk: null, depth: 0 }, 'de').onAir, 'not live');
  const channels = new Map([['en', { live: true, booth: 'en', desk: 1 }], ['fr', { live: true, booth: 'fr', desk: 1 }]]);
  assert.deepEqual(engagedBy(W, channels, 'en'), { booth: 'en', desk: 1 });
  assert.equal(engagedBy(W, channels, 'fr'), null);
  assert.equal(engagedBy(W, channels, 'de'), null);
});

const desk = (n, extra = {}) => ({
  desk: n, mic: false, cough: false, output: 'a', relay: 'floor', handover: false, slow_down: false, technician: false, ...extra,
});

test('handover button: accept a partner\'s request, cancel mine, ask, or nothing to do', () => {
  assert.equal(handoverAction({ desks: [desk(1), desk(2)] }, 1).action, null);
  assert.equal(handoverAction({ desks: [desk(1, { mic: true }), desk(2)] }, 1).action, 'request');
  assert.equal(handoverAction({ desks: [desk(1), desk(2, { mic: true })] }, 1).action, 'request');
  assert.equal(handoverAction({ desks: [desk(1, { mic: true, handover: true }), desk(2)] }, 1).action, 'cancel');
  const accept = handoverAction({ desks: [desk(1, { mic: true, handover: true }), desk(2)] }, 2);
  assert.equal(accept.action, 'accept');
  assert.match(accept.text, /desk 1/);
  assert.equal(handoverAction({ desks: [desk(1)] }, 1).enabled, false);
});

test('partner line, meters, volume, chat history, errors and connection text', () => {
  assert.match(partnerLine(W, desk(2, { mic: true, output: 'b', relay: 'de', handover: true })),
    /^ON AIR → B \(en\) · hears Deutsch · asks for handover$/);
  assert.equal(meterFraction(-60), 0);
  assert.equal(meterFraction(0), 1);
  assert.equal(meterFraction(-30), 0.5);
  assert.equal(meterFraction(-Infinity), 0);
  assert.equal(meterFraction(null), 0);
  assert.equal(volumeGain(-40), 0);
  assert.equal(volumeGain(0), 1);
  assert.ok(Math.abs(volumeGain(12) - 3.981) < 0.001);
  const a = { time: 1, from: 'desk 1', text: 'hello' };
  const b = { time: 2, from: 'tech', text: 'hi' };
  const c = { time: 3, from: 'desk 2', text: 'ok' };
  assert.deepEqual(mergeChat(mergeChat([], [a, b]), [b, c]), [a, b, c]);
  assert.equal(mergeChat([], [a, b, c], 2).length, 2);
  assert.equal(utf8Length('é'), 2);
  assert.match(errorText({ code: 'bad_pin', attempts_left: 1 }), /Wrong PIN \(1 attempt left\)/);
  assert.match(errorText({ code: 'locked_out', retry_after: 42 }), /42 s/);
  assert.match(errorText({ code: 'engaged', message: 'en is live from booth en' }), /ENGAGED: en is live from booth en/);
  assert.match(errorText({ code: 'bad_output' }, { b: null }), /no B channel/);
  assert.match(errorText({ code: 'weird', message: 'x', request: 'mic' }), /Refused \(mic\): x/);
  assert.equal(connectionText({ state: 'ready' }, true).text, 'Connected');
  assert.match(connectionText({ state: 'waiting', retryMs: 2000 }, true).text, /^Reconnecting… \(next try in 2 s\)$/);
  assert.match(connectionText({ state: 'connecting' }, true).text, /^Reconnecting…$/);
  assert.equal(connectionText({ state: 'connecting' }, false).text, 'Connecting…');
});
