// restart.mjs — browser.restart: tolk-server stops (SIGTERM) during playback and starts again on the
// same port; the page (http://tolk.test, not a secure context, like a phone on venue Wi-Fi)
// reconnects by itself, on the same channel, and plays again without a tap. Then the server is frozen
// (SIGSTOP: sockets open, nothing sent, like a Wi-Fi stall) and thawed: the page gives up the silent
// socket, reconnects and plays again, still without a tap. Last, the server restarts with 10 ms frames
// instead of 20: the page's player takes the new frame length from hello (new decoder and jitter
// buffer, same player) and plays the tone again, without a tap and without its latency running away.
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

// Share of near-silent samples in the last 8192 the page played (its analyser's time-domain data):
// a clean tone has almost none; frames decoded at the wrong length leave gaps of silence.
async function silentShare(page) {
  return page.evaluate(() => {
    const analyser = window.tolk.player.analyser;
    const samples = new Float32Array(analyser.fftSize);
    analyser.getFloatTimeDomainData(samples);
    return samples.filter((v) => Math.abs(v) < 1e-3).length / samples.length;
  });
}

async function main() {
  const playwright = await loadPlaywright();
  const port = await freePort();
  const server = new Server(process.argv[2], port);
  const server10 = new Server(process.argv[2], port, { frameMs: 10 });
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
    // Between attempts it says when it retries (during one, "Connecting…"): polled, not read once.
    let shown = '';
    await waitFor('the connection state saying it is retrying',
      async () => /retrying/.test(shown = await page.locator('#connection').textContent()), 5000)
      .catch(() => fail(`the connection state shows "${shown}" while the server is down`));
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

    // A restart with another frame length.
    const before = await page.evaluate(() => window.tolk.player.stats());
    check(before.frameMs === 20, `the player plays ${before.frameMs}-ms frames, expected 20`);
    const socketsBeforeRestart = seen.sockets.length;
    await server.stop();
    await waitFor('the page noticing the drop', () => page.evaluate(() => window.tolk.connection.state === 'waiting'), 10_000);
    const frame10At = Date.now();
    await server10.start();
    log('server started again with frame_ms = 10');
    await waitFor('audio on a new WebSocket from the 10-ms server',
      () => seen.sockets.length > socketsBeforeRestart && seen.sockets.at(-1).binaryIn > 5, 15_000);
    const third = await waitForTone(page, TONES.fr, Math.max(1000, 15_000 - (Date.now() - frame10At)));
    log(`playing ${third.hz.toFixed(0)} Hz again ${Date.now() - frame10At} ms after the restart with 10-ms frames`);
    check(await page.evaluate((p) => p === window.tolk.player, player), 'the player was replaced for the new frame length');
    await sleep(4000); // frames of the wrong length would play twice as long: the buffer would run away
    await waitForTone(page, TONES.fr, 3000);
    const after = await page.evaluate(() => window.tolk.player.stats());
    log('player stats with 10-ms frames', JSON.stringify(after));
    check(after.frameMs === 10, `the player still plays ${after.frameMs}-ms frames after hello said 10`);
    check(after.playing, 'not playing after the frame length changed');
    check(Number.isFinite(after.latencyMs) && after.latencyMs < 250, `latency ${after.latencyMs} ms with 10-ms frames`);
    check(after.bufferMs < 200, `buffer ${after.bufferMs} ms with 10-ms frames`);
    const silent = await silentShare(page);
    log(`near-silent samples in the output with 10-ms frames: ${(100 * silent).toFixed(1)} %`);
    check(silent < 0.05, `${(100 * silent).toFixed(1)} % of the output is silent: gaps in the 10-ms frames`);
  } finally {
    await browser?.close();
    await server.dispose();
    await server10.dispose();
  }
}

runTest('browser.restart', main);
