// Tests of the technician dashboard's model (client/web/tech/js/model.js) in Node: messages of the
// tech protocol v1 (docs/protocol.md) applied in order — hello, meters, history (first whole, then
// appended and trimmed to an hour), events (deduplicated, newest first, capped), alarms (which are
// new), booths — and the text a channel strip shows for each routing state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_EVENTS, TechModel, aggregateReports, channelState, decodersText, desksOnAir, filterEvents, raisedCalls,
} from '../../../client/web/tech/js/model.js';

const HELLO = {
  type: 'hello', protocol: 1, frame_ms: 20, bitrate: 32000, public_url: 'http://tolk.local:8080',
  channels: [
    { id: 'floor', name: 'Floor', lang: '', url: 'http://tolk.local:8080/?channel=floor' },
    { id: 'fr', name: 'Français', lang: 'fr', url: 'http://tolk.local:8080/?channel=fr' },
    { id: 'ar', name: 'العربية', lang: 'ar', url: 'http://tolk.local:8080/?channel=ar' },
  ],
  booths: [{ id: 'fr', name: 'French booth', a: 'fr', b: 'ar', desks: 2 }],
  inputs: 2, silence_alarm_s: 10,
};

test('hello gives channels and booths; a second hello starts over', () => {
  const m = new TechModel();
  assert.equal(m.apply(HELLO), 'hello');
  assert.deepEqual(m.channels.map((c) => c.id), ['floor', 'fr', 'ar']);
  assert.equal(m.channelIndex('ar'), 2);
  assert.equal(m.channelName('fr'), 'Français');
  assert.equal(m.channelName('zz'), 'zz');
  assert.equal(m.booths.get('fr').deskCount, 2);
  m.apply({ type: 'events', events: [{ seq: 5, time: 1, kind: 'mic', text: 'x' }] });
  m.apply(HELLO);
  assert.equal(m.events.length, 0, 'a restarted server restarts its sequence numbers');
});

test('meters: per channel and per desk lookups', () => {
  const m = new TechModel();
  m.apply(HELLO);
  assert.equal(m.channelMeter(0), null);
  assert.equal(m.apply({
    type: 'meters',
    channels: [{ peak_dbfs: -12, rms_dbfs: -15, live: true }, { peak_dbfs: -120 }, {}],
    inputs: [{ peak_dbfs: -30 }, { peak_dbfs: -40 }],
    desks: [{ booth: 'fr', desk: 2, peak_dbfs: -20, rms_dbfs: -23 }],
  }), 'meters');
  assert.equal(m.channelMeter(0).peak_dbfs, -12);
  assert.equal(m.deskMeter('fr', 2).rms_dbfs, -23);
  assert.equal(m.deskMeter('fr', 1), null);
});

test('history: the first message whole, then appended points, kept to one hour', () => {
  const m = new TechModel();
  m.apply(HELLO);
  m.apply({ type: 'history', interval_s: 10, channels: { floor: [1, 2, 3], fr: new Array(359).fill(7) } });
  assert.deepEqual(m.history.series.get('floor'), [1, 2, 3]);
  m.apply({ type: 'history', interval_s: 10, append: true, channels: { floor: [4], fr: [8], ar: [1] } });
  assert.deepEqual(m.history.series.get('floor'), [1, 2, 3, 4]);
  assert.equal(m.history.series.get('fr').length, 360);
  m.apply({ type: 'history', interval_s: 10, append: true, channels: { fr: [9] } });
  const fr = m.history.series.get('fr');
  assert.equal(fr.length, 360, 'an hour of 10 s points');
  assert.deepEqual(fr.slice(-2), [8, 9]);
  assert.deepEqual(m.history.series.get('ar'), [1]);
  m.apply({ type: 'history', interval_s: 10, channels: { floor: [5] } });
  assert.deepEqual([...m.history.series.keys()], ['floor'], 'a whole history replaces the old one');
});

test('history as the server sends it: one channel per message, then {id: count} points', () => {
  const m = new TechModel();
  m.apply(HELLO);
  assert.equal(m.apply({ type: 'history', interval_s: 10, channel: 'floor', points: [1, 2] }), 'history');
  m.apply({ type: 'history', interval_s: 10, channel: 'fr', points: [3] });
  assert.deepEqual(m.history.series.get('floor'), [1, 2], 'one channel does not clear another');
  m.apply({ type: 'history', interval_s: 10, append: true, points: { floor: 5, fr: 6 } });
  assert.deepEqual(m.history.series.get('floor'), [1, 2, 5]);
  assert.deepEqual(m.history.series.get('fr'), [3, 6]);
});

test('events: newest first, no duplicates, capped; filter by kind', () => {
  const m = new TechModel();
  m.apply(HELLO);
  m.apply({ type: 'events', events: [{ seq: 1, kind: 'mic' }, { seq: 2, kind: 'alarm' }, { seq: 3, kind: 'mic' }] });
  m.apply({ type: 'events', events: [{ seq: 3, kind: 'mic' }, { seq: 4, kind: 'call' }] });
  assert.deepEqual(m.events.map((e) => e.seq), [4, 3, 2, 1]);
  assert.deepEqual(filterEvents(m.events, 'mic').map((e) => e.seq), [3, 1]);
  assert.equal(filterEvents(m.events, '').length, 4);
  m.apply({ type: 'events', events: Array.from({ length: MAX_EVENTS + 50 }, (_, i) => ({ seq: 100 + i, kind: 'chat' })) });
  assert.equal(m.events.length, MAX_EVENTS);
  assert.equal(m.events[0].seq, 100 + MAX_EVENTS + 49);
});

test('alarms: the set replaces the old one and says which are new', () => {
  const m = new TechModel();
  m.apply(HELLO);
  m.apply({ type: 'alarms', alarms: [{ id: 1, kind: 'silence', channel: 'fr', since: 5 }] });
  assert.deepEqual(m.newAlarms.map((a) => a.id), [1]);
  m.apply({ type: 'alarms', alarms: [{ id: 1, kind: 'silence', channel: 'fr' }, { id: 2, kind: 'clipping', channel: 'ar' }] });
  assert.deepEqual(m.newAlarms.map((a) => a.id), [2]);
  m.apply({ type: 'alarms', alarms: [{ id: 2, kind: 'clipping' }] });
  assert.deepEqual(m.newAlarms, []);
  assert.equal(m.alarms.length, 1);
});

test('booths: desks on air, calls and chat', () => {
  const m = new TechModel();
  m.apply(HELLO);
  m.apply({
    type: 'booths',
    booths: [{
      id: 'fr',
      desks: [
        { desk: 1, mic: true, cough: true, output: 'b', slow_down: true, technician: false },
        { desk: 2, mic: false, output: 'a', slow_down: false, technician: true },
      ],
      chat: [{ time: 1, from: 'desk 1', text: 'hello' }],
    }],
  });
  const booth = m.booths.get('fr');
  assert.equal(booth.name, 'French booth', 'hello\'s name is kept');
  assert.deepEqual(desksOnAir(booth), [{ desk: 1, channel: 'ar', cough: true }]);
  assert.deepEqual(raisedCalls(booth), [{ desk: 1, kind: 'slow_down' }, { desk: 2, kind: 'technician' }]);
  assert.equal(booth.chat[0].text, 'hello');
  assert.equal(m.apply({ type: 'booth', booth: 'fr', desks: [{ desk: 1, mic: false }], chat: [] }), 'booths',
    'one booth per message, as the server sends it');
  assert.deepEqual(desksOnAir(m.booths.get('fr')), []);
  assert.equal(m.booths.get('fr').chat.length, 0);
});

test('channelState: live, fallback, forced, muted', () => {
  const name = (id) => ({ floor: 'Floor', en: 'English' }[id] ?? id);
  assert.deepEqual(channelState(null), { state: 'unknown', text: 'waiting for data' });
  assert.deepEqual(channelState({ live: true, booth: 'fr', desk: 2 }, name), { state: 'live', text: 'LIVE · booth fr · desk 2' });
  assert.deepEqual(channelState({ live: true, booth: null }, name), { state: 'live', text: 'LIVE · own source' });
  assert.deepEqual(channelState({ live: false, carrying: 'floor' }, name), { state: 'fallback', text: 'fallback → Floor' });
  assert.deepEqual(channelState({ live: false, carrying: null }, name), { state: 'fallback', text: 'fallback → silence' });
  assert.deepEqual(channelState({ live: false, forced: true, carrying: 'en' }, name), { state: 'forced', text: 'FORCED fallback → English' });
  assert.equal(channelState({ live: false, forced: true, muted: true }, name).state, 'muted', 'muted wins over forced');
});

test('reports aggregate over channels', () => {
  const total = aggregateReports([
    { id: 'fr', reporting: 3, underruns: 2, decoders: { webcodecs: 2, wasm: 1 } },
    { id: 'en', reporting: 1, underruns: 0, decoders: { wasm: 1 } },
  ]);
  assert.deepEqual(total, { reporting: 4, underruns: 2, decoders: { webcodecs: 2, wasm: 2 } });
  assert.equal(decodersText({ wasm: 1, webcodecs: 5 }), 'webcodecs 5 · wasm 1');
  assert.equal(decodersText({}), '—');
});
