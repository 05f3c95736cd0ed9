// The docs' journey pages (the Redirect approach, payments, standing
// orders, bulk payments, funds confirmation, FAPI 2.0 with DPoP, mutual
// TLS) in headless Chromium at a laptop's width (1280 px): each page
// opens from the docs' index, shows every command and program whole (code
// wraps rather than hiding past the block's edge), and is saved as a
// screenshot in ./screenshots/.
//
//   node docs.test.mjs
//
// Environment: as for portal.test.mjs.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { BIN, Server, launchChromium, startServer } from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SHOTS = path.join(HERE, 'screenshots');
const JOURNEYS = [
  'ais-redirect', 'ais-decoupled', 'payment', 'standing-order', 'bulk-payment',
  'funds-confirmation', 'fapi2-dpop', 'mtls',
];

let dataDir;
let server;
let base;
let browser;

before(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fintechapi-docs-'));
  server = new Server(BIN, dataDir);
  base = await startServer(server);
  browser = await launchChromium(dataDir);
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (!process.env.KEEP_DATA_DIR) fs.rmSync(dataDir, { recursive: true, force: true });
});

/** The status of a GET of `url`, trusting the server's development CA. */
function status(url) {
  const ca = fs.readFileSync(path.join(dataDir, 'tls', 'dev-ca.pem'));
  return new Promise((resolve, reject) => {
    https.get(url, { ca }, (answer) => { answer.resume(); resolve(answer.statusCode); }).on('error', reject);
  });
}

test('the journey pages show their code whole at 1280 px', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-GB' });
  const page = await context.newPage();
  for (const slug of JOURNEYS) {
    await page.goto(`${base}/portal/docs`);
    await page.click(`a[href="/portal/docs/journeys/${slug}"]`);
    await page.waitForURL(`${base}/portal/docs/journeys/${slug}`);
    assert.match(await page.locator('h1').innerText(), /\S/, `${slug} has a heading`);
    const blocks = await page.locator('pre').evaluateAll((pres) => pres.map((pre) => {
      const box = pre.getBoundingClientRect();
      return {
        text: pre.innerText.slice(0, 60),
        hidden: pre.scrollWidth - pre.clientWidth,
        right: box.right,
        height: box.height,
      };
    }));
    assert.ok(blocks.length >= 8, `${slug}: ${blocks.length} code blocks`);
    const width = await page.evaluate(() => document.documentElement.clientWidth);
    for (const block of blocks) {
      assert.ok(block.hidden <= 0, `${slug}: ${block.hidden} px of ${JSON.stringify(block.text)} hidden`);
      assert.ok(block.right <= width, `${slug}: ${JSON.stringify(block.text)} ends off the page`);
      assert.ok(block.height > 0, `${slug}: ${JSON.stringify(block.text)} is not shown`);
    }
    const sideways = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(sideways <= 0, `${slug} scrolls sideways by ${sideways} px`);
    // The programs are downloadable as shown.
    for (const link of await page.locator('a[download]').evaluateAll((as) => as.map((a) => a.getAttribute('href')))) {
      assert.equal(await status(`${base}${link}`), 200, link);
    }
    await page.screenshot({ path: path.join(SHOTS, `docs-journey-${slug}-1280.png`), fullPage: true });
  }
  await context.close();
});
