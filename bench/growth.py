#!/usr/bin/env python3
"""Growth tests: does the service stay as fast when its tables are large?

- transactions: the first page of `GET /v1/accounts/{id}/transactions` under
  wrk, of bob's account with 10 thousand postings and of alice's with `--rows`
  (10 million by default), in turn, twice each. Target: the mean p99 of the
  large one at most 1.2x the small one's.
- tokens: the token endpoint on a fresh database, then after `--rows` expired
  tokens were written and the server restarted: its housekeeping prunes them
  in bounded batches in the background while the endpoint is measured, and
  once more after the table is empty again. Target: req/s at least 0.9x fresh.

The rows are written with SQL straight into the server's database (SQLite's
file, a fresh PostgreSQL database), shaped as the server writes them: each
transaction a balanced journal entry (the customer's account and the clearing
account, +1 and -1 cent in turn, so balances stay true), each token an expired
client-credentials token of the bench's application, keyed like the server's
(twelve hex digits of its issue in milliseconds, then 43 characters).

    bench/run growth [--rows N] [--seconds S] [--no-postgres]
"""

import argparse
import datetime
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

import harness
import psu

BENCH = os.path.dirname(os.path.abspath(__file__))
SMALL = 10_000
# Rounds of the two transactions pages, measured in turn.
ROUNDS = 2
BATCH = 500_000

# One journal entry per row of `n`: the account against clearing, 1 cent
# each way in turn, dated back over ten years (20 a day).
SQLITE_ENTRIES = """
WITH RECURSIVE n(i) AS (SELECT :lo UNION ALL SELECT i + 1 FROM n WHERE i < :hi)
INSERT INTO ledger_transactions (id, idempotency_key, debit_account_id, credit_account_id, amount,
    currency, status, booking_date, value_date, creditor_name, remittance_information,
    bank_transaction_code, created_at)
SELECT printf('%08x-0000-4000-8000-%012x', 1, i), 'growth:' || i,
    CASE WHEN i % 2 = 0 THEN :account ELSE :clearing END,
    CASE WHEN i % 2 = 0 THEN :clearing ELSE :account END,
    1, 'EUR', 'booked', date('2026-11-30', printf('-%d days', (i / 20) % 3650)),
    date('2026-11-30', printf('-%d days', (i / 20) % 3650)), 'Growth', 'growth ' || i,
    'PMNT-ICDT-STDO', '2026-12-01T00:00:00Z'
FROM n
"""
SQLITE_POSTINGS = """
WITH RECURSIVE n(i) AS (SELECT :lo UNION ALL SELECT i + 1 FROM n WHERE i < :hi),
    side(credit) AS (VALUES (0), (1))
INSERT INTO postings (transaction_id, account_id, amount, currency, status, booking_date)
SELECT printf('%08x-0000-4000-8000-%012x', 1, i),
    CASE WHEN (i % 2 = 0) = (credit = 0) THEN :account ELSE :clearing END,
    CASE WHEN credit = 1 THEN 1 ELSE -1 END, 'EUR', 'booked',
    date('2026-11-30', printf('-%d days', (i / 20) % 3650))
FROM n, side ORDER BY i, credit
"""
PG_ENTRIES = """
INSERT INTO ledger_transactions (id, idempotency_key, debit_account_id, credit_account_id, amount,
    currency, status, booking_date, value_date, creditor_name, remittance_information,
    bank_transaction_code, created_at)
SELECT format('%s-0000-4000-8000-%s', lpad(to_hex(1), 8, '0'), lpad(to_hex(i), 12, '0')), 'growth:' || i,
    CASE WHEN i % 2 = 0 THEN :'account' ELSE :'clearing' END,
    CASE WHEN i % 2 = 0 THEN :'clearing' ELSE :'account' END,
    1, 'EUR', 'booked', DATE '2026-11-30' - ((i / 20) % 3650)::int,
    DATE '2026-11-30' - ((i / 20) % 3650)::int, 'Growth', 'growth ' || i,
    'PMNT-ICDT-STDO', TIMESTAMPTZ '2026-12-01 00:00:00Z'
FROM generate_series(:lo::bigint, :hi::bigint) AS i;
INSERT INTO postings (transaction_id, account_id, amount, currency, status, booking_date)
SELECT format('%s-0000-4000-8000-%s', lpad(to_hex(1), 8, '0'), lpad(to_hex(i), 12, '0')),
    CASE WHEN (i % 2 = 0) = (credit = 0) THEN :'account' ELSE :'clearing' END,
    CASE WHEN credit = 1 THEN 1 ELSE -1 END, 'EUR', 'booked',
    DATE '2026-11-30' - ((i / 20) % 3650)::int
FROM generate_series(:lo::bigint, :hi::bigint) AS i, (VALUES (0), (1)) AS side(credit)
ORDER BY i, credit;
"""
SQLITE_TOKENS = """
WITH RECURSIVE n(i) AS (SELECT :lo UNION ALL SELECT i + 1 FROM n WHERE i < :hi)
INSERT INTO oauth_tokens (token_hash, kind, application_id, client_id, scope, issued_at, expires_at)
SELECT printf('%012x%043d', 1767225600000 + i / 100, i), 'access', :application, :client, 'ais pis',
    '2026-01-01T00:00:00Z', '2026-01-01T00:05:00Z'
FROM n
"""
PG_TOKENS = """
INSERT INTO oauth_tokens (token_hash, kind, application_id, client_id, scope, issued_at, expires_at)
SELECT lpad(to_hex(1767225600000 + i / 100), 12, '0') || lpad(i::text, 43, '0'), 'access',
    :'application', :'client', 'ais pis',
    TIMESTAMPTZ '2026-01-01 00:00:00Z', TIMESTAMPTZ '2026-01-01 00:05:00Z'
FROM generate_series(:lo::bigint, :hi::bigint) AS i;
"""


class Database:
    """The server's own database, written to directly."""

    def __init__(self, server, database_url):
        self.url = database_url
        self.path = os.path.join(server.data, "fintechapi.db")

    def scalar(self, sql):
        if self.url:
            out = subprocess.run(["psql", "-Atq", self.url, "-c", sql], check=True,
                                 capture_output=True, text=True).stdout
            return out.strip()
        with sqlite3.connect(self.path, timeout=60) as c:
            return c.execute(sql).fetchone()[0]

    def fill(self, sqlite_sql, pg_sql, lo, hi, **params):
        """Rows lo..=hi in batches, each its own transaction."""
        for start in range(lo, hi + 1, BATCH):
            end = min(start + BATCH - 1, hi)
            if self.url:
                args = [f"--set={k}={v}" for k, v in {**params, "lo": start, "hi": end}.items()]
                subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", *args, self.url],
                               input=pg_sql, check=True, capture_output=True, text=True)
            else:
                with sqlite3.connect(self.path, timeout=60) as c:
                    c.execute("PRAGMA busy_timeout = 60000")
                    for sql in sqlite_sql:
                        c.execute(sql, {**params, "lo": start, "hi": end})
            print(f"  {end:,} rows", file=sys.stderr)

    def size_mib(self, table):
        if self.url:
            return round(int(self.scalar(f"SELECT pg_total_relation_size('{table}')")) / 2**20, 1)
        return round(sum(os.path.getsize(self.path + s) for s in ("", "-wal")
                         if os.path.exists(self.path + s)) / 2**20, 1)


def transactions_growth(server, db, rows, seconds, conns, label, results):
    """The first page of an account with SMALL postings (bob's) and of one with `rows`
    (alice's), measured in turn, ROUNDS times each: this machine's speed drifts between
    minutes, which one size measured before the fill and the other after it compared too."""
    client_id, secret = server.app
    clearing = db.scalar("SELECT id FROM accounts WHERE kind = 'clearing' AND currency = 'EUR'")
    tpp = psu.Tpp(server.port, server.ca, client_id, secret)
    holders = {size: psu.setup_psu(server.port, server.ca, client_id, secret, psu.DEMO_PSUS[k])
               for size, k in ((SMALL, 1), (rows, 0))}
    first = 1
    for size, holder in holders.items():
        account = holder["account_id"]
        count = int(db.scalar(f"SELECT count(*) FROM postings WHERE account_id = '{account}'"))
        if count < size:
            started = time.time()
            db.fill([SQLITE_ENTRIES, SQLITE_POSTINGS], PG_ENTRIES, first, first + size - count - 1,
                    account=account, clearing=clearing)
            first += size - count
            print(f"{label}: {size:,} postings on an account in {time.time() - started:.0f} s",
                  file=sys.stderr)
    if db.url:
        db.scalar("ANALYZE ledger_transactions; ANALYZE postings")
    measured = {size: [] for size in holders}
    for _ in range(ROUNDS):
        for size, holder in holders.items():
            tokens = tpp.refresh(holder["refresh_token"])
            holder["refresh_token"] = tokens["refresh_token"]
            path = f"/v1/accounts/{holder['account_id']}/transactions?bookingStatus=booked"
            run = harness.wrk(server, path, seconds, conns, method="GET",
                              auth=f"Bearer {tokens['access_token']}",
                              headers=[f"{k}: {v}" for k, v in psu.ais_headers(holder["consent"]).items()],
                              fresh_ids=True)
            measured[size].append(run)
            results.append({"server": label, "case": f"transactions page at {size:,} postings", **run})
    tpp.http.close()
    mean = lambda size, key: statistics.mean(r[key] for r in measured[size])
    return {"server": label, "case": "transactions page", "rows": rows,
            "p99_ratio": harness.ratio(mean(rows, "p99_ms"), mean(SMALL, "p99_ms")),
            "req_per_s_ratio": harness.ratio(mean(rows, "req_per_s"), mean(SMALL, "req_per_s")),
            "target": "p99 ratio <= 1.2 (means of the rounds)"}


def restart(server):
    server.stop()
    again = harness.Server(server.name, server.argv, server.port, server.ca)
    again.data, again.app, again.auth, again.argv = server.data, server.app, server.auth, server.argv
    return again


def token_growth(server, db, rows, seconds, conns, label, results):
    body = "grant_type=client_credentials"
    fresh = harness.wrk(server, "/oauth2/token", seconds, conns, body=body, auth=server.auth)
    results.append({"server": label, "case": "token keep-alive, fresh", **fresh})
    application = db.scalar("SELECT id FROM applications ORDER BY created_at LIMIT 1")
    started = time.time()
    db.fill([SQLITE_TOKENS], PG_TOKENS, 1, rows, application=application, client=server.app[0])
    print(f"{label}: {rows:,} expired tokens written in {time.time() - started:.0f} s", file=sys.stderr)
    size_full = db.size_mib("oauth_tokens")
    # The housekeeping job prunes at start, then every ten minutes.
    server = restart(server)
    started = time.time()
    during = harness.wrk(server, "/oauth2/token", seconds, conns, body=body, auth=server.auth)
    results.append({"server": label, "case": f"token keep-alive, pruning {rows:,} expired", **during})
    while int(db.scalar("SELECT count(*) FROM oauth_tokens WHERE issued_at < '2026-06-01'")) > 0:
        if time.time() - started > 1800:
            raise SystemExit(f"{label}: the expired tokens were not pruned within 30 minutes")
        time.sleep(2)
    pruned_in = round(time.time() - started, 1)
    after = harness.wrk(server, "/oauth2/token", seconds, conns, body=body, auth=server.auth)
    results.append({"server": label, "case": f"token keep-alive, after {rows:,} pruned", **after})
    return server, {"server": label, "case": "token endpoint", "rows": rows,
                    "req_per_s_ratio_after": harness.ratio(after["req_per_s"], fresh["req_per_s"]),
                    "req_per_s_ratio_during": harness.ratio(during["req_per_s"], fresh["req_per_s"]),
                    "pruned_in_s": pruned_in, "size_mib_full": size_full,
                    "size_mib_after": db.size_mib("oauth_tokens"),
                    "target": "req/s ratio >= 0.9"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fintechapi", required=True)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--no-postgres", action="store_true")
    args = ap.parse_args()
    started = datetime.datetime.now(datetime.timezone.utc)
    results, ratios = [], []
    with tempfile.TemporaryDirectory(prefix="fintechapi-growth-") as work:
        stores = [("SQLite", None)]
        if not args.no_postgres:
            stores.append(("PostgreSQL", f"fintechapi_growth_{started:%Y%m%d%H%M%S}"))
        for label, pg in stores:
            url = f"postgres://postgres@127.0.0.1:5432/{pg}" if pg else None
            if pg:
                harness.psql(f"CREATE DATABASE {pg}")
            try:
                server = harness.start_ours(args.fintechapi, work, f"growth-{label.lower()}",
                                            database_url=url, demo=True)
                db = Database(server, url)
                try:
                    server, tokens = token_growth(server, db, args.rows, args.seconds,
                                                  args.connections, f"ours {label}", results)
                    ratios.append(tokens)
                    ratios.append(transactions_growth(server, db, args.rows, args.seconds,
                                                      args.connections, f"ours {label}", results))
                finally:
                    server.stop()
            finally:
                if pg:
                    harness.psql(f"DROP DATABASE IF EXISTS {pg} WITH (FORCE)")
    lines = [f"{started.isoformat(timespec='seconds')}, growth to {args.rows:,} rows, "
             f"wrk -t2 -c{args.connections}, {args.seconds} s per case", "",
             "| server | case | req/s | p50 ms | p99 ms | errors |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['server']} | {r['case']} | {r['req_per_s']:,} | {r['p50_ms']} | {r['p99_ms']} | {r['errors']} |"
              for r in results]
    lines += ["", "| server | growth | ratio | target |", "|---|---|---|---|"]
    for r in ratios:
        shown = {k: v for k, v in r.items() if k not in ("server", "case", "target", "rows")}
        lines.append(f"| {r['server']} | {r['case']} | {json.dumps(shown)} | {r['target']} |")
    md = "\n".join(lines) + "\n"
    print(md)
    out = os.path.join(BENCH, "results")
    os.makedirs(out, exist_ok=True)
    stem = os.path.join(out, started.strftime("%Y-%m-%dT%H%M%SZ") + "-growth")
    with open(stem + ".json", "w") as f:
        json.dump({"started": started.isoformat(), "rows": args.rows, "results": results,
                   "ratios": ratios}, f, indent=2)
    with open(stem + ".md", "w") as f:
        f.write(md)
    print(f"wrote {stem}.json and {stem}.md")
    if any(r["errors"] for r in results):
        sys.exit("growth: some cases had errors")


if __name__ == "__main__":
    main()
