"""Fetches the documents the server produces, as a TPP would, into a
directory: a payment's pain.002 status report when received (RCVD),
cancelled (CANC) and executed after the PSU's approval on the bank's pages
(ACSC, by the scripted PSU of bench/psu.py); an account's transaction report
under the PSU's consent as a camt.053 statement (booked entries of a closed
period), a camt.052 report (booked and pending entries to now, with
balances) and an MT940 statement (the camt.053's query), with the JSON report
of that query (every page) for check_mt940.py.

    python3 reports.py PORT CA CLIENT_ID CLIENT_SECRET DIR
"""

import datetime
import json
import os
import pathlib
import sys
import uuid

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bench"))
import psu  # noqa: E402

XML = {"Accept": "application/xml"}


def status_report(tpp, token, payment):
    path = f"/v1/payments/sepa-credit-transfers/{payment}/status"
    status, headers, body = tpp.http.request("GET", path, None, {
        "Authorization": f"Bearer {token}", "X-Request-ID": str(uuid.uuid4()), **XML})
    psu.expect(f"GET {path}", status, 200, body)
    if headers.get("content-type") != "application/xml":
        raise psu.FlowError(f"{path}: answered {headers.get('content-type')}")
    return body


def transaction_report(tpp, token, consent, path, accept):
    status, headers, body = tpp.http.request("GET", path, None, {
        "Authorization": f"Bearer {token}", "X-Request-ID": str(uuid.uuid4()),
        **psu.ais_headers(consent), "Accept": accept})
    psu.expect(f"GET {path} ({accept})", status, 200, body)
    if headers.get("content-type") != accept:
        raise psu.FlowError(f"{path}: answered {headers.get('content-type')} to {accept}")
    return body


def booked_entries(tpp, token, consent, path):
    """Every booked entry of the JSON report, following its next links."""
    booked, link = [], f"{path}&itemsPerPage=100"
    while link:
        page = json.loads(transaction_report(tpp, token, consent, link, "application/json"))
        booked += page["transactions"].get("booked", [])
        link = page["transactions"]["_links"].get("next", {}).get("href")
    return booked


def account_reports(tpp, cc, alice):
    consent = tpp.consent(cc)
    token = tpp.authorise(f"AIS:{consent}", *alice)["access_token"]
    accounts = tpp.xs2a("GET", "/v1/accounts", token, 200, psu.ais_headers(consent))["accounts"]
    account = next(a for a in accounts if a.get("currency") == "EUR" and a.get("iban"))["resourceId"]
    today = datetime.datetime.now(datetime.timezone.utc).date()
    base = f"/v1/accounts/{account}/transactions"
    closed = (f"{base}?bookingStatus=booked&dateFrom={today - datetime.timedelta(days=90)}"
              f"&dateTo={today - datetime.timedelta(days=1)}")
    to_now = f"{base}?bookingStatus=both&dateFrom={today - datetime.timedelta(days=30)}&withBalance=true"
    return {
        "camt053-statement.xml": transaction_report(tpp, token, consent, closed, "application/xml"),
        "camt052-report.xml": transaction_report(tpp, token, consent, to_now, "application/xml"),
        "mt940-statement.sta": transaction_report(tpp, token, consent, closed, "text/plain"),
        "mt940-statement.json": json.dumps(booked_entries(tpp, token, consent, closed)).encode(),
    }


def main():
    port, ca, client_id, secret, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
    alice = psu.DEMO_PSUS[0]
    tpp = psu.Tpp(port, ca, client_id, secret)
    cc = tpp.client_token()
    iban = psu.setup_psu(port, ca, client_id, secret, alice)["iban"]
    documents = {}
    received = tpp.initiate(cc, iban)
    documents["pain002-rcvd.xml"] = status_report(tpp, cc, received)
    tpp.xs2a("DELETE", f"/v1/payments/sepa-credit-transfers/{received}", cc, 204)
    documents["pain002-canc.xml"] = status_report(tpp, cc, received)
    executed = tpp.initiate(cc, iban)
    token = tpp.authorise(f"PIS:{executed}", *alice)["access_token"]
    documents["pain002-acsc.xml"] = status_report(tpp, token, executed)
    documents.update(account_reports(tpp, cc, alice))
    tpp.http.close()
    for name, body in documents.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(body)


if __name__ == "__main__":
    main()
