// tech.mjs — browser.tech: the technician dashboard (client/web/tech/) against the real tolk-server
// with a tech_token and sources at known levels: floor a 440 Hz tone (-12 dBFS), en a WAV sine at
// -30 dBFS, es a WAV sine at full scale (clips), de a silent WAV (live and silent: an alarm), fr a
// booth channel with one desk (a tone), ar carrying en.
// Checks: /tech, its files, /tech/sheet.html and /api/qr.svg answer 401 without the token (and do
// not name a channel); /tech?token= sets the cookie and shows the dashboard; each strip's meter
// reading (data-peak-dbfs) and what its canvas draws (pixels) match the source's level; the
// meters update at the `meters` rate; es latches its clip light and the clipping and silence
// alarms show (with the cue); a click or a double click on Mute does nothing, holding Force
// fallback forces en (its strip, /api/status and the event log say so) and holding it again
// releases it; a booth console (a /booth socket from the page) puts desk 1 on air and raises a
// call: the booth card shows both, Clear lowers the call; a chat line reaches the booth's
// history; two listeners' reports show in the counts, the reports and the worst listeners; every QR code on the dashboard and on sheet.html decodes (zbarimg) to the right URL;
// 768 px wide: no sideways scrolling; after a restart the page reconnects by itself; a changed
// token brings up the token prompt, which reloads the dashboard. Screenshots: tests/artifacts/tech-*.png.
// Usage: node tech.mjs PATH/TO/tolk-server   (TOLK_TEST_PORT=N picks the port; else 18600-18699)
import { execFile, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  REPO, Server, check, ensureArtifacts, fail, launch, loadPlaywright, log, runTest, sleep, watchPage,
} from './harness.mjs';

const TONE_DBFS = -12; // server/audio/source.c: tone sources play at -12 dBFS
const QUIET_DBFS = -30;
const LEVEL_TOLERANCE_DB = 0.5; // the reading the dashboard shows
const PIXEL_TOLERANCE_DB = 1; // what its canvas draws (0.27 dB per pixel at 220 px)
const BOOTH_PIN = '2468';
const CHANNELS = ['floor', 'en', 'fr', 'es', 'de', 'ar'];

const sh = (s) => s.replace(/[^A-Za-z0-9_./-]/g, '');

// A 1 s, 48 kHz, 16-bit mono WAV of a 1 kHz sine (a whole number of cycles: it loops seamlessly).
function writeSine(path, peakDbfs) {
  const rate = 48000;
  const n = rate;
  const data = Buffer.alloc(n * 2);
  const amplitude = peakDbfs === null ? 0 : Math.min(32767, Math.round(32768 * 10 ** (peakDbfs / 20)));
  for (let i = 0; i < n; i += 1) data.writeInt16LE(Math.round(amplitude * Math.sin((2 * Math.PI * 1000 * i) / rate)), i * 2);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(data.length, 40);
  writeFileSync(path, Buffer.concat([header, data]));
}

function configText(port, dir, token, publicUrl) {
  return `; written by tests/browser/tech.mjs
[server]
listen = 127.0.0.1:${port}
web_root = ${process.env.TOLK_TEST_WEB_ROOT || join(REPO, 'client/web')}
threads = 1
public_url = ${publicUrl}
tech_token = ${token}
booth_pin = 0000
silence_alarm_s = 1

[audio]
frame_ms = 20

[channel floor]
name = Floor
source = tone:440

[channel en]
name = English
lang = en
source = file:${join(dir, 'quiet.wav')}

[channel fr]
name = Français
lang = fr
source = none
fallback = floor

[channel es]
name = Español
lang = es
source = file:${join(dir, 'full.wav')}

[channel de]
name = Deutsch
lang = de
source = file:${join(dir, 'silent.wav')}

[channel ar]
name = العربية
lang = ar
source = none
fallback = en

[booth fr]
name = French booth
desks = tone:880
a = fr
pin = ${BOOTH_PIN}
`;
}

// The harness's Server, with this test's config and a readiness probe that needs no token.
class TechServer extends Server {
  constructor(binary, port, token, publicUrl) {
    super(binary, port);
    this.publicUrl = publicUrl;
    writeSine(join(this.dir, 'quiet.wav'), QUIET_DBFS);
    writeSine(join(this.dir, 'full.wav'), 0);
    writeSine(join(this.dir, 'silent.wav'), null);
    this.setToken(token);
  }

  setToken(token) {
    this.token = token;
    writeFileSync(this.config, configText(this.port, this.dir, token, this.publicUrl));
  }

  async start() {
    const { spawn } = await import('node:child_process');
    const child = spawn(this.binary, ['-c', this.config], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.exited = new Promise((done) => child.on('exit', (code, signal) => done({ code, signal })));
    for (const stream of [child.stdout, child.stderr]) stream.on('data', (data) => { this.output += data; });
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      if (child.exitCode !== null) fail(`tolk-server exited (${child.exitCode}):\n${this.output}`);
      try {
        await fetch(`http://127.0.0.1:${this.port}/api/health`);
        return;
      } catch (error) { /* not listening yet */ }
      await sleep(100);
    }
    fail(`tolk-server did not answer on port ${this.port} within 10 s:\n${this.output}`);
  }
}

async function portIsFree(port) {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

async function pickPort() {
  if (process.env.TOLK_TEST_PORT) return Number(process.env.TOLK_TEST_PORT);
  const start = 18600 + Math.floor(Math.random() * 100);
  for (let i = 0; i < 100; i += 1) {
    const port = 18600 + ((start - 18600 + i) % 100);
    if (await portIsFree(port)) return port;
  }
  return fail('no free port in 18600-18699');
}

function zbar(png) {
  return new Promise((done, failed) => {
    execFile('zbarimg', ['--raw', '-q', png], { timeout: 10_000 }, (error, stdout) => {
      if (error) failed(new Error(`zbarimg found no QR code in ${png} (${error.message.trim()})`));
      else done(stdout.trim());
    });
  });
}

async function waitFor(what, probe, timeoutMs = 8000) {
  const until = Date.now() + timeoutMs;
  let last;
  while (Date.now() < until) {
    last = await probe();
    if (last?.ok) return last;
    await sleep(100);
  }
  return fail(`${what}: not within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
}

// The strip's reading and what its canvas draws: the top of the lit peak column, in dBFS.
async function stripReading(page, id) {
  return page.evaluate((channel) => {
    const strip = document.querySelector(`.strip[data-channel="${channel}"]`);
    const canvas = strip?.querySelector('canvas.meter');
    if (!canvas || !canvas.width) return null;
    const { width, height } = canvas;
    const x = Math.round(22 * (window.devicePixelRatio || 1)) + 1; // left of the RMS bar, right of the scale
    const column = canvas.getContext('2d').getImageData(x, 0, 1, height).data;
    let top = height;
    for (let y = 0; y < height; y += 1) {
      const [r, g, b] = [column[y * 4], column[y * 4 + 1], column[y * 4 + 2]];
      if (!(r === 22 && g === 27 && b === 34)) { top = y; break; } // the meter's empty track
    }
    return {
      state: strip.dataset.state,
      text: strip.querySelector('.state').textContent,
      peak: Number.parseFloat(canvas.dataset.peakDbfs),
      rms: Number.parseFloat(canvas.dataset.rmsDbfs),
      clip: canvas.dataset.clip,
      updates: Number(canvas.dataset.updates),
      drawnDb: top >= height ? -Infinity : (1 - top / height) * 60 - 60,
      width,
    };
  }, id);
}

async function checkLevel(page, id, dbfs) {
  const r = await waitFor(`${id} meter near ${dbfs} dBFS`, async () => {
    const m = await stripReading(page, id);
    return { ...m, ok: m && Math.abs(m.peak - dbfs) <= LEVEL_TOLERANCE_DB && Math.abs(m.drawnDb - dbfs) <= PIXEL_TOLERANCE_DB };
  });
  log(`${id}: reads ${r.peak} dBFS peak, ${r.rms} RMS, canvas drawn to ${r.drawnDb.toFixed(2)} dBFS (source ${dbfs})`);
}

async function hold(page, locator, ms) {
  await locator.scrollIntoViewIfNeeded();
  const box = await locator.boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await sleep(ms);
  await page.mouse.up();
}

async function apiStatus(server) {
  const response = await fetch(`http://127.0.0.1:${server.port}/api/status`, { headers: { authorization: `Bearer ${server.token}` } });
  check(response.ok, `/api/status with the bearer token: HTTP ${response.status}`);
  return response.json();
}

async function decodeQr(locator, png, expected, what) {
  await locator.scrollIntoViewIfNeeded();
  await waitFor(`${what}: QR image loaded`, async () => ({ ok: await locator.evaluate((img) => img.complete && img.naturalWidth > 0) }));
  await locator.screenshot({ path: png });
  const text = await zbar(png);
  check(text === expected, `${what}: the QR code reads ${JSON.stringify(text)}, expected ${JSON.stringify(expected)}`);
}

async function checkRefused(base) {
  for (const path of ['/tech', '/tech/', '/tech/sheet.html', '/tech/js/app.js', '/api/qr.svg', '/api/qr.svg?channel=fr', '/api/status', '/tech?token=wrong']) {
    const response = await fetch(base + path, { redirect: 'manual' });
    const body = await response.text();
    check(response.status === 401, `${path} without the token: HTTP ${response.status}, expected 401`);
    check(!body.includes('Français') && !body.includes('floor'), `${path} without the token reveals a channel`);
  }
  log('without the token: 401 for the dashboard, its files, the sheet, the QR codes and the status');
}

async function checkMeters(page) {
  await checkLevel(page, 'floor', TONE_DBFS);
  await checkLevel(page, 'en', QUIET_DBFS);
  const a = await stripReading(page, 'floor');
  await sleep(2000);
  const b = await stripReading(page, 'floor');
  check(b.updates - a.updates >= 30, `floor meter: ${b.updates - a.updates} updates in 2 s (25/s expected)`);
  log(`floor meter: ${b.updates - a.updates} updates in 2 s`);
  const de = await stripReading(page, 'de');
  check(!Number.isFinite(de.peak) && de.drawnDb === -Infinity, `de (silent) reads ${de.peak}, drawn ${de.drawnDb}`);
}

async function checkAlarms(page) {
  const es = await waitFor('es clip light', async () => {
    const m = await stripReading(page, 'es');
    return { ...m, ok: m?.clip === 'true' && (await page.locator('.strip[data-channel="es"] .clip[data-lit=true]').count()) === 1 };
  });
  log(`es: clip latched (peak ${es.peak} dBFS)`);
  const alarms = await waitFor('clipping and silence alarms', async () => {
    const kinds = await page.locator('#alarm-list .alarm').evaluateAll((els) => els.map((e) => `${e.dataset.kind}:${e.dataset.channel ?? ''}`));
    return { kinds, ok: kinds.includes('clipping:es') && kinds.includes('silence:de') };
  }, 10_000);
  const cues = await page.locator('#alarms').getAttribute('data-cues');
  check(Number(cues) >= 1, `no alarm cue fired (data-cues ${cues})`);
  check((await page.title()).includes('ALARM'), `the title does not show the alarms: ${await page.title()}`);
  log(`alarms shown: ${alarms.kinds.join(', ')}; cues ${cues}`);
}

async function checkControls(page, server) {
  const floorMute = page.locator('.strip[data-channel="floor"] .mute');
  await floorMute.click();
  await floorMute.dblclick();
  await sleep(1500);
  check((await stripReading(page, 'floor')).state === 'live', 'a click on Mute muted the floor');
  const force = page.locator('.strip[data-channel="en"] .force');
  await hold(page, force, 1400);
  const forced = await waitFor('en forced to its fallback', async () => {
    const m = await stripReading(page, 'en');
    return { ...m, ok: m.state === 'forced' && m.text.includes('Floor') };
  });
  const status = await apiStatus(server);
  const en = status.channels.find((c) => c.id === 'en');
  check(en && en.live === false && en.carrying === 'floor', `/api/status: en ${JSON.stringify(en)}`);
  await waitFor('control event in the log', async () => ({
    ok: (await page.locator('#events .event[data-kind=control]').filter({ hasText: 'en' }).count()) >= 1,
  }));
  log(`en forced: strip "${forced.text}", /api/status live=${en.live} carrying=${en.carrying}, logged`);
  await page.screenshot({ path: join(ensureArtifacts(), 'tech-forced.png'), fullPage: true });
  await hold(page, force, 1400);
  await waitFor('en live again', async () => {
    const m = await stripReading(page, 'en');
    return { ...m, ok: m.state === 'live' };
  });
  log('en released: live again');
}

// A booth console's socket opened from the page: desk 1 on air, then a slow-down call.
async function checkBooth(page) {
  await page.evaluate(({ pin }) => new Promise((done, failed) => {
    const ws = new WebSocket(`ws://${location.host}/booth`, 'tolk.booth.v1');
    window.testBooth = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: 'login', booth: 'fr', pin }));
    ws.onmessage = (e) => {
      const msg = JSON.parse(e.data);
      if (msg.type === 'welcome') {
        ws.send(JSON.stringify({ type: 'mic', desk: 1, on: true }));
        ws.send(JSON.stringify({ type: 'call', desk: 1, kind: 'slow_down', on: true }));
        done();
      } else if (msg.type === 'error') failed(new Error(`booth: ${msg.code}`));
    };
    ws.onerror = () => failed(new Error('booth socket failed'));
  }), { pin: BOOTH_PIN });
  const card = page.locator('.booth[data-booth="fr"]');
  await waitFor('desk 1 on air in the booth card and the fr strip', async () => {
    const m = await stripReading(page, 'fr');
    const onair = await card.locator('.desk[data-desk="1"]').getAttribute('data-onair');
    return { state: m.state, text: m.text, onair, ok: onair === 'true' && m.state === 'live' && m.text.includes('desk 1') };
  });
  const call = card.locator('.call[data-kind=slow_down]');
  await call.waitFor({ timeout: 5000 });
  await page.screenshot({ path: join(ensureArtifacts(), 'tech-booth.png'), fullPage: true });
  await call.locator('button').click();
  await call.waitFor({ state: 'detached', timeout: 5000 });
  const input = card.locator('.chat-form input');
  await input.fill('Check your microphone, desk 1');
  await card.locator('.chat-form button').click();
  await card.locator('.chat-log li').filter({ hasText: 'Check your microphone' }).waitFor({ timeout: 5000 });
  log('booth fr: desk 1 on air shown, slow-down call shown and cleared, chat line in its history');
}

// Two listeners opened from the page, each sending a receiver's report: the counts, the reports
// table, the worst listeners and the history of every channel.
async function checkListeners(page) {
  await page.evaluate(() => {
    window.testListeners = [['fr', 3, 180], ['en', 1, 90]].map(([channel, underruns, latency]) => {
      const ws = new WebSocket(`ws://${location.host}/listen?channel=${channel}`, 'tolk.listen.v1');
      ws.onopen = () => ws.send(JSON.stringify({ type: 'stats', buffer_ms: 60, latency_ms: latency, underruns, decoder: 'testdec' }));
      return ws;
    });
  });
  const r = await waitFor('listener counts, reports and worst listeners', async () => page.evaluate(() => {
    const cell = (sel) => [...document.querySelectorAll(sel)].map((td) => td.textContent);
    const fr = cell('#reports tbody tr[data-channel="fr"] td');
    const worst = cell('#worst tbody tr:first-child td');
    const listeners = document.querySelector('.strip[data-channel="fr"] .listeners').textContent;
    const total = document.getElementById('listeners-total').textContent;
    const history = [...window.tolkTech.model.history.series.keys()];
    return {
      fr, worst, listeners, total, history,
      ok: fr[2] === '1' && fr[5] === '3' && fr[6] === 'testdec 1' && worst[0] === 'Français' && worst[2] === '3'
        && listeners === '1' && total === '2' && history.length === 6,
    };
  }), 10_000);
  await page.evaluate(() => window.testListeners.forEach((ws) => ws.close()));
  log(`listeners: total ${r.total}, fr report ${r.fr.join(' | ')}, worst ${r.worst.join(' | ')}, history of ${r.history.length} channels`);
}

async function checkDashboardQr(page, hello) {
  const dir = ensureArtifacts();
  await page.locator('#qr-public').click();
  await decodeQr(page.locator('#qr-img'), join(dir, 'tech-qr-public.png'), hello.public_url, 'public URL');
  await page.locator('#qr-close').click();
  for (const channel of hello.channels) {
    const expected = `${hello.public_url}?channel=${channel.id}`;
    check(channel.url === expected, `hello: ${channel.id} url ${channel.url}, expected ${expected}`);
    await page.locator(`.strip[data-channel="${channel.id}"] .qr-button`).click();
    await decodeQr(page.locator('#qr-img'), join(dir, `tech-qr-${sh(channel.id)}.png`), expected, `dashboard QR of ${channel.id}`);
    await page.locator('#qr-close').click();
  }
  log(`dashboard: the public QR code and ${hello.channels.length} channel QR codes decode to their URLs`);
}

async function checkSheet(context, base, hello) {
  const page = await context.newPage();
  const dir = ensureArtifacts();
  await page.setViewportSize({ width: 900, height: 1200 });
  await page.goto(`${base}/tech/sheet.html`);
  await page.locator('body[data-ready=true]').waitFor({ timeout: 10_000 });
  await decodeQr(page.locator('#main-qr'), join(dir, 'tech-sheet-qr-public.png'), hello.public_url, 'sheet: public URL');
  for (const channel of hello.channels) {
    const card = page.locator(`.card[data-channel="${channel.id}"]`);
    await decodeQr(card.locator('img.qr'), join(dir, `tech-sheet-qr-${sh(channel.id)}.png`), `${hello.public_url}?channel=${channel.id}`, `sheet: ${channel.id}`);
    check(await card.locator('.url').textContent() === channel.url, `sheet: ${channel.id} shows the wrong URL`);
    check(await card.locator('.name').textContent() === channel.name, `sheet: ${channel.id} shows the wrong name`);
  }
  const ar = page.locator('.card[data-channel="ar"] .name');
  check(await ar.getAttribute('lang') === 'ar' && await ar.getAttribute('dir') === 'auto', 'sheet: the Arabic name is not marked as Arabic');
  await page.emulateMedia({ media: 'print' });
  check(!(await page.locator('.screen-only').isVisible()), 'sheet: the Print button would be printed');
  await page.screenshot({ path: join(dir, 'tech-sheet.png'), fullPage: true });
  await page.pdf({ path: join(dir, 'tech-sheet.pdf'), format: 'A4' });
  await page.close();
  log(`sheet: the public QR code and ${hello.channels.length} channel QR codes decode; names in their scripts; print view`);
}

async function checkTablet(page) {
  await page.setViewportSize({ width: 768, height: 1024 });
  await sleep(300);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  check(overflow <= 0, `768 px wide: ${overflow} px of sideways scrolling`);
  await page.screenshot({ path: join(ensureArtifacts(), 'tech-tablet.png'), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
}

// The server restarts: the page reconnects by itself. Then it comes back with another token: the
// socket is refused, the page asks for the token and reloads with it.
async function checkTokenPrompt(page, server, base) {
  await server.stop();
  await page.locator('body[data-connection=waiting]').waitFor({ timeout: 10_000 });
  const lost = await page.locator('#connection').textContent();
  await server.start();
  await page.locator('body[data-connection=ready]').waitFor({ timeout: 20_000 });
  await checkLevel(page, 'floor', TONE_DBFS);
  log(`server restarted: "${lost}", then connected again by itself`);
  await server.stop();
  server.setToken(randomBytes(12).toString('hex'));
  await server.start();
  await page.locator('#token-dialog[open]').waitFor({ timeout: 20_000 });
  await page.screenshot({ path: join(ensureArtifacts(), 'tech-token.png') });
  await page.locator('#token-input').fill(server.token);
  await Promise.all([page.waitForURL(`${base}/tech`), page.locator('#token-form button').click()]);
  await page.locator('body[data-connection=ready]').waitFor({ timeout: 10_000 });
  log('a changed token: the prompt came up, and the new token reopened the dashboard');
}

async function main() {
  const binary = process.argv[2];
  if (!binary) fail('usage: node tech.mjs PATH/TO/tolk-server');
  const playwright = await loadPlaywright();
  if (spawnSync('zbarimg', ['--version']).error) {
    throw Object.assign(new Error('zbarimg is missing (apt-get install zbar-tools)'), { skip: true });
  }
  const port = await pickPort();
  const base = `http://127.0.0.1:${port}`;
  const server = new TechServer(binary, port, randomBytes(12).toString('hex'), `http://tolk.test:${port}`);
  let browser = null;
  try {
    await server.start();
    await checkRefused(base);
    browser = await launch(playwright);
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const refused = await page.goto(`${base}/tech`);
    check(refused.status() === 401, `/tech in the browser without the token: HTTP ${refused.status()}`);
    const seen = watchPage(page, base);
    const consoleErrors = [];
    page.on('console', (msg) => {
      const where = msg.location()?.url ?? '';
      if (msg.type() === 'error' && !where.endsWith('/favicon.ico')) consoleErrors.push(`${msg.text()} (${where})`);
    });
    await page.goto(`${base}/tech?token=${server.token}`);
    check(new URL(page.url()).search === '', `the token stayed in the address bar: ${page.url()}`);
    await page.locator('body[data-connection=ready]').waitFor({ timeout: 10_000 });
    await page.locator('.strip').nth(CHANNELS.length - 1).waitFor({ timeout: 5000 });
    const hello = await page.evaluate(() => window.tolkTech.model.hello);
    // The server writes the public URL with its path: the configured address plus '/'.
    check(hello.public_url === `${server.publicUrl}/`, `hello: public_url ${hello.public_url}`);
    log(`dashboard up: ${hello.channels.length} channels, ${hello.booths.length} booth(s)`);
    await checkMeters(page);
    await checkAlarms(page);
    await page.screenshot({ path: join(ensureArtifacts(), 'tech-dashboard.png'), fullPage: true });
    await checkControls(page, server);
    await checkBooth(page);
    await checkListeners(page);
    await checkDashboardQr(page, hello);
    await checkSheet(context, base, hello);
    await checkTablet(page);
    check(seen.foreign.length === 0, `requests to other hosts: ${seen.foreign.join(', ')}`);
    check(seen.failed.length === 0, `failed requests: ${seen.failed.join(' | ')}`);
    const errors = seen.errors.filter((e) => !e.startsWith('Failed to load resource')).concat(consoleErrors);
    check(errors.length === 0, `page errors: ${errors.join(' | ')}`);
    await checkTokenPrompt(page, server, base);
  } finally {
    await browser?.close();
    await server.dispose();
  }
}

runTest('browser.tech', main);
