// The example TPP app (crates/tpp-example) against a fresh `serve` with the
// demo bank, in headless Chromium: connect accounts (consent, the bank's
// login, second factor and approval), read balances and transactions with the
// chart, pay and follow the payment to ACSC, then withdraw the consent.
//
//   node tpp-example.test.mjs
//
// Environment: FINTECHAPI_BIN as for the other tests; TPP_EXAMPLE_BIN (default:
// tpp-example beside FINTECHAPI_BIN).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

import { BIN, Server, launchChromium, startServer } from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SHOTS = path.join(HERE, 'screenshots');
const TPP_BIN = process.env.TPP_EXAMPLE_BIN || path.join(path.dirname(BIN), 'tpp-example');

let dataDir;
let server;
let base;
let tpp;
let tppUrl;
let browser;

async function freePort() {
  const probe = net.createServer();
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

before(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fintechapi-tpp-'));
  server = new Server(BIN, dataDir, []); // with the demo bank
  base = await startServer(server);

  const port = await freePort();
  tppUrl = `http://localhost:${port}`;
  const created = spawnSync(BIN, [
    '--data-dir', dataDir, 'admin', 'app', 'create', '--org', 'Budget Buddy Ltd', '--name', 'Budget Buddy',
    '--redirect-uri', `${tppUrl}/callback`, '--products', 'ais,pis', '--json',
  ], { encoding: 'utf8' });
  assert.equal(created.status, 0, created.stderr);
  const app = JSON.parse(created.stdout);

  tpp = spawn(TPP_BIN, [
    '--bank', base, '--ca', path.join(dataDir, 'tls', 'dev-ca.pem'), '--client-id', app.client_id,
    '--listen', `127.0.0.1:${port}`,
  ], { env: { ...process.env, TPP_CLIENT_SECRET: app.client_secret }, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    tpp.on('exit', (code) => reject(new Error(`tpp-example exited (${code})`)));
    readline.createInterface({ input: tpp.stdout }).on('line', (line) => {
      if (line.startsWith('Example TPP app on')) resolve();
    });
  });
  browser = await launchChromium(dataDir);
});

after(async () => {
  await browser?.close();
  tpp?.kill('SIGTERM');
  await server?.stop();
  if (!process.env.KEEP_DATA_DIR) fs.rmSync(dataDir, { recursive: true, force: true });
});

/** Alice logs in at the bank and confirms with the sandbox code, then approves. */
async function aliceApproves(page, shot) {
  await page.waitForURL(/\/bank\/login$/);
  await page.getByLabel('Login name').fill('alice');
  await page.getByLabel('Password').fill('alice-demo-2026');
  await Promise.all([page.waitForURL(/\/bank\/sca$/), page.getByRole('button', { name: 'Continue' }).click()]);
  await page.getByLabel('One-time code').fill('123456');
  await Promise.all([page.waitForURL(/\/bank\/(consent|payment)$/), page.getByRole('button', { name: 'Confirm' }).click()]);
  assert.match(await page.locator('main').innerText(), /Budget Buddy/);
  await page.screenshot({ path: path.join(SHOTS, shot), fullPage: true });
  await Promise.all([
    page.waitForURL((url) => url.href.startsWith(tppUrl)),
    page.getByRole('button', { name: 'Approve' }).click(),
  ]);
}

test('the example TPP app reads accounts, pays and withdraws against the sandbox', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB' });
  context.setDefaultTimeout(20_000);
  const page = await context.newPage();

  await page.goto(tppUrl);
  await page.screenshot({ path: path.join(SHOTS, 'tpp-1-home.png'), fullPage: true });
  await page.getByRole('button', { name: 'Connect your bank account' }).click();
  await aliceApproves(page, 'tpp-2-bank-consent.png');
  await page.waitForURL(`${tppUrl}/accounts`);
  const accounts = await page.locator('main').innerText();
  assert.match(accounts, /Your accounts/);
  const iban = accounts.match(/DE\d{20}/)[0];
  await page.screenshot({ path: path.join(SHOTS, 'tpp-3-accounts.png'), fullPage: true });

  await page.locator('tbody a').first().click();
  await page.waitForURL(/\/accounts\/[0-9a-f-]{36}$/);
  assert.equal(await page.locator('svg.chart polyline').count(), 1, 'a balance chart');
  assert.ok(await page.locator('tbody tr').count() > 5, 'transactions');
  await page.screenshot({ path: path.join(SHOTS, 'tpp-4-account.png'), fullPage: true });

  await page.goto(tppUrl);
  await page.getByLabel('From your account (IBAN)').fill(iban);
  await page.getByRole('button', { name: 'Pay at your bank' }).click();
  await aliceApproves(page, 'tpp-5-bank-payment.png');
  await page.waitForURL(/\/payments\/[0-9a-f-]{36}$/);
  assert.equal(await page.locator('#status').innerText(), 'ACSC');
  await page.screenshot({ path: path.join(SHOTS, 'tpp-6-payment.png'), fullPage: true });

  await page.goto(tppUrl);
  await page.getByRole('button', { name: /Disconnect/ }).click();
  await page.waitForURL(`${tppUrl}/`);
  assert.match(await page.locator('main').innerText(), /The consent is withdrawn/);
  await context.close();
});
