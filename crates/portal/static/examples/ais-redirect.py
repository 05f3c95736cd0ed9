"""Reads a customer's accounts with the Redirect approach (AIS).

Standard library only. Run with the sandbox's values:
    BASE=https://localhost:8443 CA=fintechapi-data/tls/dev-ca.pem \
    CLIENT_ID=ck_... CLIENT_SECRET=cs_... python3 ais-redirect.py
It prints the address to open in the customer's browser, then asks for the
address the browser came back to, and prints the accounts the customer
shared, read with the application's own token and the consent's id.
"""

import base64
import json
import os
import ssl
import sys
import urllib.parse
import urllib.request
import uuid

BASE = os.environ["BASE"]
TLS = ssl.create_default_context(cafile=os.environ["CA"])
BASIC = base64.b64encode(f"{os.environ['CLIENT_ID']}:{os.environ['CLIENT_SECRET']}".encode()).decode()
REDIRECT = "https://app.example/callback"


def oauth(path, form):
    """A call to the authorization server, authenticated with the consumer key and secret."""
    request = urllib.request.Request(
        BASE + path,
        data=urllib.parse.urlencode(form).encode(),
        headers={"authorization": "Basic " + BASIC},
    )
    with urllib.request.urlopen(request, context=TLS) as answer:
        return json.load(answer)


def xs2a(method, path, token, body=None, headers=None):
    """An XS2A call: a token, and a fresh X-Request-ID on every request."""
    headers = {"authorization": "Bearer " + token, "x-request-id": str(uuid.uuid4()), **(headers or {})}
    data = None
    if body is not None:
        headers["content-type"] = "application/json"
        data = json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request, context=TLS) as answer:
        return json.load(answer)


token = oauth("/oauth2/token", {"grant_type": "client_credentials", "scope": "ais"})["access_token"]
created = xs2a("POST", "/v1/consents", token, body={
    "access": {"allPsd2": "allAccounts"},
    "recurringIndicator": True,
    "validUntil": "2099-12-31",
    "frequencyPerDay": 4,
    "combinedServiceIndicator": False,
}, headers={"tpp-redirect-preferred": "true", "tpp-redirect-uri": REDIRECT})
consent = created["consentId"]
print(created["_links"]["scaRedirect"]["href"], flush=True)

# The browser comes back to TPP-Redirect-URI without a code: the consent's
# status says what the customer decided.
print("Address the browser came back to:", file=sys.stderr)
if not sys.stdin.readline().strip().startswith(REDIRECT):
    sys.exit("the browser did not come back to this application")
status = xs2a("GET", f"/v1/consents/{consent}/status", token)["consentStatus"]
if status != "valid":
    sys.exit(f"the customer did not approve: the consent is {status}")
print(json.dumps(xs2a("GET", "/v1/accounts", token, headers={"consent-id": consent}), indent=2))
