"""Sets up a standing order the customer authorises, then cancels it with
the customer's confirmation (PIS, periodic payments).

Standard library only. Run with the sandbox's values:
    BASE=https://localhost:8443 CA=fintechapi-data/tls/dev-ca.pem \
    CLIENT_ID=ck_... CLIENT_SECRET=cs_... python3 standing-order.py
It prints an address to open in the customer's browser and asks for the
address the browser came back to, twice: to authorise the standing order,
and to confirm its cancellation. It prints the standing order after each.
"""

import base64
import datetime
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
# The customer's address as the application sees it, required on every initiation.
PSU_IP = "192.0.2.7"


def oauth(path, form):
    """A call to the authorization server, authenticated with the consumer key and secret."""
    request = urllib.request.Request(
        BASE + path,
        data=urllib.parse.urlencode(form).encode(),
        headers={"authorization": "Basic " + BASIC},
    )
    with urllib.request.urlopen(request, context=TLS) as answer:
        return json.load(answer)


def xs2a(method, path, token, body=None):
    """An XS2A call: a token, and a fresh X-Request-ID on every request."""
    headers = {"authorization": "Bearer " + token, "x-request-id": str(uuid.uuid4())}
    data = None
    if body is not None:
        headers["content-type"] = "application/json"
        headers["psu-ip-address"] = PSU_IP
        data = json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request, context=TLS) as answer:
        return json.load(answer)


def customer_decides(payment):
    """Sends the customer to the bank for `payment` (its authorisation, or
    its cancellation once asked for) and checks the way back."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(16)
    pushed = oauth("/oauth2/par", {
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": f"PIS:{payment}",
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
    if "code" not in back:
        sys.exit(f"the customer did not approve: {back.get('error')}")


token = oauth("/oauth2/token", {"grant_type": "client_credentials", "scope": "pis"})["access_token"]
tomorrow = datetime.datetime.now(datetime.timezone.utc).date() + datetime.timedelta(days=1)
path = "/v1/periodic-payments/sepa-credit-transfers"
payment = xs2a("POST", path, token, body={
    "instructedAmount": {"currency": "EUR", "amount": "25.00"},
    "debtorAccount": {"iban": "DE04765432100001000100"},
    "creditorName": "Landlord",
    "creditorAccount": {"iban": "DE02120300000000202051"},
    "remittanceInformationUnstructured": "Rent",
    "startDate": tomorrow.isoformat(),
    "frequency": "Monthly",
    "executionRule": "following",
})["paymentId"]
customer_decides(payment)
print(json.dumps(xs2a("GET", f"{path}/{payment}", token), indent=2), flush=True)

# Authorised: cancelling it needs the customer's confirmation (202).
xs2a("DELETE", f"{path}/{payment}", token)
customer_decides(payment)
print(json.dumps(xs2a("GET", f"{path}/{payment}/status", token), indent=2))
