// Reads a customer's accounts as a fapi2 client: private_key_jwt client
// authentication (RFC 7523) and DPoP-bound tokens (RFC 9449).
//
// Node.js 18 or later, no packages. Run with the sandbox's values and the key
// whose public half you registered:
//   BASE=https://localhost:8443 NODE_EXTRA_CA_CERTS=fintechapi-data/tls/dev-ca.pem \
//   CLIENT_ID=ck_... KEY=client-key.pem node fapi2-dpop.mjs
// It prints the address to open in a browser, then asks for the address the
// browser came back to, and prints the accounts the customer shared.
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, randomUUID, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';

const { BASE, CLIENT_ID } = process.env;
const REDIRECT = 'https://app.example/callback';
const clientKey = createPrivateKey(readFileSync(process.env.KEY));
// A fresh DPoP key for this run: the tokens are bound to it.
const dpopKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const { kty, crv, x, y } = dpopKey.export({ format: 'jwk' });
const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
const sha256 = (text) => createHash('sha256').update(text).digest('base64url');
const now = () => Math.floor(Date.now() / 1000);
let nonce; // the bank's current DPoP nonce

/** A compact JWS: ES256 signatures are r||s (IEEE P1363), not DER. */
function jws(key, header, claims) {
  const input = `${part({ alg: 'ES256', ...header })}.${part(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

function proof(method, url, token) {
  const claims = { jti: randomUUID(), htm: method, htu: url, iat: now(), nonce };
  if (token) claims.ath = sha256(token);
  return jws(dpopKey, { typ: 'dpop+jwt', jwk: { kty, crv, x, y } }, claims);
}

/** A request with a DPoP proof; `init` makes its headers and body, again when
 * the bank asks for a proof with its nonce. */
async function withProof(method, url, token, init) {
  for (let attempt = 0; ; attempt++) {
    const { headers, body } = init();
    const answer = await fetch(url, { method, body, headers: { ...headers, dpop: proof(method, url, token) } });
    const asked = answer.headers.get('dpop-nonce');
    if (asked) nonce = asked;
    if (answer.ok) return answer.json();
    const text = await answer.text();
    if (attempt > 0 || !asked || !text.includes('use_dpop_nonce')) throw new Error(`${url}: ${answer.status} ${text}`);
  }
}

/** A call to the authorization server, authenticated with a fresh client assertion. */
function oauth(path, form) {
  return withProof('POST', BASE + path, undefined, () => ({
    body: new URLSearchParams({
      ...form,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: jws(clientKey, {}, { iss: CLIENT_ID, sub: CLIENT_ID, aud: BASE, iat: now(), exp: now() + 60, jti: randomUUID() }),
    }),
  }));
}

/** An XS2A call: the DPoP-bound token, its proof, and a fresh X-Request-ID. */
function xs2a(method, path, token, { body, consent } = {}) {
  return withProof(method, BASE + path, token, () => {
    const headers = { authorization: `DPoP ${token}`, 'x-request-id': randomUUID() };
    if (consent) headers['consent-id'] = consent;
    if (body) headers['content-type'] = 'application/json';
    return { headers, body: body ? JSON.stringify(body) : undefined };
  });
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
const state = randomBytes(16).toString('base64url');
const { request_uri } = await oauth('/oauth2/par', {
  response_type: 'code',
  redirect_uri: REDIRECT,
  scope: `AIS:${consentId}`,
  state,
  code_challenge: sha256(verifier),
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
