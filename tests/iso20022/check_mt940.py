"""Parses an MT940 statement with the mt-940 package and checks it against
the JSON report of the same query: the same booked entries (amount and
sign, value and booking dates, the bank's reference = entryReference, the
counterparty in :86:), and balances that add up.

    python3 check_mt940.py STATEMENT.sta REPORT.json    exit 1 when they differ
"""

import datetime
import decimal
import json
import sys

import mt940

# What MT940's X character set makes of the demo bank's names.
UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss", "&": "+"})


def fail(message):
    sys.exit(f"check_mt940.py: {message}")


def main():
    statement_path, report_path = sys.argv[1], sys.argv[2]
    with open(statement_path, encoding="ascii", newline="") as f:
        text = f.read()
    for line in text.split("\r\n"):
        if line.startswith(":61:"):
            continue  # its first line is bounded by its subfields, not by 65
        body = line[4:] if line.startswith(":86:") else line
        if len(body) > 65:
            fail(f"a line longer than 65 characters: {line!r}")
    with open(report_path, encoding="utf-8") as f:
        booked = json.load(f)
    statements = mt940.models.Transactions()
    statements.parse(text)
    data = statements.data
    for field in ("transaction_reference", "account_identification", "statement_number",
                  "final_opening_balance", "final_closing_balance"):
        if not data.get(field):
            fail(f"no {field}: {data}")
    entries = {t.data["bank_reference"]: t.data for t in statements}
    if len(entries) != len(booked) or len(list(statements)) != len(booked):
        fail(f"{len(list(statements))} statement lines for {len(booked)} booked entries")
    total = decimal.Decimal(0)
    for e in booked:
        line = entries.get(e["entryReference"])
        if line is None:
            fail(f"entry {e['entryReference']} is not in the statement")
        amount = decimal.Decimal(e["transactionAmount"]["amount"])
        total += amount
        if line["amount"].amount != amount or line["status"] != ("D" if amount < 0 else "C"):
            fail(f"entry {e['entryReference']}: {line['status']} {line['amount']} for {amount}")
        if str(line["date"]) != e["valueDate"]:
            fail(f"entry {e['entryReference']}: value date {line['date']} for {e['valueDate']}")
        booking = datetime.date.fromisoformat(e["bookingDate"])
        if (line["entry_date"].month, line["entry_date"].day) != (booking.month, booking.day):
            fail(f"entry {e['entryReference']}: entry date {line['entry_date']} for {booking}")
        name = e.get("creditorName" if amount < 0 else "debtorName")
        details = line["transaction_details"].replace("\n", "")
        if name and f"/NAME/{name.translate(UMLAUTS)}" not in details:
            fail(f"entry {e['entryReference']}: {name!r} not in {details!r}")
    opening, closing = data["final_opening_balance"].amount.amount, data["final_closing_balance"].amount.amount
    if opening + total != closing:
        fail(f"{opening} + {total} != {closing}")
    print(f"{statement_path}: valid MT940, {len(booked)} entries as in the JSON report")


if __name__ == "__main__":
    main()
