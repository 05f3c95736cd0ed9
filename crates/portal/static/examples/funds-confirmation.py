"""Asks whether an account covers an amount, under the holder's consent (PIIS).

Standard library only. Run with the sandbox's values:
    BASE=https://localhost:8443 CA=fintechapi-data/tls/dev-ca.pem \
    CLIENT_ID=ck_... CLIENT_SECRET=cs_... python3 funds-confirmation.py
It prints the address to open in a browser, where the holder gives the
consent, then asks for the address the browser came back to, and prints the
bank's answers for a small and a very large amount.
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
TLS = ssl.create_default_context(cafile=os.environ["CA"])
BASIC = base64.b64encode(f"{CLIENT_ID}:{os.environ['CLIENT_SECRET']}".encode()).decode()
REDIRECT = "https://app.example/callback"
IBAN = "DE04765432100001000100"  # the sandbox customer alice's current account


def oauth(path, form):
    """A call to the authorization server, authenticated with the consumer key and secret."""
    request = urllib.request.Request(
        BASE + path,
        data=urllib.parse.urlencode(form).encode(),
        headers={"authorization": "Basic " + BASIC},
    )
    with urllib.request.urlopen(request, context=TLS) as answer:
        return json.load(answer)


def funds_available(token, amount):
    """The bank's yes or no for `amount` euros on the consented account."""
    request = urllib.request.Request(
        BASE + "/v1/funds-confirmations",
        data=json.dumps({
            "account": {"iban": IBAN},
            "instructedAmount": {"currency": "EUR", "amount": amount},
        }).encode(),
        headers={
            "authorization": "Bearer " + token,
            "x-request-id": str(uuid.uuid4()),
            "content-type": "application/json",
        },
    )
    with urllib.request.urlopen(request, context=TLS) as answer:
        return json.load(answer)["fundsAvailable"]


# PKCE (S256) and state: kept by the application for this one authorization.
verifier = secrets.token_urlsafe(48)
challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
state = secrets.token_urlsafe(16)
pushed = oauth("/oauth2/par", {
    "response_type": "code",
    "redirect_uri": REDIRECT,
    "authorization_details": json.dumps([{"type": "funds_confirmation", "account": {"iban": IBAN}}]),
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
print(json.dumps({
    "consentId": tokens["authorization_details"][0]["consentId"],
    "25.00": funds_available(tokens["access_token"], "25.00"),
    "1000000.00": funds_available(tokens["access_token"], "1000000.00"),
}, indent=2))
