// panels.js: the dashboard's other panels: active alarms (with their cue), the event log with its
// kind filter, device input meters, the engine line, and the listeners panel (chart, receivers'
// reports, worst listeners). Main thread only.

import { drawChart, PALETTE } from './chart.js';
import { alarmTitle, clockTime, duration, ms, where } from './format.js';
import { Meter } from './meter.js';
import { EVENT_KINDS, aggregateReports, decodersText, filterEvents } from './model.js';
import { setText } from './strips.js';

const MAX_SHOWN_EVENTS = 300;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function row(cells) {
  const tr = document.createElement('tr');
  for (const c of cells) tr.append(el('td', '', c));
  return tr;
}

export class AlarmsPanel {
  constructor(section, list, none) {
    this.section = section;
    this.list = list;
    this.none = none;
  }

  render(model, now) {
    const alarms = model.alarms;
    this.section.dataset.count = String(alarms.length);
    this.none.hidden = alarms.length > 0;
    this.list.replaceChildren(...alarms.map((a) => {
      const li = el('li', 'alarm');
      li.dataset.kind = a.kind;
      li.dataset.id = String(a.id);
      if (a.channel) li.dataset.channel = a.channel;
      const channel = a.channel ? ` · ${model.channelName(a.channel)}` : '';
      li.append(el('strong', '', `${alarmTitle(a.kind)}${channel}`), el('span', 'text', a.text ?? ''),
        el('span', 'since', Number.isFinite(a.since) ? `since ${clockTime(a.since)} (${duration(now - a.since)})` : ''));
      return li;
    }));
  }

  // The "since" durations move on.
  tick(model, now) {
    [...this.list.children].forEach((li, i) => {
      const a = model.alarms[i];
      if (a && Number.isFinite(a.since)) setText(li.querySelector('.since'), `since ${clockTime(a.since)} (${duration(now - a.since)})`);
    });
  }
}

export class EventLog {
  constructor(list, filter) {
    this.list = list;
    this.filter = filter;
    this.model = null;
    for (const kind of EVENT_KINDS) {
      const option = el('option', '', kind);
      option.value = kind;
      filter.append(option);
    }
    filter.addEventListener('change', () => this.model && this.render(this.model));
  }

  render(model) {
    this.model = model;
    const shown = filterEvents(model.events, this.filter.value).slice(0, MAX_SHOWN_EVENTS);
    this.list.replaceChildren(...shown.map((e) => {
      const li = el('li', 'event');
      li.dataset.kind = e.kind;
      const time = el('time', '', clockTime(e.time));
      if (Number.isFinite(e.time)) time.dateTime = new Date(e.time).toISOString();
      li.append(time, el('span', 'kind', e.kind), el('span', 'where', where(e.booth, e.desk)), el('span', 'text', e.text ?? ''));
      li.lastChild.dir = 'auto';
      return li;
    }));
  }
}

export class Inputs {
  constructor(container) {
    this.container = container;
    this.meters = [];
  }

  build(count) {
    this.meters = [];
    this.container.replaceChildren();
    if (!count) {
      this.container.append(el('p', 'none', 'No device inputs'));
      return;
    }
    for (let i = 0; i < count; i += 1) {
      const box = el('div', 'input');
      box.dataset.input = String(i + 1);
      const canvas = el('canvas', 'meter small');
      canvas.setAttribute('role', 'meter');
      canvas.setAttribute('aria-label', `Input ${i + 1}`);
      const clip = el('button', 'clip', 'CLIP');
      clip.type = 'button';
      clip.title = 'Clipped: click to clear';
      const meter = new Meter(canvas, { orientation: 'horizontal' });
      clip.addEventListener('click', () => { meter.clearClip(); clip.dataset.lit = 'false'; });
      box.append(el('span', 'label', `In ${i + 1}`), canvas, clip);
      this.container.append(box);
      this.meters.push({ meter, clip });
    }
  }

  update(inputs, now) {
    if (!Array.isArray(inputs)) return;
    if (inputs.length !== this.meters.length) this.build(inputs.length);
    inputs.forEach((m, i) => {
      const { meter, clip } = this.meters[i];
      meter.set(m.peak_dbfs, m.rms_dbfs, m.clipped, now);
      clip.dataset.lit = String(meter.clip.lit);
    });
  }

  draw(now) {
    for (const { meter } of this.meters) meter.draw(now);
  }
}

// The engine line; inputs: hello's count of device inputs (0: test sources only, no device).
export function engineText(engine, inputs) {
  if (!engine) return '';
  const device = !inputs ? 'no audio device' : engine.device_running ? 'device ok' : 'device DOWN';
  const parts = [
    device,
    Number.isFinite(engine.device_overruns) ? `overruns ${engine.device_overruns}` : '',
    Number.isFinite(engine.late_ticks) ? `late ticks ${engine.late_ticks}` : '',
    Number.isFinite(engine.encode_us_avg) ? `encode ${Math.round(engine.encode_us_avg)} µs (max ${Math.round(engine.encode_us_max ?? 0)})` : '',
  ];
  return parts.filter(Boolean).join(' · ');
}

export class ListenersPanel {
  constructor({ chart, legend, reports, worst }) {
    this.chart = chart;
    this.legend = legend;
    this.reports = reports;
    this.worst = worst;
  }

  build(model) {
    this.legend.replaceChildren(...model.channels.map((c, k) => {
      const li = el('li', '', c.name);
      li.dir = 'auto';
      li.style.setProperty('--color', PALETTE[k % PALETTE.length]);
      return li;
    }));
  }

  drawChart(model) {
    drawChart(this.chart, model.history.series, { intervalS: model.history.intervalS, order: model.channels.map((c) => c.id) });
  }

  render(model) {
    const status = model.status;
    if (!status) return;
    const reports = Array.isArray(status.reports) ? status.reports : [];
    const listening = (id) => model.channelMeter(model.channelIndex(id))?.listeners ?? '–';
    const tbody = this.reports.tBodies[0];
    tbody.replaceChildren(...reports.map((r) => {
      const tr = row([model.channelName(r.id), String(listening(r.id)), String(r.reporting ?? 0), ms(r.buffer_ms_median),
        ms(r.latency_ms_median), String(r.underruns ?? 0), decodersText(r.decoders)]);
      tr.dataset.channel = r.id;
      return tr;
    }));
    const total = aggregateReports(reports);
    this.reports.tFoot.replaceChildren(row(['All', String(status.listeners ?? '–'), String(total.reporting), '', '', String(total.underruns), decodersText(total.decoders)]));
    const worst = Array.isArray(status.worst) ? status.worst : [];
    this.worst.tBodies[0].replaceChildren(...(worst.length ? worst.map((w) => row([model.channelName(w.channel), w.address ?? '', String(w.underruns ?? 0),
      ms(w.latency_ms), ms(w.buffer_ms), w.decoder ?? ''])) : [row(['No reports yet', '', '', '', '', ''])]));
  }
}
