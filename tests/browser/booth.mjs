// booth.mjs — browser.booth: the interpreter booth console (booth.html) against the real
// tolk-server, with a floor tone (440 Hz) and booths whose desks are tones at other frequencies.
// A listener page on the booth's channel hears the floor; the console logs in (a wrong PIN first:
// the error shows), turns desk 1's mic on: the listener page shows "Interpreter live" and plays
// the desk's 880 Hz; the cough key silences it without falling back; mic off: back to the floor.
// The console's relay feed (the floor tone at -12 dBFS) goes through the hearing-protection
// limiter: with relay_peak_dbfs 20 dB under the tone, no sample of the page's output (its own
// AnalyserNode, read over seconds) exceeds the ceiling + 0.1 dB while it stays audible; a second
// booth with relay_average_dbfs 20 dB under the tone's RMS settles at or under that average.
// Screenshots go to tests/artifacts/booth-*.png.
// Usage: node booth.mjs PATH/TO/tolk-server   (TOLK_TEST_PORT=N picks the port)
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  REPO, Server, check, ensureArtifacts, fail, freePort, launch, loadPlaywright, log, runTest, sleep, waitForTone,
  watchPage,
} from './harness.mjs';

const FLOOR_HZ = 440;
const DESK_HZ = [880, 1320]; // booth fr, desks 1 and 2
const DE_DESK_HZ = 550;
const TONE_PEAK_DBFS = -12; // server/audio/source.c: tone sources play at -12 dBFS
const FR = { pin: '4321', peak: TONE_PEAK_DBFS - 20, average: -20 };
const DE = { pin: '5678', peak: -6, average: TONE_PEAK_DBFS - 3 - 20 }; // a sine's RMS is 3 dB under its peak
const TOLERANCE_DB = 0.1;

function configText(port) {
  return `; written by tests/browser/booth.mjs
[server]
listen = 127.0.0.1:${port}
web_root = ${process.env.TOLK_TEST_WEB_ROOT || join(REPO, 'client/web')}
threads = 1
booth_pin = 0000

[audio]
frame_ms = 20

[channel floor]
name = Floor
source = tone:${FLOOR_HZ}

[channel fr]
name = Français
lang = fr
source = none
fallback = floor

[channel de]
name = Deutsch
lang = de
source = none
fallback = floor

[booth fr]
name = French booth
desks = tone:${DESK_HZ[0]}, tone:${DESK_HZ[1]}
a = fr
b = de
pin = ${FR.pin}
relay_peak_dbfs = ${FR.peak}
relay_average_dbfs = ${FR.average}

[booth de]
name = German booth
desks = tone:${DE_DESK_HZ}
a = de
pin = ${DE.pin}
relay_peak_dbfs = ${DE.peak}
relay_average_dbfs = ${DE.average}
`;
}

const db = (x) => (x > 0 ? 20 * Math.log10(x) : -Infinity);

async function waitFor(what, probe, timeoutMs = 8000) {
  const until = Date.now() + timeoutMs;
  let last;
  while (Date.now() < until) {
    last = await probe();
    if (last?.ok) return last;
    await sleep(100);
  }
  fail(`${what} within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
}

async function waitForText(page, selector, pattern, timeoutMs = 8000) {
  return waitFor(`${selector} matching ${pattern}`, async () => {
    const text = (await page.locator(selector).textContent())?.trim() ?? '';
    return { ok: pattern.test(text), text };
  }, timeoutMs);
}

// Reads the page's final output (tolk.player.analyser, after the limiter and the Player's gain)
// every 50 ms for `ms`: the AnalyserNode holds the last 8192 samples (170 ms), so the reads
// overlap and every sample is seen. → {max, rmsDb, reads}
async function tapOutput(page, ms) {
  return page.evaluate(async (duration) => {
    const analyser = window.tolk?.player?.analyser;
    if (!analyser) return { error: 'no tolk.player.analyser' };
    const buf = new Float32Array(analyser.fftSize);
    let max = 0;
    let sum = 0;
    let count = 0;
    let reads = 0;
    const until = performance.now() + duration;
    while (performance.now() < until) {
      analyser.getFloatTimeDomainData(buf);
      reads += 1;
      for (let i = 0; i < buf.length; i++) {
        const a = Math.abs(buf[i]);
        if (a > max) max = a;
        sum += buf[i] * buf[i];
      }
      count += buf.length;
      await new Promise((done) => setTimeout(done, 50));
    }
    return { max, rmsDb: 10 * Math.log10(sum / count), reads };
  }, ms);
}

// The booth from the list the server offers (/api/booths), else typed.
async function login(page, booth, pin) {
  await page.locator('#login-form[data-ready="true"]').waitFor({ timeout: 5000 });
  const select = page.locator('#login-booth-select');
  if (await select.isVisible()) await select.selectOption(booth);
  else await page.locator('#login-booth').fill(booth);
  await page.locator('#login-pin').fill(pin);
  await page.locator('#login-submit').click();
}

async function openConsole(context, origin, booth, pin) {
  const page = await context.newPage();
  const seen = watchPage(page, origin);
  await page.goto(`${origin}/booth`);
  await page.locator('#connection[data-level="wait"]').waitFor({ timeout: 5000 });
  await login(page, booth, pin);
  await page.locator('#console:not([hidden])').waitFor({ timeout: 8000 });
  await page.locator('#mic:not([disabled])').waitFor({ timeout: 5000 });
  return { page, seen };
}

async function main() {
  const playwright = await loadPlaywright();
  const port = Number(process.env.TOLK_TEST_PORT) || await freePort();
  const server = new Server(process.argv[2], port);
  writeFileSync(server.config, configText(port));
  const dir = ensureArtifacts();
  const origin = `http://127.0.0.1:${port}`;
  let browser;
  try {
    await server.start();
    browser = await launch(playwright);
    const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } });

    // A delegate on the French channel: the floor, no interpreter.
    const listener = await context.newPage();
    const listenerSeen = watchPage(listener, origin);
    await listener.goto(`${origin}/?channel=fr`);
    await listener.locator('#channels input[type=radio]').first().waitFor({ timeout: 10_000 });
    await listener.locator('#listen').click();
    await waitForTone(listener, FLOOR_HZ);
    await waitForText(listener, '#live', /^Floor — no interpreter$/);
    const hot = await tapOutput(listener, 1000);
    log(`listener (no limiter): floor peaks at ${db(hot.max).toFixed(2)} dBFS`);
    check(Math.abs(db(hot.max) - TONE_PEAK_DBFS) < 1.5, `the floor tone peaks at ${db(hot.max)} dBFS, not ${TONE_PEAK_DBFS}`);

    // The console: a wrong PIN is refused and said so, the right one opens desk 1.
    const page = await context.newPage();
    const seen = watchPage(page, origin);
    await page.goto(`${origin}/booth`);
    await page.locator('#connection[data-level="wait"]').waitFor({ timeout: 5000 });
    await page.locator('#login-form[data-ready="true"]').waitFor({ timeout: 5000 });
    const offered = await page.locator('#login-booth-select option').evaluateAll((os) => os.map((o) => o.value));
    check(offered.join() === 'fr,de', `the login offers booths ${JSON.stringify(offered)}, expected fr,de`);
    await page.screenshot({ path: join(dir, 'booth-login.png') });
    await login(page, 'fr', '9999');
    const refused = await waitForText(page, '#message', /Wrong PIN/);
    log(`wrong PIN: "${refused.text}"`);
    check(await page.locator('#console').isHidden(), 'the console opened with a wrong PIN');
    check(await page.locator('#login-pin').inputValue() === '', 'the PIN field still holds the PIN');
    await login(page, 'fr', FR.pin);
    await page.locator('#console:not([hidden])').waitFor({ timeout: 8000 });
    await page.locator('#mic:not([disabled])').waitFor({ timeout: 5000 });
    await waitForText(page, '#connection', /^Connected$/);
    check(await page.locator('#desk-picker button').count() === 2, 'the desk picker does not offer 2 desks');
    check(await page.locator('#output-b-label').isVisible(), 'the B output is hidden in a booth with a B channel');
    check(await page.locator('#onair').isHidden(), 'ON AIR shows before the mic is on');
    check(await page.evaluate(() => localStorage.getItem('tolk.booth.id')) === 'fr', 'the booth is not remembered');
    const storedPin = await page.evaluate((pin) => Object.keys(localStorage).concat(Object.keys(sessionStorage))
      .some((k) => (localStorage.getItem(k) ?? sessionStorage.getItem(k) ?? '').includes(pin)), FR.pin);
    check(!storedPin, 'the PIN is in web storage');

    // Mic on: ON AIR, the listener hears desk 1 and is told "Interpreter live".
    await page.locator('#mic').click();
    await page.locator('#onair:not([hidden])').waitFor({ timeout: 5000 });
    check(await page.locator('#mic').getAttribute('aria-pressed') === 'true', 'the MIC button is not pressed');
    await waitForText(listener, '#live', /^Interpreter live$/);
    await waitForTone(listener, DESK_HZ[0]);
    await waitForText(page, '#channels tr[data-channel="fr"] td:nth-child(2)', /booth fr, desk 1/);
    await waitForText(page, '#listeners', /Français: [1-9]/);
    await page.screenshot({ path: join(dir, 'booth-onair.png'), fullPage: true });
    log('mic on: ON AIR, listener plays the desk and says Interpreter live');

    // Cough: muted while held, still live (no fallback to the floor).
    const box = await page.locator('#cough').boundingBox();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await waitForText(page, '#mic-state', /^MUTED$/);
    await waitFor('silence on the listener while coughing', async () => {
      const m = await tapOutput(listener, 300);
      return { ok: m.max < 0.01, max: m.max };
    });
    check(/^Interpreter live$/.test(await listener.locator('#live').textContent()), 'cough fell back to the floor');
    await page.mouse.up();
    await waitForText(page, '#mic-state', /^ON AIR$/);
    await waitForTone(listener, DESK_HZ[0]);
    // The Space bar too, released when the window loses focus.
    await page.locator('#relay-title').click();
    await page.keyboard.down(' ');
    await waitForText(page, '#mic-state', /^MUTED$/);
    await page.keyboard.up(' ');
    await waitForText(page, '#mic-state', /^ON AIR$/);
    log('cough: pointer and Space mute without fallback');

    // A second console of the booth, on desk 2, sees the same state; desk 1 asks, desk 2 accepts.
    const second = await openConsole(context, origin, 'fr', FR.pin);
    const page2 = second.page;
    await page2.locator('#desk-picker button[data-desk="2"]').click();
    await waitForText(page2, '#desks li[data-desk="1"]', /ON AIR → A \(fr\)/);
    await waitForText(page2, '#mic-note', /desk 1 is on air/);
    check(await page2.locator('#onair').isHidden(), 'desk 2 shows ON AIR while desk 1 is on air');
    await page.locator('#handover').click();
    await waitForText(page2, '#handover', /^Accept handover from desk 1$/);
    await page2.locator('#handover').click();
    await page2.locator('#onair:not([hidden])').waitFor({ timeout: 5000 });
    await page.locator('#onair').waitFor({ state: 'hidden', timeout: 5000 });
    await waitForTone(listener, DESK_HZ[1]);
    check(/^Interpreter live$/.test(await listener.locator('#live').textContent()), 'the handover fell back to the floor');
    log('handover: desk 2 took over on a second console; the listener plays desk 2');

    // Calls and chat from desk 2 show on desk 1's console.
    await page2.locator('#slow-down').click();
    await waitForText(page, '#desks li[data-desk="2"]', /slow down/);
    check(await page2.locator('#slow-down').getAttribute('aria-pressed') === 'true', 'slow-down is not shown as on');
    await page2.locator('#slow-down').click();
    await page2.locator('#chat-text').fill('please check desk 2 headset');
    await page2.locator('#chat-send').click();
    await waitForText(page, '#chat-log', /desk 2 please check desk 2 headset/);

    // The network stalls (server frozen): the console says so, keeps showing the routing, comes
    // back by itself (the PIN from memory) and the desk is still on air.
    server.freeze();
    try {
      await waitForText(page2, '#connection', /^Reconnecting…/, 10_000);
      check(await page2.locator('#onair').isVisible(), 'ON AIR vanished while reconnecting');
      check(await page2.locator('#mic').isDisabled(), 'the MIC button works while disconnected');
      await page2.screenshot({ path: join(dir, 'booth-reconnecting.png') });
    } finally {
      server.thaw();
    }
    await waitForText(page2, '#connection', /^Connected$/, 20_000);
    await page2.locator('#mic:not([disabled])').waitFor({ timeout: 5000 });
    check(await page2.locator('#mic').getAttribute('aria-pressed') === 'true', 'desk 2 is off air after the stall');
    await waitForTone(listener, DESK_HZ[1], 15_000);
    log('stall: "Reconnecting…", then logged in again by itself, still on air');

    // Mic off: back to the floor.
    await page2.locator('#mic').click();
    await page2.locator('#onair').waitFor({ state: 'hidden', timeout: 5000 });
    await waitForText(listener, '#live', /^Floor — no interpreter$/);
    await waitForTone(listener, FLOOR_HZ);
    log('mic off: the listener is back on the floor');
    await page2.close();

    // The relay feed (desk 1 hears the floor) through the limiter: peak ceiling 20 dB under it.
    const ceiling = 10 ** ((FR.peak + TOLERANCE_DB) / 20);
    await waitForTone(page, FLOOR_HZ);
    const peak = await tapOutput(page, 4000);
    log(`relay feed, ceiling ${FR.peak} dBFS: max ${db(peak.max).toFixed(3)} dBFS, RMS ${peak.rmsDb.toFixed(2)} dBFS, ${peak.reads} reads`);
    check(peak.reads >= 20, `only ${peak.reads} reads of the output`);
    check(peak.max <= ceiling, `a sample reached ${db(peak.max).toFixed(3)} dBFS, above the ${FR.peak} dBFS ceiling`);
    check(db(peak.max) > FR.peak - 6, `the relay is barely audible: ${db(peak.max).toFixed(2)} dBFS`);
    await page.screenshot({ path: join(dir, 'booth-relay.png'), fullPage: true });
    await page.close();

    // A second booth: the average ceiling 20 dB under the tone's RMS, reached by slow gain reduction.
    const de = await openConsole(context, origin, 'de', DE.pin);
    check(await de.page.locator('#output-b-label').isHidden(), 'the B output shows in a booth without B');
    await waitForTone(de.page, FLOOR_HZ);
    await sleep(2500); // the average stage settles over its 1 s window
    const avg = await tapOutput(de.page, 3000);
    log(`relay feed, average ceiling ${DE.average} dBFS: RMS ${avg.rmsDb.toFixed(2)} dBFS, max ${db(avg.max).toFixed(2)} dBFS`);
    check(avg.rmsDb <= DE.average + TOLERANCE_DB, `the relay's average ${avg.rmsDb.toFixed(2)} dBFS is above ${DE.average}`);
    check(avg.rmsDb > DE.average - 6, `the relay's average ${avg.rmsDb.toFixed(2)} dBFS is far under its ceiling`);
    check(avg.max <= 10 ** ((DE.peak + TOLERANCE_DB) / 20), `a sample reached ${db(avg.max)} dBFS`);
    await de.page.setViewportSize({ width: 400, height: 900 });
    await de.page.emulateMedia({ colorScheme: 'dark' });
    await de.page.screenshot({ path: join(dir, 'booth-narrow-dark.png'), fullPage: true });
    const wide = await de.page.evaluate(() => document.documentElement.scrollWidth > document.documentElement.clientWidth);
    check(!wide, 'the console scrolls sideways at 400 px');

    // The stall makes Chromium log failed WebSocket handshakes; anything else is an error.
    const real = (errors) => errors.filter((e) => !/WebSocket connection to .* failed/.test(e));
    for (const [name, s] of [['console', seen], ['listener', listenerSeen], ['second console', second.seen],
      ['German console', de.seen]]) {
      check(real(s.errors).length === 0, `errors in the ${name} page: ${s.errors.join(' | ')}`);
      check(s.foreign.length === 0, `the ${name} page reached other hosts: ${s.foreign.join(', ')}`);
      check(s.failed.length === 0, `failed requests of the ${name} page: ${s.failed.join(', ')}`);
    }
    log(`screenshots in ${dir}`);
  } finally {
    await browser?.close();
    const result = await server.stop();
    if (result && result.code !== 0 && result.signal !== null) log(`tolk-server exit: ${JSON.stringify(result)}`);
    await server.dispose();
  }
}

runTest('browser.booth', main);
