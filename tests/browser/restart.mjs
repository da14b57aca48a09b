// restart.mjs — browser.restart: tolk-server stops (SIGTERM) during playback and starts again on the
// same port; the page (http://tolk.test, not a secure context, like a phone on venue Wi-Fi)
// reconnects by itself, on the same channel, and plays again without a tap. Then the server is frozen
// (SIGSTOP: sockets open, nothing sent, like a Wi-Fi stall) and thawed: the page gives up the silent
// socket, reconnects and plays again, still without a tap.
// Usage: node restart.mjs PATH/TO/tolk-server
import {
  Server, TONES, check, fail, freePort, launch, loadPlaywright, log, runTest, sleep, waitForChannels,
  waitForTone, watchPage,
} from './harness.mjs';

async function waitFor(what, predicate, timeoutMs) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await predicate()) return;
    await sleep(100);
  }
  fail(`${what} did not happen within ${timeoutMs} ms`);
}

async function main() {
  const playwright = await loadPlaywright();
  const port = await freePort();
  const server = new Server(process.argv[2], port);
  let browser;
  try {
    await server.start();
    // The common case of a phone on venue Wi-Fi: plain http to a name, not a secure context.
    browser = await launch(playwright, ['--host-resolver-rules=MAP tolk.test 127.0.0.1']);
    const page = await (await browser.newContext({ locale: 'en-US' })).newPage();
    const origin = `http://tolk.test:${port}`;
    const seen = watchPage(page, origin);
    await page.goto(`${origin}/?channel=fr`);
    await waitForChannels(page);
    check(await page.locator('#channels input[value="fr"]').isChecked(), '?channel=fr did not preselect fr');
    await page.locator('#listen').click(); // the only tap of this test
    await waitForTone(page, TONES.fr);
    const player = await page.evaluateHandle(() => window.tolk.player);

    const result = await server.stop();
    log('server stopped', JSON.stringify(result));
    await waitFor('the page noticing the drop', () => page.evaluate(() => window.tolk.connection.state === 'waiting'), 10_000);
    const shown = await page.locator('#connection').textContent();
    check(/retrying/.test(shown), `the connection state shows "${shown}" while the server is down`);
    await sleep(1500);

    const restartedAt = Date.now();
    await server.start();
    log('server started again');
    await waitFor('audio on a new WebSocket', () => seen.sockets.length >= 2 && seen.sockets.at(-1).binaryIn > 5, 15_000);
    const tone = await waitForTone(page, TONES.fr, Math.max(1000, 15_000 - (Date.now() - restartedAt)));
    log(`playing ${tone.hz.toFixed(0)} Hz again ${Date.now() - restartedAt} ms after the restart`);
    const socket = seen.sockets.at(-1);
    check(/\/listen\?channel=fr$/.test(socket.url), `reconnected to ${socket.url}, not ?channel=fr`);
    check(await page.evaluate((p) => p === window.tolk.player, player), 'the player was replaced (a new tap?)');
    check(await page.locator('#listen').textContent() === 'Stop', 'the button no longer says Stop');
    await sleep(1500);
    await waitForTone(page, TONES.fr, 3000); // still fed, not a fading remainder
    log('player stats', JSON.stringify(await page.evaluate(() => window.tolk.player.stats())));

    // A stall: the socket stays open but nothing arrives (Wi-Fi gone without a TCP close).
    const socketsBefore = seen.sockets.length;
    server.freeze();
    log('server frozen (SIGSTOP)');
    await waitFor('the page giving up the silent socket', () => page.evaluate(() => window.tolk.connection.state !== 'open'), 10_000);
    await sleep(1000);
    const thawedAt = Date.now();
    server.thaw();
    log('server thawed (SIGCONT)');
    await waitFor('audio on a new WebSocket after the stall',
      () => seen.sockets.length > socketsBefore && seen.sockets.at(-1).binaryIn > 5, 15_000);
    const again = await waitForTone(page, TONES.fr, Math.max(1000, 15_000 - (Date.now() - thawedAt)));
    log(`playing ${again.hz.toFixed(0)} Hz again ${Date.now() - thawedAt} ms after the stall`);
    check(/\/listen\?channel=fr$/.test(seen.sockets.at(-1).url), `reconnected to ${seen.sockets.at(-1).url} after the stall`);
    check(await page.evaluate((p) => p === window.tolk.player, player), 'the player was replaced after the stall');
  } finally {
    await browser?.close();
    await server.dispose();
  }
}

runTest('browser.restart', main);
