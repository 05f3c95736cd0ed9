#!/usr/bin/env python3
"""What the protection layers cost the token endpoint (issue 11: under 5 %).

Two servers from one binary on SQLite, each with its own data directory and
application: "protected" (the default in-flight cap and queue, a plan limiter
in the path with limits far above any reachable rate) and "unprotected" (no
plan limits, the in-flight cap lifted). Both run at once; wrk alternates
between them in rounds (P U P U ...), so whatever else the machine is doing
hits both alike, and the figure is the median of the per-round ratios.

With --callgrind, each server also runs under valgrind's callgrind, which
counts instructions rather than time: the same figure whatever else runs.
The count covers a fixed number of keep-alive token requests after a warm-up.

    bench/overhead.py --fintechapi target/release/fintechapi [--rounds 5 --seconds 5] [--callgrind]
"""

import argparse
import glob
import http.client
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import start_ours, wrk  # noqa: E402

BODY = "grant_type=client_credentials"


def throughput(binary, work, rounds, seconds, conns):
    servers = {
        "protected": start_ours(binary, work, "protected", protected=True),
        "unprotected": start_ours(binary, work, "unprotected", protected=False),
    }
    runs = {name: [] for name in servers}
    try:
        for _ in range(rounds):
            for name, server in servers.items():
                runs[name].append(wrk(server, "/oauth2/token", seconds, conns, body=BODY, auth=server.auth))
    finally:
        for server in servers.values():
            server.stop()
    ratios = [p["req_per_s"] / u["req_per_s"] for p, u in zip(runs["protected"], runs["unprotected"])]
    errors = sum(r["errors"] for rs in runs.values() for r in rs)
    return runs, ratios, errors


def keep_alive_tokens(server, count):
    ctx = ssl.create_default_context(cafile=server.ca)
    ctx.check_hostname = False
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=ctx, timeout=120)
    headers = {"Authorization": server.auth, "Content-Type": "application/x-www-form-urlencoded"}
    for _ in range(count):
        conn.request("POST", "/oauth2/token", body=BODY, headers=headers)
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            raise SystemExit(f"{server.name}: token request answered {resp.status}")
    conn.close()


def instructions(binary, work, protected, requests):
    """Instructions the server executes for `requests` token requests (callgrind)."""
    label = "cg-protected" if protected else "cg-unprotected"
    out = os.path.join(work, label + ".callgrind")
    wrapper = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
    server = start_ours(binary, work, label, protected=protected, wrapper=wrapper)
    try:
        keep_alive_tokens(server, 20)  # warm-up: connection, caches, prepared statements
        pid = str(server.proc.pid)
        subprocess.run(["callgrind_control", "-i", "on", pid], check=True, capture_output=True)
        subprocess.run(["callgrind_control", "-z", pid], check=True, capture_output=True)
        keep_alive_tokens(server, requests)
        subprocess.run(["callgrind_control", "-d", pid], check=True, capture_output=True)
        time.sleep(1)
    finally:
        server.stop()
    totals = []
    for path in glob.glob(out + "*"):
        with open(path) as f:
            for line in f:
                if line.startswith(("totals:", "summary:")):
                    totals.append((os.path.getmtime(path), int(line.split()[1])))
                    break
    if not totals:
        raise SystemExit(f"callgrind wrote no totals under {out}")
    # The explicit dump (after zeroing) holds exactly the measured requests.
    dumped = sorted(totals)[0][1]
    return dumped / requests


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fintechapi", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--callgrind", action="store_true")
    ap.add_argument("--requests", type=int, default=300, help="token requests counted under callgrind")
    args = ap.parse_args()
    binary = os.path.abspath(args.fintechapi)
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    report = {"load_before": load}
    with tempfile.TemporaryDirectory(prefix="fintechapi-overhead-") as work:
        runs, ratios, errors = throughput(binary, work, args.rounds, args.seconds, args.connections)
        report.update({
            "rounds": args.rounds, "seconds_per_run": args.seconds, "connections": args.connections,
            "protected_req_per_s": [r["req_per_s"] for r in runs["protected"]],
            "unprotected_req_per_s": [r["req_per_s"] for r in runs["unprotected"]],
            "round_ratios": [round(r, 3) for r in ratios],
            "median_ratio": round(statistics.median(ratios), 3),
            "errors": errors,
        })
        if args.callgrind:
            p = instructions(binary, work, True, args.requests)
            u = instructions(binary, work, False, args.requests)
            report.update({
                "callgrind_requests": args.requests,
                "instructions_per_request_protected": round(p),
                "instructions_per_request_unprotected": round(u),
                "instruction_ratio": round(p / u, 4),
            })
    with open("/proc/loadavg") as f:
        report["load_after"] = " ".join(f.read().split()[:3])
    print(json.dumps(report, indent=2))
    print(f"protected / unprotected token req/s, median of {args.rounds} alternating rounds: "
          f"{report['median_ratio']} (rounds: {report['round_ratios']})")
    if args.callgrind:
        print(f"instructions per token request, protected / unprotected: {report['instruction_ratio']} "
              f"({report['instructions_per_request_protected']:,} / "
              f"{report['instructions_per_request_unprotected']:,})")
    if errors:
        sys.exit("error: some requests failed (see errors)")


if __name__ == "__main__":
    main()
