"""What the stateful runs start from: alice's AIS consent, authorised on the
bank's pages by the scripted PSU of bench/psu.py, with its access token, and
alice's EUR account as debtor of the payments the creating run initiates.

    python3 prepare.py PORT CA CLIENT_ID CLIENT_SECRET   -> JSON on stdout
"""

import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bench"))
import psu  # noqa: E402


def main():
    port, ca, client_id, secret = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    alice = psu.DEMO_PSUS[0]
    tpp = psu.Tpp(port, ca, client_id, secret)
    try:
        consent = tpp.consent(tpp.client_token())
        tokens = tpp.authorise(f"AIS:{consent}", *alice)
        accounts = tpp.xs2a("GET", "/v1/accounts", tokens["access_token"], 200,
                            psu.ais_headers(consent))["accounts"]
    finally:
        tpp.http.close()
    iban = next(a["iban"] for a in accounts if a.get("currency") == "EUR" and a.get("iban"))
    json.dump({"consent": consent, "ais_token": tokens["access_token"], "iban": iban}, sys.stdout)


if __name__ == "__main__":
    main()
