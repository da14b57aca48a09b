// screenshots.mjs — browser.screenshots: the listener page at 360×740 in English and in Arabic, before
// and while playing, saved to tests/artifacts/; checks the Arabic page is right-to-left and in Arabic,
// every control has a label, touch targets are at least 48 px and nothing scrolls sideways at 320 px.
// Usage: node screenshots.mjs PATH/TO/tolk-server
import { join } from 'node:path';
import {
  Server, TONES, check, ensureArtifacts, freePort, launch, loadPlaywright, log, runTest, sleep,
  waitForChannels, waitForTone,
} from './harness.mjs';

const LOCALES = [
  { locale: 'en-US', lang: 'en', dir: 'ltr', listen: 'Listen' },
  { locale: 'ar', lang: 'ar', dir: 'rtl', listen: 'استمع' },
];

// Problems of layout and labelling, as sentences (empty when all is well).
async function layoutProblems(page) {
  return page.evaluate(() => {
    const problems = [];
    for (const input of document.querySelectorAll('input, select, textarea')) {
      if (!input.labels?.length && !input.getAttribute('aria-label')) problems.push(`input #${input.id || input.value} has no label`);
    }
    const targets = [...document.querySelectorAll('button, .channel, input[type=range], .wake:not([hidden]) label')];
    for (const node of targets) {
      const box = node.getBoundingClientRect();
      if (box.height < 48) problems.push(`${node.tagName.toLowerCase()}.${node.className} is ${box.height.toFixed(0)} px high`);
    }
    const root = document.documentElement;
    if (root.scrollWidth > root.clientWidth) problems.push(`scrolls sideways: ${root.scrollWidth} > ${root.clientWidth} px`);
    return problems;
  });
}

async function main() {
  const playwright = await loadPlaywright();
  const port = await freePort();
  const server = new Server(process.argv[2], port);
  const dir = ensureArtifacts();
  let browser;
  try {
    await server.start();
    browser = await launch(playwright);
    for (const want of LOCALES) {
      const context = await browser.newContext({ locale: want.locale, viewport: { width: 360, height: 740 } });
      const page = await context.newPage();
      await page.goto(`http://127.0.0.1:${port}/?channel=fr`);
      await waitForChannels(page);
      await page.locator('#connection[data-state="open"]').waitFor({ timeout: 5000 });
      const html = await page.evaluate(() => ({ lang: document.documentElement.lang, dir: document.documentElement.dir }));
      check(html.lang === want.lang && html.dir === want.dir,
        `${want.locale}: <html lang="${html.lang}" dir="${html.dir}">, expected ${want.lang}/${want.dir}`);
      const label = await page.locator('#listen').textContent();
      check(label === want.listen, `${want.locale}: the button says "${label}", expected "${want.listen}"`);
      await page.screenshot({ path: join(dir, `listener-${want.lang}.png`), fullPage: true });

      await page.locator('#listen').click();
      await waitForTone(page, TONES.fr);
      await sleep(800); // let the latency readout appear
      await page.screenshot({ path: join(dir, `listener-${want.lang}-playing.png`), fullPage: true });

      for (const width of [360, 320]) {
        await page.setViewportSize({ width, height: 640 });
        const problems = await layoutProblems(page);
        check(problems.length === 0, `${want.locale} at ${width} px: ${problems.join('; ')}`);
      }
      log(`${want.locale}: lang=${html.lang} dir=${html.dir}, screenshots saved`);
      await context.close();
    }
    log(`artifacts in ${dir}`);
  } finally {
    await browser?.close();
    await server.dispose();
  }
}

runTest('browser.screenshots', main);
