// The Decoupled SCA approach in Chromium, under the bank pages' real CSP:
// a TPP asks for Alice's approval, Alice's online banking lists it, a second
// request appears on the open page without a reload (approvals.js polling
// its JSON list), and Alice approves one with the sandbox code while the
// TPP polls its scaStatus to finalised.
//
//   node approvals.test.mjs
//
// Environment: as for portal.test.mjs.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { BIN, Server, launchChromium, runCli, startServer, tppRequest } from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SHOTS = path.join(HERE, 'screenshots');

let dataDir;
let server;
let base;
let browser;

before(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fintechapi-approvals-'));
  server = new Server(BIN, dataDir, []); // with the demo bank
  base = await startServer(server);
  browser = await launchChromium(dataDir);
});

after(async () => {
  await browser?.close().catch(() => {});
  await server?.stop();
  if (!process.env.KEEP_DATA_DIR) fs.rmSync(dataDir, { recursive: true, force: true });
});

const cli = (...args) => runCli(dataDir, ...args);
const tpp = (method, pathname, options) => tppRequest(base, dataDir, method, pathname, options);

test('a Decoupled request appears live in online banking and is approved there', async () => {
  const app = JSON.parse(cli(
    'admin', 'app', 'create', '--org', 'Budget Buddy Ltd', '--name', 'Budget Buddy',
    '--redirect-uri', 'https://tpp.example/callback', '--products', 'ais', '--json',
  ));
  const auth = `${app.client_id}:${app.client_secret}`;
  const token = await tpp('POST', '/oauth2/token', { auth, form: { grant_type: 'client_credentials' } });
  assert.equal(token.status, 200, JSON.stringify(token.body));
  const bearer = `Bearer ${token.body.access_token}`;
  const ask = async () => {
    const consent = await tpp('POST', '/v1/consents', {
      headers: {
        authorization: bearer,
        'x-request-id': randomUUID(),
        'tpp-decoupled-preferred': 'true',
        'psu-id': 'alice',
      },
      json: { access: { allPsd2: 'allAccounts' }, recurringIndicator: true, validUntil: '2099-12-31', frequencyPerDay: 4, combinedServiceIndicator: false },
    });
    assert.equal(consent.status, 201, JSON.stringify(consent.body));
    assert.equal(consent.headers['aspsp-sca-approach'], 'DECOUPLED');
    return consent.body;
  };
  const first = await ask();

  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB' });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  // What the CSP refuses, and any request that fails (the browser's own
  // favicon lookup aside).
  const refused = [];
  page.on('console', (m) => { if (/Content Security Policy/.test(m.text())) refused.push(m.text()); });
  page.on('response', (r) => {
    if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) refused.push(`${r.status()} ${r.url()}`);
  });
  await page.goto(`${base}/bank/online`);
  await page.getByLabel('Login name').fill('alice');
  await page.getByLabel('Password').fill('alice-demo-2026');
  await Promise.all([page.waitForURL(/\/bank\/online\/sca$/), page.getByRole('button', { name: 'Continue' }).click()]);
  await page.getByLabel('One-time code').fill('123456');
  await Promise.all([page.waitForURL(/\/bank\/online\/consents$/), page.getByRole('button', { name: 'Confirm' }).click()]);
  await Promise.all([
    page.waitForURL(/\/bank\/online\/approvals$/),
    page.getByRole('link', { name: 'Pending approvals' }).click(),
  ]);
  const pending = page.locator('#pending > li');
  assert.equal(await pending.count(), 1);
  assert.match(await page.locator('#pending-status').innerText(), /1 waiting for you/);

  // A second request reaches the open page without a reload.
  await ask();
  await page.waitForFunction(() => document.querySelectorAll('#pending > li').length === 2, null, { timeout: 15_000 });
  assert.match(await page.locator('#pending-status').innerText(), /2 waiting for you/);
  assert.match(await page.locator('#pending').innerText(), /Budget Buddy \(Budget Buddy Ltd\)/);
  assert.deepEqual(refused, [], 'nothing refused by the CSP or failed');
  await page.screenshot({ path: path.join(SHOTS, 'approvals-1-live.png'), fullPage: true });

  // Approved with the second factor: the TPP's poll says finalised.
  await Promise.all([
    page.waitForURL(/\/bank\/online\/approvals\/[^/]+$/),
    pending.first().getByRole('link').click(),
  ]);
  await page.getByLabel('One-time code').fill('123456');
  await Promise.all([
    page.waitForURL(/\/bank\/online\/approvals\?answered=approved$/),
    page.getByRole('button', { name: 'Approve', exact: true }).click(),
  ]);
  assert.match(await page.locator('main').innerText(), /Approved\./);
  assert.equal(await pending.count(), 1);
  const polled = await tpp('GET', first._links.scaStatus.href, {
    headers: { authorization: bearer, 'x-request-id': randomUUID() },
  });
  assert.equal(polled.body.scaStatus, 'finalised', JSON.stringify(polled.body));
  await page.screenshot({ path: path.join(SHOTS, 'approvals-2-approved.png'), fullPage: true });
  await context.close();
});
