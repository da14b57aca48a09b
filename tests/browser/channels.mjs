// channels.mjs — the channel scenario shared by secure.mjs and insecure.mjs: open /, pick each
// channel, press Listen once, check the tone the page plays, the live indicator, the latency
// readout, that switching never reopens the WebSocket, the stats reports and the decoder/output
// path. Runs in the test's Node process.

import {
  Server, TONES, check, compressedSize, fail, freePort, launch, loadPlaywright, log, pickChannel, playerStats, sleep,
  waitForChannels, waitForTone, watchPage,
} from './harness.mjs';

const INDICATOR = {
  floor: 'Original speech',
  en: 'Interpreter live',
  fr: 'Interpreter live',
  es: 'Floor — no interpreter',
  ar: 'English — no interpreter',
};

async function waitForText(page, selector, pattern, timeoutMs = 5000) {
  const until = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < until) {
    text = (await page.locator(selector).textContent())?.trim() ?? '';
    if (pattern.test(text)) return text;
    await sleep(100);
  }
  fail(`${selector} shows "${text}", expected ${pattern}`);
}

async function waitForStatsReport(seen, timeoutMs) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const report = seen.sent.map((text) => JSON.parse(text)).find((msg) => msg.type === 'stats');
    if (report) return report;
    await sleep(250);
  }
  fail(`no stats report sent within ${timeoutMs} ms; sent: ${JSON.stringify(seen.sent)}`);
}

// secure: http://127.0.0.1 (WebCodecs + AudioWorklet); otherwise http://tolk.test mapped to
// loopback (WASM decoder + AudioBufferSourceNodes).
export async function channelScenario({ secure, binary }) {
  const playwright = await loadPlaywright();
  const port = await freePort();
  const server = new Server(binary, port);
  const host = secure ? '127.0.0.1' : 'tolk.test';
  const args = secure ? [] : ['--host-resolver-rules=MAP tolk.test 127.0.0.1'];
  let browser;
  try {
    await server.start();
    browser = await launch(playwright, args);
    const context = await browser.newContext({ locale: 'en-US' });
    const page = await context.newPage();
    const origin = `http://${host}:${port}`;
    const seen = watchPage(page, origin);
    await page.goto(`${origin}/`);
    await waitForChannels(page);
    const isSecure = await page.evaluate(() => window.isSecureContext);
    check(isSecure === secure, `isSecureContext is ${isSecure}, expected ${secure}`);

    const arabic = page.locator('#channels input[value="ar"] + .name');
    check(await arabic.getAttribute('lang') === 'ar' && await arabic.getAttribute('dir') === 'rtl',
      'the Arabic channel name lacks lang="ar" dir="rtl"');
    check(await page.locator('#listen').textContent() === 'Listen', 'the button does not say Listen');

    let first = true;
    for (const id of ['floor', 'en', 'fr', 'es', 'ar', 'en']) {
      await pickChannel(page, id);
      if (first) {
        await page.locator('#listen').click();
        first = false;
      }
      const tone = await waitForTone(page, TONES[id === 'ar' ? 'en' : id]);
      await waitForText(page, '#live', new RegExp(`^${INDICATOR[id]}$`));
      const latency = await waitForText(page, '#latency', /^\d+ ms$/);
      log(`${id}: ${tone.hz.toFixed(0)} Hz at ${tone.db.toFixed(1)} dB, latency ${latency}`);
    }
    check(await page.locator('#listen').textContent() === 'Stop', 'the button does not say Stop while playing');
    check(seen.sockets.length === 1, `${seen.sockets.length} WebSocket connections for channel switches (want 1)`);
    check(!seen.sockets[0].closed, 'the WebSocket closed during the switches');
    check(/^ws:\/\/[^/]+\/listen$/.test(seen.sockets[0].url), `unexpected WebSocket URL ${seen.sockets[0].url}`);

    const report = await waitForStatsReport(seen, 7000);
    const stats = await playerStats(page);
    log('player stats', JSON.stringify(stats));
    const want = secure ? { decoder: 'webcodecs', output: 'worklet' } : { decoder: 'wasm', output: 'buffers' };
    check(stats.decoder === want.decoder && stats.output === want.output,
      `decoder/output ${stats.decoder}/${stats.output}, expected ${want.decoder}/${want.output}`);
    check(report.decoder === want.decoder, `the stats report says decoder ${report.decoder}`);

    await page.locator('#listen').click();
    await waitForText(page, '#listen', /^Listen$/);
    const bytes = await compressedSize(seen.loaded, `http://127.0.0.1:${port}`);
    log(`page loaded ${seen.loaded.size} files, ${(bytes / 1024).toFixed(1)} KiB gzip-compressed`);
    check(bytes <= 150 * 1024, `the page and its scripts weigh ${bytes} bytes compressed (budget 150 KiB)`);
    check(seen.foreign.length === 0, `requests left the server: ${seen.foreign.join(', ')}`);
    check(seen.failed.length === 0, `failed requests: ${seen.failed.join(', ')}`);
    check(seen.errors.length === 0, `errors in the page: ${seen.errors.join(' | ')}`);
  } finally {
    await browser?.close();
    await server.dispose();
  }
}
