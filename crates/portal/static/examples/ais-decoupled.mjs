// Reads a customer's accounts with the Decoupled approach (AIS).
//
// Node.js 18 or later, no packages. Run with the sandbox's values and the
// customer's login at the bank:
//   BASE=https://localhost:8443 NODE_EXTRA_CA_CERTS=fintechapi-data/tls/dev-ca.pem \
//   CLIENT_ID=ck_... CLIENT_SECRET=cs_... PSU_ID=alice node ais-decoupled.mjs
// It prints the bank's message for the customer, waits while the customer
// approves in online banking (Pending approvals), and prints the accounts the
// customer shared, read with the application's own token and the consent's id.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

const { BASE, CLIENT_ID, CLIENT_SECRET, PSU_ID } = process.env;
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

/** A client-credentials token (short-lived: taken again for each call here). */
async function token() {
  const { access_token } = await oauth('/oauth2/token', { grant_type: 'client_credentials', scope: 'ais' });
  return access_token;
}

const created = await xs2a('POST', '/v1/consents', await token(), {
  body: {
    access: { allPsd2: 'allAccounts' },
    recurringIndicator: true,
    validUntil: '2099-12-31',
    frequencyPerDay: 4,
    combinedServiceIndicator: false,
  },
  headers: { 'tpp-decoupled-preferred': 'true', 'psu-id': PSU_ID },
});
console.error(created.psuMessage);

// The customer answers in the bank's app; the authorisation's status says when.
let sca;
do {
  await sleep(sca ? 2000 : 0);
  ({ scaStatus: sca } = await xs2a('GET', created._links.scaStatus.href, await token()));
} while (sca !== 'finalised' && sca !== 'failed');
const { consentStatus } = await xs2a('GET', `/v1/consents/${created.consentId}/status`, await token());
if (consentStatus !== 'valid') throw new Error(`the customer did not approve: the consent is ${consentStatus}`);
const accounts = await xs2a('GET', '/v1/accounts', await token(), { headers: { 'consent-id': created.consentId } });
console.log(JSON.stringify(accounts, null, 2));
