// sheet.js: fills the printable QR sheet (sheet.html) from the /tech socket's hello: the public
// URL and each channel's name (in its own script: lang and dir=auto), QR code (/api/qr.svg) and
// URL, then closes the socket. Main thread only.

import { SUBPROTOCOL, pageToken, techUrl, withToken } from './socket.js';

const token = pageToken(location);
const $ = (id) => document.getElementById(id);

function status(text) {
  $('status').textContent = text;
}

function card(channel) {
  const box = document.createElement('article');
  box.className = 'card';
  box.dataset.channel = channel.id;
  const name = document.createElement('p');
  name.className = 'name';
  name.textContent = channel.name;
  name.dir = 'auto';
  if (channel.lang) name.lang = channel.lang;
  const img = document.createElement('img');
  img.className = 'qr';
  img.src = withToken(`/api/qr.svg?channel=${encodeURIComponent(channel.id)}`, token);
  img.alt = `QR code of ${channel.url}`;
  const url = document.createElement('p');
  url.className = 'url';
  url.textContent = channel.url;
  box.append(name, img, url);
  return box;
}

function render(hello) {
  $('main-qr').src = withToken('/api/qr.svg', token);
  $('main-qr').alt = `QR code of ${hello.public_url}`;
  $('main-url').textContent = hello.public_url ?? '';
  $('main').hidden = false;
  $('channels').replaceChildren(...(hello.channels ?? []).map(card));
  document.body.dataset.ready = 'true';
  status(`${hello.channels?.length ?? 0} channels. Print on A4, portrait.`);
}

function load() {
  const ws = new WebSocket(techUrl(location), SUBPROTOCOL);
  let done = false;
  ws.onmessage = (event) => {
    let msg = null;
    try { msg = JSON.parse(event.data); } catch (error) { return; }
    if (msg?.type !== 'hello') return;
    done = true;
    render(msg);
    ws.close();
  };
  ws.onclose = () => {
    if (!done) status('Could not load the channels: open this sheet from the technician dashboard (the token is needed), then reload.');
  };
}

$('print').addEventListener('click', () => print());
load();
