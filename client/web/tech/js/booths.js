// booths.js: one card per booth: each desk with its microphone meter, on air (and to which
// channel), cough; the raised calls (slow down, technician) with a Clear button each; the chat
// with the booth (its history and a line to send). Main thread only.

import { callText, clockTime } from './format.js';
import { Meter } from './meter.js';
import { desksOnAir, raisedCalls } from './model.js';
import { setText } from './strips.js';

const MAX_CHAT_BYTES = 500;

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k in node) node[k] = v;
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

export class Booths {
  constructor(container, { send, onRefused }) {
    this.container = container;
    this.send = send;
    this.onRefused = onRefused;
    this.cards = new Map(); // booth id → {el, desks: Map desk → {row, meter}, calls, chat}
  }

  build(model) {
    this.container.replaceChildren();
    this.cards.clear();
    if (model.booths.size === 0) {
      this.container.append(el('p', { className: 'none', textContent: 'No booths configured' }));
      return;
    }
    for (const booth of model.booths.values()) this.cards.set(booth.id, this.#card(booth, model));
  }

  #card(booth, model) {
    const channels = [booth.a, booth.b].filter(Boolean).map((id, k) => `${k ? 'B' : 'A'}: ${model.channelName(id)}`).join(' · ');
    const card = el('article', { className: 'booth', dataset: { booth: booth.id } },
      el('h3', {}, el('span', { textContent: booth.name, dir: 'auto' }), ' ', el('span', { className: 'id', textContent: channels })));
    const deskList = el('ul', { className: 'desks' });
    const desks = new Map();
    for (let d = 1; d <= booth.deskCount; d += 1) {
      const canvas = el('canvas', { className: 'meter small', role: 'meter', 'aria-label': `${booth.id} desk ${d} microphone` });
      const row = el('li', { className: 'desk', dataset: { desk: String(d), onair: 'false' } },
        el('span', { className: 'desk-name', textContent: `Desk ${d}` }), canvas,
        el('span', { className: 'onair' }), el('span', { className: 'cough', textContent: 'COUGH', hidden: true }));
      desks.set(d, { row, meter: new Meter(canvas, { orientation: 'horizontal' }) });
      deskList.append(row);
    }
    const calls = el('ul', { className: 'calls' });
    const log = el('ol', { className: 'chat-log', 'aria-label': `Chat with ${booth.name}` });
    const input = el('input', { type: 'text', maxLength: MAX_CHAT_BYTES, placeholder: `Message to ${booth.name}`, 'aria-label': `Message to ${booth.name}` });
    const form = el('form', { className: 'chat-form' }, input, el('button', { type: 'submit', textContent: 'Send' }));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.#chat(booth.id, input);
    });
    card.append(deskList, calls, el('div', { className: 'chat' }, log, form));
    this.container.append(card);
    return { el: card, desks, calls, log, input };
  }

  #chat(boothId, input) {
    const text = input.value.trim();
    if (!text) return;
    if (new TextEncoder().encode(text).length > MAX_CHAT_BYTES) {
      this.onRefused(`A chat line is at most ${MAX_CHAT_BYTES} bytes.`);
      return;
    }
    if (this.send({ type: 'chat', booth: boothId, text })) input.value = '';
    else this.onRefused('Not connected: the message was not sent.');
  }

  // A `booths` message: desks on air, cough, calls, chat.
  update(model) {
    for (const booth of model.booths.values()) {
      const card = this.cards.get(booth.id);
      if (!card) continue;
      this.#desks(card, booth, model);
      this.#calls(card, booth);
      this.#chatLog(card, booth);
    }
  }

  #desks(card, booth, model) {
    const onAir = new Map(desksOnAir(booth).map((d) => [d.desk, d]));
    for (const [d, { row }] of card.desks) {
      const air = onAir.get(d);
      const state = booth.desks.find((x) => x.desk === d);
      row.dataset.onair = String(Boolean(air));
      setText(row.querySelector('.onair'), air ? `ON AIR → ${model.channelName(air.channel)}` : '');
      row.querySelector('.cough').hidden = !state?.cough;
    }
  }

  #calls(card, booth) {
    const calls = raisedCalls(booth);
    card.el.dataset.calls = String(calls.length);
    card.calls.replaceChildren(...calls.map((c) => {
      const clear = el('button', { type: 'button', className: 'small', textContent: 'Clear' });
      clear.addEventListener('click', () => {
        if (!this.send({ type: 'clear_call', booth: booth.id, desk: c.desk, kind: c.kind })) this.onRefused('Not connected: nothing was sent.');
      });
      return el('li', { className: `call ${c.kind}`, dataset: { kind: c.kind, desk: String(c.desk) } },
        el('span', { textContent: `Desk ${c.desk}: ${callText(c.kind)}` }), clear);
    }));
  }

  #chatLog(card, booth) {
    const key = JSON.stringify(booth.chat.map((l) => [l.time, l.from, l.text]));
    if (card.chatKey === key) return;
    card.chatKey = key;
    card.log.replaceChildren(...booth.chat.map((line) => el('li', { className: line.from === 'tech' ? 'mine' : '' },
      el('time', { textContent: clockTime(line.time) }), ' ', el('b', { textContent: line.from ?? '' }), ' ',
      el('span', { textContent: line.text ?? '', dir: 'auto' }))));
    card.log.scrollTop = card.log.scrollHeight;
  }

  // A `meters` message: the desks' microphones.
  meters(model, now) {
    for (const [boothId, card] of this.cards) {
      for (const [d, { meter }] of card.desks) {
        const m = model.deskMeter(boothId, d);
        if (m) meter.set(m.peak_dbfs, m.rms_dbfs, m.clipped, now);
      }
    }
  }

  draw(now) {
    for (const card of this.cards.values()) for (const { meter } of card.desks.values()) meter.draw(now);
  }
}
