// hidden.mjs — browser.hidden: the page keeps playing while it is hidden. It is hidden for real by
// bringing a second tab to the front; if this Chromium does not report that as hidden, the test
// overrides document.visibilityState/hidden and dispatches visibilitychange (it says which). Both
// output paths: the secure origin (AudioWorklet) and the insecure one (AudioBufferSourceNodes, fed
// by timers, which browsers throttle in hidden pages).
// Usage: node hidden.mjs PATH/TO/tolk-server
import {
  Server, TONES, check, freePort, launch, loadPlaywright, log, runTest, sleep, waitForChannels,
  waitForTone, watchPage,
} from './harness.mjs';

async function hide(context, page) {
  const other = await context.newPage();
  await other.bringToFront();
  await sleep(500);
  if (await page.evaluate(() => document.visibilityState) === 'hidden') return 'second tab in front';
  await page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  return 'visibilityState overridden + visibilitychange dispatched';
}

async function scenario(browser, origin) {
  const context = await browser.newContext({ locale: 'en-US' });
  const page = await context.newPage();
  const seen = watchPage(page, origin);
  await page.goto(`${origin}/?channel=en`);
  await waitForChannels(page);
  await page.locator('#listen').click();
  await waitForTone(page, TONES.en);
  const before = await page.evaluate(() => window.tolk.player.stats());
  const how = await hide(context, page);
  log(`${origin}: hidden by ${how}`);
  const framesBefore = seen.sockets[0].binaryIn;
  await sleep(6000);
  check(await page.evaluate(() => document.visibilityState) === 'hidden', 'the page is not hidden');
  const tone = await waitForTone(page, TONES.en, 3000);
  const after = await page.evaluate(() => window.tolk.player.stats());
  const frames = seen.sockets[0].binaryIn - framesBefore;
  log(`hidden 6 s: ${tone.hz.toFixed(0)} Hz at ${tone.db.toFixed(1)} dB, ${frames} audio messages, ` +
    `underruns ${before.underruns} -> ${after.underruns}, buffer ${after.bufferMs} ms`);
  check(frames >= 150, `only ${frames} audio messages in 6 s hidden`);
  check(seen.sockets.length === 1, 'the page reconnected while hidden');
  await context.close();
}

async function main() {
  const playwright = await loadPlaywright();
  const port = await freePort();
  const server = new Server(process.argv[2], port);
  let browser;
  try {
    await server.start();
    browser = await launch(playwright, ['--host-resolver-rules=MAP tolk.test 127.0.0.1']);
    await scenario(browser, `http://127.0.0.1:${port}`);
    await scenario(browser, `http://tolk.test:${port}`);
  } finally {
    await browser?.close();
    await server.dispose();
  }
}

runTest('browser.hidden', main);
