"""Reads a customer's accounts with the Decoupled approach (AIS).

Standard library only. Run with the sandbox's values and the customer's
login at the bank:
    BASE=https://localhost:8443 CA=fintechapi-data/tls/dev-ca.pem \
    CLIENT_ID=ck_... CLIENT_SECRET=cs_... PSU_ID=alice python3 ais-decoupled.py
It prints the bank's message for the customer, waits while the customer
approves in online banking (Pending approvals), and prints the accounts the
customer shared, read with the application's own token and the consent's id.
"""

import base64
import json
import os
import ssl
import sys
import time
import urllib.parse
import urllib.request
import uuid

BASE = os.environ["BASE"]
TLS = ssl.create_default_context(cafile=os.environ["CA"])
BASIC = base64.b64encode(f"{os.environ['CLIENT_ID']}:{os.environ['CLIENT_SECRET']}".encode()).decode()


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


def token():
    """A client-credentials token (short-lived: taken again for each call here)."""
    return oauth("/oauth2/token", {"grant_type": "client_credentials", "scope": "ais"})["access_token"]


created = xs2a("POST", "/v1/consents", token(), body={
    "access": {"allPsd2": "allAccounts"},
    "recurringIndicator": True,
    "validUntil": "2099-12-31",
    "frequencyPerDay": 4,
    "combinedServiceIndicator": False,
}, headers={"tpp-decoupled-preferred": "true", "psu-id": os.environ["PSU_ID"]})
consent = created["consentId"]
print(created["psuMessage"], file=sys.stderr, flush=True)

# The customer answers in the bank's app; the authorisation's status says when.
status_path = created["_links"]["scaStatus"]["href"]
while True:
    sca = xs2a("GET", status_path, token())["scaStatus"]
    if sca in ("finalised", "failed"):
        break
    time.sleep(2)
status = xs2a("GET", f"/v1/consents/{consent}/status", token())["consentStatus"]
if status != "valid":
    sys.exit(f"the customer did not approve: the consent is {status}")
print(json.dumps(xs2a("GET", "/v1/accounts", token(), headers={"consent-id": consent}), indent=2))
