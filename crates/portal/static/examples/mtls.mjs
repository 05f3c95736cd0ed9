// Reads a customer's accounts as a fapi2 client that authenticates with its
// TLS client certificate (tls_client_auth); every token is bound to it.
//
// Node.js 18 or later, no packages. Run with the sandbox's values and your certificate:
//   BASE=https://localhost:8443 NODE_EXTRA_CA_CERTS=fintechapi-data/tls/dev-ca.pem \
//   CERT=client.pem KEY=client-key.pem CLIENT_ID=ck_... node mtls.mjs
// It prints the address to open in a browser, then asks for the address the
// browser came back to, and prints the accounts the customer shared.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { createInterface } from 'node:readline/promises';

const { BASE, CLIENT_ID } = process.env;
const REDIRECT = 'https://app.example/callback';
// Every connection presents the client certificate (fetch cannot): it
// authenticates the client and is the key its tokens are bound to.
const cert = readFileSync(process.env.CERT);
const key = readFileSync(process.env.KEY);

/** An HTTPS call with the client certificate; the parsed JSON answer. */
function call(method, path, headers, body) {
  return new Promise((resolve, reject) => {
    const req = request(BASE + path, { method, headers, cert, key }, (answer) => {
      let text = '';
      answer.setEncoding('utf8');
      answer.on('data', (chunk) => { text += chunk; });
      answer.on('end', () => {
        if (answer.statusCode >= 300) reject(new Error(`${path}: ${answer.statusCode} ${text}`));
        else resolve(JSON.parse(text));
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A call to the authorization server: the certificate and the client_id. */
function oauth(path, form) {
  const body = new URLSearchParams({ client_id: CLIENT_ID, ...form }).toString();
  return call('POST', path, { 'content-type': 'application/x-www-form-urlencoded' }, body);
}

/** An XS2A call: a token, and a fresh X-Request-ID on every request. */
function xs2a(method, path, token, { body, consent } = {}) {
  const headers = { authorization: `Bearer ${token}`, 'x-request-id': randomUUID() };
  if (consent) headers['consent-id'] = consent;
  if (body) headers['content-type'] = 'application/json';
  return call(method, path, headers, body ? JSON.stringify(body) : undefined);
}

const { access_token: token } = await oauth('/oauth2/token', { grant_type: 'client_credentials', scope: 'ais' });
const { consentId } = await xs2a('POST', '/v1/consents', token, {
  body: {
    access: { allPsd2: 'allAccounts' },
    recurringIndicator: true,
    validUntil: '2099-12-31',
    frequencyPerDay: 4,
    combinedServiceIndicator: false,
  },
});

// PKCE (S256) and state: kept by the application for this one authorization.
const verifier = randomBytes(32).toString('base64url');
const challenge = createHash('sha256').update(verifier).digest('base64url');
const state = randomBytes(16).toString('base64url');
const { request_uri } = await oauth('/oauth2/par', {
  response_type: 'code',
  redirect_uri: REDIRECT,
  scope: `AIS:${consentId}`,
  state,
  code_challenge: challenge,
  code_challenge_method: 'S256',
});
console.log(`${BASE}/oauth2/authorize?${new URLSearchParams({ client_id: CLIENT_ID, request_uri })}`);

const prompt = createInterface({ input: process.stdin, output: process.stderr });
const back = new URL(await prompt.question('Address the browser came back to: ')).searchParams;
prompt.close();
if (back.get('state') !== state) throw new Error('not the answer to this authorization request');
const tokens = await oauth('/oauth2/token', {
  grant_type: 'authorization_code',
  code: back.get('code'),
  redirect_uri: REDIRECT,
  code_verifier: verifier,
});
console.log(JSON.stringify(await xs2a('GET', '/v1/accounts', tokens.access_token, { consent: consentId }), null, 2));
