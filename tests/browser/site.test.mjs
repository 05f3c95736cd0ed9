// The public site in headless Chromium: every page at a phone's width (375 px)
// and a laptop's (1280 px), with no horizontal scrolling, and a demo request
// from the form to the operators' list in the admin console.
//
//   node site.test.mjs
//
// Environment: as for portal.test.mjs.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { BIN, Server, launchChromium, startServer } from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SHOTS = path.join(HERE, 'screenshots');
const PAGES = ['/', '/security', '/glossary', '/api', '/demo'];

let dataDir;
let server;
let base;
let browser;

before(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fintechapi-site-'));
  server = new Server(BIN, dataDir);
  base = await startServer(server);
  browser = await launchChromium(dataDir);
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (!process.env.KEEP_DATA_DIR) fs.rmSync(dataDir, { recursive: true, force: true });
});

for (const width of [375, 1280]) {
  test(`the public pages fit ${width} px`, async () => {
    const context = await browser.newContext({ viewport: { width, height: 800 }, locale: 'en-GB' });
    const page = await context.newPage();
    for (const p of PAGES) {
      const response = await page.goto(`${base}${p}`);
      assert.equal(response.status(), 200, p);
      assert.match(await page.locator('h1').innerText(), /\S/, `${p} has a heading`);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${p} scrolls sideways by ${overflow} px at ${width} px`);
      const name = p === '/' ? 'home' : p.slice(1);
      await page.screenshot({ path: path.join(SHOTS, `site-${name}-${width}.png`), fullPage: true });
    }
    await context.close();
  });
}

test('a demo request reaches the admin console', async () => {
  // An operator in Tokyo: the console shows times in the viewer's zone.
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-GB', timezoneId: 'Asia/Tokyo' });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  await page.goto(`${base}/`);
  await Promise.all([page.waitForURL(`${base}/demo`), page.getByRole('link', { name: 'Request a demo' }).first().click()]);
  await page.getByLabel('Your name').fill('Grace Hopper');
  await page.getByLabel('Organisation').fill('Navy Savings Bank');
  await page.getByLabel('Your role').fill('Bank engineering or IT');
  await page.getByLabel('Work e-mail').fill('grace@navy-bank.example');
  await page.getByLabel('Message').fill('AIS with the redirect approach, please.');
  await Promise.all([page.waitForURL(`${base}/demo/thanks`), page.getByRole('button', { name: 'Send request' }).click()]);
  assert.match(await page.locator('main').innerText(), /We received your demo request/);

  const created = spawnSync(BIN, ['--data-dir', dataDir, 'admin', 'create-admin', '--email', 'ops@bank.example'], { encoding: 'utf8' });
  assert.equal(created.status, 0, created.stderr);
  const password = created.stdout.match(/password \(shown once\): (\S+)/)[1];
  await page.goto(`${base}/admin/login`);
  await page.getByLabel('E-mail address').fill('ops@bank.example');
  await page.getByLabel('Password').fill(password);
  await Promise.all([page.waitForURL(`${base}/admin`), page.getByRole('button', { name: 'Log in' }).click()]);
  await Promise.all([page.waitForURL(`${base}/admin/leads`), page.getByRole('link', { name: 'Demo requests' }).click()]);
  const list = await page.locator('main').innerText();
  assert.match(list, /Grace Hopper/);
  assert.match(list, /Navy Savings Bank/);
  assert.match(list, /AIS with the redirect approach, please\./);
  const received = page.locator('main time').first();
  const utc = await received.getAttribute('datetime');
  assert.match(await received.getAttribute('title'), / UTC$/, 'the UTC time stays in the tooltip');
  assert.match(await received.innerText(), /GMT\+9/, `shown in the viewer's zone, not UTC (${utc})`);
  await page.screenshot({ path: path.join(SHOTS, 'site-admin-demo-requests.png'), fullPage: true });
  await context.close();
});
