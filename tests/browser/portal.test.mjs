// End-to-end test of the Developer Portal in headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core).
//
// It starts the already-built server in a fresh data directory, walks a
// developer through sign-up, e-mail confirmation, login, organisation and
// application registration using the real HTML forms, and saves a screenshot
// of each page to ./screenshots/.
//
//   node portal.test.mjs            (or: bash run.sh, which also installs things)
//
// Environment:
//   FINTECHAPI_BIN      server binary (default: ../../target/debug/fintechapi)
//   CHROMIUM_BIN        browser (default: /usr/bin/chromium)
//   KEEP_DATA_DIR=1     keep the temporary data directory even on success
//
// TLS: no certificate errors are ignored wholesale. The server's own
// certificate (<data-dir>/tls/server.pem) is pinned with Chromium's
// --ignore-certificate-errors-spki-list=<base64 SHA-256 of its SPKI>, so any
// other certificate would still be refused.

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
const MAIL_TIMEOUT_MS = 15_000;

const EMAIL = 'dana@tpp.example';
const DISPLAY_NAME = 'Dana Developer';
const PASSWORD = 'correct horse battery staple 42';
const XSS = '<script>alert(1)</script>';
const LEGAL_NAME = `Budget Buddy GmbH ${XSS}`;
const APP_NAME = 'Budget Buddy';
const REDIRECT_URI = 'https://budget.example/cb';

// ---------------------------------------------------------------- shared state

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fintechapi-browser-'));
const server = new Server(BIN, dataDir);
let browser;
let context;
let page;
let base; // e.g. https://localhost:40123
const dialogs = [];
const pageErrors = [];
const badResponses = [];
let failed = false;
const state = {};

before(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  for (const f of fs.readdirSync(SHOTS)) if (f.endsWith('.png')) fs.rmSync(path.join(SHOTS, f));

  base = await startServer(server);
  browser = await launchChromium(dataDir);
  context = await browser.newContext({ viewport: { width: 1100, height: 800 }, locale: 'en-GB' });
  context.setDefaultTimeout(15_000);
  page = await context.newPage();
  page.on('dialog', async (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    await d.dismiss().catch(() => {});
  });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('requestfailed', (r) => badResponses.push(`${r.url()} failed: ${r.failure()?.errorText}`));
  page.on('response', (r) => {
    if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) badResponses.push(`${r.url()} -> ${r.status()}`);
  });
});

after(async () => {
  await browser?.close().catch(() => {});
  await server.stop();
  if (failed || process.env.KEEP_DATA_DIR) {
    console.error(`data directory kept: ${dataDir}`);
    if (failed) console.error(server.tail(40));
  } else {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

/** One step of the flow: skipped once an earlier step failed; screenshot on failure. */
function step(name, fn) {
  test(name, async (t) => {
    if (failed) return t.skip('an earlier step failed');
    try {
      await fn(t);
      assert.deepEqual(dialogs, [], 'a JavaScript dialog appeared');
      assert.deepEqual(pageErrors, [], 'the page threw a JavaScript error');
      assert.deepEqual(badResponses, [], 'a request failed or returned an error status');
    } catch (e) {
      failed = true;
      if (page) {
        const file = path.join(SHOTS, `FAILED-${name.replace(/[^a-z0-9]+/gi, '-')}.png`);
        await page.screenshot({ path: file, fullPage: true }).catch(() => {});
        console.error(`failure screenshot: ${file}\nurl: ${page.url()}`);
      }
      throw e;
    }
  });
}

async function shot(name) {
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** The stylesheet loaded and applied (body background from portal.css). */
async function assertStyled() {
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.equal(bg, 'rgb(246, 248, 250)', 'portal.css is not applied');
}

/** Every visible form control has a <label> (explicit or wrapping). */
async function assertLabelled() {
  const unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll('input, select, textarea')]
      .filter((el) => el.type !== 'hidden' && el.labels.length === 0)
      .map((el) => el.outerHTML),
  );
  assert.deepEqual(unlabelled, [], 'form controls without a label');
}

/** Clicks a form's submit button and waits for the page its POST answers with. */
async function submit(buttonName, expectedPath) {
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && r.request().isNavigationRequest()),
    page.getByRole('button', { name: buttonName }).click(),
  ]);
  await page.waitForLoadState('load');
  if (resp.status() === 403 && (await resp.request().headerValue('origin')) === 'null') {
    const said = (await page.locator('main [role=alert]').innerText().catch(() => '')).trim();
    throw new Error(
      `the server refused the form post "${buttonName}" with 403 ("${said}"): Chromium sent ` +
      `\`Origin: null\` (Sec-Fetch-Site: ${await resp.request().headerValue('sec-fetch-site')}), as browsers do ` +
      'for a POST from a page served with `Referrer-Policy: no-referrer`, and the server only accepts ' +
      '`Origin: https://<host>`, so no real browser can submit the portal forms',
    );
  }
  if (expectedPath) await page.waitForURL(expectedPath);
  return resp;
}

async function heading() {
  return (await page.locator('h1').innerText()).trim();
}

// ---------------------------------------------------------------- the flow

step('sign up', async () => {
  const resp = await page.goto(`${base}/portal/signup`);
  assert.equal(resp.status(), 200);
  await assertStyled();
  await assertLabelled();

  // Keyboard: the first Tab stop is the skip link.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent?.trim()), 'Skip to content');

  // Fill by accessible label, which proves the labels are wired to the inputs.
  await page.getByLabel('E-mail address').fill(EMAIL);
  await page.getByLabel('Your name').fill(DISPLAY_NAME);
  await page.getByLabel('Password').fill(PASSWORD);
  assert.equal(await page.locator('#email').inputValue(), EMAIL);
  assert.equal(await page.locator('#display_name').inputValue(), DISPLAY_NAME);
  assert.equal(await page.locator('#password').inputValue(), PASSWORD);

  const resp2 = await submit('Sign up');
  assert.equal(resp2.status(), 200);
  assert.equal(await heading(), 'Check your mail');
  await assertStyled();
  state.shots = [await shot('01-signup-check-mail')];
});

step('confirm e-mail from the logged link', async () => {
  const mail = await server.waitFor(
    (ev) => ev.message === 'mail queued (development: link logged)' && typeof ev.link === 'string'
      && ev.link.includes('/portal/verify?') && (ev.to === undefined || ev.to === EMAIL),
    MAIL_TIMEOUT_MS,
    'the verification mail link in the server log',
  );
  const link = new URL(mail.link);
  assert.equal(link.origin, base, `mail link points elsewhere: ${mail.link}`);
  const resp = await page.goto(mail.link);
  assert.equal(resp.status(), 200);
  assert.equal(await heading(), 'E-mail confirmed');
  await assertStyled();
  state.shots.push(await shot('02-email-confirmed'));
});

step('log in', async () => {
  await page.goto(`${base}/portal/login`);
  await assertLabelled();
  await page.getByLabel('E-mail address').fill(EMAIL);
  await page.getByLabel('Password').fill(PASSWORD);
  // Submit with the keyboard (Enter in the password field).
  await Promise.all([page.waitForURL(`${base}/portal/dashboard`), page.getByLabel('Password').press('Enter')]);
  assert.equal(await heading(), `Welcome, ${DISPLAY_NAME}`);
  await assertStyled();
  state.shots.push(await shot('03-dashboard'));
});

step('register an organisation (HTML in the name stays inert)', async () => {
  await Promise.all([page.waitForURL(`${base}/portal/orgs/new`), page.getByRole('link', { name: 'Register an organisation' }).click()]);
  await assertLabelled();
  await page.getByLabel('Legal name').fill(LEGAL_NAME);
  await page.getByLabel('Country (ISO 3166 code)').fill('DE');
  await page.locator('input[name=role_aisp]').check();
  await page.locator('input[name=role_pisp]').check();
  await page.getByLabel('National competent authority').fill('BaFin');
  await page.getByLabel('Authorisation number').fill('HRB 123456');
  const posted = await submit('Register organisation', /\/portal\/orgs\/(?!new$)[^/]+$/);
  assert.equal(posted.status(), 303, 'organisation form was not accepted');
  state.orgUrl = page.url();

  // The script tag is shown as text, and no <script> element came from it.
  assert.equal(await heading(), LEGAL_NAME);
  await assert.doesNotReject(page.getByText(XSS, { exact: false }).first().waitFor({ state: 'visible' }));
  assert.equal(await page.locator('main script').count(), 0, 'a <script> element was injected');
  const scripts = await page.locator('script').evaluateAll((all) => all.map((s) => s.getAttribute('src')));
  assert.deepEqual(scripts, ['/portal/static/local-time.js'], 'the portal carries only its own local-time script');
  await page.waitForTimeout(300); // give a (wrongly) injected script a moment to fire
  assert.deepEqual(dialogs, [], 'alert() fired: the legal name was rendered as HTML');

  const facts = await page.locator('dl.facts').innerText();
  assert.match(facts, /Country\s+DE/);
  assert.match(facts, /BaFin/);
  assert.match(facts, /HRB 123456/);
  await assertStyled();
  state.shots.push(await shot('04-organisation'));
});

step('register an application and see its credentials once', async () => {
  await Promise.all([page.waitForURL(/\/apps\/new$/), page.getByRole('link', { name: 'Register an application' }).click()]);
  await assertLabelled();
  await page.getByLabel('Name', { exact: true }).fill(APP_NAME);
  await page.getByLabel('Redirect URIs (one per line)').fill(REDIRECT_URI);
  // Defaults: sandbox and basic.
  assert.equal(await page.locator('input[name=environment][value=sandbox]').isChecked(), true);
  assert.equal(await page.locator('input[name=security_profile][value=basic]').isChecked(), true);
  await page.locator('input[name=product_ais]').check();
  const posted = await submit('Register application');
  assert.equal(posted.status(), 200, 'application form was not accepted');
  assert.equal(await heading(), `Application registered: ${APP_NAME}`);
  const key = (await page.locator('#consumer-key').innerText()).trim();
  const secret = (await page.locator('#consumer-secret').innerText()).trim();
  assert.match(key, /^ck_\S+$/);
  assert.match(secret, /^cs_\S+$/);
  state.key = key;
  state.secret = secret;
  await assertStyled();
  state.shots.push(await shot('05-credentials'));
});

step('application page lists the key but never the secret', async () => {
  await Promise.all([
    page.waitForURL(/\/portal\/apps\/[^/]+$/),
    page.getByRole('link', { name: 'Continue to the application' }).click(),
  ]);
  assert.equal(await heading(), APP_NAME);
  const html = await page.content();
  const text = await page.locator('main').innerText();
  assert.ok(text.includes(state.key), 'consumer key not listed');
  assert.ok(!html.includes(state.secret), 'consumer secret is shown again');
  assert.ok(text.includes(REDIRECT_URI), 'redirect URI not listed');
  assert.match(text, /Account Information/);
  await assertStyled();
  await assertLabelled();
  state.shots.push(await shot('06-application'));
  state.appUrl = page.url();

  // The dashboard now lists the organisation (escaped) and the application.
  await page.goto(`${base}/portal/dashboard`);
  await assert.doesNotReject(page.getByRole('link', { name: LEGAL_NAME }).waitFor());
  await assert.doesNotReject(page.getByRole('link', { name: APP_NAME, exact: true }).waitFor());
});

/** A client-credentials token request to the server, trusting only its development CA. */
function tokenRequest(key, secret, scope = 'ais') {
  const body = new URLSearchParams({ grant_type: 'client_credentials', scope }).toString();
  return new Promise((resolve, reject) => {
    const req = https.request(`${base}/oauth2/token`, {
      method: 'POST',
      ca: fs.readFileSync(path.join(dataDir, 'tls', 'dev-ca.pem')),
      auth: `${key}:${secret}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

step('token calls of the application appear in its usage statistics', async () => {
  for (let i = 0; i < 3; i++) {
    const ok = await tokenRequest(state.key, state.secret);
    assert.equal(ok.status, 200, ok.body);
  }
  const refused = await tokenRequest(state.key, state.secret, 'pis');
  assert.equal(refused.status, 400, 'a product without subscription is refused');
  await page.goto(state.appUrl);
  await Promise.all([page.waitForURL(/\/usage$/), page.getByRole('link', { name: 'Usage statistics' }).click()]);
  assert.equal(await heading(), `Usage of ${APP_NAME}`);
  const text = await page.locator('main').innerText();
  assert.match(text, /4 calls, 0 throttled by the plan/);
  assert.match(text, /POST \/oauth2\/token/);
  assert.equal(await page.locator('svg.chart rect').count() >= 2, true, 'chart bars for 2xx and 4xx');
  await assertStyled();
  await assertLabelled();
  state.shots.push(await shot('07-usage'));
  console.log(`screenshots:\n  ${state.shots.join('\n  ')}`);
});

step('the XS2A reference shows each operation offered with its example, within the page', async () => {
  await page.setViewportSize({ width: 1280, height: 800 });
  const resp = await page.goto(`${base}/portal/docs/xs2a`);
  assert.equal(resp.status(), 200);
  await assertStyled();
  assert.equal(await page.locator('article.card').count(), 33);
  assert.equal(await page.locator('article.card pre.example').count(), 66, 'a request and an answer under each operation');
  assert.equal(await page.locator('article.card', { hasText: '/v1/signing-baskets/{basketId}/authorisations' }).count() >= 1, true,
    'the signing baskets are among the operations offered');
  for (const href of ['/portal/docs/xs2a-supported.openapi.json', '/portal/docs/xs2a.postman_collection.json']) {
    assert.equal(await page.locator(`a[href="${href}"]`).count(), 1, `${href} is linked`);
  }
  // Long lines scroll inside their block; the page itself never scrolls sideways.
  const overflow = await page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    return {
      page: document.documentElement.scrollWidth - width,
      blocks: [...document.querySelectorAll('pre.example')]
        .filter((pre) => pre.getBoundingClientRect().right > width)
        .map((pre) => pre.textContent.split('\n')[0]),
    };
  });
  assert.deepEqual(overflow, { page: 0, blocks: [] }, 'example blocks wider than the page');
  await page.locator('#post--v1-consents h4').first().scrollIntoViewIfNeeded();
  const file = path.join(SHOTS, '08-xs2a-reference.png');
  await page.screenshot({ path: file });
  console.log(`screenshot: ${file}`);
  await page.setViewportSize({ width: 1100, height: 800 });
});

step('no secret or password in the server log', async () => {
  const log = server.logLines.join('\n');
  assert.ok(!log.includes(state.secret), 'consumer secret logged');
  assert.ok(!log.includes(PASSWORD), 'password logged');
});
