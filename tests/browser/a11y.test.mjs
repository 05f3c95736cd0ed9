// Accessibility check with axe-core (WCAG 2.0/2.1 A and AA rules) of every
// kind of page a person meets: the public site, the Developer Portal, the
// bank's sign-in, second factor and consent screen (reached through a real
// pushed authorization request), its online banking, and the admin console,
// each at a phone's width and a laptop's.
// A violation of impact "serious" or "critical" fails the test; each is
// printed with its page, rule and elements. A screenshot of every page
// checked goes to ./screenshots/a11y-*.png.
//
//   node a11y.test.mjs
//
// Environment: as for portal.test.mjs.
//
// The pages' CSP allows only their own scripts, so the context bypasses it
// to inject axe; the pages themselves are served unchanged.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { BIN, Server, launchChromium, runCli, startServer, tppRequest } from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SHOTS = path.join(HERE, 'screenshots');
const AXE = path.join(HERE, 'node_modules', 'axe-core', 'axe.min.js');
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const FAILING = new Set(['serious', 'critical']);
const WIDTHS = [375, 1280];
const REDIRECT_URI = 'https://tpp.example/callback';
const PASSWORD = 'correct horse battery staple 42';

let dataDir;
let server;
let base;
let browser;
/** Every violation found, any impact: { page, id, impact, help, targets }. */
const found = [];
const checked = [];

before(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fintechapi-a11y-'));
  server = new Server(BIN, dataDir, []); // with the demo bank
  base = await startServer(server);
  browser = await launchChromium(dataDir);
});

after(async () => {
  await browser?.close().catch(() => {});
  await server?.stop();
  if (!process.env.KEEP_DATA_DIR) fs.rmSync(dataDir, { recursive: true, force: true });
});

async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB', bypassCSP: true });
  context.setDefaultTimeout(15_000);
  return context.newPage();
}

/**
 * Runs axe on the page the browser shows, under `name`, at a laptop's width
 * and a phone's (where more regions scroll), and keeps its screenshot.
 */
async function check(page, name) {
  await page.addScriptTag({ path: AXE });
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 900 });
    const result = await page.evaluate(
      (values) => window.axe.run(document, { runOnly: { type: 'tag', values } }),
      TAGS,
    );
    for (const v of result.violations) {
      found.push({
        page: `${name} at ${width} px`,
        url: new URL(page.url()).pathname,
        id: v.id,
        impact: v.impact,
        help: v.help,
        targets: v.nodes.map((n) => n.target.join(' ')),
      });
    }
  }
  checked.push(name);
  await page.screenshot({ path: path.join(SHOTS, `a11y-${name}.png`), fullPage: true });
}

const cli = (...args) => runCli(dataDir, ...args);
const tpp = (method, pathname, options) => tppRequest(base, dataDir, method, pathname, options);

/** A pushed authorization request of a basic sandbox app for an AIS consent: the link for the PSU. */
async function authorizationLink() {
  const app = JSON.parse(cli(
    'admin', 'app', 'create', '--org', 'Budget Buddy Ltd', '--name', 'Budget Buddy',
    '--redirect-uri', REDIRECT_URI, '--products', 'ais', '--json',
  ));
  const auth = `${app.client_id}:${app.client_secret}`;
  const token = await tpp('POST', '/oauth2/token', { auth, form: { grant_type: 'client_credentials' } });
  assert.equal(token.status, 200, JSON.stringify(token.body));
  const consent = await tpp('POST', '/v1/consents', {
    headers: { authorization: `Bearer ${token.body.access_token}`, 'x-request-id': randomUUID() },
    json: { access: { allPsd2: 'allAccounts' }, recurringIndicator: true, validUntil: '2099-12-31', frequencyPerDay: 4, combinedServiceIndicator: false },
  });
  assert.equal(consent.status, 201, JSON.stringify(consent.body));
  const verifier = randomBytes(32).toString('base64url');
  const par = await tpp('POST', '/oauth2/par', {
    auth,
    form: {
      response_type: 'code',
      redirect_uri: REDIRECT_URI,
      scope: `AIS:${consent.body.consentId}`,
      state: randomUUID(),
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    },
  });
  assert.equal(par.status, 201, JSON.stringify(par.body));
  const query = new URLSearchParams({ client_id: app.client_id, request_uri: par.body.request_uri });
  return `${base}/oauth2/authorize?${query}`;
}

/** Clicks `button` and waits for the browser to arrive at `url`. */
async function go(page, url, button) {
  await Promise.all([page.waitForURL(url), page.getByRole('button', { name: button }).click()]);
}

test('the public site', async () => {
  const page = await newPage();
  for (const [p, name] of [['/', 'site-home'], ['/security', 'site-security'], ['/glossary', 'site-glossary'], ['/api', 'site-api'], ['/demo', 'site-demo']]) {
    assert.equal((await page.goto(`${base}${p}`)).status(), 200, p);
    await check(page, name);
  }
  // A demo request, so the admin console's list has one.
  await page.getByLabel('Your name').fill('Grace Hopper');
  await page.getByLabel('Organisation').fill('Navy Savings Bank');
  await page.getByLabel('Your role').fill('Bank engineering or IT');
  await page.getByLabel('Work e-mail').fill('grace@navy-bank.example');
  await go(page, `${base}/demo/thanks`, 'Send request');
  await check(page, 'site-demo-thanks');
  await page.context().close();
});

test('the Developer Portal', async () => {
  const page = await newPage();
  await page.goto(`${base}/portal/signup`);
  await check(page, 'portal-signup');
  await page.getByLabel('E-mail address').fill('dana@tpp.example');
  await page.getByLabel('Your name').fill('Dana Developer');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.waitForLoadState('load');
  const mail = await server.waitFor(
    (ev) => typeof ev.link === 'string' && ev.link.includes('/portal/verify?'),
    15_000,
    'the verification link in the server log',
  );
  await page.goto(mail.link);
  await page.goto(`${base}/portal/login`);
  await check(page, 'portal-login');
  await page.getByLabel('E-mail address').fill('dana@tpp.example');
  await page.getByLabel('Password').fill(PASSWORD);
  await go(page, `${base}/portal/dashboard`, 'Log in');
  await check(page, 'portal-dashboard');

  await page.getByRole('link', { name: 'Register an organisation' }).click();
  await page.getByLabel('Legal name').fill('Budget Buddy GmbH');
  await page.getByLabel('Country (ISO 3166 code)').fill('DE');
  await page.locator('input[name=role_aisp]').check();
  await page.getByLabel('National competent authority').fill('BaFin');
  await page.getByLabel('Authorisation number').fill('HRB 123456');
  await go(page, /\/portal\/orgs\/(?!new$)[^/]+$/, 'Register organisation');
  await page.getByRole('link', { name: 'Register an application' }).click();
  await page.getByLabel('Name', { exact: true }).fill('Budget Buddy');
  await page.getByLabel('Redirect URIs (one per line)').fill('https://budget.example/cb');
  await page.locator('input[name=product_ais]').check();
  await page.getByRole('button', { name: 'Register application' }).click();
  await page.getByRole('link', { name: 'Continue to the application' }).click();
  await page.waitForURL(/\/portal\/apps\/[^/]+$/);
  await check(page, 'portal-application');

  await page.goto(`${base}/portal/docs`);
  await check(page, 'portal-docs');
  await page.goto(`${base}/portal/docs/xs2a`);
  await check(page, 'portal-xs2a-reference');
  await page.goto(`${base}/portal/docs/journeys/payment`);
  await check(page, 'portal-journey');
  await page.context().close();
});

test('the bank: sign-in, second factor and consent screen of an authorization', async () => {
  const page = await newPage();
  await page.goto(await authorizationLink());
  await page.waitForURL(/\/bank\/login$/);
  await check(page, 'bank-login');
  await page.getByLabel('Login name').fill('alice');
  await page.getByLabel('Password').fill('alice-demo-2026');
  await go(page, /\/bank\/sca$/, 'Continue');
  await check(page, 'bank-second-factor');
  await page.getByLabel('One-time code').fill('123456');
  await go(page, /\/bank\/consent$/, 'Confirm');
  await check(page, 'bank-consent');
  const approved = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/bank/consent'));
  await page.getByRole('button', { name: 'Approve' }).click();
  // On to the TPP's redirect URI, which does not resolve here.
  assert.match((await approved).headers().location, /^https:\/\/tpp\.example\/callback\?code=/);
  await page.context().close();
});

test('online banking with its consents and pending approvals', async () => {
  const page = await newPage();
  await page.goto(`${base}/bank/online`);
  await check(page, 'bank-online-login');
  await page.getByLabel('Login name').fill('alice');
  await page.getByLabel('Password').fill('alice-demo-2026');
  await go(page, /\/bank\/online\/sca$/, 'Continue');
  await page.getByLabel('One-time code').fill('123456');
  await go(page, /\/bank\/online\/consents$/, 'Confirm');
  assert.match(await page.locator('main').innerText(), /Budget Buddy/);
  await check(page, 'bank-online-consents');
  await page.goto(`${base}/bank/online/approvals`);
  await check(page, 'bank-online-approvals');
  await page.context().close();
});

test('the admin console', async () => {
  const password = cli('admin', 'create-admin', '--email', 'ops@bank.example')
    .match(/password \(shown once\): (\S+)/)[1];
  const page = await newPage();
  await page.goto(`${base}/admin/login`);
  await check(page, 'admin-login');
  await page.getByLabel('E-mail address').fill('ops@bank.example');
  await page.getByLabel('Password').fill(password);
  await go(page, `${base}/admin`, 'Log in');
  await check(page, 'admin-overview');
  for (const [p, name] of [['/admin/leads', 'admin-leads'], ['/admin/psus', 'admin-psus'], ['/admin/audit', 'admin-audit']]) {
    assert.equal((await page.goto(`${base}${p}`)).status(), 200, p);
    await check(page, name);
  }
  await page.context().close();
});

test('no serious or critical WCAG 2.1 AA violation on any page', () => {
  const count = (list) => Object.entries(
    list.reduce((acc, v) => ({ ...acc, [`${v.impact} ${v.id}`]: (acc[`${v.impact} ${v.id}`] ?? 0) + v.targets.length }), {}),
  ).map(([k, n]) => `${k}: ${n}`).join(', ');
  console.log(`axe ${JSON.parse(fs.readFileSync(path.join(HERE, 'node_modules', 'axe-core', 'package.json'))).version} on ${checked.length} pages; every violation (impact rule: elements): ${count(found) || 'none'}`);
  const failing = found.filter((v) => FAILING.has(v.impact));
  for (const v of failing) {
    console.error(`${v.page} (${v.url}): ${v.impact} ${v.id}: ${v.help}\n  ${v.targets.join('\n  ')}`);
  }
  assert.equal(checked.length, 24, `pages checked: ${checked.join(', ')}`);
  assert.deepEqual(failing.map((v) => `${v.page}: ${v.id}`), [], 'serious or critical accessibility violations');
});
