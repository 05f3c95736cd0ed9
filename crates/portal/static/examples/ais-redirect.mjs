// Reads a customer's accounts with the Redirect approach (AIS).
//
// Node.js 18 or later, no packages. Run with the sandbox's values:
//   BASE=https://localhost:8443 NODE_EXTRA_CA_CERTS=fintechapi-data/tls/dev-ca.pem \
//   CLIENT_ID=ck_... CLIENT_SECRET=cs_... node ais-redirect.mjs
// It prints the address to open in the customer's browser, then asks for the
// address the browser came back to, and prints the accounts the customer
// shared, read with the application's own token and the consent's id.
import { randomUUID } from 'node:crypto';
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
async function xs2a(method, path, token, { body, headers = {} } = {}) {
  const all = { authorization: `Bearer ${token}`, 'x-request-id': randomUUID(), ...headers };
  if (body) all['content-type'] = 'application/json';
  const answer = await fetch(BASE + path, { method, headers: all, body: body ? JSON.stringify(body) : undefined });
  if (!answer.ok) throw new Error(`${path}: ${answer.status} ${await answer.text()}`);
  return answer.json();
}

const { access_token: token } = await oauth('/oauth2/token', { grant_type: 'client_credentials', scope: 'ais' });
const created = await xs2a('POST', '/v1/consents', token, {
  body: {
    access: { allPsd2: 'allAccounts' },
    recurringIndicator: true,
    validUntil: '2099-12-31',
    frequencyPerDay: 4,
    combinedServiceIndicator: false,
  },
  headers: { 'tpp-redirect-preferred': 'true', 'tpp-redirect-uri': REDIRECT },
});
console.log(created._links.scaRedirect.href);

// The browser comes back to TPP-Redirect-URI without a code: the consent's
// status says what the customer decided.
const prompt = createInterface({ input: process.stdin, output: process.stderr });
const back = await prompt.question('Address the browser came back to: ');
prompt.close();
if (!back.startsWith(REDIRECT)) throw new Error('the browser did not come back to this application');
const { consentStatus } = await xs2a('GET', `/v1/consents/${created.consentId}/status`, token);
if (consentStatus !== 'valid') throw new Error(`the customer did not approve: the consent is ${consentStatus}`);
const accounts = await xs2a('GET', '/v1/accounts', token, { headers: { 'consent-id': created.consentId } });
console.log(JSON.stringify(accounts, null, 2));
