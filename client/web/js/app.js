// app.js — the listener page's UI: channel list from hello, the Listen/Stop button (which starts the
// player inside the tap), volume, live indicator, connection state, latency readout, Media Session,
// audio session, Wake Lock. Wires the Connection to the Player. Main thread only.
//
// For tests the page exposes its live objects as window.tolk = { player, connection }.

import { applyLocale, directionOf, pickLocale, t } from './i18n.js';
import { Connection } from './connection.js';
import { Player } from './player.js';

const LATENCY_INTERVAL_MS = 500;
const STORE_CHANNEL = 'tolk.channel';
const STORE_VOLUME = 'tolk.volume';

const ui = {
  connection: document.getElementById('connection'),
  channels: document.getElementById('channels'),
  listen: document.getElementById('listen'),
  live: document.getElementById('live'),
  latency: document.getElementById('latency'),
  volume: document.getElementById('volume'),
  wakeBox: document.getElementById('wake-box'),
  wake: document.getElementById('wake'),
  message: document.getElementById('message'),
};

// Main-thread state of the page.
const page = {
  hello: null,
  chosen: null, // channel id of the checked radio button
  player: null,
  status: 'stopped', // stopped | starting | playing
  lastState: null, // the latest `state` message of the selected channel
  latencyTimer: 0,
  wakeLock: null,
};

const tolk = { player: null, connection: null };
window.tolk = tolk;

function stored(key) {
  try { return localStorage.getItem(key); } catch (error) { return null; }
}

function store(key, value) {
  try { localStorage.setItem(key, value); } catch (error) { /* private mode */ }
}

function channelById(id) {
  return page.hello?.channels?.find((c) => c.id === id) ?? null;
}

// The channel to check: the one already chosen (a hello after a reconnection), else ?channel=, else
// the last one used here, else one in the browser's language, else the floor.
function initialChannel(channels) {
  const fromUrl = new URLSearchParams(location.search).get('channel');
  for (const id of [page.chosen, fromUrl, stored(STORE_CHANNEL)]) {
    if (id && channels.some((c) => c.id === id)) return id;
  }
  for (const tag of navigator.languages || []) {
    const base = tag.toLowerCase().split('-')[0];
    const match = channels.find((c) => c.lang && c.lang.toLowerCase().split('-')[0] === base);
    if (match) return match.id;
  }
  return channels[0]?.id ?? null;
}

function channelItem(channel) {
  const label = document.createElement('label');
  label.className = 'channel';
  const input = document.createElement('input');
  input.type = 'radio';
  input.name = 'channel';
  input.value = channel.id;
  input.checked = channel.id === page.chosen;
  input.addEventListener('change', () => choose(channel.id));
  const name = document.createElement('span');
  name.className = 'name';
  name.textContent = channel.name;
  name.lang = channel.lang || '';
  name.dir = directionOf(channel.lang);
  label.append(input, name);
  return label;
}

function renderChannels() {
  const channels = page.hello?.channels ?? [];
  page.chosen = initialChannel(channels);
  ui.channels.replaceChildren(...channels.map(channelItem));
}

function renderButton() {
  const playing = page.status !== 'stopped';
  ui.listen.textContent = t(page.status === 'starting' ? 'starting' : playing ? 'stop' : 'listen');
  ui.listen.dataset.playing = String(playing);
  ui.listen.disabled = page.status === 'stopped' && !page.chosen;
}

function renderConnection({ state, retryMs }) {
  const key = { idle: 'connecting', connecting: 'connecting', open: 'connected', waiting: 'reconnecting', closed: 'offline' }[state];
  const text = t(key, { s: Math.max(1, Math.round(retryMs / 1000)) });
  ui.connection.dataset.state = state;
  if (ui.connection.textContent !== text) ui.connection.textContent = text;
}

function renderLive() {
  const msg = page.lastState;
  if (!msg || msg.channel !== page.chosen) {
    ui.live.textContent = '';
    ui.live.dataset.live = '';
    return;
  }
  let text;
  if (msg.live) text = t(msg.channel === 'floor' ? 'floorLive' : 'live');
  else if (msg.fallback === 'floor') text = t('floorFallback');
  else if (msg.fallback) text = t('relay', { name: channelById(msg.fallback)?.name ?? msg.fallback });
  else text = t('silent');
  ui.live.dataset.live = String(Boolean(msg.live));
  if (ui.live.textContent !== text) ui.live.textContent = text;
}

function renderLatency(stats) {
  const ms = stats?.latencyMs;
  ui.latency.textContent = Number.isFinite(ms) ? t('ms', { ms: Math.round(ms) }) : '–';
}

function showMessage(text) {
  ui.message.textContent = text;
}

function choose(id) {
  page.chosen = id;
  store(STORE_CHANNEL, id);
  page.lastState = null;
  renderLive();
  renderButton();
  updateMediaSession();
  if (page.status !== 'stopped') tolk.connection.select(id);
}

// Runs inside the tap: the AudioContext must be created or resumed by a user gesture.
function start() {
  const id = page.chosen;
  if (!id || page.status !== 'stopped') return;
  showMessage('');
  const player = new Player({ frameMs: page.hello?.frame_ms ?? 20, onStats: renderLatency });
  const started = player.start();
  setAudioSession();
  page.player = player;
  tolk.player = player;
  page.status = 'starting';
  renderButton();
  // Audio starts flowing while the decoder loads; frames before attach() are dropped.
  tolk.connection.select(id);
  started.then(() => {
    if (page.player !== player) return;
    player.setVolume(Number(ui.volume.value) / 100);
    page.status = 'playing';
    tolk.connection.attach(player);
    page.latencyTimer = setInterval(() => renderLatency(player.stats()), LATENCY_INTERVAL_MS);
    renderButton();
    updateMediaSession();
    requestWakeLock();
  }, (error) => {
    if (page.player !== player) return;
    showMessage(t('audioFailed', { reason: error?.message ?? String(error) }));
    stop();
  });
}

function stop() {
  const player = page.player;
  page.player = null;
  tolk.player = null;
  page.status = 'stopped';
  clearInterval(page.latencyTimer);
  page.lastState = null;
  renderLive();
  tolk.connection.detach();
  tolk.connection.unselect();
  renderLatency(null);
  renderButton();
  updateMediaSession();
  releaseWakeLock();
  if (player) player.stop().catch(() => {});
}

function setAudioSession() {
  // Safari: play like a media app (through the mute switch, on in the background).
  try {
    if (navigator.audioSession) navigator.audioSession.type = 'playback';
  } catch (error) { /* not settable here */ }
}

function updateMediaSession() {
  if (!('mediaSession' in navigator)) return;
  const session = navigator.mediaSession;
  try {
    const channel = channelById(page.chosen);
    session.metadata = new MediaMetadata({
      title: channel?.name ?? 'tolk',
      artist: t('subtitle'),
      album: 'tolk',
      artwork: [
        { src: 'icons/icon-192.png', sizes: '192x192', type: 'image/png' },
        { src: 'icons/icon-512.png', sizes: '512x512', type: 'image/png' },
      ],
    });
    session.playbackState = page.status === 'stopped' ? 'paused' : 'playing';
  } catch (error) { /* older browsers */ }
}

function setMediaSessionHandlers() {
  if (!('mediaSession' in navigator)) return;
  const handlers = { play: start, pause: stop, stop };
  for (const [action, handler] of Object.entries(handlers)) {
    try { navigator.mediaSession.setActionHandler(action, handler); } catch (error) { /* unsupported */ }
  }
}

async function requestWakeLock() {
  if (!ui.wake.checked || !('wakeLock' in navigator) || page.wakeLock) return;
  if (document.visibilityState !== 'visible' || page.status === 'stopped') return;
  try {
    const lock = await navigator.wakeLock.request('screen');
    page.wakeLock = lock;
    lock.addEventListener('release', () => { if (page.wakeLock === lock) page.wakeLock = null; });
  } catch (error) { /* refused, e.g. battery saver */ }
}

function releaseWakeLock() {
  const lock = page.wakeLock;
  page.wakeLock = null;
  if (lock) lock.release().catch(() => {});
}

function channelsKey(hello) {
  return JSON.stringify((hello?.channels ?? []).map((c) => [c.id, c.name, c.lang]));
}

function onHello(hello) {
  const changed = channelsKey(hello) !== channelsKey(page.hello);
  page.hello = hello;
  // Re-rendering an unchanged list after a reconnection would move a screen reader's focus.
  if (changed) renderChannels();
  // The server's channels changed under a playing listener: follow the channel now checked.
  if (page.status === 'playing' && page.chosen && tolk.connection.wanted !== page.chosen) {
    tolk.connection.select(page.chosen);
  }
  renderButton();
  updateMediaSession();
}

function onState(msg) {
  page.lastState = msg;
  renderLive();
}

function onError(msg) {
  if (msg.code === 'unknown_channel') showMessage(t('unknownChannel'));
}

function init() {
  applyLocale(pickLocale(navigator.languages));
  const volume = Number(stored(STORE_VOLUME));
  if (stored(STORE_VOLUME) !== null && volume >= 0 && volume <= 100) ui.volume.value = String(volume);
  ui.listen.addEventListener('click', () => (page.status === 'stopped' ? start() : stop()));
  ui.volume.addEventListener('input', () => {
    store(STORE_VOLUME, ui.volume.value);
    page.player?.setVolume(Number(ui.volume.value) / 100);
  });
  if ('wakeLock' in navigator) {
    ui.wakeBox.hidden = false;
    ui.wake.addEventListener('change', () => (ui.wake.checked ? requestWakeLock() : releaseWakeLock()));
  }
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') requestWakeLock();
  });
  setAudioSession();
  setMediaSessionHandlers();
  renderButton();
  tolk.connection = new Connection({
    onHello,
    onSelected: () => { showMessage(''); renderLive(); },
    onState,
    onError,
    onStatus: renderConnection,
  });
  tolk.connection.open();
}

init();
