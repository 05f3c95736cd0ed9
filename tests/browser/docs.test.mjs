// The docs' getting-started guide and every journey page it lists, in
// headless Chromium at 1280 px: a screenshot of each, and no code block
// clipped. A block wider than its box must scroll inside it (its overflow
// is auto or scroll), and no block may push the page sideways.
//
//   node docs.test.mjs
//
// Environment: as for portal.test.mjs.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { BIN, Server, launchChromium, startServer } from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SHOTS = path.join(HERE, 'screenshots');
const WIDTH = 1280;

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

/** Each `pre` of the page: whether it is wider than its box, and whether it can scroll. */
function codeBlocks() {
  const page = document.documentElement.clientWidth;
  return [...document.querySelectorAll('pre')].map((pre, index) => {
    const box = pre.getBoundingClientRect();
    return {
      index,
      start: pre.textContent.slice(0, 60),
      wider: pre.scrollWidth > pre.clientWidth,
      scrolls: ['auto', 'scroll'].includes(getComputedStyle(pre).overflowX),
      inside: box.left >= 0 && box.right <= page,
    };
  });
}

test(`the guide and every journey fit ${WIDTH} px, their code blocks scrolling rather than clipped`, async (t) => {
  const context = await browser.newContext({ viewport: { width: WIDTH, height: 800 }, locale: 'en-GB' });
  const page = await context.newPage();
  const guide = await page.goto(`${base}/portal/docs`);
  assert.equal(guide.status(), 200);
  const journeys = await page.locator('ul.journeys a').evaluateAll((links) => links.map((a) => a.getAttribute('href')));
  assert.ok(journeys.length >= 4, `the guide lists the journeys: ${journeys}`);
  for (const p of ['/portal/docs', ...journeys]) {
    const response = await page.goto(`${base}${p}`);
    assert.equal(response.status(), 200, p);
    const sideways = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(sideways <= 0, `${p} scrolls sideways by ${sideways} px`);
    const blocks = await page.evaluate(codeBlocks);
    assert.ok(blocks.length > 0, `${p} has code blocks`);
    for (const b of blocks) {
      assert.ok(b.inside, `${p}: block ${b.index} (${b.start}…) sticks out of the page`);
      assert.ok(!b.wider || b.scrolls, `${p}: block ${b.index} (${b.start}…) is clipped`);
    }
    t.diagnostic(`${p}: ${blocks.filter((b) => b.wider).length} of ${blocks.length} code blocks scroll inside their box`);
    const name = p === '/portal/docs' ? 'guide' : p.split('/').pop();
    await page.screenshot({ path: path.join(SHOTS, `docs-${name}-${WIDTH}.png`), fullPage: true });
  }
  await context.close();
});
