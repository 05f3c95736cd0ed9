// Interoperability test: a real third-party OAuth client, `openid-client`
// (strict by design: discovery, PAR, PKCE S256, DPoP with server nonces,
// private_key_jwt, RFC 9207 `iss` check), runs the whole FAPI 2.0 redirect
// flow against the server over TLS, while headless Chromium plays the PSU on
// the bank's login, second-factor and consent pages. Then OpenID Connect:
// openid-client discovers /.well-known/openid-configuration, validates the ID
// token (signature against the server's JWKS, iss, aud, nonce) and reads
// userinfo; and FAPI 2.0 Message Signing: a request object pushed by PAR
// (JAR) and the response as a signed JWT (JARM). Then the passkey case:
// the PSU registers a passkey held by a WebAuthn virtual authenticator and
// authorises a payment with it; the test reads the client data the
// authenticator signed and checks that its challenge carries the payment.
//
//   node interop.test.mjs            (or: bash run.sh)
//
// The client trusts only the server's development CA: its fetch goes through
// node:https with that CA, nothing is disabled.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomUUID, webcrypto } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as client from 'openid-client';

import { BIN, Server, launchChromium, startServer } from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SHOTS = path.join(HERE, 'screenshots');
const REDIRECT_URI = 'https://tpp.example/callback';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fintechapi-interop-'));
const server = new Server(BIN, dataDir, []); // with the demo bank
let base;
let browser;
let failed = false;
const state = {};

/** fetch for openid-client over node:https, trusting only the server's CA. */
function caFetch(ca) {
  return (url, options = {}) =>
    new Promise((resolve, reject) => {
      const headers = Object.fromEntries(new Headers(options.headers).entries());
      const body = options.body === undefined || options.body === null ? undefined : String(options.body);
      const req = https.request(url, { method: options.method || 'GET', headers, ca }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const responseHeaders = new Headers();
          for (const [k, v] of Object.entries(res.headers)) {
            for (const value of [v].flat()) responseHeaders.append(k, value);
          }
          const payload = [204, 304].includes(res.statusCode) ? null : Buffer.concat(chunks);
          const response = new Response(payload, { status: res.statusCode, headers: responseHeaders });
          Object.defineProperty(response, 'url', { value: url });
          resolve(response);
        });
      });
      req.on('error', reject);
      if (options.signal) options.signal.addEventListener('abort', () => req.destroy(new Error('aborted')));
      req.end(body);
    });
}

before(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  base = await startServer(server);
  browser = await launchChromium(dataDir);
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

function step(name, fn) {
  test(name, async (t) => {
    if (failed) return t.skip('an earlier step failed');
    try {
      await fn(t);
    } catch (e) {
      failed = true;
      throw e;
    }
  });
}

step('register a fapi2 client with its public key (fintechapi admin app create)', async () => {
  const { privateKey, publicKey } = await webcrypto.subtle.generateKey(
    { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['sign', 'verify'],
  );
  const jwk = { ...(await webcrypto.subtle.exportKey('jwk', publicKey)), kid: 'interop-1', use: 'sig', alg: 'ES256' };
  delete jwk.key_ops;
  delete jwk.ext;
  const jwksFile = path.join(dataDir, 'interop-jwks.json');
  fs.writeFileSync(jwksFile, JSON.stringify({ keys: [jwk] }));
  const out = execFileSync(BIN, [
    'admin', 'app', 'create', '--org', 'Interop TPP GmbH', '--name', 'openid-client',
    '--redirect-uri', REDIRECT_URI, '--profile', 'fapi2', '--jwks', jwksFile,
    '--products', 'ais,pis', '--json', '--data-dir', dataDir,
  ]);
  const created = JSON.parse(out.toString());
  assert.match(created.client_id, /^ck_/);
  state.clientId = created.client_id;
  state.privateKey = privateKey;
});

step('discovery, then a DPoP-bound client-credentials token (private_key_jwt)', async () => {
  const ca = fs.readFileSync(path.join(dataDir, 'tls', 'dev-ca.pem'));
  state.fetch = caFetch(ca);
  state.config = await client.discovery(
    new URL(base),
    state.clientId,
    { token_endpoint_auth_method: 'private_key_jwt' },
    client.PrivateKeyJwt({ key: state.privateKey, kid: 'interop-1' }),
    { algorithm: 'oauth2', [client.customFetch]: state.fetch },
  );
  const meta = state.config.serverMetadata();
  assert.equal(meta.require_pushed_authorization_requests, true);
  assert.equal(meta.authorization_response_iss_parameter_supported, true);
  state.dpop = client.getDPoPHandle(state.config, await client.randomDPoPKeyPair('ES256'));
  const cc = await client.clientCredentialsGrant(state.config, { scope: 'ais pis' }, { DPoP: state.dpop });
  assert.equal(cc.token_type.toLowerCase(), 'dpop');
  state.clientToken = cc.access_token;
});

async function xs2a(token, method, pathname, body, extra = {}, dpop = state.dpop) {
  const headers = new Headers({ 'x-request-id': randomUUID(), ...extra });
  if (body) headers.set('content-type', 'application/json');
  const response = await client.fetchProtectedResource(
    state.config, token, new URL(pathname, base), method, body ? JSON.stringify(body) : null, headers,
    { DPoP: dpop },
  );
  return { status: response.status, body: await response.json().catch(() => null) };
}

step('the TPP creates an AIS consent on the XS2A API with the DPoP-bound token', async () => {
  const created = await xs2a(state.clientToken, 'POST', '/v1/consents', {
    access: { allPsd2: 'allAccounts' }, recurringIndicator: true, validUntil: '2099-12-31', frequencyPerDay: 4, combinedServiceIndicator: false,
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.consentStatus, 'received');
  state.consentId = created.body.consentId;
});

step('PAR with PKCE S256 and DPoP, then the PSU authenticates and approves in Chromium', async () => {
  state.verifier = client.randomPKCECodeVerifier();
  state.state = client.randomState();
  const url = await client.buildAuthorizationUrlWithPAR(state.config, {
    redirect_uri: REDIRECT_URI,
    scope: `AIS:${state.consentId}`,
    code_challenge: await client.calculatePKCECodeChallenge(state.verifier),
    code_challenge_method: 'S256',
    state: state.state,
  }, { DPoP: state.dpop });
  assert.deepEqual([...url.searchParams.keys()].sort(), ['client_id', 'request_uri']);

  state.callback = await aliceApproves(url, [/Share account information with openid-client\?/, /Interop TPP GmbH/, /AISP/], 'interop');
  assert.equal(state.callback.searchParams.get('iss'), base);
});

step('openid-client redeems the code (state, iss and PKCE checked; DPoP-bound tokens)', async () => {
  const tokens = await client.authorizationCodeGrant(state.config, state.callback, {
    pkceCodeVerifier: state.verifier,
    expectedState: state.state,
  }, undefined, { DPoP: state.dpop });
  assert.equal(tokens.token_type.toLowerCase(), 'dpop');
  assert.equal(tokens.scope, `AIS:${state.consentId}`);
  assert.ok(tokens.refresh_token);
  state.tokens = tokens;
});

step('the token reads alice\'s accounts, and the refresh token renews it without rotation', async () => {
  const read = await xs2a(state.tokens.access_token, 'GET', '/v1/accounts', null, {
    'consent-id': state.consentId, 'psu-ip-address': '192.0.2.10',
  });
  assert.equal(read.status, 200, JSON.stringify(read.body));
  const owners = new Set(read.body.accounts.map((a) => a.ownerName));
  assert.ok(read.body.accounts.length >= 1);
  assert.ok([...owners].every((o) => /Alice/.test(o)), `only alice's accounts: ${[...owners]}`);
  state.aliceIban = read.body.accounts[0].iban;
  const renewed = await client.refreshTokenGrant(state.config, state.tokens.refresh_token, undefined, { DPoP: state.dpop });
  assert.equal(renewed.token_type.toLowerCase(), 'dpop');
  assert.equal(renewed.refresh_token, undefined, 'fapi2 clients keep their refresh token');
  const again = await xs2a(renewed.access_token, 'GET', '/v1/accounts', null, {
    'consent-id': state.consentId, 'psu-ip-address': '192.0.2.10',
  });
  assert.equal(again.status, 200);
});

/**
 * Chromium plays alice through the bank's pages from `url` to the screen
 * that shows each of `screen`, where she approves (screenshots named
 * `shots`-… when given): where the bank sends the browser back.
 */
async function aliceApproves(url, screen, shots) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 800 }, locale: 'en-GB' });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  // The TPP's redirect URI does not resolve here: read where the bank sends the browser.
  let callback;
  page.on('response', (r) => {
    if (r.request().method() === 'POST' && r.url().endsWith('/bank/consent') && r.status() === 303) {
      callback = r.headers().location;
    }
  });
  const shot = (name) => shots && page.screenshot({ path: path.join(SHOTS, `${shots}-${name}.png`), fullPage: true });
  await page.goto(url.href);
  await page.waitForURL(/\/bank\/login$/);
  assert.match(await page.locator('main').innerText(), /Interop TPP GmbH/);
  await logInAlice(page, /\/bank\/sca$/);
  await shot('1-second-factor');
  await page.getByLabel('One-time code').fill('123456');
  await Promise.all([page.waitForURL(/\/bank\/consent$/), page.getByRole('button', { name: 'Confirm' }).click()]);
  const shown = await page.locator('main').innerText();
  for (const text of [screen].flat()) assert.match(shown, text);
  await shot('2-consent');
  await Promise.all([
    page.waitForURL(/^https:\/\/tpp\.example\//).catch(() => {}), // the name does not resolve
    page.getByRole('button', { name: 'Approve' }).click(),
  ]);
  await context.close();
  assert.ok(callback, 'the browser came back to the TPP');
  return new URL(callback);
}

/** A configuration by OpenID Connect discovery (/.well-known/openid-configuration). */
async function discoverOpenId() {
  const config = await client.discovery(
    new URL(base),
    state.clientId,
    { token_endpoint_auth_method: 'private_key_jwt' },
    client.PrivateKeyJwt({ key: state.privateKey, kid: 'interop-1' }),
    { [client.customFetch]: state.fetch },
  );
  // The ID token's (and JARM response's) signature checked against the JWKS too.
  client.enableNonRepudiationChecks(config);
  return { config, dpop: client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256')) };
}

step('OpenID Connect: openid-client signs alice in (openid alone), validates the ID token and reads userinfo', async () => {
  const { config, dpop } = await discoverOpenId();
  const meta = config.serverMetadata();
  assert.deepEqual(meta.id_token_signing_alg_values_supported, ['ES256']);
  assert.ok(meta.scopes_supported.includes('openid'));
  const verifier = client.randomPKCECodeVerifier();
  const expectedState = client.randomState();
  const expectedNonce = client.randomNonce();
  const url = await client.buildAuthorizationUrlWithPAR(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    nonce: expectedNonce,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: expectedState,
  }, { DPoP: dpop });
  const callback = await aliceApproves(url, /Sign in to openid-client/);
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier, expectedState, expectedNonce, idTokenExpected: true,
  }, undefined, { DPoP: dpop });
  const claims = tokens.claims();
  assert.equal(claims.iss, base);
  assert.equal(claims.aud, state.clientId);
  assert.equal(claims.nonce, expectedNonce);
  assert.equal(typeof claims.auth_time, 'number');
  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub, { DPoP: dpop });
  assert.deepEqual(info, { sub: claims.sub });
  state.sub = claims.sub;
});

step('FAPI 2.0 Message Signing: a signed request object (JAR) through PAR, the response as a signed JWT (JARM)', async () => {
  const created = await xs2a(state.clientToken, 'POST', '/v1/consents', {
    access: { allPsd2: 'allAccounts' }, recurringIndicator: true, validUntil: '2099-12-31', frequencyPerDay: 4, combinedServiceIndicator: false,
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const { config, dpop } = await discoverOpenId();
  client.useJwtResponseMode(config);
  const verifier = client.randomPKCECodeVerifier();
  const expectedState = client.randomState();
  const expectedNonce = client.randomNonce();
  const jar = await client.buildAuthorizationUrlWithJAR(config, {
    redirect_uri: REDIRECT_URI,
    scope: `openid AIS:${created.body.consentId}`,
    nonce: expectedNonce,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: expectedState,
  }, { key: state.privateKey, kid: 'interop-1' });
  assert.deepEqual([...jar.searchParams.keys()].sort(), ['client_id', 'request']);
  const url = await client.buildAuthorizationUrlWithPAR(config, jar.searchParams, { DPoP: dpop });
  const callback = await aliceApproves(url, /Share account information with openid-client\?/);
  assert.deepEqual([...callback.searchParams.keys()], ['response'], 'only the signed response comes back');
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier, expectedState, expectedNonce, idTokenExpected: true,
  }, undefined, { DPoP: dpop });
  assert.equal(tokens.scope, `AIS:${created.body.consentId}`);
  assert.equal(tokens.claims().sub, state.sub, 'the same pairwise subject for this application');
  const read = await xs2a(tokens.access_token, 'GET', '/v1/accounts', null, {
    'consent-id': created.body.consentId, 'psu-ip-address': '192.0.2.10',
  }, dpop);
  assert.equal(read.status, 200, JSON.stringify(read.body));
});

/** Logs alice in on the bank's login page the browser is on. */
async function logInAlice(page, next) {
  await page.getByLabel('Login name').fill('alice');
  await page.getByLabel('Password').fill('alice-demo-2026');
  await Promise.all([page.waitForURL(next), page.getByRole('button', { name: 'Continue' }).click()]);
}

step('alice adds a passkey in online banking (WebAuthn virtual authenticator)', async () => {
  const context = await browser.newContext({ viewport: { width: 1000, height: 800 }, locale: 'en-GB' });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
    },
  });
  await page.goto(`${base}/bank/online`);
  await logInAlice(page, /\/bank\/online\/sca$/);
  await page.getByLabel('One-time code').fill('123456');
  await Promise.all([page.waitForURL(/\/bank\/online\/consents$/), page.getByRole('button', { name: 'Confirm' }).click()]);
  await Promise.all([
    page.waitForURL(/\/bank\/online\/security$/),
    page.getByRole('link', { name: 'Passkeys and authenticator app' }).click(),
  ]);
  await page.getByLabel('Name of the new passkey').fill('Chromium');
  await Promise.all([page.waitForURL(/\/bank\/online\/passkeys$/), page.getByRole('button', { name: 'Add a passkey' }).click()]);
  assert.match(await page.locator('main').innerText(), /Passkey "Chromium" added/);
  await page.screenshot({ path: path.join(SHOTS, 'interop-3-passkey-added.png'), fullPage: true });
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  assert.equal(credentials.length, 1, 'the virtual authenticator holds the new passkey');
  Object.assign(state, { psuContext: context, psuPage: page, cdp, authenticatorId });
});

step('a payment authorised with the passkey: the signed challenge carries the payment', async () => {
  const payment = {
    instructedAmount: { currency: 'EUR', amount: '3.21' },
    debtorAccount: { iban: state.aliceIban },
    creditorName: 'Interop Café',
    creditorAccount: { iban: 'DE02120300000000202051' },
  };
  const created = await xs2a(state.clientToken, 'POST', '/v1/payments/sepa-credit-transfers', payment, {
    'psu-ip-address': '192.0.2.10',
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const paymentId = created.body.paymentId;
  const verifier = client.randomPKCECodeVerifier();
  const expectedState = client.randomState();
  const url = await client.buildAuthorizationUrlWithPAR(state.config, {
    redirect_uri: REDIRECT_URI,
    scope: `PIS:${paymentId}`,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: expectedState,
  }, { DPoP: state.dpop });

  const page = state.psuPage;
  let callback;
  let signed;
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url().endsWith('/bank/sca')) {
      signed = JSON.parse(new URLSearchParams(r.postData()).get('credential'));
    }
  });
  page.on('response', (r) => {
    if (r.request().method() === 'POST' && r.url().endsWith('/bank/consent') && r.status() === 303) {
      callback = r.headers().location;
    }
  });
  await page.goto(url.href);
  await logInAlice(page, /\/bank\/sca$/);
  const shown = await page.locator('main').innerText();
  assert.match(shown, /3\.21 EUR/);
  assert.match(shown, /Interop Café/);
  assert.match(shown, /Your passkey signs exactly this amount and payee/);
  await page.screenshot({ path: path.join(SHOTS, 'interop-4-payment-passkey.png'), fullPage: true });
  await Promise.all([page.waitForURL(/\/bank\/consent$/), page.getByRole('button', { name: 'Confirm with passkey' }).click()]);

  // What the authenticator signed: its challenge starts with the payment's digest.
  const clientData = JSON.parse(Buffer.from(signed.response.clientDataJSON, 'base64url').toString());
  assert.equal(clientData.type, 'webauthn.get');
  assert.equal(clientData.origin, base);
  const digest = createHash('sha256')
    .update(`${paymentId}|3.21|EUR|DE02120300000000202051|Interop Café`)
    .digest();
  const challenge = Buffer.from(clientData.challenge, 'base64url');
  assert.equal(challenge.length, 48);
  assert.deepEqual(challenge.subarray(0, 32), digest);

  assert.match(await page.locator('main').innerText(), /Approve this payment\?/);
  await Promise.all([
    page.waitForURL(/^https:\/\/tpp\.example\//).catch(() => {}),
    page.getByRole('button', { name: 'Approve' }).click(),
  ]);
  assert.ok(callback, 'the browser came back to the TPP');
  const tokens = await client.authorizationCodeGrant(state.config, new URL(callback), {
    pkceCodeVerifier: verifier,
    expectedState,
  }, undefined, { DPoP: state.dpop });
  const status = await xs2a(tokens.access_token, 'GET', `/v1/payments/sepa-credit-transfers/${paymentId}/status`);
  assert.equal(status.body.transactionStatus, 'ACSC', JSON.stringify(status.body));
  const { credentials } = await state.cdp.send('WebAuthn.getCredentials', { authenticatorId: state.authenticatorId });
  assert.ok(credentials[0].signCount >= 1, 'the passkey signed');
  await state.psuContext.close();
});
