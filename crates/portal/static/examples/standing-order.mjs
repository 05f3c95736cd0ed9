// Sets up a standing order the customer authorises, then cancels it with
// the customer's confirmation (PIS, periodic payments).
//
// Node.js 18 or later, no packages. Run with the sandbox's values:
//   BASE=https://localhost:8443 NODE_EXTRA_CA_CERTS=fintechapi-data/tls/dev-ca.pem \
//   CLIENT_ID=ck_... CLIENT_SECRET=cs_... node standing-order.mjs
// It prints an address to open in the customer's browser and asks for the
// address the browser came back to, twice: to authorise the standing order,
// and to confirm its cancellation. It prints the standing order after each.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline/promises';

const { BASE, CLIENT_ID, CLIENT_SECRET } = process.env;
const REDIRECT = 'https://app.example/callback';
// The customer's address as the application sees it, required on every initiation.
const PSU_IP = '192.0.2.7';
const basic = 'Basic ' + Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64');
const prompt = createInterface({ input: process.stdin, output: process.stderr });

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
async function xs2a(method, path, token, body) {
  const headers = { authorization: `Bearer ${token}`, 'x-request-id': randomUUID() };
  if (body) Object.assign(headers, { 'content-type': 'application/json', 'psu-ip-address': PSU_IP });
  const answer = await fetch(BASE + path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  if (!answer.ok) throw new Error(`${path}: ${answer.status} ${await answer.text()}`);
  return answer.json();
}

/** Sends the customer to the bank for `paymentId` (its authorisation, or its
 * cancellation once asked for) and checks the way back. */
async function customerDecides(paymentId) {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const state = randomBytes(16).toString('base64url');
  const { request_uri } = await oauth('/oauth2/par', {
    response_type: 'code',
    redirect_uri: REDIRECT,
    scope: `PIS:${paymentId}`,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  console.log(`${BASE}/oauth2/authorize?${new URLSearchParams({ client_id: CLIENT_ID, request_uri })}`);
  const back = new URL(await prompt.question('Address the browser came back to: ')).searchParams;
  if (back.get('state') !== state) throw new Error('not the answer to this authorization request');
  if (!back.has('code')) throw new Error(`the customer did not approve: ${back.get('error')}`);
}

const { access_token: token } = await oauth('/oauth2/token', { grant_type: 'client_credentials', scope: 'pis' });
const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
const path = '/v1/periodic-payments/sepa-credit-transfers';
const { paymentId } = await xs2a('POST', path, token, {
  instructedAmount: { currency: 'EUR', amount: '25.00' },
  debtorAccount: { iban: 'DE04765432100001000100' },
  creditorName: 'Landlord',
  creditorAccount: { iban: 'DE02120300000000202051' },
  remittanceInformationUnstructured: 'Rent',
  startDate: tomorrow,
  frequency: 'Monthly',
  executionRule: 'following',
});
await customerDecides(paymentId);
console.log(JSON.stringify(await xs2a('GET', `${path}/${paymentId}`, token), null, 2));

// Authorised: cancelling it needs the customer's confirmation (202).
await xs2a('DELETE', `${path}/${paymentId}`, token);
await customerDecides(paymentId);
console.log(JSON.stringify(await xs2a('GET', `${path}/${paymentId}/status`, token), null, 2));
prompt.close();
