// Reads a customer's accounts with their consent (AIS, OAuth approach).
//
// Node.js 18 or later, no packages. Run with the sandbox's values:
//   BASE=https://localhost:8443 NODE_EXTRA_CA_CERTS=fintechapi-data/tls/dev-ca.pem \
//   CLIENT_ID=ck_... CLIENT_SECRET=cs_... node ais.mjs
// It prints the address to open in a browser, then asks for the address the
// browser came back to, and prints the accounts the customer shared.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline/promises';

const { BASE, CLIENT_ID, CLIENT_SECRET } = process.env;
const REDIRECT = 'https://app.example/callback';
const basic = 'Basic ' + Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64');

/** A call to the authorization server, authenticated with the consumer key and secret. */
async function oauth(path, form) {
  const answer = await fetch(BASE + path, {
    method: 'POST',
    headers: { authorization: basic },
    body: new URLSearchParams(form),
  });
  if (!answer.ok) throw new Error(`${path}: ${answer.status} ${await answer.text()}`);
  return answer.json();
}

/** An XS2A call: a token, and a fresh X-Request-ID on every request. */
async function xs2a(method, path, token, { body, consent } = {}) {
  const headers = { authorization: `Bearer ${token}`, 'x-request-id': randomUUID() };
  if (consent) headers['consent-id'] = consent;
  if (body) headers['content-type'] = 'application/json';
  const answer = await fetch(BASE + path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  if (!answer.ok) throw new Error(`${path}: ${answer.status} ${await answer.text()}`);
  return answer.json();
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
