// app.js: the technician dashboard's page: connects to /tech (socket.js), keeps what the server
// says in a TechModel (model.js) and hands each message to the panel it concerns; meters are
// painted once per animation frame after new readings. A refused token opens the token prompt,
// which reloads the page as /tech?token=... (the server turns that into a cookie). Main thread
// only. window.tolkTech exposes the model and socket to tests.

import { Booths } from './booths.js';
import { AlarmCue } from './cue.js';
import { TechModel } from './model.js';
import { AlarmsPanel, EventLog, Inputs, ListenersPanel, engineText } from './panels.js';
import { TechSocket, pageToken, withToken } from './socket.js';
import { Strips, setText } from './strips.js';

const $ = (id) => document.getElementById(id);
const model = new TechModel();
const token = pageToken(location);
let messageTimer = 0;

function showMessage(text) {
  const box = $('message');
  box.textContent = text;
  box.hidden = false;
  clearTimeout(messageTimer);
  messageTimer = setTimeout(() => { box.hidden = true; }, 8000);
}

const socket = new TechSocket({ onMessage, onStatus });
const send = (msg) => socket.send(msg);
const strips = new Strips($('strips'), $('strip-template'), { send, onQr: openQr, onRefused: showMessage });
const booths = new Booths($('booths'), { send, onRefused: showMessage });
const inputs = new Inputs($('inputs'));
const alarms = new AlarmsPanel($('alarms'), $('alarm-list'), $('alarms-none'));
const events = new EventLog($('events'), $('event-filter'));
const listeners = new ListenersPanel({ chart: $('chart'), legend: $('legend'), reports: $('reports'), worst: $('worst') });
const cue = new AlarmCue($('alarms'), $('sound'));

let drawPending = false;
function requestDraw() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => {
    drawPending = false;
    const now = performance.now();
    strips.draw(now);
    inputs.draw(now);
    booths.draw(now);
  });
}

function onMessage(msg) {
  const now = performance.now();
  switch (model.apply(msg)) {
    case 'hello': onHello(); break;
    case 'meters':
      strips.update(model, now);
      inputs.update(model.meters.inputs, now);
      booths.meters(model, now);
      if (!model.status) setText($('listeners-total'), String(model.meters.channels?.reduce((n, c) => n + (c.listeners ?? 0), 0) ?? '–'));
      requestDraw();
      break;
    case 'status':
      setText($('listeners-total'), String(model.status.listeners ?? '–'));
      setText($('engine'), engineText(model.status.engine, model.hello?.inputs));
      $('engine').dataset.device = !model.hello?.inputs ? 'none' : model.status.engine?.device_running ? 'ok' : 'down';
      listeners.render(model);
      break;
    case 'history': listeners.drawChart(model); break;
    case 'events': events.render(model); break;
    case 'alarms':
      alarms.render(model, Date.now());
      strips.markAlarms(model.alarms);
      cue.update(model.alarms.length, model.newAlarms.length);
      break;
    case 'booths': booths.update(model); break;
    case 'error': showMessage(`Refused${msg.request ? ` (${msg.request})` : ''}: ${msg.message ?? msg.code}`); break;
    default: break;
  }
}

function onHello() {
  strips.build(model);
  booths.build(model);
  inputs.build(model.hello.inputs ?? 0);
  listeners.build(model);
  listeners.drawChart(model);
  events.render(model);
  alarms.render(model, Date.now());
  strips.setEnabled(true);
  document.body.dataset.channels = String(model.channels.length);
  $('qr-public').dataset.qr = model.hello.public_url ?? '';
  // The server says so when this dashboard's token came over plain http.
  $('insecure').hidden = !model.hello.insecure;
}

let countdown = 0;
function onStatus({ state, retryMs }) {
  document.body.dataset.connection = state;
  clearInterval(countdown);
  const box = $('connection');
  const show = (text, level) => { box.textContent = text; box.dataset.level = level; };
  strips.setEnabled(state === 'ready');
  if (state === 'ready') show('Connected', 'ok');
  else if (state === 'open') show('Connected, waiting for the server…', 'wait');
  else if (state === 'connecting') show('Connecting…', 'wait');
  else if (state === 'checking') show('Connection refused: checking the token…', 'bad');
  else if (state === 'auth') {
    show('Token refused', 'bad');
    askToken();
  } else if (state === 'waiting') {
    const until = Date.now() + retryMs;
    const tick = () => show(`Connection lost · retrying in ${Math.max(0, Math.ceil((until - Date.now()) / 1000))} s`, 'bad');
    tick();
    countdown = setInterval(tick, 1000);
  } else show('Disconnected', 'bad');
}

function askToken() {
  const dialog = $('token-dialog');
  if (!dialog.open) dialog.showModal();
  $('token-input').focus();
}

$('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const value = $('token-input').value.trim();
  if (value) location.assign(`/tech?token=${encodeURIComponent(value)}`);
});

function openQr(channel) {
  const dialog = $('qr-dialog');
  const title = $('qr-title');
  title.textContent = channel ? channel.name : 'Public URL';
  title.lang = channel?.lang || 'en';
  const path = channel ? `/api/qr.svg?channel=${encodeURIComponent(channel.id)}` : '/api/qr.svg';
  $('qr-img').src = withToken(path, token);
  $('qr-img').alt = `QR code of ${channel ? channel.url : model.hello?.public_url ?? 'the public URL'}`;
  $('qr-url').textContent = channel ? channel.url : model.hello?.public_url ?? '';
  dialog.dataset.channel = channel?.id ?? '';
  if (!dialog.open) dialog.showModal();
}

$('qr-public').addEventListener('click', () => openQr(null));
if (token) $('sheet-link').href = withToken('/tech/sheet.html', token);

new ResizeObserver(() => { listeners.drawChart(model); requestDraw(); }).observe($('chart'));
setInterval(() => alarms.tick(model, Date.now()), 1000);
document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') socket.retryNow(); });

strips.setEnabled(false);
socket.open();
globalThis.tolkTech = { model, socket, handle: onMessage }; // handle: feeds a message as if from the server
