// Signs what curl cannot, with ES256 keys made by `openssl ecparam`:
//   node jose.mjs jwks KEY.pem                       the public JWK Set to register
//   node jose.mjs assertion KEY.pem                  a client assertion (RFC 7523) for
//                                                    CLIENT_ID, audience BASE
//   node jose.mjs dpop KEY.pem METHOD URL [TOKEN]    a DPoP proof (RFC 9449) with
//                                                    DPOP_NONCE when set, ath of TOKEN
// Node.js 18 or later, no packages.
import { createHash, createPrivateKey, createPublicKey, randomUUID, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';

const [command, keyFile, method, url, token] = process.argv.slice(2);
const key = createPrivateKey(readFileSync(keyFile));
const { kty, crv, x, y } = createPublicKey(key).export({ format: 'jwk' });
const jwk = { kty, crv, x, y };
// The key's RFC 7638 thumbprint names it.
const kid = createHash('sha256').update(JSON.stringify({ crv, kty, x, y })).digest('base64url');
const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = Math.floor(Date.now() / 1000);

/** A compact JWS: ES256 signatures are r||s (IEEE P1363), not DER. */
function jws(header, claims) {
  const input = `${part({ alg: 'ES256', ...header })}.${part(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

if (command === 'jwks') {
  console.log(JSON.stringify({ keys: [{ ...jwk, kid, use: 'sig', alg: 'ES256' }] }));
} else if (command === 'assertion') {
  const { BASE, CLIENT_ID } = process.env;
  console.log(jws({ kid }, { iss: CLIENT_ID, sub: CLIENT_ID, aud: BASE, iat: now, exp: now + 60, jti: randomUUID() }));
} else if (command === 'dpop') {
  const claims = { jti: randomUUID(), htm: method, htu: url, iat: now };
  if (process.env.DPOP_NONCE) claims.nonce = process.env.DPOP_NONCE;
  if (token) claims.ath = createHash('sha256').update(token).digest('base64url');
  console.log(jws({ typ: 'dpop+jwt', jwk }, claims));
} else {
  console.error('usage: node jose.mjs jwks|assertion KEY.pem, or dpop KEY.pem METHOD URL [TOKEN]');
  process.exit(2);
}
