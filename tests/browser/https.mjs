// https.mjs — browser.https: tolk-server with tls_cert/tls_key (a throwaway CA and a certificate for
// tolk.test from tools/make-venue-cert.sh). Chromium trusts the CA the way it does on Linux, through
// the NSS database in $HOME/.pki/nssdb of a temporary HOME (certutil), and maps tolk.test to
// loopback; no certificate error is ignored. The page at https://tolk.test:PORT/?channel=fr is a
// secure context, plays the fr tone through WebCodecs + AudioWorklet over wss://. A browser whose
// HOME lacks the CA gets a certificate error instead. Runs in the test's Node process.
// Usage: node https.mjs PATH/TO/tolk-server
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  REPO, Server, TONES, check, fail, launch, loadPlaywright, log, playerStats, runTest, sleep,
  waitForChannels, waitForTone, watchPage,
} from './harness.mjs';

const NAME = 'tolk.test';
const RESOLVE = `--host-resolver-rules=MAP ${NAME} 127.0.0.1`;

function certutilPath() {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, 'certutil'))) return join(dir, 'certutil');
  }
  throw Object.assign(new Error('certutil is missing (apt-get install libnss3-tools)'), { skip: true });
}

// A free port in 19000-19099 (this test's share of loopback ports), tried from a random start.
async function freePortInRange(first = 19000, count = 100) {
  const start = Math.floor(Math.random() * count);
  for (let i = 0; i < count; i += 1) {
    const port = first + ((start + i) % count);
    const free = await new Promise((done) => {
      const probe = createServer();
      probe.once('error', () => done(false));
      probe.listen(port, '127.0.0.1', () => probe.close(() => done(true)));
    });
    if (free) return port;
  }
  fail(`no free port in ${first}-${first + count - 1}`);
}

function run(command, args) {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    fail(`${command} ${args.join(' ')} failed: ${error.stderr || error.message}`);
  }
}

// A HOME whose NSS database (the one Chromium on Linux reads) trusts `caFile` for TLS servers,
// or holds no CA at all when caFile is null.
function makeHome(root, certutil, caFile) {
  const home = join(root, caFile ? 'home-trusting' : 'home-plain');
  const nssdb = join(home, '.pki/nssdb');
  mkdirSync(nssdb, { recursive: true });
  run(certutil, ['-d', `sql:${nssdb}`, '-N', '--empty-password']);
  if (caFile) {
    run(certutil, ['-d', `sql:${nssdb}`, '-A', '-t', 'C,,', '-n', 'tolk-test', '-i', caFile]);
    const listed = run(certutil, ['-d', `sql:${nssdb}`, '-L']);
    check(/tolk-test\s+C,,/.test(listed), `the CA is not in the NSS database:\n${listed}`);
  }
  return home;
}

// Readiness of the TLS server, checked like a client that trusts only the test CA.
function httpsProbe(port, ca) {
  return () => new Promise((done, failed) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/health', servername: NAME, ca, timeout: 2000 },
      (response) => { response.resume(); done(response.statusCode === 200); });
    req.on('error', failed);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

async function waitForSocketAudio(seen, timeoutMs) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (seen.sockets.length > 0 && seen.sockets[0].binaryIn > 5) return;
    await sleep(100);
  }
  fail(`no audio frames on a WebSocket within ${timeoutMs} ms: ${JSON.stringify(seen.sockets)}`);
}

// The trusted path: secure context, WebCodecs + AudioWorklet, the fr tone, wss://.
async function trusted(playwright, home, port) {
  const browser = await launch(playwright, [RESOLVE], { env: { ...process.env, HOME: home } });
  try {
    const page = await (await browser.newContext({ locale: 'en-US' })).newPage();
    const origin = `https://${NAME}:${port}`;
    const seen = watchPage(page, origin);
    const response = await page.goto(`${origin}/?channel=fr`);
    const tls = await response.securityDetails();
    log('TLS', JSON.stringify(tls));
    check(tls?.subjectName === NAME, `certificate subject ${tls?.subjectName}, expected ${NAME}`);
    check(/tolk rehearsal CA/.test(tls?.issuer ?? ''), `certificate issuer ${tls?.issuer}, expected the test CA`);
    await waitForChannels(page);
    check(await page.evaluate(() => window.isSecureContext) === true, 'https://tolk.test is not a secure context');
    check(await page.locator('#channels input[value="fr"]').isChecked(), '?channel=fr did not preselect fr');
    await page.locator('#listen').click();
    await waitForSocketAudio(seen, 10_000);
    const tone = await waitForTone(page, TONES.fr);
    log(`fr: ${tone.hz.toFixed(0)} Hz at ${tone.db.toFixed(1)} dB`);

    const stats = await playerStats(page);
    log('player stats', JSON.stringify(stats));
    check(stats?.decoder === 'webcodecs' && stats?.output === 'worklet',
      `decoder/output ${stats?.decoder}/${stats?.output}, expected webcodecs/worklet`);
    check(seen.sockets.length === 1, `${seen.sockets.length} WebSocket connections (want 1)`);
    const wsUrl = seen.sockets[0].url;
    check(wsUrl === `wss://${NAME}:${port}/listen?channel=fr` || wsUrl === `wss://${NAME}:${port}/listen`,
      `WebSocket URL ${wsUrl}, expected wss://${NAME}:${port}/listen`);
    check(seen.foreign.length === 0, `requests left the server: ${seen.foreign.join(', ')}`);
    check(seen.failed.length === 0, `failed requests: ${seen.failed.join(', ')}`);
    check(seen.errors.length === 0, `errors in the page: ${seen.errors.join(' | ')}`);
  } finally {
    await browser.close();
  }
}

// The same origin in a browser whose NSS database lacks the CA: the page must not load.
async function untrusted(playwright, home, port) {
  const browser = await launch(playwright, [RESOLVE], { env: { ...process.env, HOME: home } });
  try {
    const page = await (await browser.newContext()).newPage();
    let error = null;
    await page.goto(`https://${NAME}:${port}/`).catch((e) => { error = e; });
    log('without the CA:', error?.message?.split('\n')[0] ?? 'page loaded');
    check(/ERR_CERT_AUTHORITY_INVALID/.test(error?.message ?? ''),
      `without the CA the page gave ${error?.message ?? 'no error'}, expected ERR_CERT_AUTHORITY_INVALID`);
  } finally {
    await browser.close();
  }
}

async function main() {
  const playwright = await loadPlaywright();
  const certutil = certutilPath();
  const root = mkdtempSync(join(tmpdir(), 'tolk-https-'));
  let server;
  try {
    run(join(REPO, 'tools/make-venue-cert.sh'), ['--dir', join(root, 'certs'), NAME]);
    const caFile = join(root, 'certs/ca/ca.crt');
    const port = await freePortInRange();
    server = new Server(process.argv[2], port, {
      serverLines: [`tls_cert = ${join(root, 'certs', NAME, 'fullchain.pem')}`,
        `tls_key = ${join(root, 'certs', NAME, 'key.pem')}`],
      probe: httpsProbe(port, readFileSync(caFile)),
    });
    await server.start();
    await trusted(playwright, makeHome(root, certutil, caFile), port);
    await untrusted(playwright, makeHome(root, certutil, null), port);
  } finally {
    await server?.dispose();
    rmSync(root, { recursive: true, force: true });
  }
}

runTest('browser.https', main);
