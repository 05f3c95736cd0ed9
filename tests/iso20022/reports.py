"""Fetches the ISO 20022 documents the server produces, as a TPP would, into
a directory: a payment's pain.002 status report when received (RCVD),
cancelled (CANC) and executed after the PSU's approval on the bank's pages
(ACSC, by the scripted PSU of bench/psu.py).

    python3 reports.py PORT CA CLIENT_ID CLIENT_SECRET DIR
"""

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
    tpp.http.close()
    for name, body in documents.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(body)


if __name__ == "__main__":
    main()
