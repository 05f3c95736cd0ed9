"""A scripted TPP and PSU over HTTPS, for the cases wrk cannot drive alone.

The TPP creates consents and payments on the XS2A API, pushes authorization
requests and exchanges codes; the PSU opens the bank's pages like a browser
(cookies kept, redirects read, never followed), signs in with the demo
password, passes the second factor with the sandbox code and approves. The
same steps make the consent the AIS cases read under, and are timed as the
redirect-flow and payment-flow cases. Standard library only.
"""

import base64
import hashlib
import http.client
import json
import re
import secrets
import ssl
import time
import urllib.parse
import uuid

REDIRECT = "https://tpp.example/cb"
SANDBOX_CODE = "123456"
PSU_IP = "192.0.2.7"
# The demo bank's customers (`fintechapi serve` prints them).
DEMO_PSUS = [("alice", "alice-demo-2026"), ("bob", "bob-demo-2026"), ("carol", "carol-demo-2026")]


class FlowError(Exception):
    """A step answered something other than what the flow expects."""


class Https:
    """One keep-alive HTTP/1.1 connection to the server; with `browser`, a cookie jar too."""

    def __init__(self, port, ca, browser=False):
        ctx = ssl.create_default_context(cafile=ca)
        ctx.check_hostname = False
        self.host = f"127.0.0.1:{port}"
        self.conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
        self.cookies = {} if browser else None
        self.requests = 0
        self.reused = False

    def request(self, method, path, body=None, headers=None):
        try:
            return self.send(method, path, body, headers)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ssl.SSLEOFError):
            # The server closed the idle connection: a client opens another and sends again.
            if not self.reused:
                raise
            self.close()
            return self.send(method, path, body, headers)

    def send(self, method, path, body, headers):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.cookies is not None and method == "POST":
            # What a browser sends with a same-origin form post.
            headers.update({"Origin": f"https://{self.host}", "Sec-Fetch-Site": "same-origin"})
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        data = resp.read()
        self.requests += 1
        self.reused = True
        if self.cookies is not None:
            for set_cookie in resp.headers.get_all("Set-Cookie") or []:
                pair, _, attrs = set_cookie.partition(";")
                name, _, value = pair.partition("=")
                if value and "Max-Age=0" not in attrs:
                    self.cookies[name.strip()] = value.strip()
                else:
                    self.cookies.pop(name.strip(), None)
        if resp.getheader("Connection", "").lower() == "close":
            self.close()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data

    def close(self):
        self.conn.close()
        self.reused = False


def expect(step, status, wanted, data):
    if status != wanted:
        raise FlowError(f"{step}: {status} (wanted {wanted}): {data[:300]!r}")


def form_body(fields):
    return urllib.parse.urlencode(fields)


FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/json"}


def basic(client_id, secret):
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def pkce_pair():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


class Tpp:
    """A `basic` TPP application's back end: its own keep-alive connection."""

    def __init__(self, port, ca, client_id, secret):
        self.port, self.ca, self.client_id = port, ca, client_id
        self.auth = basic(client_id, secret)
        self.http = Https(port, ca)
        self.browser_requests = 0

    def oauth(self, path, fields, wanted=200):
        status, _, data = self.http.request("POST", path, form_body(fields),
                                            {**FORM, "Authorization": self.auth})
        expect(path, status, wanted, data)
        return json.loads(data)

    def client_token(self):
        return self.oauth("/oauth2/token", {"grant_type": "client_credentials"})["access_token"]

    def xs2a(self, method, path, token, wanted, headers=None, body=None):
        h = {"Authorization": f"Bearer {token}", "X-Request-ID": str(uuid.uuid4()), **(headers or {})}
        if body is not None:
            h.update(JSON)
            body = json.dumps(body)
        status, _, data = self.http.request(method, path, body, h)
        expect(f"{method} {path}", status, wanted, data)
        return json.loads(data) if data else None

    def consent(self, token):
        body = {"access": {"allPsd2": "allAccounts"}, "recurringIndicator": True,
                "combinedServiceIndicator": False,
                "validUntil": "2099-12-31", "frequencyPerDay": 4}
        return self.xs2a("POST", "/v1/consents", token, 201, body=body)["consentId"]

    def initiate(self, token, debtor_iban, amount="0.01"):
        body = {"instructedAmount": {"currency": "EUR", "amount": amount},
                "debtorAccount": {"iban": debtor_iban}, "creditorName": "Bench Payee",
                "creditorAccount": {"iban": "DE02120300000000202051"},
                "remittanceInformationUnstructured": "bench"}
        return self.xs2a("POST", "/v1/payments/sepa-credit-transfers", token, 201,
                         {"PSU-IP-Address": PSU_IP}, body)["paymentId"]

    def authorise(self, scope, login, password):
        """PAR for `scope`, the PSU's approval at the bank's pages, the code exchanged: the token answer."""
        verifier, challenge = pkce_pair()
        pushed = self.oauth("/oauth2/par", {"response_type": "code", "redirect_uri": REDIRECT,
                                            "scope": scope, "state": "bench",
                                            "code_challenge": challenge,
                                            "code_challenge_method": "S256"}, wanted=201)
        code, requests = psu_approves(self.port, self.ca, self.client_id, pushed["request_uri"],
                                      login, password)
        self.browser_requests += requests
        return self.oauth("/oauth2/token", {"grant_type": "authorization_code", "code": code,
                                            "redirect_uri": REDIRECT, "code_verifier": verifier})

    def refresh(self, refresh_token):
        return self.oauth("/oauth2/token", {"grant_type": "refresh_token", "refresh_token": refresh_token})


CSRF = re.compile(rb'name="csrf" value="([^"]+)"')


def csrf(step, data):
    m = CSRF.search(data)
    if not m:
        raise FlowError(f"{step}: no CSRF field in the page")
    return m.group(1).decode()


def psu_approves(port, ca, client_id, request_uri, login, password):
    """The PSU's browser from the authorization link to the code, on a connection of its own;
    the code and the browser's requests."""
    b = Https(port, ca, browser=True)
    try:
        query = urllib.parse.urlencode({"client_id": client_id, "request_uri": request_uri})
        status, h, data = b.request("GET", f"/oauth2/authorize?{query}")
        expect("authorize", status, 303, data)
        status, _, data = b.request("GET", "/bank/login")
        expect("login page", status, 200, data)
        status, h, data = b.request("POST", "/bank/login", form_body(
            {"login": login, "password": password, "csrf": csrf("login page", data)}), FORM)
        expect("login", status, 303, data)
        status, _, data = b.request("GET", "/bank/sca")
        expect("second-factor page", status, 200, data)
        status, h, data = b.request("POST", "/bank/sca", form_body(
            {"code": SANDBOX_CODE, "csrf": csrf("second-factor page", data)}), FORM)
        expect("second factor", status, 303, data)
        status, _, data = b.request("GET", "/bank/consent")
        expect("consent page", status, 200, data)
        status, h, data = b.request("POST", "/bank/consent", form_body(
            {"decision": "approve", "csrf": csrf("consent page", data)}), FORM)
        expect("approval", status, 303, data)
        location = h.get("location", "")
        if not location.startswith(REDIRECT + "?"):
            raise FlowError(f"approval: redirected to {location!r}")
        code = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query).get("code")
        if not code:
            raise FlowError(f"approval: no code in {location!r}")
        return code[0], b.requests
    finally:
        b.close()


def ais_headers(consent):
    # The PSU is present (PSU-IP-Address): frequencyPerDay does not count these reads.
    return {"Consent-ID": consent, "PSU-IP-Address": PSU_IP}


def redirect_flow(tpp, cc_token, psu):
    """Consent → PAR → login → SCA → approval → code → token → the first AIS call."""
    login, password = psu
    consent = tpp.consent(cc_token)
    tokens = tpp.authorise(f"AIS:{consent}", login, password)
    return tpp.xs2a("GET", "/v1/accounts", tokens["access_token"], 200, ais_headers(consent))


def payment_flow(tpp, cc_token, psu, debtor_iban):
    """Initiation → PAR → login → SCA → approval (executes) → code → token → status ACSC."""
    login, password = psu
    payment = tpp.initiate(cc_token, debtor_iban)
    tokens = tpp.authorise(f"PIS:{payment}", login, password)
    status = tpp.xs2a("GET", f"/v1/payments/sepa-credit-transfers/{payment}/status",
                      tokens["access_token"], 200)
    if status.get("transactionStatus") != "ACSC":
        raise FlowError(f"payment {payment} ended {status}")


def setup_psu(port, ca, client_id, secret, psu):
    """One authorised AIS consent of `psu`: the TPP's tokens, the consent and the PSU's EUR accounts."""
    tpp = Tpp(port, ca, client_id, secret)
    try:
        consent = tpp.consent(tpp.client_token())
        tokens = tpp.authorise(f"AIS:{consent}", *psu)
        accounts = tpp.xs2a("GET", "/v1/accounts", tokens["access_token"], 200,
                            ais_headers(consent))["accounts"]
        eur = [a for a in accounts if a.get("currency") == "EUR" and a.get("iban")]
        if not eur:
            raise FlowError(f"{psu[0]} has no EUR account: {accounts}")
        return {"consent": consent, "refresh_token": tokens["refresh_token"],
                "account_id": eur[0]["resourceId"], "iban": eur[0]["iban"]}
    finally:
        tpp.http.close()


def flow_worker(job):
    """Runs one kind of flow in a loop until the deadline (a process of its own)."""
    kind, port, ca, client_id, secret, psu, iban, deadline = job
    tpp = Tpp(port, ca, client_id, secret)
    cc_token, token_at = tpp.client_token(), time.time()
    latencies, errors, first_error, requests = [], 0, None, 0
    while time.time() < deadline:
        if time.time() - token_at > 240:  # the client's token lives 300 s
            cc_token, token_at = tpp.client_token(), time.time()
        started = time.perf_counter()
        before = tpp.http.requests + tpp.browser_requests
        try:
            if kind == "payment":
                payment_flow(tpp, cc_token, psu, iban)
            else:
                redirect_flow(tpp, cc_token, psu)
        except (FlowError, OSError, http.client.HTTPException, ValueError, KeyError) as e:
            errors += 1
            first_error = first_error or str(e)
            tpp.http.close()
            continue
        latencies.append(time.perf_counter() - started)
        requests += tpp.http.requests + tpp.browser_requests - before
    tpp.http.close()
    return {"latencies": latencies, "errors": errors, "first_error": first_error, "requests": requests}
