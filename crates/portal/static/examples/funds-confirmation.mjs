// Asks whether an account covers an amount, under the holder's consent (PIIS).
//
// Node.js 18 or later, no packages. Run with the sandbox's values:
//   BASE=https://localhost:8443 NODE_EXTRA_CA_CERTS=fintechapi-data/tls/dev-ca.pem \
//   CLIENT_ID=ck_... CLIENT_SECRET=cs_... node funds-confirmation.mjs
// It prints the address to open in a browser, where the holder gives the
// consent, then asks for the address the browser came back to, and prints the
// bank's answers for a small and a very large amount.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline/promises';

const { BASE, CLIENT_ID, CLIENT_SECRET } = process.env;
const REDIRECT = 'https://app.example/callback';
const IBAN = 'DE04765432100001000100'; // the sandbox customer alice's current account
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

/** The bank's yes or no for `amount` euros on the consented account. */
async function fundsAvailable(token, amount) {
  const answer = await fetch(`${BASE}/v1/funds-confirmations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'x-request-id': randomUUID(), 'content-type': 'application/json' },
    body: JSON.stringify({ account: { iban: IBAN }, instructedAmount: { currency: 'EUR', amount } }),
  });
  if (!answer.ok) throw new Error(`funds-confirmations: ${answer.status} ${await answer.text()}`);
  return (await answer.json()).fundsAvailable;
}

// PKCE (S256) and state: kept by the application for this one authorization.
const verifier = randomBytes(32).toString('base64url');
const challenge = createHash('sha256').update(verifier).digest('base64url');
const state = randomBytes(16).toString('base64url');
const { request_uri } = await oauth('/oauth2/par', {
  response_type: 'code',
  redirect_uri: REDIRECT,
  authorization_details: JSON.stringify([{ type: 'funds_confirmation', account: { iban: IBAN } }]),
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
console.log(JSON.stringify({
  consentId: tokens.authorization_details[0].consentId,
  '25.00': await fundsAvailable(tokens.access_token, '25.00'),
  '1000000.00': await fundsAvailable(tokens.access_token, '1000000.00'),
}, null, 2));
