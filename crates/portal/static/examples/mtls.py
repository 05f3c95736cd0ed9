"""Reads a customer's accounts as a fapi2 client that authenticates with its
TLS client certificate (tls_client_auth); every token is bound to it.

Standard library only. Run with the sandbox's values and your certificate:
    BASE=https://localhost:8443 CA=fintechapi-data/tls/dev-ca.pem \
    CERT=client.pem KEY=client-key.pem CLIENT_ID=ck_... python3 mtls.py
It prints the address to open in a browser, then asks for the address the
browser came back to, and prints the accounts the customer shared.
"""

import base64
import hashlib
import json
import os
import secrets
import ssl
import sys
import urllib.parse
import urllib.request
import uuid

BASE = os.environ["BASE"]
CLIENT_ID = os.environ["CLIENT_ID"]
# Every connection presents the client certificate: it authenticates the
# client and is the key its tokens are bound to.
TLS = ssl.create_default_context(cafile=os.environ["CA"])
TLS.load_cert_chain(os.environ["CERT"], os.environ["KEY"])
REDIRECT = "https://app.example/callback"


def oauth(path, form):
    """A call to the authorization server: the certificate and the client_id."""
    body = urllib.parse.urlencode({"client_id": CLIENT_ID, **form}).encode()
    with urllib.request.urlopen(urllib.request.Request(BASE + path, data=body), context=TLS) as answer:
        return json.load(answer)


def xs2a(method, path, token, body=None, consent=None):
    """An XS2A call: a token, and a fresh X-Request-ID on every request."""
    headers = {"authorization": "Bearer " + token, "x-request-id": str(uuid.uuid4())}
    if consent:
        headers["consent-id"] = consent
    data = None
    if body is not None:
        headers["content-type"] = "application/json"
        data = json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request, context=TLS) as answer:
        return json.load(answer)


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
challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
state = secrets.token_urlsafe(16)
pushed = oauth("/oauth2/par", {
    "response_type": "code",
    "redirect_uri": REDIRECT,
    "scope": f"AIS:{consent}",
    "state": state,
    "code_challenge": challenge,
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
