// booth.js: the booth console page (booth.html). Login, then one desk's controls; every control
// shows the server's state (booth, channels, levels messages), never a guess, so two consoles of
// one booth agree. Wires the control socket (control.js), the relay feed (relay.js) and the
// cough key (hold.js); view.js works out the text. Main thread only.
//
// For tests the page exposes window.tolkBooth = {control, relay, state} and window.tolk.player
// (the relay feed's Player, whose analyser taps the final output).

import { BoothControl } from './control.js';
import { HoldButton } from './hold.js';
import { RelayFeed } from './relay.js';
import {
  channelRow, chatTime, connectionText, depthInfo, deskOf, engagedBy, errorText, formatDb,
  handoverAction, meterFraction, mergeChat, outputChannel, partnerLine, utf8Length, volumeGain,
} from './view.js';

const STORE_BOOTH = 'tolk.booth.id';
const STORE_DESK = 'tolk.booth.desk.'; // + booth id
const STORE_RELAY = 'tolk.booth.relay'; // {volume, bass, treble}
const CLIP_HOLD_MS = 1500;
const PROTECTION_INTERVAL_MS = 250;
const MIC_REPEAT_MS = 400;

const $ = (id) => document.getElementById(id);
const ui = {
  body: document.body,
  onair: $('onair'), onairDetail: $('onair-detail'),
  boothName: $('booth-name'), deskPicker: $('desk-picker'), connection: $('connection'), logout: $('logout'),
  message: $('message'),
  loginView: $('login-view'), loginForm: $('login-form'), loginBooth: $('login-booth'),
  loginBoothLabel: $('login-booth-label'),
  loginBoothSelect: $('login-booth-select'), boothList: $('booth-list'), loginPin: $('login-pin'),
  loginSubmit: $('login-submit'),
  console: $('console'),
  mic: $('mic'), micState: $('mic-state'), micNote: $('mic-note'), cough: $('cough'),
  output: $('output'), outputA: $('output-a'), outputB: $('output-b'), outputBLabel: $('output-b-label'),
  outputAName: $('output-a-name'), outputBName: $('output-b-name'),
  meter: $('meter'), meterRms: $('meter-rms'), meterPeak: $('meter-peak'), meterText: $('meter-text'),
  meterClip: $('meter-clip'), listeners: $('listeners'),
  relay: $('relay'), relayQuality: $('relay-quality'), relayState: $('relay-state'),
  volume: $('volume'), volumeValue: $('volume-value'), bass: $('bass'), bassValue: $('bass-value'),
  treble: $('treble'), trebleValue: $('treble-value'), headphones: $('headphones'), protection: $('protection'),
  desks: $('desks'), handover: $('handover'), slowDown: $('slow-down'), technician: $('technician'),
  channels: $('channels'),
  chatLog: $('chat-log'), chatForm: $('chat-form'), chatText: $('chat-text'), chatSend: $('chat-send'),
};

// Main-thread state of the page: the server's latest messages and this console's choices.
const state = {
  frameMs: 20,
  welcome: null,
  booth: null, // latest `booth`
  channels: new Map(), // id → entry of the latest `channels`
  levels: null,
  desk: 1,
  welcomeBooth: null, // booth of the last welcome
  status: { state: 'idle', retryMs: 0 },
  everReady: false, // logged in once: a lost connection shows as "reconnecting"
  chat: [],
  clipUntil: 0,
  micClickAt: -Infinity,
  lockTimer: 0,
};

let control;
let relay;
let cough;

function stored(key) {
  try { return localStorage.getItem(key); } catch (error) { return null; }
}

function store(key, value) {
  try { localStorage.setItem(key, value); } catch (error) { /* private mode */ }
}

function showMessage(text, level = 'error') {
  ui.message.textContent = text;
  ui.message.dataset.level = level;
}

function myDesk() {
  return deskOf(state.booth, state.desk);
}

function send(msg) {
  if (control.send(msg)) return true;
  showMessage('Not connected: nothing was sent. Wait for "Connected" and try again.');
  return false;
}

// ---- login ----

function showLogin(errorMessage = '') {
  ui.body.dataset.view = 'login';
  ui.loginView.hidden = false;
  ui.console.hidden = true;
  ui.deskPicker.hidden = true;
  ui.logout.hidden = true;
  ui.onair.hidden = true;
  ui.body.dataset.onair = 'false';
  document.title = 'tolk booth console';
  ui.loginSubmit.disabled = false;
  if (errorMessage) showMessage(errorMessage);
  focusLogin();
}

function focusLogin() {
  const boothField = ui.loginBoothSelect.hidden ? ui.loginBooth : ui.loginBoothSelect;
  (chosenBooth() ? ui.loginPin : boothField).focus();
}

function chosenBooth() {
  return (ui.loginBoothSelect.hidden ? ui.loginBooth.value : ui.loginBoothSelect.value).trim();
}

function onLoginSubmit(event) {
  event.preventDefault();
  const booth = chosenBooth();
  const pin = ui.loginPin.value;
  if (!booth || !pin) return;
  ui.loginPin.value = ''; // the PIN lives on in control.js's memory only
  store(STORE_BOOTH, booth);
  showMessage('');
  ui.loginSubmit.disabled = true;
  startRelay(); // inside the tap: the AudioContext may start here
  control.login(booth, pin);
}

function onLoginFailed(msg) {
  clearInterval(state.lockTimer);
  if (msg.code === 'locked_out') {
    let left = Math.max(1, Math.ceil(Number(msg.retry_after) || 60));
    const tick = () => {
      showMessage(errorText({ ...msg, retry_after: left }));
      left -= 1;
      if (left < 0) {
        clearInterval(state.lockTimer);
        showMessage('You can try again now.', 'info');
      }
    };
    tick();
    state.lockTimer = setInterval(tick, 1000);
    if (msg.auto) return; // control.js logs in again by itself when the lock ends
  }
  if (msg.auto) state.everReady = false;
  showLogin(msg.code === 'locked_out' ? '' : errorText(msg, state.welcome));
}

// GET /api/booths (public): the booths to choose from, and the frame length for the relay player.
async function loadBoothList() {
  const remembered = stored(STORE_BOOTH);
  const wanted = new URLSearchParams(location.search).get('booth') || remembered || '';
  ui.loginBooth.value = wanted;
  if (remembered) ui.boothList.replaceChildren(new Option(remembered, remembered));
  try {
    const response = await fetch('api/booths', { cache: 'no-store' });
    if (!response.ok) return;
    const list = await response.json();
    if (Number.isFinite(list.frame_ms)) state.frameMs = list.frame_ms;
    const booths = Array.isArray(list.booths) ? list.booths.filter((b) => b && typeof b.id === 'string') : [];
    if (booths.length === 0) return;
    // The server lists its booths: a select instead of typing.
    ui.loginBoothSelect.replaceChildren(...booths.map((b) => new Option(b.name && b.name !== b.id ? `${b.name} (${b.id})` : b.id, b.id)));
    if (booths.some((b) => b.id === wanted)) ui.loginBoothSelect.value = wanted;
    ui.loginBoothSelect.hidden = false;
    ui.loginBooth.hidden = true;
    ui.loginBooth.required = false;
    ui.loginBoothLabel.htmlFor = ui.loginBoothSelect.id;
  } catch (error) {
    // No list: the booth is typed (the datalist offers the one used last).
  } finally {
    relay.frameMs = state.frameMs;
    ui.loginForm.dataset.ready = 'true';
    if (!ui.loginView.hidden) focusLogin();
  }
}

// ---- control socket events ----

function onWelcome(msg) {
  state.welcome = msg;
  state.everReady = true;
  clearInterval(state.lockTimer);
  if (Number.isFinite(msg.frame_ms)) state.frameMs = msg.frame_ms;
  relay.configure(msg.limiter);
  // A re-login after a reconnection keeps the desk; a new login takes ?desk=, else the last one.
  const desks = Math.max(1, Number(msg.desks) || 1);
  const valid = (d) => Number.isInteger(d) && d >= 1 && d <= desks;
  if (state.welcomeBooth !== msg.booth || !valid(state.desk)) {
    const fromUrl = Number(new URLSearchParams(location.search).get('desk'));
    state.desk = [fromUrl, Number(stored(STORE_DESK + msg.booth))].find(valid) ?? 1;
  }
  state.welcomeBooth = msg.booth;
  showMessage('');
  ui.body.dataset.view = 'console';
  ui.loginView.hidden = true;
  ui.console.hidden = false;
  ui.logout.hidden = false;
  ui.boothName.textContent = msg.name || msg.booth;
  renderStatic();
  renderAll();
}

function onBooth(msg) {
  state.booth = msg;
  state.chat = mergeChat(state.chat, msg.chat);
  renderAll();
}

function onChannels(msg) {
  state.channels = new Map((msg.channels ?? []).map((c) => [c.id, c]));
  renderChannels();
  renderMic();
  renderRelay();
  renderListeners();
}

function onLevels(msg) {
  state.levels = msg;
  renderMeter();
}

function onCommandError(msg) {
  showMessage(errorText(msg, state.welcome));
  if (msg.request === 'mic' || msg.request === 'output') renderMic();
}

function onStatus(status) {
  state.status = status;
  renderConnection();
  renderEnabled();
  if (status.state === 'open' && !state.everReady && ui.body.dataset.view === 'login') ui.loginSubmit.disabled = false;
}

// ---- rendering ----

function renderConnection() {
  const { text, level } = connectionText(state.status, state.everReady);
  ui.connection.textContent = text;
  ui.connection.dataset.level = level;
  ui.body.dataset.connection = state.status.state;
}

// Controls work only while logged in; the state stays on show (marked stale) meanwhile.
function renderEnabled() {
  const ready = state.status.state === 'ready' && Boolean(myDesk());
  for (const node of [ui.mic, ui.relay, ui.slowDown, ui.technician, ui.chatText, ui.chatSend]) node.disabled = !ready;
  ui.output.disabled = !ready;
  cough?.setEnabled(ready);
  ui.cough.disabled = !ready;
  ui.body.dataset.stale = String(state.everReady && !ready);
  renderHandover();
}

// What does not change after login: the desk picker, A/B names, the relay list.
function renderStatic() {
  const w = state.welcome;
  const desks = Math.max(1, Number(w.desks) || 1);
  ui.deskPicker.replaceChildren(...Array.from({ length: desks }, (_, i) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'desk-choice';
    b.setAttribute('role', 'radio');
    b.dataset.desk = String(i + 1);
    b.textContent = `Desk ${i + 1}`;
    b.addEventListener('click', () => chooseDesk(i + 1));
    return b;
  }));
  ui.deskPicker.hidden = false;
  ui.outputAName.textContent = `${nameOf(w.a)}`;
  ui.outputBName.textContent = w.b ? `${nameOf(w.b)}` : '';
  ui.outputBLabel.hidden = !w.b;
  ui.output.classList.toggle('single', !w.b);
  ui.relay.replaceChildren(...(w.channels ?? []).map((c) => {
    const own = c.id === w.a || c.id === w.b;
    return new Option(`${c.name || c.id}${c.id === 'floor' ? '' : ` (${c.id})`}${own ? ' — this booth' : ''}`, c.id);
  }));
}

function nameOf(id) {
  return state.welcome?.channels?.find((c) => c.id === id)?.name || id || '';
}

function renderAll() {
  if (!state.welcome) return;
  for (const b of ui.deskPicker.children) b.setAttribute('aria-checked', String(Number(b.dataset.desk) === state.desk));
  renderMic();
  renderRelay();
  renderDesks();
  renderChannels();
  renderListeners();
  renderChat();
  renderEnabled();
  renderMeter();
}

function renderMic() {
  const mine = myDesk();
  const w = state.welcome;
  if (!w) return;
  const on = Boolean(mine?.mic);
  const out = outputChannel(w, mine);
  const engaged = engagedBy(w, state.channels, out);
  ui.mic.setAttribute('aria-pressed', String(on));
  ui.mic.dataset.on = String(on);
  ui.mic.dataset.cough = String(Boolean(mine?.cough));
  ui.mic.dataset.engaged = String(Boolean(engaged && !on));
  ui.micState.textContent = on ? (mine.cough ? 'MUTED' : 'ON AIR') : 'OFF';
  let note = '';
  if (on) note = `${nameOf(out)} (${mine.output.toUpperCase()})`;
  else if (engaged) note = `ENGAGED — live from booth ${engaged.booth}`;
  else {
    const partner = state.booth?.desks?.find((d) => d.desk !== state.desk && d.mic && d.output === mine?.output);
    if (partner) note = `desk ${partner.desk} is on air: pressing hands over`;
    else if (out) note = `press to go on air on ${nameOf(out)}`;
  }
  ui.micNote.textContent = note;
  ui.body.dataset.onair = String(on);
  const title = `${w.name || w.booth} — tolk booth console`;
  document.title = on ? `● ON AIR — ${title}` : title;
  ui.onair.hidden = !on;
  ui.onair.dataset.cough = String(Boolean(mine?.cough));
  ui.onairDetail.textContent = on
    ? `desk ${state.desk} → ${nameOf(out)} (${mine.output.toUpperCase()})${mine.cough ? ' — COUGH: muted' : ''}`
    : '';
  if (mine) {
    ui.outputA.checked = mine.output !== 'b';
    ui.outputB.checked = mine.output === 'b';
  }
  for (const [input, id] of [[ui.outputA, w?.a], [ui.outputB, w?.b]]) {
    const by = engagedBy(w, state.channels, id);
    input.closest('label').dataset.engaged = String(Boolean(by));
    input.closest('label').title = by ? `engaged: live from booth ${by.booth}` : '';
  }
}

function renderRelay() {
  const mine = myDesk();
  if (!mine) return;
  if (ui.relay.value !== mine.relay) ui.relay.value = mine.relay;
  const info = depthInfo(state.channels.get(mine.relay)?.depth);
  ui.relayQuality.textContent = info.text;
  ui.relayQuality.dataset.key = info.key;
  relay.select(mine.relay);
}

function renderDesks() {
  const w = state.welcome;
  ui.desks.replaceChildren(...(state.booth?.desks ?? []).map((d) => {
    const li = document.createElement('li');
    li.dataset.desk = String(d.desk);
    li.dataset.mic = String(Boolean(d.mic));
    li.dataset.me = String(d.desk === state.desk);
    li.dataset.handover = String(Boolean(d.handover));
    const name = document.createElement('strong');
    name.textContent = `Desk ${d.desk}${d.desk === state.desk ? ' (you)' : ''}`;
    const line = document.createElement('span');
    line.textContent = partnerLine(w, d);
    li.append(name, ' ', line);
    return li;
  }));
  const mine = myDesk();
  ui.slowDown.setAttribute('aria-pressed', String(Boolean(mine?.slow_down)));
  ui.technician.setAttribute('aria-pressed', String(Boolean(mine?.technician)));
  ui.slowDown.textContent = mine?.slow_down ? 'Slow down: requested' : 'Slow down';
  ui.technician.textContent = mine?.technician ? 'Technician: called' : 'Call technician';
  renderHandover();
}

function renderHandover() {
  const h = handoverAction(state.booth, state.desk);
  ui.handover.textContent = h.text;
  ui.handover.dataset.action = h.action ?? '';
  ui.handover.dataset.urgent = String(Boolean(h.urgent));
  ui.handover.disabled = !h.enabled || state.status.state !== 'ready';
}

function renderChannels() {
  const w = state.welcome;
  if (!w) return;
  ui.channels.replaceChildren(...(w.channels ?? []).map((c) => {
    const row = channelRow(w, state.channels.get(c.id), c.id);
    const tr = document.createElement('tr');
    tr.dataset.channel = c.id;
    tr.dataset.live = String(row.live);
    tr.dataset.engaged = String(row.engaged);
    tr.dataset.mine = String(row.mine);
    const cells = [
      `${row.name}${row.which ? ` · ${row.which}` : ''}`,
      row.onAir,
      row.quality.text,
      row.listeners == null ? '–' : String(row.listeners),
    ];
    for (const [i, text] of cells.entries()) {
      const td = document.createElement(i === 0 ? 'th' : 'td');
      if (i === 0) td.scope = 'row';
      if (i === 2) td.dataset.quality = row.quality.key;
      td.textContent = text;
      tr.append(td);
    }
    return tr;
  }));
}

function renderListeners() {
  const w = state.welcome;
  if (!w) return;
  const parts = [w.a, w.b].filter(Boolean).map((id) => {
    const n = state.channels.get(id)?.listeners;
    return `${nameOf(id)}: ${Number.isFinite(n) ? n : '–'}`;
  });
  ui.listeners.textContent = `Listeners — ${parts.join(' · ')}`;
}

function renderMeter() {
  const level = state.levels?.desks?.[state.desk - 1];
  const peak = level?.peak_dbfs;
  const rms = level?.rms_dbfs;
  ui.meterRms.style.insetInlineStart = `${(meterFraction(rms) * 100).toFixed(1)}%`;
  ui.meterPeak.style.insetInlineStart = `${(meterFraction(peak) * 100).toFixed(1)}%`;
  ui.meter.setAttribute('aria-valuenow', String(Number.isFinite(peak) ? Math.max(-60, Math.round(peak)) : -60));
  ui.meterText.textContent = formatDb(peak);
  const now = performance.now();
  if (level?.clipped) state.clipUntil = now + CLIP_HOLD_MS;
  ui.meterClip.hidden = now > state.clipUntil;
}

function renderChat() {
  const atBottom = ui.chatLog.scrollTop + ui.chatLog.clientHeight >= ui.chatLog.scrollHeight - 4;
  ui.chatLog.replaceChildren(...state.chat.map((line) => {
    const li = document.createElement('li');
    li.dataset.from = line.from;
    const time = document.createElement('time');
    time.dateTime = new Date(line.time).toISOString?.() ?? '';
    time.textContent = chatTime(line.time);
    const from = document.createElement('b');
    from.textContent = line.from;
    const text = document.createElement('span');
    text.textContent = line.text;
    li.append(time, ' ', from, ' ', text);
    return li;
  }));
  if (atBottom) ui.chatLog.scrollTop = ui.chatLog.scrollHeight;
}

function renderProtection() {
  const chain = relay.chain;
  const reduction = chain.reductionDb;
  const avg = chain.averageDbfs == null ? '' : `, average ≤ ${chain.averageDbfs} dBFS`;
  const active = reduction < -0.5 ? ` — limiting ${Math.round(-reduction)} dB` : '';
  ui.protection.textContent = `Hearing protection: peak ≤ ${chain.peakDbfs} dBFS${avg}${active}`;
  ui.protection.dataset.active = String(Boolean(active));
  ui.headphones.textContent = relay.player ? 'Headphones: on' : 'Headphones: off';
  ui.headphones.setAttribute('aria-pressed', String(Boolean(relay.player)));
}

// ---- actions ----

function chooseDesk(desk) {
  if (desk === state.desk) return;
  cough.release();
  state.desk = desk;
  if (state.welcome) store(STORE_DESK + state.welcome.booth, String(desk));
  renderAll();
}

// A double click is one press: the second click would take the desk straight back off air.
function toggleMic(event) {
  const mine = myDesk();
  if (!mine || (event && event.timeStamp - state.micClickAt < MIC_REPEAT_MS)) return;
  state.micClickAt = event?.timeStamp ?? 0;
  send({ type: 'mic', desk: state.desk, on: !mine.mic });
}

function onCough(pressed) {
  ui.body.dataset.cough = String(pressed);
  if (!myDesk()) return;
  // A release is sent even when a press could not be: never leave a desk muted by accident.
  if (!control.send({ type: 'cough', desk: state.desk, on: pressed }) && pressed) {
    showMessage('Not connected: the cough key did nothing.');
  }
}

function chooseOutput(which) {
  const mine = myDesk();
  if (!mine || mine.output === which) return;
  if (!send({ type: 'output', desk: state.desk, channel: which })) renderMic();
}

function chooseRelay() {
  const mine = myDesk();
  if (!mine) return;
  if (!send({ type: 'relay', desk: state.desk, channel: ui.relay.value })) renderRelay();
}

function onHandover() {
  const action = ui.handover.dataset.action;
  if (action) send({ type: 'handover', desk: state.desk, action });
}

function toggleCall(kind) {
  const mine = myDesk();
  if (!mine) return;
  send({ type: 'call', desk: state.desk, kind, on: !mine[kind] });
}

function onChatSubmit(event) {
  event.preventDefault();
  const text = ui.chatText.value.trim();
  if (!text) return;
  if (utf8Length(text) > 500) {
    showMessage('The message is too long (at most 500 bytes).');
    return;
  }
  if (send({ type: 'chat', desk: state.desk, text })) ui.chatText.value = '';
}

function relaySettings() {
  const volume = Number(ui.volume.value);
  const bass = Number(ui.bass.value);
  const treble = Number(ui.treble.value);
  relay.setVolume(volumeGain(volume));
  relay.setBass(bass);
  relay.setTreble(treble);
  const db = (v) => `${v > 0 ? '+' : v < 0 ? '−' : ''}${Math.abs(v)} dB`;
  ui.volumeValue.textContent = volume <= Number(ui.volume.min) ? 'mute' : db(volume);
  ui.bassValue.textContent = db(bass);
  ui.trebleValue.textContent = db(treble);
  store(STORE_RELAY, JSON.stringify({ volume, bass, treble }));
}

function restoreRelaySettings() {
  try {
    const saved = JSON.parse(stored(STORE_RELAY) ?? 'null');
    if (saved) {
      for (const key of ['volume', 'bass', 'treble']) if (Number.isFinite(saved[key])) ui[key].value = String(saved[key]);
    }
  } catch (error) { /* ignore a bad entry */ }
  relaySettings();
}

function startRelay() {
  if (relay.player) return;
  relay.frameMs = state.frameMs;
  const started = relay.start();
  window.tolk.player = relay.player;
  renderProtection();
  started.catch((error) => {
    window.tolk.player = null;
    showMessage(`Headphone sound could not start: ${error?.message ?? error}. Press "Headphones" to retry.`);
    renderProtection();
  });
}

function toggleHeadphones() {
  if (relay.player) {
    relay.stop();
    window.tolk.player = null;
  } else {
    startRelay();
  }
  renderProtection();
}

function logout() {
  cough.release();
  state.welcome = null;
  state.booth = null;
  state.everReady = false;
  state.chat = [];
  control.logout();
  relay.stop(); // the headphones go quiet with the console; the next login starts them again
  relay.channel = null;
  window.tolk.player = null;
  showMessage('');
  showLogin();
}

function init() {
  relay = new RelayFeed({
    frameMs: state.frameMs,
    handlers: {
      onState: (msg) => {
        ui.relayState.textContent = msg.live ? 'live' : msg.fallback ? `carries ${nameOf(msg.fallback)}` : 'silent';
      },
    },
  });
  control = new BoothControl({
    onWelcome, onBooth, onChannels, onLevels, onError: onCommandError, onLoginFailed, onStatus,
  });
  window.tolk = { player: null };
  window.tolkBooth = { control, relay, state };
  cough = new HoldButton(ui.cough, onCough);
  ui.loginForm.addEventListener('submit', onLoginSubmit);
  ui.mic.addEventListener('click', toggleMic);
  ui.outputA.addEventListener('change', () => chooseOutput('a'));
  ui.outputB.addEventListener('change', () => chooseOutput('b'));
  ui.relay.addEventListener('change', chooseRelay);
  ui.handover.addEventListener('click', onHandover);
  ui.slowDown.addEventListener('click', () => toggleCall('slow_down'));
  ui.technician.addEventListener('click', () => toggleCall('technician'));
  ui.chatForm.addEventListener('submit', onChatSubmit);
  ui.logout.addEventListener('click', logout);
  ui.headphones.addEventListener('click', toggleHeadphones);
  for (const input of [ui.volume, ui.bass, ui.treble]) input.addEventListener('input', relaySettings);
  restoreRelaySettings();
  setInterval(renderProtection, PROTECTION_INTERVAL_MS);
  renderProtection();
  loadBoothList();
  control.open();
  showLogin();
}

init();
