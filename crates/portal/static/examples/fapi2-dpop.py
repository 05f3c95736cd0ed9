"""Reads a customer's accounts as a fapi2 client: private_key_jwt client
authentication (RFC 7523) and DPoP-bound tokens (RFC 9449).

Standard library only; the ES256 signatures come from the openssl command.
Run with the sandbox's values and the key whose public half you registered:
    BASE=https://localhost:8443 CA=fintechapi-data/tls/dev-ca.pem \
    CLIENT_ID=ck_... KEY=client-key.pem python3 fapi2-dpop.py
It prints the address to open in a browser, then asks for the address the
browser came back to, and prints the accounts the customer shared.
"""

import base64
import hashlib
import json
import os
import secrets
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

BASE = os.environ["BASE"]
CLIENT_ID = os.environ["CLIENT_ID"]
CLIENT_KEY = os.environ["KEY"]
TLS = ssl.create_default_context(cafile=os.environ["CA"])
REDIRECT = "https://app.example/callback"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def openssl(*args, data=None):
    return subprocess.run(["openssl", *args], input=data, capture_output=True, check=True).stdout


def der_integer(der):
    """The first DER INTEGER of `der` as 32 bytes, and what follows it."""
    length = der[1]
    return der[2:2 + length][-32:].rjust(32, b"\0"), der[2 + length:]


def jws(key, header, claims):
    """A compact JWS. openssl signs in DER; ES256 wants r||s, 32 bytes each."""
    signing_input = f"{b64url(json.dumps({'alg': 'ES256', **header}).encode())}.{b64url(json.dumps(claims).encode())}"
    der = openssl("dgst", "-sha256", "-sign", key, data=signing_input.encode())
    body = der[2:]  # the SEQUENCE's content (a signature is under 128 bytes)
    r, rest = der_integer(body)
    s, _ = der_integer(rest)
    return f"{signing_input}.{b64url(r + s)}"


# A fresh DPoP key for this run: the tokens are bound to it.
DPOP_KEY = os.path.join(tempfile.mkdtemp(), "dpop-key.pem")
openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", DPOP_KEY)
point = openssl("ec", "-in", DPOP_KEY, "-pubout", "-outform", "DER")[-65:]  # 0x04 || x || y
DPOP_JWK = {"kty": "EC", "crv": "P-256", "x": b64url(point[1:33]), "y": b64url(point[33:])}
nonce = None  # the bank's current DPoP nonce


def proof(method, url, token=None):
    claims = {"jti": str(uuid.uuid4()), "htm": method, "htu": url, "iat": int(time.time())}
    if nonce:
        claims["nonce"] = nonce
    if token:
        claims["ath"] = b64url(hashlib.sha256(token.encode()).digest())
    return jws(DPOP_KEY, {"typ": "dpop+jwt", "jwk": DPOP_JWK}, claims)


def with_proof(method, url, token, build):
    """A request with a DPoP proof; `build` makes its headers and body, again
    when the bank asks for a proof with its nonce."""
    global nonce
    for attempt in range(2):
        headers, data = build()
        headers["dpop"] = proof(method, url, token)
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, context=TLS) as answer:
                nonce = answer.headers.get("dpop-nonce") or nonce
                return json.load(answer)
        except urllib.error.HTTPError as refused:
            text = refused.read().decode()
            asked = refused.headers.get("dpop-nonce")
            if attempt or not asked or "use_dpop_nonce" not in text:
                sys.exit(f"{url}: {refused.code} {text}")
            nonce = asked


def oauth(path, form):
    """A call to the authorization server, authenticated with a fresh client assertion."""
    def build():
        now = int(time.time())
        assertion = jws(CLIENT_KEY, {}, {"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": BASE, "iat": now,
                                         "exp": now + 60, "jti": str(uuid.uuid4())})
        return {}, urllib.parse.urlencode({
            **form,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        }).encode()
    return with_proof("POST", BASE + path, None, build)


def xs2a(method, path, token, body=None, consent=None):
    """An XS2A call: the DPoP-bound token, its proof, and a fresh X-Request-ID."""
    def build():
        headers = {"authorization": "DPoP " + token, "x-request-id": str(uuid.uuid4())}
        if consent:
            headers["consent-id"] = consent
        if body is None:
            return headers, None
        headers["content-type"] = "application/json"
        return headers, json.dumps(body).encode()
    return with_proof(method, BASE + path, token, build)


token = oauth("/oauth2/token", {"grant_type": "client_credentials", "scope": "ais"})["access_token"]
consent = xs2a("POST", "/v1/consents", token, body={
    "access": {"allPsd2": "allAccounts"},
    "recurringIndicator": True,
    "validUntil": "2099-12-31",
    "frequencyPerDay": 4,
    "combinedServiceIndicator": False,
})["consentId"]

# PKCE (S256) and state: kept by the application for this one authorization.
verifier = secrets.token_urlsafe(48)
state = secrets.token_urlsafe(16)
pushed = oauth("/oauth2/par", {
    "response_type": "code",
    "redirect_uri": REDIRECT,
    "scope": f"AIS:{consent}",
    "state": state,
    "code_challenge": b64url(hashlib.sha256(verifier.encode()).digest()),
    "code_challenge_method": "S256",
})
query = urllib.parse.urlencode({"client_id": CLIENT_ID, "request_uri": pushed["request_uri"]})
print(f"{BASE}/oauth2/authorize?{query}", flush=True)

print("Address the browser came back to:", file=sys.stderr)
back = urllib.parse.parse_qs(urllib.parse.urlsplit(sys.stdin.readline().strip()).query)
if back.get("state") != [state]:
    sys.exit("not the answer to this authorization request")
tokens = oauth("/oauth2/token", {
    "grant_type": "authorization_code",
    "code": back["code"][0],
    "redirect_uri": REDIRECT,
    "code_verifier": verifier,
})
print(json.dumps(xs2a("GET", "/v1/accounts", tokens["access_token"], consent=consent), indent=2))
